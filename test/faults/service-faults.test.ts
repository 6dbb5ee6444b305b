/**
 * Fault scenarios against the real bin, timed with the real defaults (30 s token timeout, 60 s scheduler check):
 * - the token answer never comes: `sync --stream users --no-writeback` gives up on it after 30 s, retries, exits 0;
 * - the token endpoint answers 500 every time: exit 1 after the retry policy's attempts, with Salesforce's words;
 * - Redis killed and restarted empty under `start` on one-minute schedules: /readyz is 503 while Redis is down, and
 *   every stream has a new sync_runs row within 3 minutes of the restart; SIGTERM then ends `start`.
 * Minutes long: runs only with QT_HEAVY=1. Durations are printed (FAULT lines), not asserted beyond the issue's
 * bounds.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { configSchema } from '../../src/config/schema.ts';
import { desiredSchedulers } from '../../src/jobs/schedules.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { BIN, configFile, runBin } from '../cli/helpers.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { type OwnRedis, startOwnRedis } from '../helpers/own-redis.ts';
import { sandboxConnectionEntry } from '../helpers/sandbox.ts';
import { freePort, report, stamp } from './helpers.ts';

const heavy = process.env.QT_HEAVY === '1';

describe.skipIf(!heavy)('token endpoint faults, real timeouts', () => {
  let sb: SalesforceSandbox;
  let t: TestDatabase;
  let config: string;
  beforeAll(async () => {
    sb = await startSalesforceSandbox({ seed: 9, size: 'small', anchorDate: '2026-03-02' });
    t = await createTestDatabase();
    config = await configFile(stringify({ database: { url: t.url }, connections: [sandboxConnectionEntry(sb)] }));
  }, 120_000);
  afterAll(async () => {
    await sb?.close();
    await t?.drop();
  });

  it('a token answer that never comes: given up after 30 s, retried, exit 0 within 300 s', {
    timeout: 320_000,
  }, async () => {
    sb.faults.clear();
    sb.faults.add({ kind: 'slow', path: '/oauth2/token', count: 1, delayMs: 600_000 });
    const t0 = stamp();
    const r = await runBin(['sync', '--stream', 'users', '--no-writeback', '--config', config]);
    report('sync after a token answer that never came', stamp() - t0);
    expect(r.code, r.stderr).toBe(0);
    expect(stamp() - t0).toBeLessThan(300_000);
  });

  it('token 500 on every attempt: exit 1 with the CRM words after the attempts', { timeout: 320_000 }, async () => {
    sb.faults.clear();
    sb.log.clear();
    sb.faults.add({ kind: 'error_500', path: '/oauth2/token' });
    const t0 = stamp();
    const r = await runBin(['sync', '--stream', 'users', '--no-writeback', '--config', config]);
    report('sync with the token endpoint failing 500', stamp() - t0);
    sb.faults.clear();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('server error (500 UNKNOWN_EXCEPTION) after 6 attempts: An unexpected error occurred');
    expect(sb.log.find('/oauth2/token')).toHaveLength(6);
  });
});

describe.skipIf(!heavy)('Redis killed and restarted empty under start', () => {
  let redis: OwnRedis;
  let sb: SalesforceSandbox;
  let t: TestDatabase;
  let child: ChildProcess | undefined;
  let stderr = '';
  let port: number;

  beforeAll(async () => {
    redis = await startOwnRedis();
    sb = await startSalesforceSandbox({ seed: 3, size: 'small', anchorDate: '2026-03-02', populate: false });
    t = await createTestDatabase();
    port = await freePort();
  }, 120_000);
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await redis?.stop();
    await sb?.close();
    await t?.drop();
  });

  const readyz = async () => {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(15_000) });
      return { status: res.status, body: (await res.json()) as { reason?: string } };
    } catch (e) {
      return { status: 0, body: { reason: (e as Error).message } };
    }
  };
  const latestRuns = async () =>
    new Map(
      (
        await t.db
          .selectFrom('sync_runs')
          .select(['stream'])
          .select((eb) => eb.fn.max('id').as('id'))
          .groupBy('stream')
          .execute()
      ).map((r) => [r.stream, Number(r.id)]),
    );
  const until = async (what: string, ms: number, check: () => Promise<boolean>) => {
    const t0 = stamp();
    while (!(await check())) {
      if (stamp() - t0 > ms) throw new Error(`not within ${ms / 1000} s: ${what}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    return stamp() - t0;
  };

  it('readyz is 503 while Redis is down; every stream syncs again within 3 minutes of an empty restart', {
    timeout: 900_000,
  }, async () => {
    const cfg = {
      database: { url: t.url },
      queue: { redisUrl: redis.url, prefix: `qt_fault_${process.pid}` },
      web: { port },
      connections: [sandboxConnectionEntry(sb, { schedule: { every: '1m' } })],
    };
    const path = await configFile(stringify(cfg));
    const streams = desiredSchedulers(configSchema.parse(cfg))
      .filter((d) => d.name === 'sync')
      .map((d) => d.id.split(':')[2] as string);
    child = spawn(process.execPath, [BIN, 'start', '--config', path], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        ...(process.env.QUOTA_TRACKER_NOW ? { QUOTA_TRACKER_NOW: process.env.QUOTA_TRACKER_NOW } : {}),
      },
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    await until('start is running', 120_000, async () => stderr.includes('quota-tracker is running'));
    await until('every stream synced once', 180_000, async () => (await latestRuns()).size === streams.length);
    expect((await readyz()).status).toBe(200);

    await redis.kill();
    const toUnready = await until('/readyz answers 503', 30_000, async () => {
      const r = await readyz();
      return r.status === 503 && r.body.reason === 'queue_unreachable';
    });
    report('/readyz 503 after Redis was killed', toUnready);

    const before = await latestRuns();
    await redis.restart();
    const back = await until('a new sync_runs row for every stream', 180_000, async () => {
      const now = await latestRuns();
      return streams.every((s) => (now.get(s) ?? 0) > (before.get(s) ?? 0));
    });
    report('every stream synced again after Redis restarted empty', back);
    expect(back).toBeLessThan(180_000);
    await until('/readyz answers 200 again', 60_000, async () => (await readyz()).status === 200);

    const t0 = stamp();
    const exited = new Promise<number | null>((r) => child?.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    const code = await exited;
    report('start stopping on SIGTERM', stamp() - t0);
    expect(code).toBe(0);
    expect(stamp() - t0).toBeLessThan(10_000);
  });
});
