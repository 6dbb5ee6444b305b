/**
 * Many workers (issue 22): a full recompute split into rep shards (`queue.recomputeShards`) on Redis, taken by two
 * real `quota-tracker worker` processes, one of them killed with SIGKILL while it computes a shard. The other takes
 * the killed one's shard over, and every subject's snapshot is written exactly once for the run (a trigger counts
 * the writes) and equals what a single-process full recompute stores.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Queue } from 'bullmq';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { validateConfig } from '../../src/config/load.ts';
import { createQueueBackend, type QueueBackend } from '../../src/jobs/backend.ts';
import { QUEUE_NAME, SHARD_QUEUE_NAME } from '../../src/jobs/runtime.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { IN_PROCESS_RUN } from '../../src/metrics/engine/run-marker.ts';
import { runMetricsStep } from '../../src/metrics/engine/step.ts';
import { repeatPass } from '../helpers/ci-pass.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestRedis, type TestRedis } from '../helpers/redis.ts';
import { SHARDED_AS_OF, seedShardedOrg } from '../helpers/sharded-org.ts';

let t: TestDatabase;
let redis: TestRedis;
let backend: QueueBackend;
let cfgPath: string;
const children: ChildProcess[] = [];
const raw = (url: string, redisUrl: string, prefix: string) => ({
  database: { url },
  logLevel: 'warn',
  queue: { redisUrl, prefix, recomputeShards: 6 },
  calendar: { timezone: 'America/New_York' },
  booking: { splits: 'revenue' },
  forecast: { trials: 500, backtest: { enabled: false } },
});

function until<T>(check: () => Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const start = Date.now(); // wall-clock: a test's own timeout
  return new Promise((resolve, reject) => {
    const tick = async () => {
      const v = await check();
      if (v !== undefined && v !== false) return resolve(v as T);
      // wall-clock: a test's own timeout
      if (Date.now() - start > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 50);
    };
    void tick();
  });
}

/** A `quota-tracker worker` process; resolves once it takes jobs. */
async function worker(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['bin/quota-tracker.js', 'worker', '--config', cfgPath], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: {
      ...process.env,
      REDIS_URL: '',
      QUOTA_TRACKER_NOW: `${SHARDED_AS_OF}T15:00:00Z`,
      // A killed worker's job is taken over within a couple of seconds.
      QUOTA_TRACKER_JOB_LOCK_MS: '2000',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  let err = '';
  child.stderr?.on('data', (d) => {
    err += String(d);
  });
  await until(async () => err.includes('quota-tracker worker is running'), 30_000, `a worker to start: ${err}`);
  return child;
}

beforeAll(async () => {
  if (repeatPass) return;
  t = await createTestDatabase({ poolSize: 6 });
  redis = await createTestRedis();
  await seedShardedOrg(t.db, { reps: 90, deals: 9_000, activities: 13_500 });
  const r = raw(t.url, redis.url, redis.prefix);
  cfgPath = join(tmpdir(), `qt-sharded-${process.pid}.yaml`);
  writeFileSync(cfgPath, stringify(r));
  backend = createQueueBackend({ redisUrl: redis.url, databaseUrl: t.url, prefix: redis.prefix });
}, 120_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await backend?.close();
  await redis?.close();
  await t?.drop();
});

// The clock and the data are pinned: every pass would run the same day (test/helpers/ci-pass.ts).
describe.skipIf(repeatPass)('many workers', () => {
  it('two workers on Redis, one killed mid-shard: each snapshot written once, equal to a single-process run', async () => {
    // The workers start meanwhile (no job is queued until the reference is in).
    const started = Promise.all([worker(), worker()]);
    // The reference: the metrics step in this one process (org model, then a full recompute), then the figures
    // cleared so that the run below writes every subject anew.
    const config = validateConfig(raw(t.url, redis.url, redis.prefix));
    const single = new MetricsEngine({ db: t.db, config, workerId: 'single' });
    const ref = await runMetricsStep(single, SHARDED_AS_OF);
    expect(ref.mode).toBe('full');
    const expected = new Map(
      (
        await t.db
          .selectFrom('metric_snapshots')
          .select(['subject_kind', 'subject_id', 'period_id', 'metrics'])
          .execute()
      ).map((r) => [`${r.subject_kind}:${r.subject_id}@${r.period_id}`, r.metrics]),
    );
    expect(expected.size).toBeGreaterThan(90);
    await sql`truncate metric_snapshots, metric_snapshot_history, alerts cascade`.execute(t.db);
    await t.db.deleteFrom('config_state').execute();
    // Every committed write of a snapshot row, counted (a killed worker's uncommitted ones roll back with it).
    await sql`create table snapshot_writes (key text not null)`.execute(t.db);
    await sql`create function count_snapshot_write() returns trigger language plpgsql as $$
    begin insert into snapshot_writes values (new.subject_kind || ':' || new.subject_id || '@' || new.period_id);
    return new; end $$`.execute(t.db);
    await sql`create trigger count_snapshot_writes after insert or update on metric_snapshots
    for each row execute function count_snapshot_write()`.execute(t.db);

    const [a, b] = await started;
    const shardQueue: Queue = backend.queue(SHARD_QUEUE_NAME);
    await backend.queue(QUEUE_NAME).add('daily-recompute', { v: 1 });
    // Kill A while it holds a shard job, once some shard is in (mid-run).
    const killed = await until(
      async () => {
        const done = await t.db
          .selectFrom('recompute_shards')
          .select('shard')
          .where('done_at', 'is not', null)
          .execute();
        if (done.length === 0) return undefined;
        const active = await shardQueue.getActive();
        const job = active.find((j) => j.name === 'recompute-shard' && j.processedBy?.endsWith(`:${a.pid}`));
        if (!job) return undefined;
        // Still computing: its shard is not stored yet.
        const row = await t.db
          .selectFrom('recompute_shards')
          .select('done_at')
          .where('shard', '=', (job.data as { shard: number }).shard)
          .executeTakeFirst();
        return row?.done_at === null ? job : undefined;
      },
      60_000,
      'worker A to be computing a shard',
    );
    a.kill('SIGKILL');
    await new Promise((r) => a.on('exit', r));
    const shard = (killed.data as { shard: number }).shard;

    const run = await until(
      async () =>
        // The sharded run (an in-process full recompute keeps a marker row of its own in the same table).
        (await t.db
          .selectFrom('recompute_runs')
          .selectAll()
          .where('status', '=', 'done')
          .where('reason', '<>', IN_PROCESS_RUN)
          .executeTakeFirst()) ?? undefined,
      60_000,
      'the run to finish',
    );
    expect(run.shards).toBe(6);
    // The killed worker's shard was stored by the other one.
    const taken = await t.db
      .selectFrom('recompute_shards')
      .select(['shard', 'done_by'])
      .where('run_id', '=', run.id)
      .execute();
    expect(taken.find((s) => s.shard === shard)?.done_by).toBe(`${hostname()}:${b.pid}`);
    expect(taken.every((s) => s.done_by !== null)).toBe(true);

    const writes = await sql<{ key: string; n: number }>`
    select key, count(*)::int as n from snapshot_writes group by key`.execute(t.db);
    expect(writes.rows.filter((w) => w.n !== 1)).toEqual([]);
    expect(writes.rows.length).toBe(expected.size);
    const got = new Map(
      (
        await t.db
          .selectFrom('metric_snapshots')
          .select(['subject_kind', 'subject_id', 'period_id', 'metrics'])
          .execute()
      ).map((r) => [`${r.subject_kind}:${r.subject_id}@${r.period_id}`, r.metrics]),
    );
    expect(got.size).toBe(expected.size);
    for (const [k, doc] of expected) expect(got.get(k), k).toEqual(doc);

    b.kill('SIGTERM');
    expect(await new Promise((r) => b.on('exit', (c) => r(c)))).toBe(0);
  }, 120_000);
});
