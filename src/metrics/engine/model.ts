/**
 * The prepared, in-memory model the figures are computed from: every rep's credits (booked, converted and split
 * once), activities and quotas, the dated memberships, and each rep's credits already grouped by the team and
 * region they count for. A recompute after one change re-books only the reps it touched (`replaceReps`); a group
 * is merged from its members' partials (sums, counts, lists and forecast trials per rep, group and period, cached
 * on the rep), and its last merge is updated by difference when only a few members changed: one changed deal
 * costs one rep's partials, never a pass over the group's credits.
 */
import type { FiscalPeriod } from '../../config/calendar.ts';
import type { PlainDate } from '../../util/date.ts';
import { contentHash } from '../../util/hash.ts';
import { type Dec, ZERO } from '../../util/money.ts';
import { pushTo } from '../../util/multimap.ts';
import { bookDeals, type Credit } from '../math/booking.ts';
import { buildFxTable, type ConversionIssue, convertAmount, type FxTable } from '../math/currency.ts';
import {
  type ForecastCalibrationInfo,
  mergeSubjectPartials,
  type SubjectMetrics,
  type SubjectPartial,
  seedFrom,
  subjectMetricsFromPartial,
  subjectPartial,
} from '../math/rep-metrics.ts';
import {
  groupQuota,
  indexMemberships,
  leaverShare,
  type MembershipIndex,
  membershipOn,
  ORG_ID,
  quotaMembershipDate,
  type RollupLevel,
} from '../math/rollup.ts';
import type { Activity, Deal, DealSplit, Period } from '../math/types.ts';
import { trailingMonths } from '../math/windows.ts';
import {
  encodeLearned,
  forecastFrom,
  type LearnedForecast,
  learnForecast,
  type PeriodForecast,
} from './forecast-model.ts';
import type { QuotaRecord, WarehouseData } from './load.ts';
import type { EngineSettings } from './settings.ts';
import type { SubjectKind, SubjectRef } from './types.ts';

interface RepState {
  credits: Credit[];
  activities: Activity[];
  quotas: QuotaRecord[];
  /** Non-overlay credits by group id, per level, on each credit's attribution date. */
  grouped: Record<RollupLevel, Map<string, Credit[]>>;
  /** Activities by the group the rep belonged to on the activity date. */
  groupedActivities: Record<RollupLevel, Map<string, Activity[]>>;
  /** The rep's partial of each group-period it counts for (`level|group|period`), built on first use. */
  parts: Map<string, SubjectPartial>;
  /** The rep's quota per period id (`repQuota`), built on first use. */
  quotaCache: Map<string, { quota: Dec | null; issues: ConversionIssue[] }>;
  /** Trial totals of the rep's grouped open pipeline per period, shared by its team, region and org partials. */
  trials: Map<string, { credits: readonly Credit[]; totals: Float64Array }>;
}

const LEVELS: readonly RollupLevel[] = ['team', 'region', 'org'];
const NO_CREDITS: readonly Credit[] = Object.freeze([]);
const NO_ACTIVITIES: readonly Activity[] = Object.freeze([]);

function groupIdOn(index: MembershipIndex, repKey: string, level: RollupLevel, date: PlainDate): string | null {
  const m = membershipOn(index, repKey, date);
  if (!m) return null;
  return level === 'team' ? m.teamId : level === 'region' ? m.regionId : ORG_ID;
}

/** Whether two lists of quota rows differ, in any order. */
function quotaRowsDiffer(a: readonly QuotaRecord[], b: readonly QuotaRecord[]): boolean {
  if (a.length !== b.length) return true;
  const text = (rows: readonly QuotaRecord[]) =>
    rows
      .map((q) =>
        [q.repKey, q.unitId, q.start, q.end, q.amount.toString(), q.currency, q.source, q.connectionId].join('|'),
      )
      .sort();
  const x = text(a);
  const y = text(b);
  return x.some((v, i) => v !== y[i]);
}

export class MetricsModel {
  readonly asOf: PlainDate;
  readonly settings: EngineSettings;
  data: WarehouseData;
  fx: FxTable;
  memberships: MembershipIndex;
  /** Issues from booking (deals left out for want of a rate, deals with no amount), by rep. */
  readonly issues = new Map<string, ConversionIssue[]>();
  private readonly reps = new Map<string, RepState>();
  /** The last merge of each group-period and the member partials it was made from (`level|group|period`). */
  private readonly merges = new Map<string, { parts: SubjectPartial[]; merged: SubjectPartial }>();
  /** Members (ever) of each group, per level. */
  private members: Record<RollupLevel, Map<string, Set<string>>> = {
    team: new Map(),
    region: new Map(),
    org: new Map(),
  };
  /** `membersOf` and each group-period's headcount (`level|group|period`): they change with the memberships only. */
  private readonly sortedMembers = new Map<string, readonly string[]>();
  private readonly headcounts = new Map<string, number>();
  /** Each group-period's quota (`level|group|period`), until a quota, rate or membership changes. */
  private readonly groupQuotas = new Map<string, Dec | null>();
  /** The forecast learned for each period (`period id`); the history it learns from is loaded with the model. */
  private readonly forecasts = new Map<string, PeriodForecast | null>();
  /** What each period's forecast learned, and its content hash (stored with team partials: cold.ts). */
  private readonly learned = new Map<string, { learned: LearnedForecast; hash?: string }>();
  /** Each team's region (`none` for a team hung under the org), from the memberships. */
  private teamRegion = new Map<string, string>();
  /**
   * Set on a model that holds the rows of only some teams' members (cold.ts): the other teams' merged partials as
   * stored (`team|period` -> partial), from which regions and the org are merged with the loaded teams' own.
   */
  private storedTeams: { parts: ReadonlyMap<string, SubjectPartial>; loaded: ReadonlySet<string> } | null = null;
  /** The people fingerprint the model's people were read under; set, its recomputes store their team partials. */
  people?: string;
  /** The rates fingerprint the model's rates were read under (a warm model keeps the one of its full load). */
  rates?: string;

  constructor(data: WarehouseData, settings: EngineSettings) {
    this.asOf = data.asOf;
    this.settings = settings;
    this.data = data;
    this.fx = buildFxTable(settings.baseCurrency, data.fx);
    this.memberships = indexMemberships(data.memberships);
    this.indexMembers();
    this.book(data.deals, data.splits, data.activities, data.quotas, null);
  }

  private indexMembers(): void {
    this.members = { team: new Map(), region: new Map(), org: new Map() };
    this.sortedMembers.clear();
    this.headcounts.clear();
    this.groupQuotas.clear();
    this.teamRegion = new Map();
    for (const m of this.data.memberships) {
      this.teamRegion.set(m.teamId, m.regionId);
      for (const level of LEVELS) {
        const id = level === 'team' ? m.teamId : level === 'region' ? m.regionId : ORG_ID;
        const set = this.members[level].get(id) ?? new Set<string>();
        this.members[level].set(id, set);
        set.add(m.repId);
      }
    }
  }

  private emptyRep(): RepState {
    return {
      credits: [],
      activities: [],
      quotas: [],
      grouped: { team: new Map(), region: new Map(), org: new Map() },
      groupedActivities: { team: new Map(), region: new Map(), org: new Map() },
      parts: new Map(),
      quotaCache: new Map(),
      trials: new Map(),
    };
  }

  /** Books deals and files credits, activities and quotas under their reps; `only` limits which reps are kept. */
  private book(
    deals: readonly Deal[],
    splits: readonly DealSplit[],
    activities: readonly Activity[],
    quotas: readonly QuotaRecord[],
    only: ReadonlySet<string> | null,
  ): void {
    const keep = (rep: string) => only === null || only.has(rep);
    const booked = bookDeals(deals, splits, this.settings.booking, this.fx, this.asOf);
    if (booked.issues.length > 0) {
      const owner = new Map(deals.map((d) => [d.id, d.ownerId] as const));
      for (const issue of booked.issues) {
        const o = owner.get(issue.recordId);
        if (o !== undefined && keep(o)) pushTo(this.issues, o, issue);
      }
    }
    for (const c of booked.credits) {
      // Overlay credits count only when RevOps turned on overlay splits.
      if (c.overlay && !this.settings.overlaySplits) continue;
      if (!keep(c.ownerId)) continue;
      this.rep(c.ownerId).credits.push(c);
    }
    for (const a of activities) if (keep(a.ownerId)) this.rep(a.ownerId).activities.push(a);
    for (const q of quotas) if (q.repKey !== null && keep(q.repKey)) this.rep(q.repKey).quotas.push(q);
    for (const [key, state] of this.reps) if (only === null || only.has(key)) this.group(key, state);
  }

  private rep(key: string): RepState {
    const found = this.reps.get(key);
    if (found) return found;
    const s = this.emptyRep();
    this.reps.set(key, s);
    return s;
  }

  private group(key: string, s: RepState): void {
    s.parts.clear();
    s.trials.clear();
    for (const level of LEVELS) {
      const byGroup = new Map<string, Credit[]>();
      for (const c of s.credits) {
        if (c.overlay) continue;
        const g = groupIdOn(this.memberships, key, level, c.category === 'open' ? this.asOf : c.deal.closeDate);
        if (g !== null) pushTo(byGroup, g, c);
      }
      s.grouped[level] = byGroup;
      const acts = new Map<string, Activity[]>();
      for (const a of s.activities) {
        const g = groupIdOn(this.memberships, key, level, a.date);
        if (g !== null) pushTo(acts, g, a);
      }
      s.groupedActivities[level] = acts;
    }
  }

  /**
   * Replaces some reps' rows with freshly loaded ones (deals, splits, activities and quotas of exactly those reps)
   * and takes the people, memberships, group quotas and rates of `fresh` (they are small and always reloaded).
   */
  replaceReps(repKeys: ReadonlySet<string>, fresh: WarehouseData): void {
    // The same list (people not reloaded) is unchanged without looking.
    const membershipsChanged =
      fresh.memberships !== this.data.memberships &&
      JSON.stringify(fresh.memberships) !== JSON.stringify(this.data.memberships);
    const fxChanged = JSON.stringify(fresh.fx) !== JSON.stringify(this.data.fx);
    this.data = {
      ...this.data,
      reps: fresh.reps,
      ownerToRep: fresh.ownerToRep,
      units: fresh.units,
      memberships: fresh.memberships,
      fx: fresh.fx,
    };
    // Group quotas (no rep) come back with every load, so all of them are replaced along with the reps' own.
    const replaced = this.data.quotas.filter((q) => q.repKey === null || repKeys.has(q.repKey));
    this.data.quotas = [
      ...this.data.quotas.filter((q) => q.repKey !== null && !repKeys.has(q.repKey)),
      ...fresh.quotas,
    ];
    if (fxChanged || quotaRowsDiffer(replaced, fresh.quotas)) this.groupQuotas.clear();
    if (fxChanged) {
      this.fx = buildFxTable(this.settings.baseCurrency, fresh.fx);
      // Quotas convert at the period's first-day rate: every rep's converted quotas go with the old rates.
      for (const s of this.reps.values()) s.quotaCache.clear();
    }
    if (membershipsChanged) {
      this.memberships = indexMemberships(fresh.memberships);
      this.indexMembers();
    }
    for (const key of repKeys) {
      this.reps.delete(key);
      this.issues.delete(key);
    }
    this.book(fresh.deals, fresh.splits, fresh.activities, fresh.quotas, repKeys);
    if (membershipsChanged) for (const [key, s] of this.reps) this.group(key, s);
  }

  /** A rep's credits (overlays included when counted) and activities, as booked for D. */
  repRows(repKey: string): { credits: readonly Credit[]; activities: readonly Activity[] } {
    const s = this.reps.get(repKey);
    // The same empty lists every time: reports remember what they worked out from a rep's list by its identity.
    return { credits: s?.credits ?? NO_CREDITS, activities: s?.activities ?? NO_ACTIVITIES };
  }

  /** Every rep key with rows or a rep record. */
  repKeys(): string[] {
    const keys = new Set<string>([...this.data.reps.keys(), ...this.reps.keys()]);
    return [...keys].sort();
  }

  /** The groups of a rep on a date (D for current figures): its team, region and the org. */
  ancestorsOf(repKey: string, date: PlainDate): SubjectRef[] {
    const m = membershipOn(this.memberships, repKey, date);
    if (!m) return [];
    const out: SubjectRef[] = [{ kind: 'team', id: m.teamId }];
    if (m.regionId !== 'none') out.push({ kind: 'region', id: m.regionId });
    out.push({ kind: 'org', id: ORG_ID });
    return out;
  }

  /** Every group a rep's credits in a period could count for: memberships overlapping `[from, to]`. */
  groupsOfRep(repKey: string, from: PlainDate, to: PlainDate): SubjectRef[] {
    const out = new Map<string, SubjectRef>();
    for (const m of this.memberships.get(repKey) ?? []) {
      if (m.validFrom > to || (m.validTo !== null && m.validTo <= from)) continue;
      out.set(`team:${m.teamId}`, { kind: 'team', id: m.teamId });
      if (m.regionId !== 'none') out.set(`region:${m.regionId}`, { kind: 'region', id: m.regionId });
      out.set('org', { kind: 'org', id: ORG_ID });
    }
    return [...out.values()];
  }

  /** Groups of each level that have members. */
  groups(level: RollupLevel): string[] {
    return [...this.members[level].keys()].filter((id) => id !== 'none').sort();
  }

  membersOf(level: RollupLevel, groupId: string): readonly string[] {
    const key = `${level}|${groupId}`;
    let found = this.sortedMembers.get(key);
    if (!found) {
      found = [...(this.members[level].get(groupId) ?? [])].sort();
      this.sortedMembers.set(key, found);
    }
    return found;
  }

  /**
   * Where a rep's quota for a period comes from: the connections of the quota rows it takes (`file` for RevOps' quota
   * file), sorted; empty without a quota.
   */
  repQuotaSources(repKey: string, period: Period): string[] {
    const rows = (this.reps.get(repKey)?.quotas ?? []).filter(
      (q) => q.source === this.settings.quotaSource && q.start >= period.start && q.end <= period.end,
    );
    return [
      ...new Set(preferredQuotaRows(rows, this.settings.quotaPreference).map((q) => q.connectionId ?? 'file')),
    ].sort();
  }

  /** A rep's quota for a period in base currency: its quota rows inside the period, summed; null when none. */
  repQuota(repKey: string, period: Period): { quota: Dec | null; issues: ConversionIssue[] } {
    const s = this.reps.get(repKey);
    if (!s) return this.sumQuotas([], period);
    // Keyed by the period's dates too: callers may pass a period that is not a fiscal one.
    const key = `${period.id}|${period.start}|${period.end}`;
    const found = s.quotaCache.get(key);
    if (found) return found;
    const q = this.sumQuotas(s.quotas, period);
    s.quotaCache.set(key, q);
    return q;
  }

  private sumQuotas(rows: readonly QuotaRecord[], period: Period): { quota: Dec | null; issues: ConversionIssue[] } {
    let total: Dec | null = null;
    const issues: ConversionIssue[] = [];
    const inPeriod = rows.filter(
      (q) => q.source === this.settings.quotaSource && q.start >= period.start && q.end <= period.end,
    );
    const taken = preferredQuotaRows(inPeriod, this.settings.quotaPreference);
    for (const q of taken) {
      const converted = convertAmount(
        this.fx,
        q.amount,
        q.currency,
        period.start,
        `quota ${q.repKey ?? q.unitId} ${q.start}..${q.end}`,
      );
      if (converted.amount === null) issues.push(converted.issue);
      else total = (total ?? ZERO).plus(converted.amount);
    }
    return { quota: total, issues };
  }

  /** The group's quota: RevOps' own for the unit when set, else the sum of its reps' quotas on the membership date. */
  groupQuota(level: RollupLevel, groupId: string, period: Period): Dec | null {
    // Keyed by the period's dates too: callers may pass a period that is not a fiscal one.
    const key = `${level}|${groupId}|${period.id}|${period.start}|${period.end}`;
    if (this.groupQuotas.has(key)) return this.groupQuotas.get(key) as Dec | null;
    const quota = this.sumGroupQuota(level, groupId, period);
    this.groupQuotas.set(key, quota);
    return quota;
  }

  private sumGroupQuota(level: RollupLevel, groupId: string, period: Period): Dec | null {
    const override =
      level === 'org'
        ? null
        : this.sumQuotas(
            this.data.quotas.filter((q) => q.unitId === groupId),
            period,
          ).quota;
    const repQuotas = new Map<string, Dec>();
    const on = quotaMembershipDate(period, this.asOf);
    // Someone who left during the period counts for the days she was a member (docs/metrics.md, "People who left").
    let leavers: Dec | null = null;
    for (const key of this.membersOf(level, groupId)) {
      if (groupIdOn(this.memberships, key, level, on) !== groupId) {
        const share = leaverShare(this.memberships, key, level, groupId, period, on);
        const q = share ? this.repQuota(key, period).quota : null;
        if (share && q !== null) leavers = (leavers ?? ZERO).plus(q.times(share.days).div(share.of));
        continue;
      }
      const q = this.repQuota(key, period).quota;
      if (q !== null) repQuotas.set(key, q);
    }
    const sum = groupQuota(groupId, level, repQuotas, this.memberships, period, this.asOf, override).quota;
    if (override !== null || leavers === null) return sum;
    return (sum ?? ZERO).plus(leavers);
  }

  /** The rep's own open deals (not split credits), largest first: what needs a new owner when she left. */
  openDealsOf(repKey: string): Array<{ id: string; name: string; amount: Dec; closeDate: PlainDate; stage: string }> {
    const s = this.reps.get(repKey);
    if (!s) return [];
    return s.credits
      .filter((c) => c.category === 'open' && c.deal.ownerId === repKey && !c.overlay)
      .map((c) => ({
        id: c.deal.id,
        name: c.deal.name,
        amount: c.dealAmount,
        closeDate: c.deal.closeDate,
        stage: c.deal.stage,
      }))
      .sort((a, b) => b.amount.cmp(a.amount) || (a.id < b.id ? -1 : 1));
  }

  /** Every figure of one rep for one period as of D. */
  computeRep(repKey: string, period: FiscalPeriod): SubjectMetrics {
    const s = this.reps.get(repKey) ?? this.emptyRep();
    const info = this.data.reps.get(repKey);
    const input = {
      ...this.common(`rep:${repKey}`, period),
      forecastNewPipeline: this.forecastOf(period)?.newPipeline(repKey) ?? null,
      quota: this.repQuota(repKey, period).quota,
      credits: s.credits,
      activities: s.activities,
      activityTargets: this.settings.activity,
      startDate: info?.startDate ?? null,
      territoryIndex: info?.territoryIndex ?? null,
    };
    return subjectMetricsFromPartial(
      input,
      subjectPartial(input, this.trialsOf(s, period, input.forecastNewPipeline !== null)),
    );
  }

  /** A group's credits and activities: its members' rows that count for it under dated membership. */
  groupRows(level: RollupLevel, groupId: string): { credits: Credit[]; activities: Activity[] } {
    const credits: Credit[] = [];
    const activities: Activity[] = [];
    for (const key of this.membersOf(level, groupId)) {
      const s = this.reps.get(key);
      if (!s) continue;
      const c = s.grouped[level].get(groupId);
      if (c) for (const x of c) credits.push(x);
      const a = s.groupedActivities[level].get(groupId);
      if (a) for (const x of a) activities.push(x);
    }
    return { credits, activities };
  }

  /**
   * A rep's partial of one group-period: the figures' additive parts over the credits and activities it counts for
   * that group. Cached on the rep, so it goes when the rep is re-booked or regrouped.
   */
  private partOf(repKey: string, s: RepState, level: RollupLevel, groupId: string, period: FiscalPeriod) {
    const key = `${level}|${groupId}|${period.id}`;
    const found = s.parts.get(key);
    if (found) return found;
    // The rep's pipeline not created yet counts where the rep is on D, as its open deals do.
    const newPipeline =
      groupIdOn(this.memberships, repKey, level, this.asOf) === groupId
        ? (this.forecastOf(period)?.newPipeline(repKey) ?? null)
        : null;
    const part = subjectPartial(
      {
        ...this.common(`${level}:${groupId}`, period),
        forecastNewPipeline: newPipeline,
        credits: s.grouped[level].get(groupId) ?? [],
        activities: s.groupedActivities[level].get(groupId) ?? [],
        activityTargets: this.settings.activity,
      },
      // Open credits count for the rep's groups on D, so its team, region and org usually share one pipeline.
      this.trialsOf(s, period, newPipeline !== null),
    );
    s.parts.set(key, part);
    return part;
  }

  /**
   * The trial totals of an open pipeline, cached per rep and period: the rep's own figures and its team, region
   * and org partials usually simulate the same open credits (all the seeds of a period are one).
   */
  private trialsOf(s: RepState, period: FiscalPeriod, withNewPipeline: boolean) {
    const key = `${period.id}|${withNewPipeline}`;
    return (open: readonly Credit[], simulate: () => Float64Array): Float64Array => {
      const cached = s.trials.get(key);
      if (cached && cached.credits.length === open.length && cached.credits.every((c, i) => c === open[i]))
        return cached.totals;
      const totals = simulate();
      s.trials.set(key, { credits: [...open], totals });
      return totals;
    };
  }

  /**
   * Every figure of a team, region or the org: its members' partials (credits grouped under dated membership)
   * merged in member order, so a recompute after one change rebuilds only the changed rep's partial.
   */
  computeGroup(level: RollupLevel, groupId: string, period: FiscalPeriod): SubjectMetrics {
    return this.groupFigures(level, groupId, period, this.groupPartial(level, groupId, period));
  }

  /**
   * A group's merged partial: from its members' partials; or, on a model with stored team partials, a region's or
   * the org's from its teams' (a group's credits and activities are exactly its teams': each counts for the team
   * and the region of the rep's membership on its date, and merges are exact in any grouping).
   */
  groupPartial(level: RollupLevel, groupId: string, period: FiscalPeriod): SubjectPartial {
    const stored = this.storedTeams;
    if (stored && level !== 'team') {
      const parts: SubjectPartial[] = [];
      for (const team of this.groups('team')) {
        if (level === 'region' && this.teamRegion.get(team) !== groupId) continue;
        const part = stored.loaded.has(team)
          ? this.groupPartial('team', team, period)
          : stored.parts.get(`${team}|${period.id}`);
        if (!part) throw new Error(`no stored partial of team ${team} for ${period.id}`);
        parts.push(part);
      }
      return mergeSubjectPartials(parts, this.settings.forecast.trials);
    }
    const members = this.membersOf(level, groupId);
    const parts: SubjectPartial[] = [];
    for (const key of members) {
      const s = this.reps.get(key);
      if (!s || (!s.grouped[level].has(groupId) && !s.groupedActivities[level].has(groupId))) continue;
      parts.push(this.partOf(key, s, level, groupId, period));
    }
    return this.mergeGroup(`${level}|${groupId}|${period.id}`, parts);
  }

  /** The team partial the last `computeGroup` of the team merged, if any. */
  lastTeamPartial(teamId: string, periodId: string): SubjectPartial | undefined {
    return this.merges.get(`team|${teamId}|${periodId}`)?.merged;
  }

  /**
   * Regions and the org merged from stored team partials, except the `loaded` teams, whose members' rows this model
   * holds (cold.ts).
   */
  useStoredTeams(parts: ReadonlyMap<string, SubjectPartial>, loaded: ReadonlySet<string>): void {
    this.storedTeams = { parts, loaded };
  }

  /**
   * The partials of some reps (a shard of a full recompute) in each group-period they count for, merged per group
   * (`level|group` -> partial): the shard's share of every team, region and the org, which `computeGroupFrom` adds
   * up with the other shards' shares. Merges are exact in any grouping (integer-cent trials, unrounded money sums,
   * counts and sets of shared deal ids), so the group's figures equal those `computeGroup` makes from all members.
   */
  shardPartials(repKeys: readonly string[], period: FiscalPeriod): Map<string, SubjectPartial> {
    const byGroup = new Map<string, SubjectPartial[]>();
    for (const key of repKeys) {
      const s = this.reps.get(key);
      if (!s) continue;
      for (const level of LEVELS) {
        const ids = new Set([...s.grouped[level].keys(), ...s.groupedActivities[level].keys()]);
        for (const id of ids) {
          if (id === 'none') continue;
          pushTo(byGroup, `${level}|${id}`, this.partOf(key, s, level, id, period));
        }
      }
    }
    const out = new Map<string, SubjectPartial>();
    for (const [k, parts] of byGroup) out.set(k, mergeSubjectPartials(parts, this.settings.forecast.trials));
    return out;
  }

  /**
   * A group's figures from the shards' merged partials (`shardPartials`), with the forecast's calibration line the
   * shards learned (this model may hold no stage history).
   */
  computeGroupFrom(
    level: RollupLevel,
    groupId: string,
    period: FiscalPeriod,
    shardParts: readonly SubjectPartial[],
    calibration: ForecastCalibrationInfo | undefined,
  ): SubjectMetrics {
    const merged = mergeSubjectPartials(shardParts, this.settings.forecast.trials);
    return this.groupFigures(level, groupId, period, merged, calibration);
  }

  private groupFigures(
    level: RollupLevel,
    groupId: string,
    period: FiscalPeriod,
    merged: SubjectPartial,
    calibration?: ForecastCalibrationInfo,
  ): SubjectMetrics {
    const members = this.membersOf(level, groupId);
    // A group's activity targets are its reps' targets together: the per-rep targets times the number of people
    // who carry a quota in it on D (a manager or an SDR placed in the org has no activity target of a rep's).
    const countKey = `${level}|${groupId}|${period.id}|${period.start}|${period.end}`;
    let headcount = this.headcounts.get(countKey);
    if (headcount === undefined) {
      const on = quotaMembershipDate(period, this.asOf);
      headcount = members.filter(
        (k) => this.data.reps.get(k)?.quotaCarrying === true && groupIdOn(this.memberships, k, level, on) === groupId,
      ).length;
      this.headcounts.set(countKey, headcount);
    }
    const t = this.settings.activity;
    const scaled = Object.fromEntries(
      Object.entries(t.targets).map(([k, v]) => [
        k,
        (v === undefined ? ZERO : ZERO.plus(v)).times(Math.max(headcount, 1)),
      ]),
    );
    return subjectMetricsFromPartial(
      {
        ...this.common(`${level}:${groupId}`, period),
        ...(calibration ? { forecastCalibration: calibration } : {}),
        quota: this.groupQuota(level, groupId, period),
        activityTargets: { ...t, targets: scaled },
      },
      merged,
    );
  }

  /** Merges a group's member partials, updating its last merge when only a few of them changed since. */
  private mergeGroup(key: string, parts: SubjectPartial[]): SubjectPartial {
    const merged = mergeSubjectPartials(parts, this.settings.forecast.trials, this.merges.get(key));
    this.merges.set(key, { parts, merged });
    return merged;
  }

  compute(subject: SubjectRef, period: FiscalPeriod): SubjectMetrics {
    return subject.kind === 'rep'
      ? this.computeRep(subject.id, period)
      : this.computeGroup(subject.kind, subject.id, period);
  }

  /** Uses a forecast learned elsewhere for a period (the same history, D and settings: the shards of a run share one). */
  presetForecast(periodId: string, forecast: PeriodForecast | null, learned?: LearnedForecast, hash?: string): void {
    this.forecasts.set(periodId, forecast);
    if (learned) this.learned.set(periodId, hash === undefined ? { learned } : { learned, hash });
  }

  /** What a period's forecast learned (null without a forecast), with its content hash. */
  learnedOf(period: FiscalPeriod): { learned: LearnedForecast; hash: string } | null {
    if (this.forecastOf(period) === null) return null;
    const l = this.learned.get(period.id);
    if (!l) return null;
    l.hash ??= contentHash(encodeLearned(l.learned));
    return l as { learned: LearnedForecast; hash: string };
  }

  /**
   * The forecast learned for a period from the history loaded with the model (`data.dealTimelines`); null when the
   * model was built without it (the figures then simulate the CRM's probabilities and say so).
   */
  forecastOf(period: FiscalPeriod): PeriodForecast | null {
    const found = this.forecasts.get(period.id);
    if (found !== undefined) return found;
    const timelines = this.data.dealTimelines;
    const s = this.settings;
    if (timelines === undefined) {
      this.forecasts.set(period.id, null);
      return null;
    }
    const input = {
      timelines,
      calendar: s.calendar,
      period,
      asOf: this.asOf,
      settings: s.forecast.calibration,
      trials: s.forecast.trials,
      seed: this.forecastSeed(period),
      backtest: this.data.forecastBacktests?.get(period.kind) ?? null,
    };
    const learned = learnForecast(input);
    const made = forecastFrom(learned, input);
    this.forecasts.set(period.id, made);
    this.learned.set(period.id, { learned });
    return made;
  }

  private forecastSeed(period: FiscalPeriod): number {
    return seedFrom(`${this.settings.forecast.seed}|${period.id}|${this.asOf}`);
  }

  private common(subjectId: string, period: FiscalPeriod) {
    const s = this.settings;
    const f = this.forecastOf(period);
    return {
      ...(f === null
        ? {}
        : {
            forecastDealProbability: (deal: Deal) => f.probability(deal).p,
            forecastShocks: f.shocks,
            forecastCalibration: f.info,
          }),
      subjectId,
      period: { id: period.id, start: period.start, end: period.end },
      asOf: this.asOf,
      conversionWindow: trailingMonths(this.asOf, s.conversionWindowMonths),
      // One seed for every subject of the period: each deal's stream is keyed by it and the deal id, so a group's
      // trials are the sums of its members' trials.
      forecastSeed: this.forecastSeed(period),
      pacing: { basis: s.pacing.basis, holidays: s.pacing.holidays },
      commission: s.commission,
      forecastTrials: s.forecast.trials,
      runRateWindowDays: s.runRateWindowDays,
      statusBands: s.statusBands,
      coverageBands: s.coverageBands,
      ramp: s.ramp,
    };
  }
}

export type { SubjectKind };

/**
 * One person's quota comes from one CRM for any stretch of days: where several connections hold a quota for the same
 * days, the rows of the connection first in `preference` (quotas.preferConnection, else the connections as listed)
 * count, never their sum. A less preferred connection's row still counts when no row already taken overlaps it
 * (Salesforce holding October and HubSpot November and December make a quarter's quota of all three). Rows without a
 * connection (a quota file's) are always taken.
 */
export function preferredQuotaRows<Q extends { connectionId: string | null; start: string; end: string }>(
  rows: readonly Q[],
  preference: readonly string[],
): Q[] {
  const rank = (id: string | null) => {
    if (id === null) return -1;
    const i = preference.indexOf(id);
    return i === -1 ? Number.MAX_SAFE_INTEGER : i;
  };
  const ordered = [...rows].sort(
    (a, b) => rank(a.connectionId) - rank(b.connectionId) || (a.connectionId ?? '').localeCompare(b.connectionId ?? ''),
  );
  const taken: Q[] = [];
  for (const q of ordered) {
    const overlaps = taken.some(
      (t) =>
        q.connectionId !== null &&
        t.connectionId !== null &&
        t.connectionId !== q.connectionId &&
        t.start <= q.end &&
        q.start <= t.end,
    );
    if (!overlaps) taken.push(q);
  }
  return taken;
}
