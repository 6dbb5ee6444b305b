/**
 * Builds the report documents of the interface file from a prepared metrics model: `report rep|team|region|org`
 * and `leaderboard`. Every figure comes from `computeSubjectMetrics` through `figuresDocument`, the same path the
 * engine's snapshots take; this module adds what compares subjects or periods (rank, history) and the stored
 * alerts.
 */
import { sql } from 'kysely';
import type { FiscalPeriod } from '../config/calendar.ts';
import { asJson, type FiguresDocument, figuresDocument, type Json, type JsonObject } from '../metrics/document.ts';
import type { MetricsModel } from '../metrics/engine/model.ts';
import { describeSubject } from '../metrics/engine/subjects.ts';
import type { SubjectRef } from '../metrics/engine/types.ts';
import { type Ranked, rankSubjects } from '../metrics/math/ranking.ts';
import type { SubjectMetrics } from '../metrics/math/rep-metrics.ts';
import { membershipOn, ORG_ID } from '../metrics/math/rollup.ts';
import { addDays, earlierOf, type PlainDate } from '../util/date.ts';
import { Dec, formatMoney, formatRatio } from '../util/money.ts';
import { type Quick, quickAttainment, type ReportContext, repsIn, type SubjectReport } from './context.ts';
import type { LeaderboardMetric } from './leaderboard-options.ts';
import { burnup, teamDashboard } from './scorecard.ts';
import { sourcesOf } from './sources.ts';
import { type RankScope, subjectWorking } from './working.ts';

export type { ReportContext, SubjectReport } from './context.ts';

/**
 * Every open alert of the period by subject, each subject's in `alertsOf`'s order: one statement for a report on
 * a team, region or the org, not one per subject (5,525 at 5,000 reps).
 */
async function withAlerts(ctx: ReportContext, only?: readonly string[]): Promise<ReportContext> {
  let q = ctx.db
    .selectFrom('alerts')
    .select(['subject_kind', 'subject_id', 'rule', 'severity', 'message', 'status'])
    .where('period_id', '=', ctx.period.id)
    .where('status', '<>', 'resolved');
  // A team's report needs its own and its people's alerts, not the org's 16,784.
  if (only) q = q.where('subject_id', 'in', only.length > 0 ? [...only] : ['']);
  const rows = await q.orderBy(bySeverity).orderBy('rule').orderBy('subject_id').execute();
  const bySubject = new Map<string, Json[]>();
  for (const r of rows) {
    const k = `${r.subject_kind}:${r.subject_id}`;
    const a = { rule: r.rule, severity: r.severity, message: r.message, status: r.status };
    const list = bySubject.get(k);
    if (list) list.push(a);
    else bySubject.set(k, [a]);
  }
  return { ...ctx, alertsBySubject: bySubject };
}

/**
 * The ranking of a scope's reps in a period, worked out once per model: a report on a region or the org ranks
 * every one of its reps in their team, region and org, which would otherwise rank the whole org once per rep
 * (quadratic: minutes at 5,000 reps). Kept by the model's data: re-booking reps (`replaceReps`) gives the model
 * new data, and so new rankings.
 */
const rankings = new WeakMap<object, Map<string, Map<string, Ranked>>>();

function rankingOf(ctx: ReportContext, scope: SubjectRef): Map<string, Ranked> {
  // Ranks from the stored exact attainments are kept by the reader of them (new whenever the snapshots are read).
  const by = ctx.exact ?? ctx.model.data;
  let byScope = rankings.get(by);
  if (!byScope) {
    byScope = new Map();
    rankings.set(by, byScope);
  }
  const key = `${ctx.period.id}|${scope.kind}:${scope.id}`;
  let ranked = byScope.get(key);
  if (!ranked) {
    const ids = repsIn(ctx.model, scope);
    const exact = ctx.exact;
    ranked = exact
      ? rankExact(ids.map((id) => ({ id, value: exact({ kind: 'rep', id }) })))
      : rankOnce(ctx.model, key, ids, (id) => quickAttainment(ctx, { kind: 'rep', id }, ctx.period));
    byScope.set(key, ranked);
  }
  return ranked;
}

/**
 * Decimal places attainments are ranked on. The report's attainment of a group sums its members' credits in one
 * pass, the engine's (stored beside the snapshot) merges its members' sums: the same amounts added in another
 * order, which at 40 significant digits can differ in the last few (33 of 555 teams and regions of a generated
 * 500-rep org, by 1 to 4 units of the 40th). Two attainments equal to 30 places are a tie either way, so ranks made
 * from the stored values equal those made from the warehouse; places, not significant digits, so that noise around
 * zero (a group whose credits cancel) ties with zero in both.
 */
const RANK_PLACES = 30;

/** `rankSubjects` on attainments taken to `RANK_PLACES`; each entry keeps its attainment as given. */
function rankExact(entries: readonly { id: string; value: Dec | null }[]): Map<string, Ranked> {
  const given = new Map(entries.map((e) => [e.id, e.value] as const));
  const list = rankSubjects(
    entries.map((e) => ({ id: e.id, value: e.value === null ? null : e.value.toDecimalPlaces(RANK_PLACES) })),
  );
  return new Map(list.map((r) => [r.id, { ...r, value: given.get(r.id) ?? null }] as const));
}

/**
 * A ranking with the subjects and attainments it was made from: after a one-deal change (new model data) only
 * the changed rep's team, region and the org are ranked again; the other 499 teams keep theirs.
 */
const rankMemo = new WeakMap<
  MetricsModel,
  Map<string, { ids: string[]; quicks: Quick[]; ranked: Map<string, Ranked> }>
>();

function rankOnce(model: MetricsModel, key: string, ids: string[], quick: (id: string) => Quick): Map<string, Ranked> {
  const quicks = ids.map(quick);
  let memo = rankMemo.get(model);
  if (!memo) {
    memo = new Map();
    rankMemo.set(model, memo);
  }
  const kept = memo.get(key);
  if (
    kept &&
    kept.ids.length === ids.length &&
    kept.ids.every((id, i) => id === ids[i] && kept.quicks[i] === quicks[i])
  )
    return kept.ranked;
  const ranked = rankExact(ids.map((id, i) => ({ id, value: (quicks[i] as Quick).attainment })));
  memo.set(key, { ids, quicks, ranked });
  return ranked;
}

/** The org's name per model data: looked up once, not once per rep of a 5,000-rep report. */
const orgNames = new WeakMap<object, string>();

function groupName(model: MetricsModel, scope: SubjectRef): string {
  if (scope.kind !== 'org') return model.data.units.get(scope.id)?.name ?? scope.id;
  let name = orgNames.get(model.data);
  if (name === undefined) {
    name = describeSubject(model, scope).name;
    orgNames.set(model.data, name);
  }
  return name;
}

function rankIn(ctx: ReportContext, repKey: string, scope: SubjectRef | null): JsonObject {
  if (scope === null) return { rank: null, of: 0, rankReason: 'no_membership' };
  const ranking = rankingOf(ctx, scope);
  const me = ranking.get(repKey);
  // The peer group the rank is in: its name and everyone in it on D, ranked or not (`of` counts the ranked).
  const peers = { group: groupName(ctx.model, scope), groupSize: ranking.size };
  if (!me || me.rank === null)
    return {
      rank: null,
      of: [...ranking.values()].filter((r) => r.rank !== null).length,
      rankReason: 'no_quota',
      ...peers,
    };
  return { rank: me.rank, of: me.of, percentile: me.percentile === null ? null : formatRatio(me.percentile), ...peers };
}

function history(ctx: ReportContext, subject: SubjectRef): JsonObject[] {
  let before: Dec | null = null;
  return ctx.historyPeriods.map((p, i) => {
    const h = quickAttainment(ctx, subject, p);
    const o: JsonObject = {
      period: p.id,
      quota: h.quota === null ? null : formatMoney(h.quota),
      actual: formatMoney(h.actual),
    };
    o.attainment = h.attainment === null ? null : formatRatio(h.attainment);
    if (h.quota === null) o.quotaReason = 'no_quota';
    if (h.attainment === null) o.attainmentReason = 'no_quota';
    // Change on the period before, in attainment (a ratio: 0.0500 is 5 points), from the ratios as printed.
    const now = h.attainment === null ? null : new Dec(formatRatio(h.attainment));
    o.qoqChange = now === null || before === null ? null : formatRatio(now.minus(before));
    if (now === null || before === null)
      o.qoqChangeReason = i === 0 ? 'no_earlier_period' : now === null ? 'no_quota' : 'no_quota_before';
    before = now;
    return o;
  });
}

/** Alerts in the order a manager reads them: critical first, then warnings, then information. */
export const bySeverity = sql<number>`case severity when 'critical' then 0 when 'warning' then 1 else 2 end`;

async function alertsOf(ctx: ReportContext, subject: SubjectRef): Promise<Json[]> {
  if (ctx.alertsBySubject) return ctx.alertsBySubject.get(`${subject.kind}:${subject.id}`) ?? [];
  const rows = await ctx.db
    .selectFrom('alerts')
    .select(['rule', 'severity', 'message', 'status', 'opened_at'])
    .where('subject_kind', '=', subject.kind)
    .where('subject_id', '=', subject.id)
    .where('period_id', '=', ctx.period.id)
    .where('status', '<>', 'resolved')
    .orderBy(bySeverity)
    .orderBy('rule')
    .execute();
  return rows.map((r) => ({ rule: r.rule, severity: r.severity, message: r.message, status: r.status }));
}

/** The `--explain` working of a subject (working.ts), with the peers of each ranking the report shows. */
function explanation(ctx: ReportContext, subject: SubjectRef, m: SubjectMetrics, doc: JsonObject): JsonObject {
  const model = ctx.model;
  const ranks: RankScope[] = [];
  if (subject.kind === 'rep') {
    const mem = membershipOn(model.memberships, subject.id, model.asOf);
    const scopes: [string, SubjectRef | null][] = [
      ['team', mem ? { kind: 'team', id: mem.teamId } : null],
      ['region', mem && mem.regionId !== 'none' ? { kind: 'region', id: mem.regionId } : null],
      ['org', { kind: 'org', id: ORG_ID }],
    ];
    for (const [name, scope] of scopes)
      if (scope)
        ranks.push({
          scope: name,
          group: groupName(model, scope),
          ranked: rankingOf(ctx, scope),
          name: (id) => model.data.reps.get(id)?.name ?? id,
        });
  } else if (subject.kind !== 'org') {
    ranks.push({
      scope: 'org',
      group: groupName(model, { kind: 'org', id: ORG_ID }),
      ranked: groupRankingOf(ctx, subject.kind),
      name: (id) => model.data.units.get(id)?.name ?? id,
    });
  }
  return subjectWorking(ctx, subject, m, doc, ranks).toJson();
}

/** The full document of one subject: figures, rank, alerts and history (and the working with `explain`). */
export async function subjectReport(ctx: ReportContext, subject: SubjectRef): Promise<SubjectReport> {
  const model = ctx.model;
  const m = ctx.stored ? null : model.compute(subject, ctx.period);
  // A copy of the stored document: the rank, alerts and history below are added to it.
  const doc = m
    ? figuresDocument(describeSubject(model, subject), ctx.period, m, model.settings.baseCurrency)
    : { ...(ctx.stored as (s: SubjectRef) => FiguresDocument)(subject) };
  let rank: JsonObject;
  if (subject.kind === 'rep') {
    const mem = membershipOn(model.memberships, subject.id, model.asOf);
    rank = {
      team: rankIn(ctx, subject.id, mem ? { kind: 'team', id: mem.teamId } : null),
      region: rankIn(ctx, subject.id, mem && mem.regionId !== 'none' ? { kind: 'region', id: mem.regionId } : null),
      org: rankIn(ctx, subject.id, { kind: 'org', id: ORG_ID }),
    };
  } else {
    rank = groupRank(ctx, subject);
  }
  // Added in this order after the figures: the JSON prints them so.
  const alerts = await alertsOf(ctx, subject);
  const out = Object.assign(doc, { rank, alerts, history: history(ctx, subject), sources: sourcesOf(ctx, subject) });
  if (ctx.explain)
    (out as SubjectReport).explain = explanation(
      ctx,
      subject,
      m ?? model.compute(subject, ctx.period),
      out as unknown as JsonObject,
    );
  return out;
}

/** The ranking of every team (or region) of the org in a period, worked out once per model, as `rankingOf`. */
function groupRankingOf(ctx: ReportContext, kind: 'team' | 'region'): Map<string, Ranked> {
  const by = ctx.exact ?? ctx.model.data;
  let byScope = rankings.get(by);
  if (!byScope) {
    byScope = new Map();
    rankings.set(by, byScope);
  }
  const key = `${ctx.period.id}|groups:${kind}`;
  let ranked = byScope.get(key);
  if (!ranked) {
    const exact = ctx.exact;
    ranked = exact
      ? rankExact(ctx.model.groups(kind).map((id) => ({ id, value: exact({ kind, id }) })))
      : rankOnce(ctx.model, key, ctx.model.groups(kind), (id) => quickAttainment(ctx, { kind, id }, ctx.period));
    byScope.set(key, ranked);
  }
  return ranked;
}

function groupRank(ctx: ReportContext, subject: SubjectRef): JsonObject {
  if (subject.kind === 'org' || subject.kind === 'rep') return {};
  // Once per model: the org report ranks each of 500 teams among all 500, which was 250,000 team sums.
  const me = groupRankingOf(ctx, subject.kind).get(subject.id);
  return {
    org:
      me && me.rank !== null ? { rank: me.rank, of: me.of } : { rank: null, of: me?.of ?? 0, rankReason: 'no_quota' },
  };
}

function header(ctx: ReportContext, subject: SubjectRef): JsonObject {
  const p = ctx.period;
  const stored = ctx.stored?.(subject).period;
  const days = stored
    ? { total: stored.daysTotal, elapsed: stored.daysElapsed, remaining: stored.daysRemaining }
    : ctx.model.compute(subject, p).days;
  return {
    subject: describeSubject(ctx.model, subject) as unknown as JsonObject,
    period: {
      id: p.id,
      start: p.start,
      end: p.end,
      daysTotal: days.total,
      daysElapsed: days.elapsed,
      daysRemaining: days.remaining,
    },
    asOf: ctx.model.asOf,
    currency: ctx.model.settings.baseCurrency,
  };
}

/**
 * Those who left the company during the period while in the scope (someone who moved to another team is listed
 * there instead), with the last day they were in it: their deals closed before they left are in the totals and a
 * share of their quota in the group's (docs/metrics.md, "People who left"); they are listed apart.
 */
function leaversOf(model: MetricsModel, scope: SubjectRef, period: FiscalPeriod): Map<string, PlainDate> {
  const out = new Map<string, PlainDate>();
  if (scope.kind === 'rep') return out;
  const to = earlierOf(model.asOf, period.end);
  for (const m of model.data.memberships) {
    if (m.validTo === null) continue;
    if (scope.kind !== 'org' && (scope.kind === 'team' ? m.teamId : m.regionId) !== scope.id) continue;
    // validTo is exclusive: the membership covers [validFrom, validTo).
    if (m.validFrom > to || m.validTo <= period.start || !model.data.reps.has(m.repId)) continue;
    if (membershipOn(model.memberships, m.repId, model.asOf)) continue;
    const last = addDays(m.validTo, -1);
    const seen = out.get(m.repId);
    if (seen === undefined || last > seen) out.set(m.repId, last);
  }
  return out;
}

async function repObjects(ctx: ReportContext, scope: SubjectRef): Promise<Json[]> {
  const ids = repsIn(ctx.model, scope).sort((a, b) => byName(ctx.model, a, b));
  const out: Json[] = [];
  for (const id of ids) out.push(asJson(await subjectReport(ctx, { kind: 'rep', id })));
  return out;
}

/**
 * The people who left during the period, apart from the reps: their figures while they were here, the last day
 * they were in the scope, no rank, and their open deals, which need a new owner.
 */
async function leaverObjects(ctx: ReportContext, scope: SubjectRef): Promise<Json[]> {
  const leavers = leaversOf(ctx.model, scope, ctx.period);
  const ids = [...leavers.keys()].sort((a, b) => byName(ctx.model, a, b));
  const out: Json[] = [];
  const unranked = { rank: null, of: 0, rankReason: 'left' };
  for (const id of ids) {
    const doc = await subjectReport(ctx, { kind: 'rep', id });
    out.push({
      ...asJson(doc),
      rank: { team: unranked, region: unranked, org: unranked },
      leftOn: leavers.get(id) as PlainDate,
      openDealsNeedingOwner: ctx.model.openDealsOf(id).map((d) => ({
        id: d.id,
        name: d.name,
        amount: formatMoney(d.amount),
        closeDate: d.closeDate,
        stage: d.stage,
      })),
    });
  }
  return out;
}

function byName(model: MetricsModel, a: string, b: string): number {
  const na = model.data.reps.get(a)?.name ?? a;
  const nb = model.data.reps.get(b)?.name ?? b;
  return na < nb ? -1 : na > nb ? 1 : a < b ? -1 : 1;
}

/** `report team`: `{ subject, period, asOf, currency, totals, reps }`. */
export async function teamReport(given: ReportContext, team: SubjectRef): Promise<JsonObject> {
  const ctx = await withAlerts(given, [
    team.id,
    ...repsIn(given.model, team),
    ...leaversOf(given.model, team, given.period).keys(),
  ]);
  const totals = asJson(await subjectReport(ctx, team));
  const reps = await repObjects(ctx, team);
  return {
    ...header(ctx, team),
    totals,
    reps,
    leavers: await leaverObjects(ctx, team),
    // The alerts of its reps (members on the as-of date), each naming its rep: a manager reads them here.
    alerts: await membersAlerts(ctx, repsIn(ctx.model, team)),
    ...teamDashboard(ctx, totals, reps as JsonObject[]),
    // The team's pacing burn-up (its members' won credits, as its actual counts them), as a rep scorecard has one.
    burnup: burnup(ctx, team),
  };
}

/** Open or escalated alerts of these reps in the period, most severe first, each naming its rep. */
async function membersAlerts(ctx: ReportContext, repIds: readonly string[]): Promise<JsonObject[]> {
  if (repIds.length === 0) return [];
  const rows = await ctx.db
    .selectFrom('alerts')
    .select(['rule', 'severity', 'message', 'status', 'subject_id'])
    .where('subject_kind', '=', 'rep')
    .where('subject_id', 'in', [...repIds])
    .where('period_id', '=', ctx.period.id)
    .where('status', '<>', 'resolved')
    .orderBy(bySeverity)
    .orderBy('rule')
    .orderBy('subject_id')
    .execute();
  return rows.map((r) => {
    const info = describeSubject(ctx.model, { kind: 'rep', id: r.subject_id });
    return {
      rule: r.rule,
      severity: r.severity,
      status: r.status,
      message: r.message,
      rep: { id: r.subject_id, name: info.name, email: info.email },
    };
  });
}

/**
 * A region's or the org's view of its reps' alerts: counts by rule and by severity, and the critical ones listed
 * (the rest are a `report team` away).
 */
async function alertSummary(ctx: ReportContext, repIds: readonly string[]): Promise<JsonObject> {
  const all = await membersAlerts(ctx, repIds);
  const byRule: Record<string, number> = {};
  const bySev: Record<string, number> = { critical: 0, warning: 0, info: 0 };
  for (const a of all) {
    byRule[a.rule as string] = (byRule[a.rule as string] ?? 0) + 1;
    bySev[a.severity as string] = (bySev[a.severity as string] ?? 0) + 1;
  }
  return { alertCounts: { byRule, bySeverity: bySev }, criticalAlerts: all.filter((a) => a.severity === 'critical') };
}

/**
 * `report region` / `report org`: `{ subject, period, asOf, currency, totals, teams, reps }`, and the org's
 * `regions` before its teams: each region's row is its `report region`'s totals, so an overview of the org reads
 * one document, not one report per region.
 */
export async function groupReport(given: ReportContext, scope: SubjectRef): Promise<JsonObject> {
  const ctx = await withAlerts(given);
  const regions: Json[] = [];
  if (scope.kind === 'org') {
    const name = (id: string) => ctx.model.data.units.get(id)?.name ?? id;
    const ids = ctx.model.groups('region').sort((a, b) => (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0));
    for (const id of ids) regions.push(asJson(await subjectReport(ctx, { kind: 'region', id })));
  }
  const teams: Json[] = [];
  for (const id of ctx.model.groups('team')) {
    const unit = ctx.model.data.units.get(id);
    if (scope.kind === 'region' && unit?.parentId !== scope.id) continue;
    teams.push(asJson(await subjectReport(ctx, { kind: 'team', id })));
  }
  return {
    ...header(ctx, scope),
    totals: asJson(await subjectReport(ctx, scope)),
    ...(scope.kind === 'org' ? { regions } : {}),
    teams,
    reps: await repObjects(ctx, scope),
    leavers: await leaverObjects(ctx, scope),
    ...(await alertSummary(ctx, repsIn(ctx.model, scope))),
  };
}

/**
 * A rep's figure a leaderboard ranks by (null: not ranked), with the entry fields that print it when it is not one
 * the entry has anyway. Coverage and activity are read from the rep's figures document: the stored snapshot where
 * the report is built from them, else computed as the snapshot would be.
 */
function metricOf(
  ctx: ReportContext,
  metric: LeaderboardMetric,
  id: string,
  q: Quick,
): { value: Dec | null; fields: JsonObject } {
  if (metric === 'attainment') return { value: q.attainment, fields: {} };
  if (metric === 'projected-attainment') return { value: q.projectedAttainment, fields: {} };
  if (metric === 'actual') return { value: q.actual, fields: {} };
  const ref: SubjectRef = { kind: 'rep', id };
  const model = ctx.model;
  const doc = ctx.stored
    ? ctx.stored(ref)
    : figuresDocument(
        describeSubject(model, ref),
        ctx.period,
        model.compute(ref, ctx.period),
        model.settings.baseCurrency,
      );
  if (metric === 'pipeline-coverage') {
    const p = doc.pipeline;
    return {
      value: p.coverage === null ? null : new Dec(p.coverage),
      fields: { coverage: p.coverage, ...(p.coverage === null ? { coverageReason: p.coverageReason ?? null } : {}) },
    };
  }
  const a = doc.activities;
  if (metric === 'activity-score')
    return {
      value: a.score === null ? null : new Dec(a.score),
      fields: { activityScore: a.score, ...(a.score === null ? { activityScoreReason: a.scoreReason ?? null } : {}) },
    };
  const n = a.counts.call + a.counts.meeting + a.counts.email + a.counts.task + a.counts.proposal;
  return { value: new Dec(n), fields: { activities: n } };
}

/**
 * `report leaderboard`: reps of a scope ranked by a metric (attainment unless `--metric` says otherwise), ties
 * sharing a rank; `by` names the metric.
 */
export function leaderboard(ctx: ReportContext, scope: SubjectRef, metric: LeaderboardMetric): JsonObject {
  const rows = repsIn(ctx.model, scope).map((id) => {
    const q = quickAttainment(ctx, { kind: 'rep', id }, ctx.period);
    return { id, q, ...metricOf(ctx, metric, id, q) };
  });
  const ranked = rankSubjects(rows.map((r) => ({ id: r.id, value: r.value })));
  const byId = new Map(rows.map((r) => [r.id, r] as const));
  const entries: Json[] = ranked.map((r) => {
    const { q, fields } = byId.get(r.id) as (typeof rows)[number];
    const info = describeSubject(ctx.model, { kind: 'rep', id: r.id });
    const e: JsonObject = {
      rank: r.rank,
      subject: { type: 'rep', id: r.id, name: info.name, email: info.email, team: info.team },
      attainment: q.attainment === null ? null : formatRatio(q.attainment),
      actual: formatMoney(q.actual),
      quota: q.quota === null ? null : formatMoney(q.quota),
      projectedAttainment: q.projectedAttainment === null ? null : formatRatio(q.projectedAttainment),
      status: q.status,
      ...fields,
    };
    if (q.attainment === null) e.attainmentReason = 'no_quota';
    if (q.quota === null) e.quotaReason = 'no_quota';
    if (q.projectedAttainment === null) e.projectedAttainmentReason = 'no_quota';
    if (q.status === null) e.statusReason = 'no_quota';
    return e;
  });
  return {
    period: { id: ctx.period.id, start: ctx.period.start, end: ctx.period.end },
    asOf: ctx.model.asOf,
    scope: describeSubject(ctx.model, scope) as unknown as JsonObject,
    by: metric,
    entries,
  };
}
