/**
 * A full recompute split into a fixed number of rep shards (`queue.recomputeShards`), for many workers: a run is
 * planned once (its cut `inputs_at` and the dirty marks it covers are taken in one statement, as `recomputeAll`
 * takes them), each shard is a job any worker can take, and the groups are merged once every shard is in.
 *
 * - A shard computes its reps' figures (rep key hashed onto the shard; shard 0 also takes the owners no rep row
 *   stands for, which a full load books as reps of their own) from the rows of those reps only (`loadForReps`), and
 *   each group's share of them: the reps' partials of every team, region and the org they count for, merged per
 *   group (`MetricsModel.shardPartials`). The forecast's Monte Carlo of a group is the sum of its members' trials,
 *   so it runs once per rep, in the rep's shard. What the forecast learns from the stage history is learned once,
 *   by the plan, and stored with the run (`recompute_runs.forecast`): no shard reads the whole history.
 * - The shard's snapshots, alerts, group shares and done mark commit in one transaction whose first statement takes
 *   the done mark: a shard is stored at most once (a second taker finds it done and stores nothing), and a worker
 *   killed before the commit leaves nothing behind, so the job's retry (BullMQ moves a stalled job back) redoes it.
 * - The transaction also counts the run's pending shards down; the one that reaches zero asks for the merge, which
 *   adds up the shares of each group (`computeGroupFrom`: exact in any grouping), stores the group snapshots, and
 *   settles the marks in one transaction that takes the run's done status first. A merge request lost with a killed
 *   worker is asked for again by the shard job's retry, which finds its shard done and the count at zero.
 *
 * The figures equal a single-process `recomputeAll`'s; each shard reads the warehouse when it runs, so a change
 * made during the run is in some shards and not others, as its dirty mark (left for the next incremental pass)
 * says.
 */
import { type Kysely, sql } from 'kysely';
import type { FiscalPeriod } from '../../config/calendar.ts';
import type { Database } from '../../db/schema.ts';
import { claimAll, completeClaims, raiseRatesChanged, releaseClaims, renewClaims } from '../../dirty/queue.ts';
import type { PlainDate } from '../../util/date.ts';
import { Dec } from '../../util/money.ts';
import { figuresDocument } from '../document.ts';
import type { ForecastCalibrationInfo, SubjectPartial } from '../math/rep-metrics.ts';
import type { RollupLevel } from '../math/rollup.ts';
import { learnForecasts } from './cold.ts';
import { type MetricsEngine, markFullRecompute } from './engine.ts';
import { decodeLearned, forecastFrom } from './forecast-model.ts';
import { forecastConfigHash } from './forecast-store.ts';
import { loadForReps, loadGroupInputs, loadPeople } from './load.ts';
import { MetricsModel } from './model.ts';
import { decodePartial, encodePartial, forecastInput, type PartJson, type RunForecastJson } from './partials.ts';
import { IN_PROCESS_RUN, STUCK_RUN_SECONDS } from './run-marker.ts';
import { type SnapshotWrite, stampOf, storeSnapshots } from './snapshots.ts';
import { describeSubject } from './subjects.ts';
import type { MetricChange, SubjectRef } from './types.ts';

/** The lease name a run's dirty marks are claimed under. */
export function runWorkerId(runId: number): string {
  return `run:${runId}`;
}

/** The shard of a rep key: 32-bit FNV-1a of its text modulo the shard count (the same in every process). */
export function shardOf(key: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}

/** A run that is still to finish: the shards not done yet, and whether the merge is due. */
export interface RunRef {
  runId: number;
  shards: number;
  todo: number[];
  mergeDue: boolean;
  /** True when an unfinished run of the same date and config was found rather than a new one planned. */
  joined: boolean;
}

interface RunRow {
  id: number;
  as_of: PlainDate;
  period_ids: string[];
  config_hash: string;
  shards: number;
  pending: number;
  inputs_at: string;
  claimed: string[];
  forecast: Record<string, RunForecastJson>;
  always_writeback: boolean;
  reason: string;
  status: 'running' | 'done' | 'abandoned';
  rep_changes: number;
  alert_events: number;
  superseded: number;
  stuck: boolean;
}

async function readRun(db: Kysely<Database>, runId: number): Promise<RunRow | undefined> {
  const r = await sql<RunRow>`
    select id::int as id, as_of::text as as_of, period_ids, config_hash, shards, pending,
           ${stampOf(sql`inputs_at`)} as inputs_at, claimed::text[] as claimed, forecast, always_writeback, reason, status,
           rep_changes, alert_events, superseded,
           created_at < now() - make_interval(secs => ${STUCK_RUN_SECONDS}) as stuck -- wall-clock: a lease
    from recompute_runs where id = ${runId}`.execute(db);
  return r.rows[0];
}

async function refOf(db: Kysely<Database>, run: RunRow, joined: boolean): Promise<RunRef> {
  const rows = await db
    .selectFrom('recompute_shards')
    .select('shard')
    .where('run_id', '=', run.id)
    .where('done_at', 'is', null)
    .orderBy('shard')
    .execute();
  return {
    runId: run.id,
    shards: run.shards,
    todo: rows.map((r) => r.shard),
    mergeDue: run.pending === 0,
    joined,
  };
}

/** Gives up a run: its marks go back to the queue (their reps are recomputed by the next pass). */
async function abandon(db: Kysely<Database>, run: RunRow): Promise<void> {
  if (!db.isTransaction) return db.transaction().execute((trx) => abandon(trx, run));
  // FOR UPDATE waits for the shard commits under way (each holds the run row FOR KEY SHARE, which a plain status
  // update would not wait for), and a shard committing after this finds the run given up and stores nothing.
  await sql`select id from recompute_runs where id = ${run.id} for update`.execute(db);
  const taken = await db
    .updateTable('recompute_runs')
    .set({ status: 'abandoned', finished_at: new Date() }) // wall-clock: an audit stamp
    .where('id', '=', run.id)
    .where('status', '=', 'running')
    .returning('id')
    .execute();
  if (taken.length === 0) return;
  if (run.claimed.length > 0) await releaseClaims(db, run.claimed.map(Number));
  // The run took the rates flag: raised again, the next step recomputes everything (its marks cover no rate).
  if (run.reason === 'rates_changed') await raiseRatesChanged(db);
  // Its finished shards' group shares are never merged.
  await db.deleteFrom('recompute_parts').where('run_id', '=', run.id).execute();
}

/** The unfinished run of date D under the engine's config, if any (stuck runs are given up here). */
export async function runningRun(engine: MetricsEngine, asOf: PlainDate): Promise<RunRef | null> {
  const db = engine.db;
  const ids = await db
    .selectFrom('recompute_runs')
    .select('id')
    .where('status', '=', 'running')
    .where('as_of', '=', asOf)
    .execute();
  for (const { id } of ids) {
    const run = await readRun(db, Number(id));
    if (run?.status !== 'running') continue;
    if (run.stuck) {
      engine.log.warn({ run: run.id }, 'a sharded recompute ran for an hour without finishing; given up');
      await abandon(db, run);
      continue;
    }
    // A full recompute in one process (run-marker.ts) has no shards to join.
    if (run.reason === IN_PROCESS_RUN) continue;
    if (run.config_hash === engine.settings.configHash) return refOf(db, run, true);
  }
  return null;
}

/**
 * Plans a sharded full recompute as of D, or joins the unfinished one of the same date and config (`force`: gives
 * that one up and plans anew, e.g. after a backtest whose line the snapshots must carry). Runs of other dates or
 * configs still running are given up. The caller queues the `todo` shards (and the merge when due).
 */
export async function startShardedRun(
  engine: MetricsEngine,
  asOf: PlainDate,
  o: { shards: number; reason: string; alwaysWriteback: boolean; force?: boolean | undefined },
): Promise<RunRef> {
  const db = engine.db;
  const periods = engine.activePeriods(asOf);
  // One planner at a time (a daily run and a sync's recompute may ask together): the lock ends with the transaction.
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('quota-tracker:recompute_runs'))`.execute(trx);
    const open = await trx.selectFrom('recompute_runs').select('id').where('status', '=', 'running').execute();
    for (const { id } of open) {
      const run = await readRun(trx, Number(id));
      if (run?.status !== 'running') continue;
      // A full recompute in one process (run-marker.ts): neither joined (no shards) nor given up while alive.
      if (run.reason === IN_PROCESS_RUN && !run.stuck) continue;
      const same =
        run.as_of === asOf &&
        run.config_hash === engine.settings.configHash &&
        run.period_ids.join(',') === periods.map((p) => p.id).join(',');
      if (same && !o.force && !run.stuck) {
        if (o.alwaysWriteback && !run.always_writeback)
          await trx.updateTable('recompute_runs').set({ always_writeback: true }).where('id', '=', run.id).execute();
        return refOf(trx, run, true);
      }
      await abandon(trx, run);
    }
    const next = await sql<{
      id: string;
    }>`select nextval(pg_get_serial_sequence('recompute_runs', 'id')) as id`.execute(trx);
    const runId = Number(next.rows[0]?.id);
    // From the run's start the team partials may be behind what it recomputes (a rate change, a config change):
    // without a learned forecast the cold path takes the full load until a full recompute stores the state again.
    await trx.deleteFrom('learned_forecasts').execute();
    const forecast = await learnForecasts(trx, engine.settings, {
      options: engine.loadOptions(asOf, periods),
      periods,
      forecastConfig: forecastConfigHash(engine.config),
    });
    const { claimed, probe } = await engine.claimAndProbe(
      claimAll(runWorkerId(runId), engine.staleClaimSeconds),
      null,
      false,
      trx,
    );
    await trx
      .insertInto('recompute_runs')
      .values({
        id: runId,
        as_of: asOf,
        period_ids: periods.map((p) => p.id),
        config_hash: engine.settings.configHash,
        shards: o.shards,
        pending: o.shards,
        inputs_at: probe.now,
        claimed: claimed.map((c) => String(c.id)),
        forecast: JSON.stringify(forecast),
        reason: o.reason,
        always_writeback: o.alwaysWriteback,
      })
      .execute();
    await trx
      .insertInto('recompute_shards')
      .values(Array.from({ length: o.shards }, (_, shard) => ({ run_id: runId, shard })))
      .execute();
    // Finished runs are kept a week for inspection (their group shares are deleted when merged).
    await sql`delete from recompute_runs where status <> 'running'
      and created_at < now() - interval '7 days'`.execute(trx); // wall-clock: retention of an audit trail
    return {
      runId,
      shards: o.shards,
      todo: Array.from({ length: o.shards }, (_, i) => i),
      mergeDue: false,
      joined: false,
    };
  });
}

const OTHER_CONFIG = 'the run was planned under another configuration';

export interface ShardOutcome {
  status: 'done' | 'skipped';
  /** This process runs another configuration than the run's: the job is to be taken again later. */
  otherConfig?: boolean;
  reason?: string;
  subjects: number;
  repChanges: number;
  /** The last shard is in: the merge is to be queued. */
  mergeDue: boolean;
}

/** Computes and stores one shard of a run (see the file comment); a shard already done or a run over is skipped. */
export async function runShard(
  engine: MetricsEngine,
  runId: number,
  shard: number,
  workerId: string,
): Promise<ShardOutcome> {
  const db = engine.db;
  const run = await readRun(db, runId);
  const skipped = (reason: string, mergeDue = false): ShardOutcome => ({
    status: 'skipped',
    reason,
    subjects: 0,
    repChanges: 0,
    mergeDue,
  });
  if (run?.status !== 'running') return skipped(`run ${runId} is ${run?.status ?? 'gone'}`);
  // A worker of another configuration (a rolling change): its figures would not be the run's. The job comes back
  // later for a worker of the run's config; a recompute under the new config gives the run up and plans its own.
  if (run.config_hash !== engine.settings.configHash) return { ...skipped(OTHER_CONFIG), otherConfig: true };
  const done = await db
    .selectFrom('recompute_shards')
    .select('done_at')
    .where('run_id', '=', runId)
    .where('shard', '=', shard)
    .executeTakeFirst();
  if (!done) return skipped(`run ${runId} has no shard ${shard}`);
  if (done.done_at !== null) return skipped('already done', run.pending === 0);

  // The run's marks are leased for staleClaimSeconds from its plan; a run at scale outlasts that, and another worker
  // would take them for abandoned and compute them again: each shard renews the lease once a third of it is gone.
  await renewClaims(db, run.claimed.map(Number), runWorkerId(runId), engine.staleClaimSeconds / 3);
  const asOf = run.as_of;
  const cal = engine.settings.calendar;
  const periods: FiscalPeriod[] = run.period_ids.map((id) => cal.periodById(id));
  const options = engine.loadOptions(asOf, periods);
  const people = await loadPeople(db);
  const keys = [...people.reps.keys()].filter((k) => shardOf(k, run.shards) === shard);
  const data = await loadForReps(db, new Set(keys), options, people, { orphans: shard === 0 });
  const model = new MetricsModel(data, engine.settings);
  // Owners no rep row stands for are reps of their own in a full load: shard 0 read their rows.
  const subjects = shard === 0 ? [...keys, ...model.repKeys().filter((k) => !people.reps.has(k))].sort() : keys.sort();

  // The forecast the plan learned for the run (one read of the stage history for all shards).
  for (const period of periods) {
    const f = run.forecast[period.id];
    if (f)
      model.presetForecast(
        period.id,
        forecastFrom(decodeLearned(f.learned), forecastInput(engine.settings, period, asOf, f)),
      );
  }

  const targets: { subject: SubjectRef; period: FiscalPeriod }[] = [];
  for (const period of periods) for (const id of subjects) targets.push({ subject: { kind: 'rep', id }, period });
  const prepared = engine.prepare(model, targets);
  const parts: { group_key: string; part: string; trials: Buffer }[] = [];
  const forecasts: Record<string, unknown> = {};
  for (const period of periods) {
    for (const [group, part] of model.shardPartials(subjects, period))
      parts.push({ group_key: `${group}|${period.id}`, ...encodePartial(part) });
    const info = model.forecastOf(period)?.info;
    forecasts[period.id] = info ? encodeInfo(info) : null;
  }

  return db.transaction().execute(async (trx) => {
    // First: the run, still running (a run given up meanwhile keeps nothing of a late shard). KEY SHARE: shards
    // commit side by side (the count down below does not wait for it), while abandon's FOR UPDATE waits for them.
    const state = await sql<{ status: string }>`
      select status from recompute_runs where id = ${runId} for key share`.execute(trx);
    if (state.rows[0]?.status !== 'running') return skipped(`run ${runId} is ${state.rows[0]?.status ?? 'gone'}`);
    // Then the done mark. A second taker of this shard waits here for the first's commit, then finds it done.
    const taken = await trx
      .updateTable('recompute_shards')
      .set({
        done_at: new Date(), // wall-clock: an audit stamp
        done_by: workerId,
        subjects: subjects.length * periods.length,
        forecast: JSON.stringify(forecasts),
      })
      .where('run_id', '=', runId)
      .where('shard', '=', shard)
      .where('done_at', 'is', null)
      .returning('shard')
      .execute();
    if (taken.length === 0) return skipped('done by another worker meanwhile');
    const stored = await engine.commit(model, prepared, run.inputs_at, trx);
    for (let i = 0; i < parts.length; i += PARTS_CHUNK)
      await trx
        .insertInto('recompute_parts')
        .values(parts.slice(i, i + PARTS_CHUNK).map((p) => ({ run_id: runId, shard, ...p })))
        .execute();
    const repChanges = stored.changes.length;
    const left = await sql<{ pending: number }>`
      update recompute_runs set pending = pending - 1, rep_changes = rep_changes + ${repChanges},
        alert_events = alert_events + ${stored.alertEvents.length}, superseded = superseded + ${stored.superseded}
      where id = ${runId} returning pending`.execute(trx);
    return {
      status: 'done' as const,
      subjects: subjects.length * periods.length,
      repChanges,
      mergeDue: left.rows[0]?.pending === 0,
    };
  });
}

/** Group shares per insert (each up to the trials' 8 bytes a trial: 80 kB at 10,000). */
const PARTS_CHUNK = 50;

export interface MergeOutcome {
  /** `merged`: the run was merged before (a retry of a merge whose worker died after its commit). */
  status: 'done' | 'merged' | 'skipped';
  /** As ShardOutcome's. */
  otherConfig?: boolean;
  reason?: string;
  groups: number;
  /** The group snapshots that changed. */
  changes: MetricChange[];
  /** Rep snapshots the shards changed, alert events they raised. */
  repChanges: number;
  alertEvents: number;
  /** The run was a new day's: write-back runs even without a change (pacing moved). */
  alwaysWriteback: boolean;
}

/** Merges a run whose shards are all in: every team, region and the org, stored once (see the file comment). */
export async function mergeRun(engine: MetricsEngine, runId: number): Promise<MergeOutcome> {
  const db = engine.db;
  const run = await readRun(db, runId);
  const none = (reason: string): MergeOutcome => ({
    status: 'skipped',
    reason,
    groups: 0,
    changes: [],
    repChanges: 0,
    alertEvents: 0,
    alwaysWriteback: false,
  });
  // Merged already: the counts the run stored let the caller queue its follow-ups again (they are deduplicated), as
  // a worker killed between the merge's commit and its queueing would otherwise lose them.
  if (run?.status === 'done') return merged(run);
  if (run?.status !== 'running') return none(`run ${runId} is ${run?.status ?? 'gone'}`);
  if (run.config_hash !== engine.settings.configHash) return { ...none(OTHER_CONFIG), otherConfig: true };
  if (run.pending > 0) return none(`${run.pending} shards of run ${runId} are still to do`);
  const cal = engine.settings.calendar;
  const periods: FiscalPeriod[] = run.period_ids.map((id) => cal.periodById(id));
  const model = new MetricsModel(await loadGroupInputs(db, engine.loadOptions(run.as_of, periods)), engine.settings);
  const rows = await sql<{ group_key: string; part: PartJson; trials: Buffer }>`
    select group_key, part, trials from recompute_parts where run_id = ${runId} order by group_key, shard`.execute(db);
  const shares = new Map<string, SubjectPartial[]>();
  for (const r of rows.rows) {
    const list = shares.get(r.group_key) ?? [];
    list.push(decodePartial(r.part, r.trials));
    shares.set(r.group_key, list);
  }
  const infos = await db
    .selectFrom('recompute_shards')
    .select('forecast')
    .where('run_id', '=', runId)
    .where('forecast', 'is not', null)
    .limit(1)
    .executeTakeFirst();
  const forecast = (infos?.forecast ?? {}) as Record<string, InfoJson | null>;

  const writes: SnapshotWrite[] = [];
  for (const period of periods) {
    const info = forecast[period.id];
    for (const level of ['team', 'region', 'org'] as const satisfies readonly RollupLevel[]) {
      for (const id of model.groups(level)) {
        const subject: SubjectRef = { kind: level, id };
        const metrics = model.computeGroupFrom(
          level,
          id,
          period,
          shares.get(`${level}|${id}|${period.id}`) ?? [],
          info ? decodeInfo(info) : undefined,
        );
        writes.push({
          subject,
          periodId: period.id,
          doc: figuresDocument(describeSubject(model, subject), period, metrics, engine.settings.baseCurrency),
          exact: metrics.attainment.value, // for ranks read from the snapshots (src/reports/current-period.ts)
        });
      }
    }
  }

  return db.transaction().execute(async (trx) => {
    const taken = await trx
      .updateTable('recompute_runs')
      .set({ status: 'done', finished_at: new Date() }) // wall-clock: an audit stamp
      .where('id', '=', runId)
      .where('status', '=', 'running')
      .where('pending', '=', 0)
      .returning('id')
      .execute();
    if (taken.length === 0) {
      const now = await readRun(trx, runId);
      return now?.status === 'done' ? merged(now) : none(`run ${runId} is ${now?.status ?? 'gone'}`);
    }
    const stored = await storeSnapshots(trx, writes, run.as_of, engine.settings.configHash, run.inputs_at);
    await trx.deleteFrom('recompute_parts').where('run_id', '=', runId).execute();
    // The stored team partials a fresh process starts from (cold.ts) are older than these figures: without a
    // learned forecast to match, they are not read until an unsharded full recompute stores both again.
    await trx.deleteFrom('learned_forecasts').execute();
    const ids = run.claimed.map(Number);
    // As recomputeAll settles them: figures superseded by a later read give their marks back for another pass.
    if (run.superseded + stored.superseded.length === 0) await completeClaims(trx, ids, runWorkerId(runId));
    else await releaseClaims(trx, ids);
    await markFullRecompute(trx, engine.settings.configHash, run.as_of);
    return {
      status: 'done' as const,
      groups: writes.length,
      changes: stored.changes,
      repChanges: run.rep_changes,
      alertEvents: run.alert_events,
      alwaysWriteback: run.always_writeback,
    };
  });
}

function merged(run: RunRow): MergeOutcome {
  return {
    status: 'merged',
    reason: `run ${run.id} was merged before`,
    groups: 0,
    changes: [],
    repChanges: run.rep_changes,
    alertEvents: run.alert_events,
    alwaysWriteback: run.always_writeback,
  };
}

type InfoJson = Omit<ForecastCalibrationInfo, 'backtest'> & {
  backtest: { asOf: PlainDate; periods: number; p10Held: string | null } | null;
};

function encodeInfo(info: ForecastCalibrationInfo): InfoJson {
  const b = info.backtest;
  return {
    ...info,
    backtest: b === null ? null : { ...b, p10Held: b.p10Held === null ? null : b.p10Held.toString() },
  };
}

function decodeInfo(j: InfoJson): ForecastCalibrationInfo {
  const b = j.backtest;
  return {
    ...j,
    backtest: b === null ? null : { ...b, p10Held: b.p10Held === null ? null : new Dec(b.p10Held) },
  };
}
