/**
 * A full recompute in one process (`recomputeAll`) commits shard by shard, the groups with the last shard: while it
 * runs, its `recompute_runs` row says so (run-marker.ts). A report asked meanwhile is computed from the warehouse,
 * not read from the half-written snapshots, and write-back plans nothing (it comes back later). The row is closed
 * when the run ends or fails; one a dead process left is given up after `STUCK_RUN_SECONDS`, its marks released.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock, setClock } from '../../../src/clock.ts';
import { createFiscalCalendar } from '../../../src/config/calendar.ts';
import { validateConfig } from '../../../src/config/load.ts';
import { defaultLayout } from '../../../src/connectors/salesforce/write-fields.ts';
import { claimBatch } from '../../../src/dirty/queue.ts';
import { isAppError } from '../../../src/errors.ts';
import { MetricsEngine } from '../../../src/metrics/engine/engine.ts';
import {
  abandonStuckInProcessRuns,
  IN_PROCESS_RUN,
  openInProcessRun,
  STUCK_RUN_SECONDS,
} from '../../../src/metrics/engine/run-marker.ts';
import { ReportReader } from '../../../src/reports/read-model.ts';
import type { ReportRequest } from '../../../src/reports/report.ts';
import { desiredFromSnapshots } from '../../../src/writeback/values.ts';
import { goldenWarehouse } from '../../fixtures/warehouse/load.ts';
import type { TestDatabase } from '../../helpers/db.ts';

const TODAY = '2026-06-12';
const config = validateConfig({ calendar: { timezone: 'America/New_York' }, forecast: { trials: 500 } });
const TEAM: ReportRequest = { kind: 'team', team: 'West Enterprise' };
const period = createFiscalCalendar(config.calendar).periodContaining(TODAY, 'quarter');
let t: TestDatabase;

beforeAll(async () => {
  setClock(fixedClock(`${TODAY}T16:00:00Z`));
  t = await goldenWarehouse();
}, 120_000);
afterAll(async () => {
  setClock(undefined);
  await t?.drop();
});

const report = async () => (await new ReportReader({ db: t.db, config, oneShot: true }).read(TEAM, 'one-shot')).source;
const writeback = () =>
  desiredFromSnapshots(t.db, {
    connectionId: 'sf',
    period,
    target: { kind: 'user_fields', object: 'User' },
    layout: defaultLayout(),
  });
const runs = async () =>
  (await t.db.selectFrom('recompute_runs').select(['status', 'reason']).orderBy('id').execute()).map(
    (r) => `${r.reason}:${r.status}`,
  );

describe('a full recompute in one process is marked running', () => {
  it('reports compute and write-back waits while it runs; both read the snapshots once it is done', async () => {
    // A first run stores every snapshot: reports read them, write-back plans from them.
    await new MetricsEngine({ db: t.db, config }).recomputeAll(TODAY);
    expect(await report()).toBe('snapshots');
    expect((await writeback()).records.length).toBeGreaterThan(0);

    // A second run, observed after its first shard's snapshots are stored (one rep a shard: the groups come last).
    const engine = new MetricsEngine({ db: t.db, config, repsPerShard: 1 });
    const during: { source: string; writeback: string }[] = [];
    const commit = engine.commit.bind(engine);
    engine.commit = async (...a: Parameters<MetricsEngine['commit']>) => {
      const stored = await commit(...a);
      if (during.length === 0) {
        const wb = await writeback().then(
          (d) => `planned ${d.records.length}`,
          (e: unknown) => (isAppError(e, 'WRITEBACK_DEFERRED') ? 'deferred' : String(e)),
        );
        during.push({ source: await report(), writeback: wb });
      }
      return stored;
    };
    await engine.recomputeAll(TODAY);
    expect(engine.lastTimings.shards).toBeGreaterThan(1);
    expect(during).toEqual([{ source: 'warehouse', writeback: 'deferred' }]);
    expect(await runs()).toEqual([`${IN_PROCESS_RUN}:done`, `${IN_PROCESS_RUN}:done`]);
    expect(await report()).toBe('snapshots');
    expect((await writeback()).records.length).toBeGreaterThan(0);
  }, 120_000);

  it('closes the mark when the run fails', async () => {
    const engine = new MetricsEngine({ db: t.db, config, repsPerShard: 1 });
    let shards = 0;
    const commit = engine.commit.bind(engine);
    engine.commit = async (...a: Parameters<MetricsEngine['commit']>) => {
      if (++shards === 2) throw new Error('killed between shards');
      return commit(...a);
    };
    await expect(engine.recomputeAll(TODAY)).rejects.toThrow('killed between shards');
    expect((await runs()).at(-1)).toBe(`${IN_PROCESS_RUN}:abandoned`);
    // Its first shard is stored, the groups are not: reports still compute until a run finishes (the dirty marks
    // it released say so), and no run is left open.
    expect(await t.db.selectFrom('recompute_runs').where('status', '=', 'running').select('id').execute()).toEqual([]);
  }, 120_000);

  it("gives up the mark of a process that died mid-run once it is stuck, releasing the run's marks", async () => {
    // What a process killed mid-run leaves: its row running, its marks claimed.
    const mark = await t.db
      .insertInto('dirty_keys')
      .values({ subject_kind: 'rep', subject_key: 'person:1', period_id: period.id, reason: 'test' })
      .returning('id')
      .executeTakeFirstOrThrow();
    await t.db.updateTable('dirty_keys').set({ claimed_by: 'dead', claimed_at: new Date() }).execute();
    const dead = await openInProcessRun(t.db, {
      asOf: TODAY,
      periods: [period],
      configHash: new MetricsEngine({ db: t.db, config }).settings.configHash,
      inputsAt: `${TODAY}T16:00:00`,
      claimed: [mark.id],
    });
    // Not yet stuck: left alone (it may be alive), its marks still claimed.
    expect(await abandonStuckInProcessRuns(t.db)).toBe(0);
    expect((await t.db.selectFrom('dirty_keys').select('claimed_by').execute()).map((r) => r.claimed_by)).toEqual([
      'dead',
    ]);
    // Stuck: given up, its marks back in the queue; a run then recomputes them and reports read the snapshots.
    await sql`update recompute_runs set created_at = now() - make_interval(secs => ${STUCK_RUN_SECONDS + 60})
      where id = ${dead}`.execute(t.db);
    expect(await abandonStuckInProcessRuns(t.db)).toBe(1);
    expect((await t.db.selectFrom('dirty_keys').select('claimed_by').execute()).map((r) => r.claimed_by)).toEqual([
      null,
    ]);
    await sql`update recompute_runs set status = 'running', finished_at = null where id = ${dead}`.execute(t.db);
    expect(await report()).toBe('warehouse');
    // The next full recompute gives up a stuck row itself (a worker that never plans a sharded run) and finishes.
    await new MetricsEngine({ db: t.db, config }).recomputeAll(TODAY);
    const row = await t.db
      .selectFrom('recompute_runs')
      .select('status')
      .where('id', '=', dead)
      .executeTakeFirstOrThrow();
    expect(row.status).toBe('abandoned');
    expect(await t.db.selectFrom('dirty_keys').select('id').execute()).toEqual([]);
    expect(await report()).toBe('snapshots');
  }, 120_000);

  it('keeps its lease on the marks it covers while it runs longer than the lease', async () => {
    // A three-second lease and shards slower than a third of it: unrenewed, the run's claim would look abandoned to
    // another worker by the fourth shard, which would take the marks and compute them a second time. (Checked as
    // that shard begins to store: renewed, the lease is then only that shard's load and compute old.)
    const mark = await t.db
      .insertInto('dirty_keys')
      .values({ subject_kind: 'rep', subject_key: 'sf:005SARAH', period_id: period.id, reason: 'test' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const engine = new MetricsEngine({ db: t.db, config, repsPerShard: 1, staleClaimSeconds: 3, workerId: 'slow' });
    const commit = engine.commit.bind(engine);
    const takenByOther: number[] = [];
    let shards = 0;
    engine.commit = async (...a: Parameters<MetricsEngine['commit']>) => {
      if (++shards === 4) {
        const other = await sql<{ id: string }>`${claimBatch('other', 3, 100)}`.execute(t.db);
        takenByOther.push(...other.rows.map((r) => Number(r.id)));
      }
      await new Promise((r) => setTimeout(r, 1200));
      return commit(...a);
    };
    await engine.recomputeAll(TODAY);
    expect(shards).toBeGreaterThanOrEqual(4);
    expect(takenByOther).toEqual([]);
    // And the run, still holding it, settled it.
    expect(await t.db.selectFrom('dirty_keys').select('id').where('id', '=', mark.id).execute()).toEqual([]);
  }, 120_000);
});
