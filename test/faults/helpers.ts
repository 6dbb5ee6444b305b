/**
 * What the fault scenarios share: the real bin as a long-running child (`start`, `worker`), waiting on a condition
 * with a bound, `/readyz`, the newest sync run per stream, and the closing check every scenario ends with: after a
 * clean `sync --no-writeback`, the warehouse equals the sandbox's oracle (the same `expectedWarehouse` that
 * `/__sandbox/oracle` serves), no alert task was created twice in the CRM, and no sync run is left `running`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Kysely } from 'kysely';
import { expect } from 'vitest';
import type { Database } from '../../src/db/schema.ts';
import type { SalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { BIN, runBin } from '../cli/helpers.ts';
import { expectWarehouseEqualsOracle } from '../sync/helpers/oracle-compare.ts';

/** The program's day in every child: the sandbox orgs are anchored on it, so write-back and alerts have work. */
export const ANCHOR = '2026-11-20';
export const CHILD_ENV = { QUOTA_TRACKER_NOW: `${ANCHOR}T15:00:00Z` };

// wall-clock: durations of the scenarios, reported
export const stamp = () => Date.now();
export const report = (what: string, ms: number) => console.log(`FAULT ${what}: ${(ms / 1000).toFixed(1)} s`);

export { freePort } from '../helpers/own-redis.ts';

/** A long-running command of the bin (`start`, `worker`) with its stderr collected. */
export interface Service {
  child: ChildProcess;
  stderr(): string;
  /** SIGTERM, and the exit code and how long it took. */
  stop(): Promise<{ code: number | null; ms: number }>;
  /** SIGKILL: a crash. */
  crash(): Promise<void>;
}

export function launch(args: string[]): Service {
  let err = '';
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...CHILD_ENV },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    stderr: () => err,
    async stop() {
      const t0 = stamp();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const code = await exited;
      return { code, ms: stamp() - t0 };
    },
    async crash() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Polls `check` every half second until it holds; fails naming `what` after `ms`. Returns how long it took. */
export async function until(what: string, ms: number, check: () => Promise<boolean> | boolean): Promise<number> {
  const t0 = stamp();
  while (!(await check())) {
    if (stamp() - t0 > ms) throw new Error(`not within ${ms / 1000} s: ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  return stamp() - t0;
}

/** `until`, and on a timeout the error carries `say()`'s account of the state. */
export async function untilOrSay(
  what: string,
  ms: number,
  say: () => Promise<string>,
  check: () => Promise<boolean> | boolean,
): Promise<number> {
  try {
    return await until(what, ms, check);
  } catch (e) {
    throw new Error(`${(e as Error).message}; ${await say()}`);
  }
}

export async function readyz(
  port: number,
): Promise<{ status: number; body: { reason?: string; message?: string; [detail: string]: unknown } }> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(15_000) });
    return { status: res.status, body: (await res.json()) as { reason?: string; message?: string } };
  } catch (e) {
    return { status: 0, body: { reason: (e as Error).message } };
  }
}

/** The newest sync run per stream that ended as `status` (any status when not given). */
export async function latestRuns(
  db: Kysely<Database>,
  status?: 'running' | 'succeeded' | 'failed',
): Promise<Map<string, number>> {
  let q = db
    .selectFrom('sync_runs')
    .select(['stream'])
    .select((eb) => eb.fn.max('id').as('id'))
    .groupBy('stream');
  if (status) q = q.where('status', '=', status);
  return new Map((await q.execute()).map((r) => [r.stream, Number(r.id)]));
}

/** Alert keys the CRM holds more than one Task for. */
export function duplicateTasks(sb: SalesforceSandbox): string[] {
  const seen = new Map<string, number>();
  for (const t of sb.store.all('Task')) {
    const key = t.Quota_Alert_Key__c;
    if (typeof key === 'string' && key !== '') seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return [...seen].filter(([, n]) => n > 1).map(([k]) => k);
}

/** How many Tasks in the CRM carry an alert key. */
export function alertTaskCount(sb: SalesforceSandbox): number {
  return sb.store.all('Task').filter((t) => typeof t.Quota_Alert_Key__c === 'string' && t.Quota_Alert_Key__c !== '')
    .length;
}

/**
 * The closing check of every scenario, once the services are stopped: a clean `sync --no-writeback` exits 0, the
 * warehouse equals the oracle, no alert task exists twice, and no sync run is still marked running.
 */
export async function expectConverged(db: Kysely<Database>, sb: SalesforceSandbox, config: string): Promise<void> {
  sb.faults.clear();
  const t0 = stamp();
  const r = await runBin(['sync', '--no-writeback', '--config', config], { env: CHILD_ENV, timeoutMs: 600_000 });
  report('closing sync --no-writeback', stamp() - t0);
  expect(r.code, r.stderr).toBe(0);
  await expectWarehouseEqualsOracle(db, sb, 'sf');
  expect(duplicateTasks(sb)).toEqual([]);
  const running = await db.selectFrom('sync_runs').select(['id', 'stream']).where('status', '=', 'running').execute();
  expect(running).toEqual([]);
}
