/**
 * A full recompute split into rep shards (src/metrics/engine/shards.ts), driven in process: every subject's snapshot
 * equals the one a single-process `recomputeAll` stores (reps, teams, regions, the org, forecasts included), with
 * split deals shared across shards, a rep who moved teams, owners no rep row stands for, and stage history for the
 * forecast to learn from; a shard taken twice stores once; a run is joined, not planned twice.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clockStartingAt, setClock } from '../../src/clock.ts';
import { validateConfig } from '../../src/config/load.ts';
import { completeClaims } from '../../src/dirty/queue.ts';
import type { QueueBackend } from '../../src/jobs/backend.ts';
import { JOB_NAMES } from '../../src/jobs/names.ts';
import { createPipeline } from '../../src/jobs/pipeline.ts';
import { type Enqueue, type JobHandlers, JobRuntime, RetryLater, SHARD_QUEUE_NAME } from '../../src/jobs/runtime.ts';
import { startService } from '../../src/jobs/service.ts';
import { MetricsEngine, markFullRecompute } from '../../src/metrics/engine/engine.ts';
import { mergeRun, runningRun, runShard, shardOf, startShardedRun } from '../../src/metrics/engine/shards.ts';
import { runMetricsStep } from '../../src/metrics/engine/step.ts';
import { addDays } from '../../src/util/date.ts';
import { silentLogger } from '../../src/util/log.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { SHARDED_AS_OF as AS_OF, seedShardedOrg } from '../helpers/sharded-org.ts';

let t: TestDatabase;
/** The single-process run's snapshots (the first test's), which every sharded run must store. */
let expected = new Map<string, unknown>();

const config = validateConfig({
  calendar: { timezone: 'America/New_York' },
  booking: { splits: 'revenue' },
  forecast: { trials: 500, backtest: { enabled: false } },
});

async function snapshots(): Promise<Map<string, unknown>> {
  const rows = await t.db
    .selectFrom('metric_snapshots')
    .select(['subject_kind', 'subject_id', 'period_id', 'metrics', 'as_of'])
    .execute();
  return new Map(rows.map((r) => [`${r.subject_kind}:${r.subject_id}@${r.period_id}`, r.metrics]));
}

async function clearFigures(): Promise<void> {
  await sql`truncate metric_snapshots, metric_snapshot_history, alerts cascade`.execute(t.db);
  await t.db.deleteFrom('config_state').execute();
}

beforeAll(async () => {
  t = await createTestDatabase({ poolSize: 6 });
  await seedShardedOrg(t.db);
}, 120_000);

afterAll(async () => {
  await t?.drop();
});

describe('a full recompute in rep shards', () => {
  it('stores the figures a single-process full recompute stores, each subject once, and merges once', async () => {
    const single = new MetricsEngine({ db: t.db, config, workerId: 'single' });
    const all = await single.recomputeAll(AS_OF);
    expected = await snapshots();
    expect(all.recomputed.length).toBe(expected.size);
    expect([...expected.keys()].some((k) => k.startsWith('rep:sf:005X'))).toBe(true);
    await clearFigures();

    const engine = new MetricsEngine({ db: t.db, config, workerId: 'sharded' });
    const ref = await startShardedRun(engine, AS_OF, { shards: 4, reason: 'test', alwaysWriteback: false });
    expect(ref.todo).toEqual([0, 1, 2, 3]);
    // Asked again while it runs: the same run, not a second one.
    const again = await startShardedRun(engine, AS_OF, { shards: 4, reason: 'test', alwaysWriteback: false });
    expect(again).toMatchObject({ runId: ref.runId, joined: true });
    expect((await runningRun(engine, AS_OF))?.runId).toBe(ref.runId);

    let subjects = 0;
    const outcomes = [];
    for (const shard of ref.todo) {
      const out = await runShard(engine, ref.runId, shard, 'w1');
      outcomes.push(out);
      subjects += out.subjects;
      // Taken again (a retried job): nothing is stored a second time.
      expect(await runShard(engine, ref.runId, shard, 'w2')).toMatchObject({ status: 'skipped', subjects: 0 });
    }
    expect(outcomes.map((o) => o.mergeDue)).toEqual([false, false, false, true]);
    const merged = await mergeRun(engine, ref.runId);
    expect(merged.status).toBe('done');
    // Every snapshot the shards and the merge stored has its exact attainment (ranks read from the snapshots).
    const unranked = await sql<{
      n: number;
    }>`select count(*)::int as n from metric_snapshots where not exact_stored`.execute(t.db);
    expect(unranked.rows[0]?.n).toBe(0);
    // Asked again (the merge job's retry after its worker died past the commit): the follow-ups are queued again.
    expect(await mergeRun(engine, ref.runId)).toMatchObject({ status: 'merged', groups: 0 });
    const queued: string[] = [];
    const pipeline = createPipeline({ db: t.db, config, log: silentLogger });
    const enqueue = async (name: string) => {
      queued.push(name);
      return undefined;
    };
    await pipeline.handlers['recompute-merge'](
      { v: 1, runId: ref.runId },
      { jobId: 'm', attempt: 2, log: silentLogger, enqueue: enqueue as unknown as Enqueue },
    );
    expect(queued).toContain('recompute');
    expect(subjects + merged.groups).toBe(expected.size);

    const got = await snapshots();
    expect(got.size).toBe(expected.size);
    for (const [k, doc] of expected) expect(got.get(k), k).toEqual(doc);
    // Each rep in exactly one shard; the group shares are gone once merged; the config is recorded as applied.
    const shards = await t.db.selectFrom('recompute_shards').selectAll().where('run_id', '=', ref.runId).execute();
    expect(shards.every((s) => s.done_by === 'w1')).toBe(true);
    expect(
      await t.db.selectFrom('recompute_parts').select('group_key').where('run_id', '=', ref.runId).execute(),
    ).toEqual([]);
    expect(await engine.configChanged()).toBe(false);
    expect(await runningRun(engine, AS_OF)).toBeNull();
  }, 120_000);

  it('a run given up keeps no group shares, and a shard of it computed late stores nothing', async () => {
    const engine = new MetricsEngine({ db: t.db, config, workerId: 'sharded' });
    const ref = await startShardedRun(engine, AS_OF, { shards: 3, reason: 'test', alwaysWriteback: false });
    expect((await runShard(engine, ref.runId, 0, 'w1')).status).toBe('done');
    const parts = () =>
      t.db.selectFrom('recompute_parts').select('group_key').where('run_id', '=', ref.runId).execute();
    expect((await parts()).length).toBeGreaterThan(0);
    const again = await startShardedRun(engine, AS_OF, {
      shards: 3,
      reason: 'test',
      alwaysWriteback: false,
      force: true,
    });
    expect(again.runId).not.toBe(ref.runId);
    expect(await parts()).toEqual([]);
    // A shard computing while its run is given up: the giving up holds the run row until it commits, and the shard
    // (which read the run as running before) stores nothing when it comes to commit, whichever is first.
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const giveUp = t.db.transaction().execute(async (trx) => {
      await sql`select id from recompute_runs where id = ${again.runId} for update`.execute(trx);
      await trx.updateTable('recompute_runs').set({ status: 'abandoned' }).where('id', '=', again.runId).execute();
      await gate;
    });
    const late = runShard(engine, again.runId, 1, 'w1');
    setTimeout(() => release(), 300);
    await giveUp;
    expect(await late).toMatchObject({ status: 'skipped' });
    const shard1 = await t.db
      .selectFrom('recompute_shards')
      .select('done_at')
      .where('run_id', '=', again.runId)
      .where('shard', '=', 1)
      .executeTakeFirst();
    expect(shard1?.done_at).toBeNull();
  }, 60_000);

  it('a run given up leaves the new day and a rates change to the next step, as a full recompute', async () => {
    const engine = new MetricsEngine({ db: t.db, config, workerId: 'sharded' });
    const next = addDays(AS_OF, 1);
    const ref = await startShardedRun(engine, next, { shards: 3, reason: 'rates_changed', alwaysWriteback: false });
    expect((await runShard(engine, ref.runId, 0, 'w1')).status).toBe('done');
    // Given up (a forced plan of another run, here given up too): the rates flag it took is raised again.
    const other = await startShardedRun(engine, next, {
      shards: 3,
      reason: 'test',
      alwaysWriteback: false,
      force: true,
    });
    await startShardedRun(engine, AS_OF, { shards: 3, reason: 'test', alwaysWriteback: false, force: true });
    expect(await runningRun(engine, next)).toBeNull();
    expect(other.runId).not.toBe(ref.runId);
    const whys: string[] = [];
    const full = async (why: string) => {
      whys.push(why);
      return { asOf: next, recomputed: [], changes: [], alertEvents: [] };
    };
    expect((await runMetricsStep(engine, next, undefined, { full })).why).toBe('rates_changed');
    // Shard 0 moved its reps' snapshots to the new day; the day is still due a full recompute.
    expect((await runMetricsStep(engine, next, undefined, { full })).why).toBe('new_day');
    expect(whys).toEqual(['rates_changed', 'new_day']);
    const still = await runningRun(engine, AS_OF);
    if (still)
      await t.db.updateTable('recompute_runs').set({ status: 'abandoned' }).where('id', '=', still.runId).execute();
  }, 60_000);

  it("a worker of another configuration leaves the run's shards and merge for later, and keeps the run", async () => {
    const engine = new MetricsEngine({ db: t.db, config, workerId: 'sharded' });
    const ref = await startShardedRun(engine, AS_OF, {
      shards: 2,
      reason: 'test',
      alwaysWriteback: false,
      force: true,
    });
    const changed = validateConfig({ ...config, forecast: { ...config.forecast, trials: 400 } });
    const stranger = new MetricsEngine({ db: t.db, config: changed, workerId: 'other' });
    expect(await runShard(stranger, ref.runId, 0, 'w9')).toMatchObject({ status: 'skipped', otherConfig: true });
    expect(await mergeRun(stranger, ref.runId)).toMatchObject({ status: 'skipped', otherConfig: true });
    const job = { jobId: 's', attempt: 1, log: silentLogger, enqueue: (async () => undefined) as unknown as Enqueue };
    const handlers = createPipeline({ db: t.db, config: changed, log: silentLogger }).handlers;
    await expect(handlers['recompute-shard']({ v: 1, runId: ref.runId, shard: 1 }, job)).rejects.toBeInstanceOf(
      RetryLater,
    );
    expect((await runningRun(engine, AS_OF))?.runId).toBe(ref.runId);
    await t.db.updateTable('recompute_runs').set({ status: 'abandoned' }).where('id', '=', ref.runId).execute();
  }, 60_000);

  it('runs as jobs on the PostgreSQL queue backend: queue.recomputeShards splits the daily recompute', async () => {
    expect(expected.size).toBeGreaterThan(0);
    await clearFigures();
    const raw = { ...config, queue: { ...config.queue, prefix: 'qt_shards_pg', recomputeShards: 3 } };
    setClock(clockStartingAt(`${AS_OF}T15:00:00Z`));
    const svc = await startService({
      config: raw,
      db: { db: t.db, url: t.url, embedded: false, close: async () => {} },
      log: silentLogger,
      migrateQueue: true,
      reconcileSchedulers: false,
      backend: 'postgres',
    });
    try {
      const last = await t.db
        .selectFrom('recompute_runs')
        .select((eb) => eb.fn.max('id').as('id'))
        .executeTakeFirst();
      await svc.runtime.enqueue('daily-recompute', { v: 1 });
      const deadline = Date.now() + 60_000; // wall-clock: a test's own timeout
      let run: { id: number; shards: number } | undefined;
      while (!run && Date.now() < deadline) {
        // wall-clock: see above
        await new Promise((r) => setTimeout(r, 100));
        run = await t.db
          .selectFrom('recompute_runs')
          .select(['id', 'shards'])
          .where('status', '=', 'done')
          .where('id', '>', Number(last?.id ?? 0))
          .executeTakeFirst();
      }
      expect(run?.shards).toBe(3);
      const got = await snapshots();
      expect(got.size).toBe(expected.size);
      for (const [k, doc] of expected) expect(got.get(k), k).toEqual(doc);
    } finally {
      await svc.close();
      setClock(undefined);
    }
  }, 90_000);

  it('starts a shard-queue worker only when the recompute is sharded', () => {
    const opened: string[] = [];
    const fake = {
      kind: 'postgres',
      worker: (name: string) => {
        opened.push(name);
        return { on: () => {}, close: async () => {} };
      },
    } as unknown as QueueBackend;
    const handlers = Object.fromEntries(JOB_NAMES.map((n) => [n, async () => {}])) as unknown as JobHandlers;
    expect(new JobRuntime(fake, handlers, silentLogger).startWorkers({ count: 2 })).toHaveLength(2);
    expect(opened.filter((n) => n === SHARD_QUEUE_NAME)).toEqual([]);
    opened.length = 0;
    expect(new JobRuntime(fake, handlers, silentLogger).startWorkers({ count: 2, shards: true })).toHaveLength(4);
    expect(opened.filter((n) => n === SHARD_QUEUE_NAME)).toHaveLength(2);
  });

  it("each shard renews the lease on the run's marks once a third of it is gone", async () => {
    // A run outlasting staleClaimSeconds must keep its marks: another worker would take them for abandoned and
    // compute them a second time. A five-minute lease whose ages are set in the database: the checks compare the
    // lease's stamp before and after a shard, so neither the shard's own duration nor a stall of the machine decides.
    const engine = new MetricsEngine({ db: t.db, config, workerId: 'sharded', staleClaimSeconds: 300 });
    await t.db
      .insertInto('dirty_keys')
      .values({ subject_kind: 'rep', subject_key: 'lease:1', period_id: 'FY2026-Q1', reason: 'test' })
      .execute();
    const ref = await startShardedRun(engine, AS_OF, {
      shards: 3,
      reason: 'test',
      alwaysWriteback: false,
      force: true,
    });
    const stamp = async () =>
      (
        await sql<{
          at: number;
          by: string | null;
        }>`select extract(epoch from claimed_at)::float8 as at, claimed_by as by
          from dirty_keys where subject_key = 'lease:1'`.execute(t.db)
      ).rows[0];
    const setAge = (seconds: number) =>
      sql`update dirty_keys set claimed_at = now() - make_interval(secs => ${seconds})
        where subject_key = 'lease:1'`.execute(t.db);
    // Past a third of the lease: the next shard renews it.
    await setAge(200);
    const old = await stamp();
    await runShard(engine, ref.runId, 0, 'w1');
    const renewed = await stamp();
    expect(renewed?.by).toBe(old?.by);
    expect(renewed?.at).toBeGreaterThan(old?.at ?? Number.POSITIVE_INFINITY);
    // Younger than a third: left as it is (the shards of a run do not each write every mark).
    await setAge(10);
    const young = await stamp();
    await runShard(engine, ref.runId, 1, 'w1');
    expect(await stamp()).toEqual(young);
    await startShardedRun(engine, AS_OF, { shards: 3, reason: 'test', alwaysWriteback: false, force: true });
    await t.db.deleteFrom('dirty_keys').where('subject_key', '=', 'lease:1').execute();
  }, 60_000);

  it("settles a run's claimed marks however many there are (above the 65,535 bind parameters)", async () => {
    const ids = await sql<{ id: string }>`insert into dirty_keys (subject_kind, subject_key, period_id, reason,
        claimed_at, claimed_by)
      select 'rep', 'many:' || i, 'FY2026-Q1', 'test', now(), 'run:999999' from generate_series(1, 70000) i
      returning id`.execute(t.db);
    await completeClaims(
      t.db,
      ids.rows.map((r) => Number(r.id)),
      'run:999999',
    );
    const left = await sql<{
      n: number;
    }>`select count(*)::int as n from dirty_keys where claimed_by = 'run:999999'`.execute(t.db);
    expect(left.rows[0]?.n).toBe(0);
  }, 30_000);

  it('a daily recompute joins the sharded run under way and leaves the dirty marks to its next pass', async () => {
    setClock(clockStartingAt(`${AS_OF}T15:00:00Z`));
    try {
      const raw = { ...config, queue: { ...config.queue, recomputeShards: 3 } };
      const pipeline = createPipeline({ db: t.db, config: raw, log: silentLogger });
      const ref = await startShardedRun(pipeline.engine, AS_OF, {
        shards: 3,
        reason: 'test',
        alwaysWriteback: false,
        force: true,
      });
      // Today's full recompute is recorded as done: the step itself would only recompute the dirty marks.
      await markFullRecompute(t.db, pipeline.engine.settings.configHash, AS_OF);
      const mark = await sql<{ id: string }>`insert into dirty_keys (subject_kind, subject_key, period_id, reason)
        values ('rep', 'daily:mark', 'FY2026-Q2', 'test') returning id`.execute(t.db);
      const queued: string[] = [];
      const enqueue = (async (name: string) => {
        queued.push(name);
        return undefined;
      }) as unknown as Enqueue;
      const out = await pipeline.handlers['daily-recompute'](
        { v: 1 },
        { jobId: 'd', attempt: 1, log: silentLogger, enqueue },
      );
      expect(out).toMatchObject({ run: ref.runId });
      const row = await t.db
        .selectFrom('dirty_keys')
        .select('claimed_by')
        .where('id', '=', Number(mark.rows[0]?.id))
        .executeTakeFirst();
      expect(row).toEqual({ claimed_by: null });
      expect(queued.filter((n) => n === 'recompute-shard')).toHaveLength(3);
      const run = await t.db
        .selectFrom('recompute_runs')
        .select('always_writeback')
        .where('id', '=', ref.runId)
        .executeTakeFirst();
      expect(run?.always_writeback).toBe(true);
      await t.db.updateTable('recompute_runs').set({ status: 'abandoned' }).where('id', '=', ref.runId).execute();
      await t.db.deleteFrom('dirty_keys').where('subject_key', '=', 'daily:mark').execute();
    } finally {
      setClock(undefined);
    }
  }, 60_000);

  it('spreads reps over the shards by a hash of their key', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 1; i <= 400; i++) counts[shardOf(`person:${i}`, 4)]! += 1;
    for (const c of counts) expect(c).toBeGreaterThan(60);
  });
});
