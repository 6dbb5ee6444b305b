/**
 * A `quota-tracker worker` process killed with SIGKILL while its write-back call is in flight, then a second worker
 * started: the update still arrives, and the manager gets exactly one task. Real processes, the PostgreSQL queue
 * backend, the Salesforce sandbox slowing the composite call so the kill lands inside it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { configSchema } from '../../src/config/schema.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { createQueueBackend } from '../../src/jobs/backend.ts';
import { startService } from '../../src/jobs/service.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { silentLogger } from '../../src/util/log.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnectionEntry } from '../helpers/sandbox.ts';

let sb: SalesforceSandbox;
let fresh: TestDatabase;
let cfgPath: string;
const children: ChildProcess[] = [];

function until<T>(check: () => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      const v = check();
      if (v !== undefined && v !== false) return resolve(v as T);
      if (Date.now() - start > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 100);
    };
    tick();
  });
}

function worker(): ChildProcess {
  const child = spawn(process.execPath, ['bin/quota-tracker.js', 'worker', '--config', cfgPath], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { ...process.env, REDIS_URL: '', DATABASE_URL: fresh.url, QUOTA_TRACKER_JOB_LOCK_MS: '3000' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  let err = '';
  child.stderr?.on('data', (d) => {
    err += String(d);
  });
  ready.set(child, () => err.includes('quota-tracker worker is running'));
  return child;
}

const ready = new Map<ChildProcess, () => boolean>();

beforeAll(async () => {
  sb = await startSalesforceSandbox({ seed: 6, size: 'small' });
  fresh = await createTestDatabase({ poolSize: 12 });
  const raw = {
    database: { url: fresh.url },
    logLevel: 'warn',
    queue: { prefix: 'qt_kill' },
    alerts: { maxTasksPerManagerPerDay: 100 },
    connections: [sandboxConnectionEntry(sb)],
  };
  cfgPath = join(tmpdir(), `qt-kill-${process.pid}.yaml`);
  writeFileSync(cfgPath, stringify(raw));
  await migrateToLatest(fresh.db);
  // The first full pipeline, in process.
  const config = configSchema.parse(raw);
  let wrote = false;
  const svc = await startService({
    config,
    db: { db: fresh.db, url: fresh.url, embedded: false, close: async () => {} },
    log: silentLogger,
    migrateQueue: true,
    reconcileSchedulers: false,
    backend: 'postgres',
    onWriteback: (o) => {
      if (o.status === 'done' && o.push.recordsWritten > 0) wrote = true;
    },
  });
  for (const stream of [
    'users',
    'user_roles',
    'opportunities',
    'forecasting_quotas',
    'fiscal_periods',
    'currency_types',
  ]) {
    await svc.runtime.enqueue('sync', { v: 1, connectionId: 'sf', stream, trigger: 'cli' });
  }
  // The first write-back can come from a metrics step that ran before the opportunities were in (the six syncs run
  // concurrently), so wait for what the test needs: every sync finished, nothing left dirty, and the queue empty (the
  // last write-back done), twice in a row.
  const settled = async () => {
    const runs = await fresh.db
      .selectFrom('sync_runs')
      .select(['stream'])
      .where('status', '=', 'succeeded')
      .distinct()
      .execute();
    const dirty = await fresh.db
      .selectFrom('dirty_keys')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    const counts = await svc.runtime.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    const pending = Object.values(counts).reduce((x, y) => x + y, 0);
    return runs.length === 6 && Number(dirty.n) === 0 && pending === 0;
  };
  const settle = async (what: string, needWrite: boolean) => {
    const deadline = Date.now() + 90_000;
    let quiet = 0;
    while (quiet < 2) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} to settle`);
      await new Promise((r) => setTimeout(r, 250));
      quiet = (wrote || !needWrite) && (await settled()) ? quiet + 1 : 0;
    }
  };
  const diagnosis = async () => {
    const snaps = await fresh.db
      .selectFrom('metric_snapshots')
      .select(['subject_id', 'metrics', 'computed_at'])
      .where('subject_kind', '=', 'rep')
      .execute();
    const runs = await fresh.db.selectFrom('sync_runs').selectAll().orderBy('id').execute();
    const wb = await fresh.db.selectFrom('writeback_runs').selectAll().orderBy('id').execute();
    const users = sb.store.all('User').map((u) => [u.Name, u.Projected_Attainment__c, u.Quota_Attainment__c]);
    const deals = await fresh.db
      .selectFrom('deals')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    const quarantined = await fresh.db
      .selectFrom('quarantine')
      .select(['stream', 'reason_code', (eb) => eb.fn.countAll<string>().as('n')])
      .where('resolved_at', 'is', null)
      .groupBy(['stream', 'reason_code'])
      .execute();
    return JSON.stringify({
      snaps: snaps.map((x) => [
        x.subject_id,
        (x.metrics as { projectedAttainment?: string }).projectedAttainment,
        (x.metrics as { actual?: string }).actual,
        x.computed_at,
      ]),
      runs: runs.map((r) => [r.stream, r.status, r.started_at, r.finished_at, r.records_changed]),
      wb,
      users,
      deals: deals.n,
      quarantined,
    });
  };
  await settle('the first pipeline', true);
  if (!candidate()) {
    // Seen once in CI (every rep at 0 bookings after a settled first pipeline, cause not found yet): say so in the
    // log with the warehouse's state, then try a full recompute. If that brings the figures, the first pipeline
    // left stale snapshots (a product bug this test is not about, tracked in the notes); if not, the data is
    // missing and the test fails here.
    console.error(`kill-worker: no candidate after the first pipeline, forcing a full recompute: ${await diagnosis()}`);
    await svc.runtime.enqueue('daily-recompute', { v: 1 });
    await settle('a full recompute', false);
    if (!candidate())
      throw new Error(
        `no rep at or above 75% projected with a manager and won deals after a full recompute: ${await diagnosis()}`,
      );
  }
  await svc.close();
}, 200_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await sb?.close();
  await fresh?.drop();
});

function candidate() {
  return sb.store
    .all('User')
    .filter(
      (u) =>
        typeof u.Projected_Attainment__c === 'number' && (u.Projected_Attainment__c as number) >= 75 && u.ManagerId,
    )
    .map((u) => ({
      u,
      won: sb.store.all('Opportunity').filter((o) => o.OwnerId === u.Id && o.StageName === 'Closed Won'),
    }))
    .find((x) => x.won.length > 0);
}

it('a worker killed mid-write-back loses no update and the next one creates no duplicate task', async () => {
  const rep = candidate();
  expect(rep).toBeDefined();
  if (!rep) return;
  const repId = String(rep.u.Id);
  sb.store.advance(60_000);
  for (const o of rep.won) sb.store.update('Opportunity', String(o.Id), { StageName: 'Closed Lost' });
  sb.faults.add({ kind: 'slow', method: 'PATCH', path: '/composite/sobjects', delayMs: 5_000, count: 1 });

  const a = worker();
  const queue = createQueueBackend({ databaseUrl: fresh.url, prefix: 'qt_kill' }).queue('pipeline');
  await queue.add('sync', { v: 1, connectionId: 'sf', stream: 'opportunities', trigger: 'cli' });
  const seen = sb.log.entries().length;
  await until(
    () =>
      sb.log
        .entries()
        .slice(seen)
        .find((e) => e.method === 'PATCH' && e.path.includes('/composite/sobjects')),
    60_000,
    'the write-back call',
  );
  a.kill('SIGKILL');
  await new Promise((r) => a.on('exit', r));

  const b = worker();
  const after = await until(
    () => {
      const u = sb.store.get('User', repId);
      return u && u.Quota_Attainment__c === 0 ? u : undefined;
    },
    60_000,
    'the update after the restart',
  );
  expect(after.Projected_Attainment__c).toBeLessThan(70);
  const tasks = () =>
    sb.store
      .all('Task')
      .filter((t) => String(t.Quota_Alert_Key__c ?? '').startsWith('at_risk_rep:') && t.OwnerId === rep.u.ManagerId)
      .filter((t) => String(t.Subject ?? '').includes(String(rep.u.Name)));
  await until(() => (tasks().length > 0 ? true : undefined), 30_000, 'the task');
  await new Promise((r) => setTimeout(r, 4_000));
  expect(tasks()).toHaveLength(1);
  // (the update may have been applied by the killed worker's request in flight; B re-sends it when it takes over
  // the stalled job, with the same values) - stop B once it is up, as an operator would
  await until(() => ready.get(b)?.() || undefined, 60_000, 'the second worker to be up');
  b.kill('SIGTERM');
  const code = await new Promise((r) => b.on('exit', (c) => r(c)));
  expect(code).toBe(0);
  await queue.close();
}, 180_000);
