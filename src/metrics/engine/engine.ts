/**
 * The metrics engine: claims dirty rep-periods, recomputes exactly those reps and the groups they count for, stores
 * a snapshot only where a value changed, and runs the alert rules on the reps it recomputed. Its result is the feed
 * for write-back and alert delivery.
 *
 * The engine keeps one prepared model per as-of date in memory: the first call loads the warehouse in one pass,
 * later calls reload only the reps they were asked about (plus any rep another worker recomputed since, found by
 * its snapshot's `computed_at`), so a group is rebuilt from its members' cached partials (see `model.ts`).
 */
import { type Kysely, sql } from 'kysely';
import type { FiscalPeriod } from '../../config/calendar.ts';
import type { Config } from '../../config/schema.ts';
import type { Database } from '../../db/schema.ts';
import { AppError, isAppError } from '../../errors.ts';
import { figuresDocument } from '../../reports/document.ts';
import type { PlainDate } from '../../util/date.ts';
import { type Logger, silentLogger } from '../../util/log.ts';
import type { RuleOutcome } from '../math/alerts.ts';
import { applyOutcomes, evaluateRules, loadAlerts, openRules, weekAgo } from './alerts.ts';
import { type LoadOptions, loadAll, loadForReps, loadWindow, peopleFingerprint } from './load.ts';
import { MetricsModel } from './model.ts';
import { type EngineSettings, engineSettings } from './settings.ts';
import { paceIndexesOnOrBefore, type SnapshotWrite, storeSnapshots } from './snapshots.ts';
import { describeSubject } from './subjects.ts';
import {
  type AlertEvent,
  type DirtyKey,
  type MetricChange,
  type RecomputeResult,
  type SubjectRef,
  subjectPeriodKey,
} from './types.ts';

export interface MetricsEngineOptions {
  db: Kysely<Database>;
  config: Config;
  /** Names this worker in `dirty_keys.claimed_by`. */
  workerId?: string;
  logger?: Logger;
  /** Claims older than this are taken over (their worker died). Default 600 s. */
  staleClaimSeconds?: number;
}

export interface RecomputeAllOptions {
  /** Also snapshot every quarter from this period id to the current one. */
  from?: string;
}

interface CachedModel {
  model: MetricsModel;
  periods: FiscalPeriod[];
  loadedAt: Date;
  people: string;
}

/** The config hash key in `config_state`. */
export const CONFIG_STATE_KEY = 'metrics';

export class MetricsEngine {
  readonly settings: EngineSettings;
  readonly db: Kysely<Database>;
  private readonly config: Config;
  private readonly workerId: string;
  private readonly log: Logger;
  private readonly staleClaimSeconds: number;
  private cache: CachedModel | null = null;
  /** Where the last recompute spent its time, in ms: loading, computing per subject kind, storing, alerts. */
  lastTimings: Record<string, number> = {};

  constructor(options: MetricsEngineOptions) {
    this.db = options.db;
    this.config = options.config;
    this.settings = engineSettings(options.config);
    this.workerId = options.workerId ?? `pid-${process.pid}`;
    this.log = options.logger ?? silentLogger;
    this.staleClaimSeconds = options.staleClaimSeconds ?? 600;
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

  private loadOptions(asOf: PlainDate, periods: readonly FiscalPeriod[]): LoadOptions {
    const oldest = periods.reduce((a, p) => (p.start < a ? p.start : a), asOf);
    return {
      asOf,
      timezone: this.settings.timezone,
      window: loadWindow(asOf, oldest, this.settings.conversionWindowMonths),
      splits: this.settings.booking.splits,
    };
  }

  /** A fresh model loaded in one pass over the warehouse (reports use this too). */
  async loadModel(asOf: PlainDate, periods: readonly FiscalPeriod[] = this.activePeriods(asOf)): Promise<MetricsModel> {
    const data = await loadAll(this.db, this.loadOptions(asOf, periods));
    return new MetricsModel(data, this.settings);
  }

  private async dbNow(): Promise<Date> {
    const r = await sql<{ now: Date }>`select now() as now`.execute(this.db);
    return (r.rows[0] as { now: Date }).now;
  }

  private sameWindow(a: readonly FiscalPeriod[], b: readonly FiscalPeriod[]): boolean {
    return a.length === b.length && a.every((p, i) => p.id === b[i]?.id);
  }

  /** The cached model for D, with `repKeys` (and reps other workers recomputed since) reloaded; or a full load. */
  private async modelFor(
    asOf: PlainDate,
    periods: FiscalPeriod[],
    repKeys: ReadonlySet<string>,
  ): Promise<MetricsModel> {
    const c = this.cache;
    if (c && c.model.asOf === asOf && this.sameWindow(c.periods, periods)) {
      // Independent reads, taken together (each is a round trip); all of them precede the reload below.
      const [loadedAt, others, people] = await Promise.all([
        this.dbNow(),
        this.db
          .selectFrom('metric_snapshots')
          .select('subject_id')
          .distinct()
          .where('subject_kind', '=', 'rep')
          .where('computed_at', '>', c.loadedAt)
          .execute(),
        peopleFingerprint(this.db),
      ]);
      const keys = new Set(repKeys);
      for (const o of others) keys.add(o.subject_id);
      const d = c.model.data;
      const same =
        people === c.people
          ? { reps: d.reps, ownerToRep: d.ownerToRep, units: d.units, memberships: d.memberships }
          : undefined;
      const fresh = await loadForReps(this.db, keys, this.loadOptions(asOf, periods), same);
      c.model.replaceReps(keys, fresh);
      c.loadedAt = loadedAt;
      c.people = people;
      return c.model;
    }
    const loadedAt = await this.dbNow();
    const people = await peopleFingerprint(this.db);
    const model = await this.loadModel(asOf, periods);
    this.cache = { model, periods, loadedAt, people };
    return model;
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
      const to = a.end > asOf ? a.end : asOf;
      if (period.end < from || period.start > to) continue;
      out.push({ subject: { kind: 'rep', id: repKey }, period: a });
      const groups = new Map<string, SubjectRef>();
      for (const g of model.groupsOfRep(repKey, from, to)) groups.set(`${g.kind}:${g.id}`, g);
      for (const g of model.ancestorsOf(repKey, asOf)) groups.set(`${g.kind}:${g.id}`, g);
      for (const g of groups.values()) out.push({ subject: g, period: a });
    }
    return out;
  }

  /** Recomputes what the dirty rep-periods touch, as of D. */
  async recompute(
    dirty: readonly DirtyKey[],
    asOf: PlainDate,
    options: RecomputeAllOptions = {},
  ): Promise<RecomputeResult> {
    const started = performance.now();
    const periods = this.activePeriods(asOf, options.from);
    const mentioned = new Set<string>();
    for (const d of dirty) mentioned.add(d.subjectKey);
    // Owner keys (`conn:user`) name a person once the people are known; resolve before and after loading.
    const resolve = (m: MetricsModel | undefined, k: string) =>
      k.startsWith('person:') ? k : (m?.data.ownerToRep.get(k) ?? k);
    const before = new Set([...mentioned].map((k) => resolve(this.cache?.model, k)));
    const model = await this.modelFor(asOf, periods, before);
    const missing = new Set([...mentioned].map((k) => resolve(model, k)).filter((k) => !before.has(k)));
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
    const loadMs = performance.now() - started;
    const result = await this.computeAndStore(model, [...targets.values()]);
    this.lastTimings.load = loadMs;
    return result;
  }

  /** Recomputes every subject for every snapshotted period as of D (the daily run and `recompute`). */
  async recomputeAll(asOf: PlainDate, options: RecomputeAllOptions = {}): Promise<RecomputeResult> {
    const periods = this.activePeriods(asOf, options.from);
    const loadedAt = await this.dbNow();
    // The marks this run covers are those committed before the load reads the warehouse; it claims them first, so
    // a change made during the load marks a new row (a time cut-off would not do: a sync's marks carry its
    // transaction's start time, so a sync committing during the load would have its marks dropped, rows unread).
    const covered = await sql<{ id: number }>`
      update dirty_keys set claimed_at = now(), claimed_by = ${this.workerId}
      where claimed_at is null or claimed_at < now() - make_interval(secs => ${this.staleClaimSeconds})
      returning id`.execute(this.db);
    const ids = covered.rows.map((r) => r.id);
    try {
      const people = await peopleFingerprint(this.db);
      const model = await this.loadModel(asOf, periods);
      this.cache = { model, periods, loadedAt, people };
      const targets: { subject: SubjectRef; period: FiscalPeriod }[] = [];
      for (const period of periods) {
        for (const id of model.repKeys()) targets.push({ subject: { kind: 'rep', id }, period });
        for (const level of ['team', 'region', 'org'] as const)
          for (const id of model.groups(level)) targets.push({ subject: { kind: level, id }, period });
      }
      const result = await this.computeAndStore(model, targets);
      await sql`delete from dirty_keys where id = any(${ids}::bigint[]) and claimed_by = ${this.workerId}`.execute(
        this.db,
      );
      await this.db
        .insertInto('config_state')
        .values({ key: CONFIG_STATE_KEY, hash: this.settings.configHash, value: null })
        .onConflict((oc) => oc.column('key').doUpdateSet({ hash: this.settings.configHash, applied_at: new Date() }))
        .execute();
      return result;
    } catch (e) {
      await this.releaseClaims(ids);
      throw e;
    }
  }

  /** Gives claimed marks back after a failed recompute (a newer unclaimed mark of the same key already covers one). */
  private async releaseClaims(ids: readonly number[]): Promise<void> {
    await sql`delete from dirty_keys d where d.id = any(${ids}::bigint[]) and exists (
      select 1 from dirty_keys u where u.claimed_at is null and u.subject_kind = d.subject_kind
        and u.subject_key = d.subject_key and u.period_id = d.period_id)`.execute(this.db);
    await sql`update dirty_keys set claimed_at = null, claimed_by = null where id = any(${ids}::bigint[])`.execute(
      this.db,
    );
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
  ): Promise<RecomputeResult> {
    const asOf = model.asOf;
    const timings: Record<string, number> = { rep: 0, team: 0, region: 0, org: 0 };
    const writes: SnapshotWrite[] = [];
    const repMetrics = new Map<string, { period: FiscalPeriod; metrics: ReturnType<MetricsModel['computeRep']> }[]>();
    for (const t of targets) {
      const started = performance.now();
      const metrics = model.compute(t.subject, t.period);
      timings[t.subject.kind] = (timings[t.subject.kind] ?? 0) + performance.now() - started;
      writes.push({
        subject: t.subject,
        periodId: t.period.id,
        doc: figuresDocument(describeSubject(model, t.subject), t.period, metrics, this.settings.baseCurrency),
      });
      if (t.subject.kind === 'rep') {
        const list = repMetrics.get(t.subject.id) ?? [];
        list.push({ period: t.period, metrics });
        repMetrics.set(t.subject.id, list);
      }
    }
    let started = performance.now();
    const changes: MetricChange[] = await storeSnapshots(this.db, writes, asOf, this.settings.configHash);
    timings.store = performance.now() - started;
    started = performance.now();
    const alertEvents = await this.runAlerts(model, repMetrics);
    timings.alerts = performance.now() - started;
    this.lastTimings = timings;
    return {
      asOf,
      recomputed: targets.map((t) => subjectPeriodKey(t.subject, t.period.id)).sort(),
      changes,
      alertEvents,
    };
  }

  /** Alert rules on the current quarter of each recomputed rep. */
  private async runAlerts(
    model: MetricsModel,
    repMetrics: ReadonlyMap<string, { period: FiscalPeriod; metrics: ReturnType<MetricsModel['computeRep']> }[]>,
  ): Promise<AlertEvent[]> {
    const a = this.settings.alerts;
    if (!a.enabled || repMetrics.size === 0) return [];
    const current = this.settings.calendar.periodContaining(model.asOf, 'quarter');
    const ids = [...repMetrics.keys()].filter((id) => repMetrics.get(id)?.some((x) => x.period.id === current.id));
    const [existing, paces] = await Promise.all([
      loadAlerts(this.db, ids, current.id),
      paceIndexesOnOrBefore(this.db, ids, current.id, weekAgo(model.asOf, a.rules.pace_deterioration.lookbackDays)),
    ]);
    const events: AlertEvent[] = [];
    for (const id of ids) {
      const m = repMetrics.get(id)?.find((x) => x.period.id === current.id)?.metrics;
      if (!m) continue;
      const rows = model.repRows(id);
      const outcomes: RuleOutcome[] = evaluateRules(
        {
          metrics: m,
          credits: rows.credits,
          activities: rows.activities,
          paceIndexWeekAgo: paces.get(id) ?? null,
          commission: this.settings.commission,
        },
        a.rules,
        a.hysteresis,
        openRules(existing, id, current.id),
      );
      events.push(
        ...(await applyOutcomes(this.db, { kind: 'rep', id }, current.id, model.asOf, outcomes, existing, a.rules)),
      );
    }
    return events;
  }

  /**
   * Claims up to `limit` dirty keys (`FOR UPDATE SKIP LOCKED`: workers never wait for or share a key), recomputes
   * them as of D and deletes them; on failure the claims are released for another try.
   */
  async runDirty(asOf: PlainDate, limit = 1000): Promise<RecomputeResult & { claimed: number }> {
    const claimed = await sql<{ id: number; subject_key: string; period_id: string; reason: string }>`
      update dirty_keys set claimed_at = now(), claimed_by = ${this.workerId}, attempts = attempts + 1
      where id in (
        select id from dirty_keys
        where claimed_at is null or claimed_at < now() - make_interval(secs => ${this.staleClaimSeconds})
        order by enqueued_at, id limit ${limit}
        for update skip locked)
      returning id, subject_key, period_id, reason`.execute(this.db);
    const ids = claimed.rows.map((r) => r.id);
    if (ids.length === 0) return { asOf, recomputed: [], changes: [], alertEvents: [], claimed: 0 };
    try {
      const result = await this.recompute(
        claimed.rows.map((r) => ({ subjectKey: r.subject_key, periodId: r.period_id, reason: r.reason })),
        asOf,
      );
      await this.db.deleteFrom('dirty_keys').where('id', 'in', ids).where('claimed_by', '=', this.workerId).execute();
      return { ...result, claimed: ids.length };
    } catch (e) {
      await this.releaseClaims(ids);
      throw e;
    }
  }
}

/** Marks rep-periods dirty (coalescing with unclaimed marks of the same key). */
export async function markDirty(db: Kysely<Database>, keys: readonly DirtyKey[]): Promise<void> {
  if (keys.length === 0) return;
  for (let i = 0; i < keys.length; i += 1000) {
    const chunk = keys.slice(i, i + 1000);
    await sql`insert into dirty_keys (subject_kind, subject_key, period_id, reason)
      select 'rep', k, p, r from unnest(${chunk.map((k) => k.subjectKey)}::text[], ${chunk.map((k) => k.periodId)}::text[],
        ${chunk.map((k) => k.reason ?? 'changed')}::text[]) as t(k, p, r)
      on conflict (subject_kind, subject_key, period_id) where claimed_at is null do nothing`.execute(db);
  }
}

export function createMetricsEngine(options: MetricsEngineOptions): MetricsEngine {
  return new MetricsEngine(options);
}
