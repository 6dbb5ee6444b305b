/**
 * The metrics engine: claims dirty rep-periods, recomputes exactly those reps and the groups they count for, stores
 * a snapshot only where a value changed, and runs the alert rules on the reps it recomputed. Its result is the feed
 * for write-back and alert delivery.
 *
 * The engine keeps one prepared model per as-of date in memory: the first call loads the warehouse in one pass,
 * later calls reload only the reps they were asked about (plus any rep another worker recomputed since, found by
 * its snapshot's `computed_at`: a snapshot this engine wrote itself is told apart by the `computed_at` its store
 * returned), so a group is rebuilt from its members' cached partials (see `model.ts`).
 *
 * One change costs few round trips: the claim and what the cache needs to know (the time, reps other workers
 * recomputed, the people fingerprint) are one statement; the reads of the changed reps go together; the store is
 * one statement; the alert rules' reads run while the figures are computed; then the marks are deleted.
 */
import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { FiscalPeriod } from '../../config/calendar.ts';
import type { Config } from '../../config/schema.ts';
import type { Database } from '../../db/schema.ts';
import {
  type ClaimedKey,
  claimAll,
  claimBatch,
  completeClaims,
  markDirty,
  RATES_CHANGED_KEY,
  raiseRatesChanged,
  releaseClaims,
  renewClaims,
  settleRatesChanged,
  takeRatesChanged,
} from '../../dirty/queue.ts';
import { AppError, isAppError } from '../../errors.ts';
import { earlierOf, laterOf, type PlainDate } from '../../util/date.ts';
import { type Logger, silentLogger } from '../../util/log.ts';
import { processWorkerId } from '../../util/worker-id.ts';
import { figuresDocument } from '../document.ts';
import type { RuleOutcome } from '../math/alerts.ts';
import { mergeSubjectPartials, type SubjectMetrics, type SubjectPartial } from '../math/rep-metrics.ts';
import {
  applyOutcomes,
  evaluateRules,
  loadAlerts,
  openRules,
  unwatchedOutcomes,
  watchedByAlerts,
  weekAgo,
} from './alerts.ts';
import {
  coldModel,
  learnedHash,
  learnForecasts,
  stateTag,
  storeTeamParts,
  type TeamPartRow,
  writeLearnedForecasts,
  writeTeamParts,
} from './cold.ts';
import { decodeLearned, forecastFrom, type LearnedForecast, type PeriodForecast } from './forecast-model.ts';
import { forecastConfigHash, loadForecastInputs } from './forecast-store.ts';
import {
  type LoadOptions,
  loadAll,
  loadForReps,
  loadGroupInputs,
  loadWindow,
  PEOPLE_FINGERPRINT,
  type People,
  RATES_FINGERPRINT,
} from './load.ts';
import { MetricsModel } from './model.ts';
import { decodePartial, encodePartial, forecastInput, type PartJson, type RunForecastJson } from './partials.ts';
import { abandonStuckInProcessRuns, closeInProcessRun, openInProcessRun } from './run-marker.ts';
import { type EngineSettings, engineSettings } from './settings.ts';
import { paceIndexesOnOrBefore, type SnapshotWrite, stampOf, storeSnapshots } from './snapshots.ts';
import { describeSubject } from './subjects.ts';
import { type AlertEvent, type DirtyKey, type RecomputeResult, type SubjectRef, subjectPeriodKey } from './types.ts';

export interface MetricsEngineOptions {
  db: Kysely<Database>;
  config: Config;
  /** Names this worker in `dirty_keys.claimed_by`. */
  workerId?: string;
  logger?: Logger;
  /** Claims older than this are taken over (their worker died). Default 600 s. */
  staleClaimSeconds?: number;
  /**
   * With nothing cached, how an incremental recompute gets its model: `stored` (the default) loads only the dirty
   * reps' teams and merges the rest from what the last recompute stored (cold.ts), falling back to a full load when
   * that does not match; `full` always loads the whole warehouse (and keeps it cached for the next call).
   */
  coldStart?: 'stored' | 'full';
  /**
   * After this many recomputes from the stored state, the next one without a cache loads the whole model and keeps
   * it (a worker that keeps getting changes pays one full load, then the warm path's cost). Default 10.
   */
  warmAfterColdRuns?: number;
  /**
   * Reps per shard of a full recompute (`recomputeAll`): its memory is one shard's rows, not the org's. Default
   * 25: at `large` (1,000 activities and 200 deals a rep) the shards hold the peak now that the learning does not
   * grow with the deals: `quota-tracker recompute` 474 MB with 25, 529 MB with 50 (goal 512), for 15% more CPU
   * (80.7 s against 70.0 s) and more round trips (445 s against 265 s wall, load 3-7; issue 22 part two; both
   * measured while each shard's load still filtered the whole deals and activities tables, see load.ts's
   * ownerFilter: after that fix, 63 s in process at 5,000 reps and 1,500,000 activities, load 2-4).
   */
  repsPerShard?: number;
}

export interface RecomputeAllOptions {
  /** Also snapshot every quarter from this period id to the current one. */
  from?: string;
}

interface CachedModel {
  model: MetricsModel;
  periods: FiscalPeriod[];
  /** The database time just before the model (or its last reload) read the warehouse (`stampOf`). */
  loadedAt: string;
  people: string;
  /**
   * Rep snapshots whose state the cache already holds (`id@period` -> `computed_at`): the ones this engine wrote and
   * the ones it reloaded after another worker wrote them, within the probe's look-back.
   */
  own: Map<string, string>;
}

/** What the cache needs to know before a recompute reads the warehouse, read in the statement that claims. */
export interface Probe {
  now: string;
  /** Rep snapshots stamped after the cache's `loadedAt` less the look-back (before a full load: after now less it). */
  others: [string, string, string][];
  people: string;
  /** The FX rates' fingerprint (`RATES_FINGERPRINT`): stored team partials were converted at the rates it names. */
  rates: string;
  /**
   * Why the stored team partials may be behind, read in the claim's statement (so before `team_parts` is read: a
   * run stores its partials before it deletes its marks): marks this run did not claim (another worker's changes
   * under way, or not yet claimed), a sharded run in progress, or the rates-changed flag raised. Null: none.
   */
  unsettled: string | null;
}

/**
 * How far before the cache's `loadedAt` the probe looks for snapshots other workers wrote. A snapshot's `computed_at`
 * is its transaction's start, so a write that began before our probe but committed after it carries an older stamp
 * than `loadedAt`; looking back this far (far longer than one store statement takes) still finds it. Stamps already
 * accounted for (our own writes, others' we reloaded) are remembered so they are not reloaded again.
 */
const KNOWN_LOOKBACK_SECONDS = 60;

/** The stamps a full load taken after `probe` holds: every snapshot the probe saw was committed before the load. */
function knownStamps(probe: Probe): Map<string, string> {
  return new Map(probe.others.map(([id, period, at]) => [`${id}@${period}`, at]));
}

/** The config hash key in `config_state`. */
export const CONFIG_STATE_KEY = 'metrics';

/**
 * Records a finished full recompute as of D under a config (its `value` says D): the metrics step's "new day" test
 * reads it, not the snapshots' dates, which the finished shards of a run given up have moved on too.
 */
export async function markFullRecompute(db: Kysely<Database>, configHash: string, asOf: PlainDate): Promise<void> {
  const value = JSON.stringify({ fullAsOf: asOf });
  await db
    .insertInto('config_state')
    .values({ key: CONFIG_STATE_KEY, hash: configHash, value })
    .onConflict((oc) => oc.column('key').doUpdateSet({ hash: configHash, value, applied_at: new Date() })) // wall-clock: an audit stamp
    .execute();
}

/** The date of the last finished full recompute, if one recorded it. */
export async function lastFullRecompute(db: Kysely<Database>): Promise<PlainDate | null> {
  const row = await db
    .selectFrom('config_state')
    .select('value')
    .where('key', '=', CONFIG_STATE_KEY)
    .executeTakeFirst();
  const v = row?.value as { fullAsOf?: PlainDate } | null | undefined;
  return v?.fullAsOf ?? null;
}

export class MetricsEngine {
  readonly settings: EngineSettings;
  readonly db: Kysely<Database>;
  readonly config: Config;
  private readonly workerId: string;
  readonly log: Logger;
  readonly staleClaimSeconds: number;
  private cache: CachedModel | null = null;
  readonly coldStart: 'stored' | 'full';
  private readonly warmAfterColdRuns: number;
  private coldRuns = 0;
  readonly repsPerShard: number;
  /**
   * Where the last recompute spent its time, in ms: `probe` (the claim and what the cache needs to know), `fetch`
   * and `book` (reading and re-booking the changed reps), `load` (everything before computing, those included),
   * computing per subject kind (`rep`, `team`, `region`, `org`), `document`, `store`, `alerts`, `release` (the
   * marks deleted).
   */
  lastTimings: Record<string, number> = {};
  /** Why the last run that had nothing cached did not use the stored state (`Probe.unsettled`, or `state_mismatch`). */
  coldMissedWhy: string | null = null;
  /** The end of the last recompute queued on this engine (`exclusive`). */
  private turn: Promise<unknown> = Promise.resolve();

  constructor(options: MetricsEngineOptions) {
    this.db = options.db;
    this.config = options.config;
    this.settings = engineSettings(options.config);
    this.workerId = options.workerId ?? processWorkerId();
    this.log = options.logger ?? silentLogger;
    this.staleClaimSeconds = options.staleClaimSeconds ?? 600;
    this.coldStart = options.coldStart ?? 'stored';
    this.warmAfterColdRuns = options.warmAfterColdRuns ?? 10;
    this.repsPerShard = Math.max(1, options.repsPerShard ?? 25);
  }

  /** The periods snapshotted as of D: the fiscal quarter containing D, and with `from` every quarter since. */
  activePeriods(asOf: PlainDate, from?: string): FiscalPeriod[] {
    const cal = this.settings.calendar;
    const current = cal.periodContaining(asOf, 'quarter');
    if (from === undefined) return [current];
    const first = cal.periodById(from);
    if (first.start > current.start)
      throw new AppError('USAGE', `--from ${from} starts after the current quarter ${current.id}`, { where: '--from' });
    return cal.periodsBetween(first.start, current, 'quarter');
  }

  /** What a load as of D for these periods reads (the window of rows their figures and history need). */
  loadOptions(asOf: PlainDate, periods: readonly FiscalPeriod[]): LoadOptions {
    const oldest = periods.reduce((a, p) => earlierOf(p.start, a), asOf);
    return {
      asOf,
      timezone: this.settings.timezone,
      window: loadWindow(asOf, oldest, this.settings.conversionWindowMonths),
      splits: this.settings.booking.splits,
    };
  }

  /**
   * A fresh model loaded in one pass over the warehouse (reports use this too). `forecast: false` leaves out the
   * forecast's training data (the whole stage history): for a model that serves names, memberships, quotas and won
   * credits only, never the forecast figures (the reports' read model, beside the stored snapshots).
   */
  async loadModel(
    asOf: PlainDate,
    periods: readonly FiscalPeriod[] = this.activePeriods(asOf),
    options: { forecast?: boolean } = {},
  ): Promise<MetricsModel> {
    const data = await loadAll(this.db, this.loadOptions(asOf, periods));
    const model = new MetricsModel(data, this.settings);
    if (options.forecast === false) return model;
    // The forecast learns from the whole stage history (metrics/engine/forecast-store.ts); it is read lazily.
    Object.assign(
      model.data,
      await loadForecastInputs(this.db, {
        asOf,
        timezone: this.settings.timezone,
        ownerToRep: data.ownerToRep,
        fx: model.fx,
        configHash: forecastConfigHash(this.config),
      }),
    );
    return model;
  }

  private sameWindow(a: readonly FiscalPeriod[], b: readonly FiscalPeriod[]): boolean {
    return a.length === b.length && a.every((p, i) => p.id === b[i]?.id);
  }

  /** The cache when it serves D over these periods. */
  private warm(asOf: PlainDate, periods: readonly FiscalPeriod[]): CachedModel | null {
    const c = this.cache;
    return c && c.model.asOf === asOf && this.sameWindow(c.periods, periods) ? c : null;
  }

  /**
   * Runs `claim` (an UPDATE ... RETURNING of dirty keys, or nothing) and reads the probe in the same statement:
   * one round trip, one snapshot. With `ifClaimed`, the probe's reads are skipped when nothing was claimed (an
   * idle poll stays cheap); its `people` is then empty.
   */
  async claimAndProbe(
    claim: RawBuilder<unknown> | null,
    since: string | null,
    ifClaimed = false,
    db: Kysely<Database> = this.db,
  ): Promise<{ claimed: ClaimedKey[]; probe: Probe }> {
    // With no cache yet (`since` null), the recent snapshots the coming full load will read: the stamps it holds.
    // wall-clock: change probes compare the database's own commit-time stamps, never a business date
    const from = since === null ? sql`now()` : sql`${since}::timestamptz`;
    const others = sql`coalesce((select json_agg(json_build_array(subject_id, period_id, ${stampOf(sql`computed_at`)}))
            from metric_snapshots where subject_kind = 'rep'
              and computed_at > ${from} - make_interval(secs => ${KNOWN_LOOKBACK_SECONDS})), '[]'::json)`;
    // Uncorrelated subqueries under CASE run only when their branch is taken: an empty claim reads nothing more.
    const wanted = claim !== null && ifClaimed ? sql`exists (select 1 from claimed)` : sql`true`;
    // Marks this run did not claim: the claimed rows are among the statement's snapshot of dirty_keys, so there are
    // some exactly when that snapshot holds more rows (counts, not `id <> all(claimed ids)`: that compares every row
    // with the whole array, 2.8 s at 40,000 marks claimed by a full recompute).
    const outstanding =
      claim === null
        ? sql`exists (select 1 from dirty_keys)`
        : sql`(select count(*) from dirty_keys) > (select count(*) from claimed)`;
    const unsettled = sql`case
        when exists (select 1 from config_state where key = ${RATES_CHANGED_KEY}) then 'rates_changed'
        when exists (select 1 from recompute_runs where status = 'running') then 'run_in_progress'
        when ${outstanding} then 'marks_outstanding' end`;
    type Row = {
      claimed: ClaimedKey[];
      now: string;
      others: Probe['others'] | null;
      people: string | null;
      rates: string | null;
      unsettled: string | null;
    };
    const r = await sql<Row>`
      ${claim === null ? sql`` : sql`with claimed as (${claim})`}
      select ${claim === null ? sql`'[]'::json` : sql`coalesce((select json_agg(c) from claimed c), '[]'::json)`} as claimed,
             ${stampOf(sql`now()`)} as now, -- wall-clock: see above
             case when ${wanted} then ${others} end as others,
             case when ${wanted} then ${PEOPLE_FINGERPRINT} end as people,
             case when ${wanted} then ${RATES_FINGERPRINT} end as rates,
             case when ${wanted} then ${unsettled} else 'not_probed' end as unsettled`.execute(db);
    const row = r.rows[0] as Row;
    return {
      claimed: row.claimed,
      probe: {
        now: row.now,
        others: row.others ?? [],
        people: row.people ?? '',
        rates: row.rates ?? '',
        unsettled: row.unsettled,
      },
    };
  }

  /**
   * The cached model for D, with `repKeys` (and reps other workers recomputed since) reloaded; or a full load.
   * `inputsAt` is the probe's clock, read before any of this call's loads: the stamp its figures are stored with.
   */
  private async modelFor(
    asOf: PlainDate,
    periods: FiscalPeriod[],
    repKeys: ReadonlySet<string>,
    given?: Probe,
  ): Promise<{ model: MetricsModel; inputsAt: string; loaded?: ReadonlySet<string> }> {
    const c = this.warm(asOf, periods);
    const t0 = performance.now();
    const probe = given ?? (await this.claimAndProbe(null, c?.loadedAt ?? null)).probe;
    if (!given) this.lastTimings.probe = performance.now() - t0;
    if (c) {
      const keys = new Set(repKeys);
      for (const [id, period, at] of probe.others) {
        const k = `${id}@${period}`;
        if (c.own.get(k) !== at) keys.add(id);
        c.own.set(k, at);
      }
      const d = c.model.data;
      const same =
        probe.people === c.people
          ? { reps: d.reps, ownerToRep: d.ownerToRep, units: d.units, memberships: d.memberships }
          : undefined;
      let t = performance.now();
      const fresh = await loadForReps(this.db, keys, this.loadOptions(asOf, periods), same);
      this.lastTimings.fetch = performance.now() - t;
      t = performance.now();
      c.model.replaceReps(keys, fresh);
      this.lastTimings.book = performance.now() - t;
      c.loadedAt = probe.now;
      c.people = probe.people;
      c.model.people = probe.people;
      // Forget stamps older than the look-back: the probe no longer returns them.
      const horizon = new Date(Date.parse(probe.now) - KNOWN_LOOKBACK_SECONDS * 1000).toISOString().slice(0, 19);
      for (const [k, at] of c.own) if (at.slice(0, 19) < horizon) c.own.delete(k);
      return { model: c.model, inputsAt: probe.now };
    }
    this.coldMissedWhy = null;
    if (this.coldStart === 'stored' && this.coldRuns < this.warmAfterColdRuns && probe.people !== '') {
      // Not cached: it holds the rows of the changed reps' teams only.
      const t = performance.now();
      const cold =
        probe.unsettled === null
          ? await coldModel(this, asOf, periods, repKeys, probe, this.loadOptions(asOf, periods))
          : null;
      this.coldMissedWhy = probe.unsettled ?? (cold ? null : 'state_mismatch');
      // `cold`: the targeted load's time; `coldMissed`: its stored state did not match and the full load follows.
      this.lastTimings[cold ? 'cold' : 'coldMissed'] = performance.now() - t;
      if (cold) {
        this.coldRuns++;
        return { model: cold.model, inputsAt: probe.now, loaded: cold.loaded };
      }
    }
    const model = await this.loadModel(asOf, periods);
    model.people = probe.people;
    model.rates = probe.rates;
    this.cache = { model, periods, loadedAt: probe.now, people: probe.people, own: knownStamps(probe) };
    return { model, inputsAt: probe.now };
  }

  /** Forgets the in-memory model (after a config, org or rate change, or to measure a cold start). */
  reset(): void {
    this.cache = null;
  }

  /**
   * The subject-periods a dirty rep-period touches: the rep in each snapshotted period whose figures read dates
   * in that period (the period itself, or a later one whose trailing windows reach back into it), and every group
   * the rep counted for over those dates.
   */
  touched(
    model: MetricsModel,
    repKey: string,
    period: FiscalPeriod,
    snapshotted: readonly FiscalPeriod[],
  ): { subject: SubjectRef; period: FiscalPeriod }[] {
    const out: { subject: SubjectRef; period: FiscalPeriod }[] = [];
    const asOf = model.asOf;
    for (const a of snapshotted) {
      const from = loadWindow(asOf, a.start, this.settings.conversionWindowMonths).closedFrom;
      const to = laterOf(a.end, asOf);
      if (period.end < from || period.start > to) continue;
      out.push({ subject: { kind: 'rep', id: repKey }, period: a });
      const groups = new Map<string, SubjectRef>();
      for (const g of model.groupsOfRep(repKey, from, to)) groups.set(`${g.kind}:${g.id}`, g);
      for (const g of model.ancestorsOf(repKey, asOf)) groups.set(`${g.kind}:${g.id}`, g);
      for (const g of groups.values()) out.push({ subject: g, period: a });
    }
    return out;
  }

  /**
   * Runs one recompute of this engine at a time, in call order. A worker runs several jobs at once and they share
   * this engine's cached model: a recompute that reloaded a changed rep into it let a concurrent one compute that
   * rep's team and org from the new rows and store them first, so for a moment the stored org counted a won deal
   * its rep's snapshot did not show yet (the inputs-at guard orders writers by when they read, not by what their
   * model held). The figures are CPU work on one thread anyway; other processes have models of their own.
   */
  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const run = this.turn.then(f, f);
    this.turn = run.catch(() => {});
    return run;
  }

  /** Recomputes what the dirty rep-periods touch, as of D. */
  recompute(dirty: readonly DirtyKey[], asOf: PlainDate, options: RecomputeAllOptions = {}): Promise<RecomputeResult> {
    return this.exclusive(async () => {
      this.lastTimings = {};
      const { superseded: _, ...result } = await this.recomputeKeys(
        dirty,
        asOf,
        this.activePeriods(asOf, options.from),
      );
      return result;
    });
  }

  private async recomputeKeys(
    dirty: readonly DirtyKey[],
    asOf: PlainDate,
    periods: FiscalPeriod[],
    probe?: Probe,
    started = performance.now(),
  ): Promise<Stored> {
    const mentioned = new Set<string>();
    for (const d of dirty) mentioned.add(d.subjectKey);
    // Owner keys (`conn:user`) name a person once the people are known; resolve before and after loading.
    const resolve = (m: MetricsModel | undefined, k: string) =>
      k.startsWith('person:') ? k : (m?.data.ownerToRep.get(k) ?? k);
    const before = new Set([...mentioned].map((k) => resolve(this.cache?.model, k)));
    const { model, inputsAt, loaded } = await this.modelFor(asOf, periods, before, probe);
    const had = loaded ?? before;
    const missing = new Set([...mentioned].map((k) => resolve(model, k)).filter((k) => !had.has(k)));
    if (missing.size > 0)
      model.replaceReps(missing, await loadForReps(this.db, missing, this.loadOptions(asOf, periods)));

    const targets = new Map<string, { subject: SubjectRef; period: FiscalPeriod }>();
    for (const d of dirty) {
      let period: FiscalPeriod;
      try {
        period = this.settings.calendar.periodById(d.periodId);
      } catch (e) {
        if (!isAppError(e)) throw e;
        this.log.warn({ key: d.subjectKey, period: d.periodId }, 'dirty key names an unknown period; skipped');
        continue;
      }
      const rep = resolve(model, d.subjectKey);
      for (const t of this.touched(model, rep, period, periods))
        targets.set(subjectPeriodKey(t.subject, t.period.id), t);
    }
    this.lastTimings.load = performance.now() - started;
    return this.computeAndStore(model, [...targets.values()], inputsAt);
  }

  /**
   * Recomputes every subject for every snapshotted period as of D (the daily run and `recompute`), shard by shard
   * in this process so that its memory does not grow with the org (docs/scaling.md): the forecast is learned first
   * (as a sharded run's plan learns it), then each shard of `repsPerShard` reps loads only its reps' rows, stores
   * its reps' snapshots and alerts, keeps its share of every group (sums, counts, shared-deal ids and trials, no
   * rows) and is let go; the groups are then computed from the shares (`computeGroupFrom`, exact in any grouping,
   * as `mergeRun` computes a sharded run's), stored with the team partials and learned forecasts the cold path
   * starts from (cold.ts). The figures are those of one model loaded whole. Nothing is cached: a later incremental
   * recompute starts from the stored state.
   */
  recomputeAll(asOf: PlainDate, options: RecomputeAllOptions = {}): Promise<RecomputeResult> {
    return this.exclusive(() => this.recomputeAllNow(asOf, options));
  }

  private async recomputeAllNow(asOf: PlainDate, options: RecomputeAllOptions): Promise<RecomputeResult> {
    const periods = this.activePeriods(asOf, options.from);
    this.lastTimings = {};
    // The marks this run covers are those committed before the load reads the warehouse; it claims them first, so
    // a change made during the load marks a new row (a time cut-off would not do: a sync's marks carry its
    // transaction's start time, so a sync committing during the load would have its marks dropped, rows unread).
    // A full recompute reads the rates as they are now: it takes the rates-changed flag first (in place, so readers
    // still see the snapshots as not current) and lowers it once its snapshots are stored, the `recompute` command's
    // run as the daily step's.
    const rates = await takeRatesChanged(this.db);
    // A run a dead process left marked running keeps readers off the snapshots: given up once stuck (run-marker.ts),
    // before the claim below, which then takes the marks it released.
    await abandonStuckInProcessRuns(this.db);
    const { claimed, probe } = await this.claimAndProbe(claimAll(this.workerId, this.staleClaimSeconds), null);
    const ids = claimed.map((r) => r.id);
    // A cached model would reload every rep this run rewrites (their stamps are newer than its load): dropped.
    this.cache = null;
    // Each shard commits alone and the groups come with the last: until the end the snapshots mix new reps with old
    // groups, so the run is marked running (run-marker.ts) for readers and write-back, as a sharded run is.
    let runId: number | null = null;
    try {
      runId = await openInProcessRun(this.db, {
        asOf,
        periods,
        configHash: this.settings.configHash,
        inputsAt: probe.now,
        claimed: ids,
      });
      const { superseded, ...result } = await this.recomputeByShard(asOf, periods, probe, ids);
      await this.settleClaims(ids, superseded);
      await markFullRecompute(this.db, this.settings.configHash, asOf);
      if (rates) await settleRatesChanged(this.db);
      await closeInProcessRun(this.db, runId, 'done');
      // The stored state is now whole and current, as a fresh worker finds it: the next changes start from it (cold)
      // again, not from a whole load because cold runs before this one used up `warmAfterColdRuns`.
      this.coldRuns = 0;
      return result;
    } catch (e) {
      await releaseClaims(this.db, ids);
      if (rates) await raiseRatesChanged(this.db);
      if (runId !== null) await closeInProcessRun(this.db, runId, 'abandoned');
      throw e;
    }
  }

  /** The shards of `recomputeAll` (see there). */
  private async recomputeByShard(
    asOf: PlainDate,
    periods: FiscalPeriod[],
    probe: Probe,
    claimed: readonly number[],
  ): Promise<Stored> {
    const db = this.db;
    // The claimed marks are a lease of `staleClaimSeconds`; a run at scale can outlast it, so it is renewed between
    // shards once a third of it has passed (a shard is far shorter than the rest).
    let leased = performance.now(); // wall-clock: the lease is timed in real time
    const renew = async () => {
      if (performance.now() - leased < (this.staleClaimSeconds * 1000) / 3) return; // wall-clock: see above
      await renewClaims(db, claimed, this.workerId);
      leased = performance.now(); // wall-clock: see above
    };
    const options = this.loadOptions(asOf, periods);
    const timings: Record<string, number> = {};
    const time = async <T>(name: string, f: () => Promise<T> | T): Promise<T> => {
      const t = performance.now();
      try {
        return await f();
      } finally {
        timings[name] = (timings[name] ?? 0) + performance.now() - t;
      }
    };
    // The groups' model: people, org units, memberships, every quota row and the rates; no deal or activity. Read
    // once: the learning maps owners to reps and converts amounts with it, the shards share its people.
    const base = new MetricsModel(await time('groupInputs', () => loadGroupInputs(db, options)), this.settings);
    const learned = await time('learn', () =>
      learnForecasts(db, this.settings, { options, periods, forecastConfig: forecastConfigHash(this.config), base }),
    );
    const forecasts = new Map<string, { forecast: PeriodForecast; learned: LearnedForecast; hash: string }>();
    for (const period of periods) {
      const f = learned[period.id] as RunForecastJson;
      const l = decodeLearned(f.learned);
      const forecast = forecastFrom(l, forecastInput(this.settings, period, asOf, f));
      forecasts.set(period.id, { forecast, learned: l, hash: learnedHash(f) });
    }
    const people: People = base.data;
    const keys = [...people.reps.keys()].sort();
    const shards = Math.max(1, Math.ceil(keys.length / this.repsPerShard));
    // Each group-period's shares merged as they come, one partial kept (its trials and shared-deal ids), not one
    // per shard: the same sums in the same order as merging every shard's share at the end (integer cents in the
    // trials, exact decimals in the money sums), so the figures are those of the whole model to the bit.
    const running = new Map<string, SubjectPartial>();
    const result: Stored = { asOf, recomputed: [], changes: [], alertEvents: [], superseded: 0 };
    const teams: TeamPartRow[] = [];
    for (let shard = 0; shard < shards; shard++) {
      await renew();
      const mine = keys.slice(shard * this.repsPerShard, (shard + 1) * this.repsPerShard);
      // Shard 0 also reads the owners no rep row stands for: a whole load books them as reps of their own.
      const data = await time('fetch', () =>
        loadForReps(db, new Set(mine), options, people, shard === 0 ? { orphans: true } : {}),
      );
      const model = await time('book', () => new MetricsModel(data, this.settings));
      for (const period of periods) {
        const f = forecasts.get(period.id);
        if (f) model.presetForecast(period.id, f.forecast, f.learned, f.hash);
      }
      const subjects = shard === 0 ? [...mine, ...model.repKeys().filter((k) => !people.reps.has(k))].sort() : mine;
      const targets: { subject: SubjectRef; period: FiscalPeriod }[] = [];
      for (const period of periods) for (const id of subjects) targets.push({ subject: { kind: 'rep', id }, period });
      const prepared = this.prepare(model, targets);
      // The shard's share of each group, without the credit lists (no group figure reads them): what is kept of it.
      await time('shares', () => {
        for (const period of periods)
          for (const [group, part] of model.shardPartials(subjects, period)) {
            const key = `${group}|${period.id}`;
            const before = running.get(key);
            const e = encodePartial(
              before ? mergeSubjectPartials([before, part], this.settings.forecast.trials) : part,
            );
            // Through its encoding: what is kept holds no credit list nor the merge's lazy lists (their closures
            // would keep every earlier share).
            running.set(key, decodePartial(JSON.parse(e.part) as PartJson, e.trials));
          }
      });
      // The last shard's store takes the groups' snapshots with its reps' (one statement for a small org's run).
      if (shard === shards - 1)
        await time('groups', () => {
          const groups = this.groupWrites(base, periods, forecasts, running, teams);
          prepared.writes.push(...groups);
          for (const w of groups) result.recomputed.push(subjectPeriodKey(w.subject, w.periodId));
        });
      const stored = await this.commit(model, prepared, probe.now);
      for (const k of ['rep', 'document', 'store', 'alerts'] as const)
        timings[k] = (timings[k] ?? 0) + (this.lastTimings[k] ?? 0);
      result.recomputed.push(...stored.recomputed);
      // Without their documents: a new day changes every subject, and the run would hold two documents of each.
      for (const c of stored.changes)
        result.changes.push({ subject: c.subject, periodId: c.periodId, asOf: c.asOf, changedFields: c.changedFields });
      result.alertEvents.push(...stored.alertEvents);
      result.superseded += stored.superseded;
    }

    const tag = stateTag(probe) as string;
    await time('parts', async () => {
      await writeTeamParts(db, teams, { configHash: this.settings.configHash, inputsAt: probe.now, asOf, people: tag });
      await writeLearnedForecasts(
        db,
        periods.flatMap((p) => {
          const f = learned[p.id];
          const h = forecasts.get(p.id)?.hash;
          return f && h ? [{ periodId: p.id, hash: h, forecast: f }] : [];
        }),
        { asOf, configHash: this.settings.configHash, people: tag },
      );
    });
    result.recomputed.sort();
    this.lastTimings = { ...timings, shards };
    return result;
  }

  /**
   * Every group's snapshot writes from the shards' shares, merged as they came (`computeGroupFrom`, as `mergeRun`
   * makes a sharded run's),
   * the teams' merged partials added to `teams` for the cold path.
   */
  private groupWrites(
    base: MetricsModel,
    periods: readonly FiscalPeriod[],
    forecasts: ReadonlyMap<string, { forecast: PeriodForecast; hash: string }>,
    shares: Map<string, SubjectPartial>,
    teams: TeamPartRow[],
  ): SnapshotWrite[] {
    const writes: SnapshotWrite[] = [];
    for (const period of periods) {
      const f = forecasts.get(period.id);
      for (const level of ['team', 'region', 'org'] as const) {
        for (const id of base.groups(level)) {
          const subject: SubjectRef = { kind: level, id };
          const key = `${level}|${id}|${period.id}`;
          const share = shares.get(key);
          const merged = mergeSubjectPartials(share ? [share] : [], this.settings.forecast.trials);
          shares.delete(key);
          if (level === 'team' && f) teams.push({ teamId: id, period, part: merged, forecastHash: f.hash });
          const metrics = base.computeGroupFrom(level, id, period, [merged], f?.forecast.info);
          writes.push({
            subject,
            periodId: period.id,
            doc: figuresDocument(describeSubject(base, subject), period, metrics, this.settings.baseCurrency),
            exact: metrics.attainment.value, // for ranks read from the snapshots (src/reports/current-period.ts)
          });
        }
      }
    }
    return writes;
  }

  /** True when the snapshots were computed under another config (or never): a full recompute is due. */
  async configChanged(): Promise<boolean> {
    const row = await this.db
      .selectFrom('config_state')
      .select('hash')
      .where('key', '=', CONFIG_STATE_KEY)
      .executeTakeFirst();
    return row?.hash !== this.settings.configHash;
  }

  private async computeAndStore(
    model: MetricsModel,
    targets: readonly { subject: SubjectRef; period: FiscalPeriod }[],
    inputsAt: string,
  ): Promise<Stored> {
    return this.commit(model, this.prepare(model, targets), inputsAt);
  }

  /**
   * The figures of the targets as documents (the CPU part of a recompute), with the alert rules' reads started
   * beside them; `commit` stores them. Apart so that a shard of a full recompute computes outside the transaction
   * that stores its snapshots with its done mark.
   */
  prepare(model: MetricsModel, targets: readonly { subject: SubjectRef; period: FiscalPeriod }[]): Prepared {
    const asOf = model.asOf;
    const timings = this.lastTimings;
    Object.assign(timings, { rep: 0, team: 0, region: 0, org: 0, document: 0 });
    // The alert rules' reads depend only on which reps are recomputed: they run while the figures are computed.
    const current = this.settings.calendar.periodContaining(asOf, 'quarter');
    const alerting = this.settings.alerts.enabled
      ? [
          ...new Set(
            targets.filter((t) => t.subject.kind === 'rep' && t.period.id === current.id).map((t) => t.subject.id),
          ),
        ]
      : [];
    const alertState = this.readAlertState(alerting, current, asOf);
    // Awaited below; until then a failure must not surface as an unhandled rejection.
    alertState.catch(() => {});
    const writes: SnapshotWrite[] = [];
    const repMetrics = new Map<string, SubjectMetrics>();
    for (const t of targets) {
      let started = performance.now();
      const metrics = model.compute(t.subject, t.period);
      timings[t.subject.kind] = (timings[t.subject.kind] ?? 0) + performance.now() - started;
      started = performance.now();
      writes.push({
        subject: t.subject,
        periodId: t.period.id,
        doc: figuresDocument(describeSubject(model, t.subject), t.period, metrics, this.settings.baseCurrency),
        exact: metrics.attainment.value, // for ranks read from the snapshots (src/reports/current-period.ts)
      });
      timings.document = (timings.document ?? 0) + performance.now() - started;
      if (t.subject.kind === 'rep' && t.period.id === current.id) repMetrics.set(t.subject.id, metrics);
    }
    return { targets, writes, repMetrics, alerting, alertState, current };
  }

  /**
   * Stores prepared figures (only what changed, never over figures read later than `inputsAt`) and applies the
   * alert rules to the reps among them, on `db` (a transaction of the caller's, or the engine's pool).
   */
  async commit(
    model: MetricsModel,
    prepared: Prepared,
    inputsAt: string,
    db: Kysely<Database> = this.db,
  ): Promise<Stored> {
    const { targets, writes, repMetrics, alerting, alertState, current } = prepared;
    const asOf = model.asOf;
    const timings = this.lastTimings;
    let started = performance.now();
    const stored = await storeSnapshots(db, writes, asOf, this.settings.configHash, inputsAt);
    timings.store = performance.now() - started;
    started = performance.now();
    const teams = targets
      .filter((t) => t.subject.kind === 'team')
      .map((t) => ({ teamId: t.subject.id, period: t.period }));
    await storeTeamParts(db, model, teams, { configHash: this.settings.configHash, inputsAt });
    timings.parts = performance.now() - started;
    // This engine's own writes are no news to its cache: the next reload skips them (unless rewritten since).
    if (this.cache?.model === model)
      for (const c of stored.changes)
        if (c.subject.kind === 'rep') this.cache.own.set(`${c.subject.id}@${c.periodId}`, stored.computedAt);
    // A rep whose stored figures came from later reads than these is that recompute's to alert on, not this one's.
    const superseded = new Set(
      stored.superseded.filter((w) => w.subject.kind === 'rep' && w.periodId === current.id).map((w) => w.subject.id),
    );
    started = performance.now();
    const alertEvents = await this.runAlerts(
      db,
      model,
      superseded.size === 0 ? alerting : alerting.filter((id) => !superseded.has(id)),
      repMetrics,
      current,
      await alertState,
    );
    timings.alerts = performance.now() - started;
    return {
      asOf,
      recomputed: targets.map((t) => subjectPeriodKey(t.subject, t.period.id)).sort(),
      changes: stored.changes,
      alertEvents,
      superseded: stored.superseded.length,
    };
  }

  /**
   * Deletes the marks a recompute covered; when some of its figures were superseded (a recompute that read later
   * stored first), gives them back instead. The later reads may still lack a rep these marks stand for (its cached
   * rows were older), so another pass with a fresh probe recomputes them rather than trusting either.
   */
  private async settleClaims(ids: readonly number[], superseded: number): Promise<void> {
    if (superseded === 0) return completeClaims(this.db, ids, this.workerId);
    this.log.info(
      { superseded, marks: ids.length },
      'figures superseded by a recompute that read the warehouse later; the marks go back for another pass',
    );
    await releaseClaims(this.db, ids);
  }

  /** The alerts of the reps (any status) and their pace indexes a lookback ago, for the alert rules. */
  async readAlertState(
    ids: readonly string[],
    current: FiscalPeriod,
    asOf: PlainDate,
  ): Promise<{ existing: Awaited<ReturnType<typeof loadAlerts>>; paces: Map<string, string | null> }> {
    if (ids.length === 0) return { existing: new Map(), paces: new Map() };
    const lookback = this.settings.alerts.rules.pace_deterioration.lookbackDays;
    const [existing, paces] = await Promise.all([
      loadAlerts(this.db, ids, current.id),
      // At least a day back: today's history rows, which this recompute writes, are never read here.
      paceIndexesOnOrBefore(this.db, ids, current.id, weekAgo(asOf, lookback)),
    ]);
    return { existing, paces };
  }

  /** Alert rules on the current quarter of each recomputed rep. */
  private async runAlerts(
    db: Kysely<Database>,
    model: MetricsModel,
    ids: readonly string[],
    repMetrics: ReadonlyMap<string, SubjectMetrics>,
    current: FiscalPeriod,
    state: Awaited<ReturnType<MetricsEngine['readAlertState']>>,
  ): Promise<AlertEvent[]> {
    const a = this.settings.alerts;
    const { existing, paces } = state;
    const events: AlertEvent[] = [];
    for (const id of ids) {
      const m = repMetrics.get(id);
      if (!m) continue;
      const rows = model.repRows(id);
      const open = openRules(existing, id, current.id);
      const outcomes: RuleOutcome[] = watchedByAlerts(model.data.reps.get(id), m.quota.value)
        ? evaluateRules(
            {
              metrics: m,
              credits: rows.credits,
              activities: rows.activities,
              paceIndexWeekAgo: paces.get(id) ?? null,
              commission: this.settings.commission,
            },
            a.rules,
            a.hysteresis,
            open,
          )
        : unwatchedOutcomes(open);
      events.push(
        ...(await applyOutcomes(db, { kind: 'rep', id }, current.id, model.asOf, outcomes, existing, a.rules)),
      );
    }
    return events;
  }

  /**
   * Claims up to `limit` dirty keys (`FOR UPDATE SKIP LOCKED`: workers never wait for or share a key), recomputes
   * them as of D and deletes them; on failure the claims are released for another try.
   */
  runDirty(asOf: PlainDate, limit = 1000): Promise<RecomputeResult & { claimed: number }> {
    return this.exclusive(() => this.runDirtyNow(asOf, limit));
  }

  private async runDirtyNow(asOf: PlainDate, limit: number): Promise<RecomputeResult & { claimed: number }> {
    this.lastTimings = {};
    const started = performance.now();
    const periods = this.activePeriods(asOf);
    const { claimed, probe } = await this.claimAndProbe(
      claimBatch(this.workerId, this.staleClaimSeconds, limit),
      this.warm(asOf, periods)?.loadedAt ?? null,
      true,
    );
    this.lastTimings.probe = performance.now() - started;
    const ids = claimed.map((r) => r.id);
    if (ids.length === 0) return { asOf, recomputed: [], changes: [], alertEvents: [], claimed: 0 };
    try {
      const { superseded, ...result } = await this.recomputeKeys(
        claimed.map((r) => ({ subjectKey: r.subject_key, periodId: r.period_id, reason: r.reason })),
        asOf,
        periods,
        probe,
        started,
      );
      const t = performance.now();
      await this.settleClaims(ids, superseded);
      this.lastTimings.release = performance.now() - t;
      return { ...result, claimed: ids.length };
    } catch (e) {
      await releaseClaims(this.db, ids);
      throw e;
    }
  }
}

/** A recompute's result, and how many of its writes a recompute that read later had superseded. */
export type Stored = RecomputeResult & { superseded: number };

/** Figures computed and not yet stored (`MetricsEngine.prepare`). */
export interface Prepared {
  targets: readonly { subject: SubjectRef; period: FiscalPeriod }[];
  writes: SnapshotWrite[];
  repMetrics: Map<string, SubjectMetrics>;
  alerting: string[];
  alertState: Promise<{ existing: Awaited<ReturnType<typeof loadAlerts>>; paces: Map<string, string | null> }>;
  current: FiscalPeriod;
}

/** Marks rep-periods dirty (the dirty queue's own function, kept here for the engine's callers). */
export { markDirty };

export function createMetricsEngine(options: MetricsEngineOptions): MetricsEngine {
  return new MetricsEngine(options);
}
