/**
 * What turns a rep's report into the seed's scorecard and a team's into its dashboard: figures derived from the
 * subject documents (commission at quota, the deals that close the gap, the trend over the last four periods,
 * lead conversion by cohort month, strengths and focus areas; the team's status-band distribution, gap analysis,
 * coverage and activity tables and forecast scenarios). Each rule is written in docs/metrics.md ("Rep scorecard",
 * "Team dashboard"); every figure is worked from the documents' own strings, so the readable formats print the
 * JSON's numbers.
 */
import { sql } from 'kysely';
import type { FiguresDocument, Json, JsonObject } from '../metrics/document.ts';
import type { SubjectRef } from '../metrics/engine/types.ts';
import { commissionFor } from '../metrics/math/commission.ts';
import { leadToOpportunity } from '../metrics/math/conversion.ts';
import { membershipOn } from '../metrics/math/rollup.ts';
import { addDays, addMonths, type PlainDate } from '../util/date.ts';
import { Dec, formatMoney, formatRatio, ZERO } from '../util/money.ts';
import type { ReportContext, SubjectReport } from './context.ts';
import { NotStored } from './current-period.ts';
import { openCredits } from './forecast-inputs.ts';
import { scorecardWorking } from './working.ts';

const dec = (v: Json | undefined): Dec | null => (typeof v === 'string' ? new Dec(v) : null);

/** The status bands from best to worst, as the documents write them. */
export const STATUS_BANDS = ['on_track', 'likely_to_hit', 'at_risk', 'likely_miss', 'significant_gap', 'major_gap'];
/** Bands whose reps are on course for their quota (projected attainment at or above the `likely_to_hit` bound). */
const ON_TRACK = new Set(['on_track', 'likely_to_hit']);

/** Commission if bookings end exactly at quota (100% attainment), by the plan the other commission figures use. */
export function commissionAtQuota(ctx: ReportContext, quota: Json | undefined): JsonObject {
  const q = dec(quota);
  const c = commissionFor(q ?? ZERO, q, ctx.model.settings.commission);
  return c.value === null ? { atQuota: null, atQuotaReason: c.reason } : { atQuota: formatMoney(c.value.payout) };
}

/**
 * The open deals due in the period, most likely first (the forecast's learned probability, else the CRM's), each
 * with the running total of their amounts, until the total reaches the remaining gap.
 */
async function gapDeals(ctx: ReportContext, subject: SubjectRef, remaining: Json | undefined): Promise<JsonObject> {
  // The learned probabilities come from the whole stage history, which the stored snapshots' model leaves out: the
  // read model passes the forecast it learned apart (`ctx.forecast`).
  if (ctx.stored && !ctx.forecast) throw new NotStored('the gap deals need the forecast’s learned probabilities');
  const f = ctx.forecast ? await ctx.forecast(ctx.period) : ctx.model.forecastOf(ctx.period);
  const deals = openCredits(ctx, subject).map((c) => {
    const learned = f?.probability(c.deal) ?? null;
    const p = learned === null ? c.deal.probability : new Dec(learned.p);
    return { c, p: p === null ? null : new Dec(formatRatio(p)) };
  });
  deals.sort(
    (a, b) =>
      (b.p ?? new Dec(-1)).cmp(a.p ?? new Dec(-1)) ||
      b.c.amount.cmp(a.c.amount) ||
      (a.c.deal.id < b.c.deal.id ? -1 : a.c.deal.id > b.c.deal.id ? 1 : 0),
  );
  const gap = dec(remaining);
  const out: JsonObject[] = [];
  let total = ZERO;
  let needed: number | null = null;
  if (gap?.lte(0)) needed = 0;
  for (const { c, p } of gap === null || needed === 0 ? [] : deals) {
    total = total.plus(c.amount);
    out.push({
      id: c.deal.id,
      connection: c.deal.connectionId ?? null,
      name: c.deal.name,
      amount: formatMoney(c.amount),
      closeDate: c.deal.closeDate,
      stage: c.deal.stage,
      probability: p === null ? null : formatRatio(p),
      runningTotal: formatMoney(total),
    });
    if (gap !== null && total.gte(gap)) {
      needed = out.length;
      break;
    }
  }
  const doc: JsonObject = { gap: gap === null ? null : formatMoney(gap) };
  if (gap === null) doc.gapReason = 'no_quota';
  doc.dealsNeeded = needed;
  if (needed === null) doc.dealsNeededReason = gap === null ? 'no_quota' : 'pipeline_short';
  // What is left of the gap once every listed deal is won: zero when they close it.
  doc.shortfall = gap === null ? null : formatMoney(Dec.max(gap.minus(total), 0));
  doc.deals = out;
  return doc;
}

/**
 * The burn-up's actual line: the cumulative won amount (base currency, the rep's credits as `actual` counts them)
 * at the end of each week of the period before D, and on D, whose point is the report's `actual`.
 */
export function burnup(ctx: ReportContext, subject: SubjectRef): JsonObject {
  const { model, period } = ctx;
  const credits =
    subject.kind === 'rep' ? model.repRows(subject.id).credits : model.groupRows(subject.kind, subject.id).credits;
  const won = credits
    .filter(
      (c) =>
        c.category === 'won' &&
        !(subject.kind !== 'rep' && c.overlay) &&
        c.deal.closeDate >= period.start &&
        c.deal.closeDate <= model.asOf,
    )
    .sort((a, b) => (a.deal.closeDate < b.deal.closeDate ? -1 : a.deal.closeDate > b.deal.closeDate ? 1 : 0));
  const dates: PlainDate[] = [];
  // A report as of a day after the period ends draws the whole period (dates compare as strings).
  const last = [model.asOf, period.end].sort()[0] as PlainDate;
  for (let d = addDays(period.start, 6); d < last; d = addDays(d, 7)) dates.push(d);
  if (last >= period.start) dates.push(last);
  let i = 0;
  let sum = ZERO;
  const points = dates.map((date) => {
    for (; i < won.length && (won[i] as (typeof won)[number]).deal.closeDate <= date; i++)
      sum = sum.plus((won[i] as (typeof won)[number]).amount);
    return { date, actual: formatMoney(sum) } satisfies JsonObject;
  });
  return { points };
}

/**
 * Least squares slope of attainment over the last four history periods that had a quota (x = 0, 1, 2, 3 in
 * period order, y = attainment as a ratio): the change a period the points follow. Null under two points.
 */
function trend(history: readonly JsonObject[]): JsonObject {
  const points = history
    .filter((h) => typeof h.attainment === 'string')
    .slice(-4)
    .map((h) => ({ period: h.period as string, y: new Dec(h.attainment as string) }));
  const periods = points.map((p) => p.period);
  if (points.length < 2) return { periods, slope: null, slopeReason: 'too_few_periods' };
  const n = points.length;
  const meanX = new Dec(n - 1).div(2);
  const meanY = points.reduce((s, p) => s.plus(p.y), ZERO).div(n);
  let num = ZERO;
  let den = ZERO;
  points.forEach((p, i) => {
    const dx = new Dec(i).minus(meanX);
    num = num.plus(dx.times(p.y.minus(meanY)));
    den = den.plus(dx.times(dx));
  });
  return { periods, slope: formatRatio(num.div(den)) };
}

/** Lead-to-opportunity by the month each lead was created, over the conversion window's months, for the rep's users. */
async function leadConversion(ctx: ReportContext, repKey: string): Promise<JsonObject> {
  const rep = ctx.model.data.reps.get(repKey);
  const asOf = ctx.model.asOf;
  const months = ctx.model.settings.conversionWindowMonths;
  const from = `${addMonths(asOf, -(months - 1)).slice(0, 7)}-01` as PlainDate;
  const users = rep?.users ?? [];
  const rows =
    users.length === 0
      ? []
      : (
          await sql<{ external_id: string; created: string; converted: string | null }>`
            select external_id, created_date::text as created, converted_date::text as converted from leads
            where not is_deleted and created_date between ${from} and ${asOf}
              and (connection_id, owner_external_id) in (${sql.join(
                users.map((u) => sql`(${u.connectionId}, ${u.externalId})`),
              )})`.execute(ctx.db)
        ).rows;
  const cohorts = leadToOpportunity(
    rows.map((r) => ({
      id: r.external_id,
      createdDate: r.created as PlainDate,
      convertedDate: r.converted as PlainDate | null,
    })),
    asOf,
  );
  const created = cohorts.reduce((s, c) => s + c.created, 0);
  const converted = cohorts.reduce((s, c) => s + c.converted, 0);
  return {
    window: `${from}..${asOf}`,
    cohorts: cohorts.map((c) => ({
      month: c.month,
      created: c.created,
      converted: c.converted,
      rate: formatRatio(c.rate),
    })),
    created,
    converted,
    rate: created === 0 ? null : formatRatio(new Dec(converted).div(created)),
    ...(created === 0 ? { rateReason: 'no_leads' } : {}),
  };
}

interface Finding {
  rule: string;
  text: string;
}

const pts = (d: Dec) => `${d.times(100).toFixed(2)}%`;

/**
 * Strengths and focus areas by the rules of docs/metrics.md ("Rep scorecard"): each compares one figure of the rep
 * with the team's or with a configured target, and says which in words.
 */
function findings(
  d: SubjectReport,
  team: FiguresDocument | null,
  ctx: ReportContext,
): { strengths: Finding[]; focus: Finding[] } {
  const strengths: Finding[] = [];
  const focus: Finding[] = [];
  const win = dec(d.winRate);
  const teamWin = team ? dec(team.winRate) : null;
  if (win !== null && teamWin !== null) {
    if (win.gt(teamWin))
      strengths.push({ rule: 'win_rate_above_team', text: `win rate ${pts(win)} is above the team's ${pts(teamWin)}` });
    else if (win.lt(teamWin))
      focus.push({ rule: 'win_rate_below_team', text: `win rate ${pts(win)} is below the team's ${pts(teamWin)}` });
  }
  const cycle = dec(d.salesCycleDays);
  const teamCycle = team ? dec(team.salesCycleDays) : null;
  if (cycle !== null && teamCycle !== null) {
    if (cycle.gt(teamCycle))
      focus.push({
        rule: 'cycle_longer_than_team',
        text: `sales cycle ${cycle.toFixed(2)} days is longer than the team's ${teamCycle.toFixed(2)}`,
      });
    else if (cycle.lt(teamCycle))
      strengths.push({
        rule: 'cycle_shorter_than_team',
        text: `sales cycle ${cycle.toFixed(2)} days is shorter than the team's ${teamCycle.toFixed(2)}`,
      });
  }
  const band = d.pipeline.coverageBand;
  const target = new Dec(ctx.model.settings.coverageBands.adequate);
  const coverage = dec(d.pipeline.coverage);
  if (coverage !== null && (band === 'low' || band === 'critical'))
    focus.push({
      rule: 'coverage_below_target',
      text: `pipeline coverage ${coverage.toFixed()}x is below the ${target.toFixed()}x target (${band})`,
    });
  else if (coverage !== null && band === 'strong')
    strengths.push({ rule: 'coverage_strong', text: `pipeline coverage ${coverage.toFixed()}x is strong` });
  const score = dec(d.activities.score);
  if (score !== null) {
    if (score.lt(100))
      focus.push({ rule: 'activity_below_target', text: `activity score ${score.toFixed(2)} is below target (100)` });
    else strengths.push({ rule: 'activity_on_target', text: `activity score ${score.toFixed(2)} meets target (100)` });
  }
  const pace = d.paceStatus;
  const variance = dec(d.paceVariancePct);
  if (pace !== null && variance !== null) {
    if (pace === 'ahead') strengths.push({ rule: 'ahead_of_pace', text: `${pts(variance)} ahead of pace` });
    else focus.push({ rule: 'behind_pace', text: `${pts(variance.neg())} behind pace` });
  }
  const projected = dec(d.projectedAttainment);
  if (projected !== null) {
    if (projected.gte(1))
      strengths.push({ rule: 'projected_to_hit', text: `projected to reach ${pts(projected)} of quota` });
    else focus.push({ rule: 'projected_short', text: `projected to reach ${pts(projected)} of quota, short of 100%` });
  }
  return { strengths, focus };
}

/**
 * A rep report's scorecard: the subject report with commission at quota, the gap deals, the trend of its history,
 * lead conversion, and strengths and focus areas against its team (`teamDoc`: the team's figures on D).
 */
export async function repScorecard(
  ctx: ReportContext,
  subject: SubjectRef,
  doc: SubjectReport,
  teamDoc: (team: SubjectRef) => FiguresDocument | null,
): Promise<JsonObject> {
  const m = membershipOn(ctx.model.memberships, subject.id, ctx.model.asOf);
  const team = m ? teamDoc({ kind: 'team', id: m.teamId }) : null;
  const { strengths, focus } = findings(doc, team, ctx);
  const out = doc as unknown as JsonObject;
  // A copy: a stored document's commission block is shared with the read model's cache.
  out.commission = { ...(doc.commission as unknown as JsonObject), ...commissionAtQuota(ctx, doc.quota) };
  out.trend = trend(doc.history);
  out.gapDeals = await gapDeals(ctx, subject, doc.remaining);
  out.leadConversion = await leadConversion(ctx, subject.id);
  out.burnup = burnup(ctx, subject);
  out.strengths = strengths as unknown as Json;
  out.focusAreas = focus as unknown as Json;
  scorecardWorking(ctx, out, dec(doc.quota));
  return out;
}

/** A rep row of the team dashboard: who, from a rep document. */
function who(r: JsonObject): JsonObject {
  const s = r.subject as JsonObject;
  return { id: s.id as Json, name: s.name as Json, email: s.email as Json };
}

/**
 * The team dashboard's sections from its totals and its reps' documents (the quota-carrying reps only: managers,
 * VPs and integration users are people of the team, never its reps).
 */
export function teamDashboard(ctx: ReportContext, totals: JsonObject, reps: readonly JsonObject[]): JsonObject {
  const carrying = reps.filter(
    (r) => ctx.model.data.reps.get((r.subject as JsonObject).id as string)?.quotaCarrying === true,
  );
  const money = (v: Dec) => formatMoney(v);
  const distribution = [...STATUS_BANDS, null].map((band) => {
    const inBand = carrying.filter((r) => (r.status ?? null) === band);
    const quota = inBand.reduce((s, r) => s.plus(dec(r.quota) ?? ZERO), ZERO);
    const projected = inBand.reduce((s, r) => s.plus(dec(r.projectedTotal) ?? ZERO), ZERO);
    return {
      status: band ?? 'no_quota',
      reps: inBand.length,
      quota: money(quota),
      projected: money(projected),
    } satisfies JsonObject;
  });
  const withQuota = carrying.filter((r) => typeof r.status === 'string');
  const onTrack = withQuota.filter((r) => ON_TRACK.has(r.status as string));
  const behind = withQuota.filter((r) => !ON_TRACK.has(r.status as string));
  const diff = (r: JsonObject) => (dec(r.projectedTotal) ?? ZERO).minus(dec(r.quota) ?? ZERO);
  const surplus = onTrack.reduce((s, r) => s.plus(Dec.max(diff(r), 0)), ZERO);
  const shortfall = behind.reduce((s, r) => s.plus(Dec.max(diff(r).neg(), 0)), ZERO);
  const quota = dec(totals.quota);
  const projectedTotal = dec(totals.projectedTotal) ?? ZERO;
  const gapAnalysis: JsonObject = {
    quota: totals.quota ?? null,
    actual: totals.actual ?? null,
    gapToQuota: totals.remaining ?? null,
    projected: totals.projectedTotal ?? null,
    projectedGap: quota === null ? null : money(Dec.max(quota.minus(projectedTotal), 0)),
    onTrack: { reps: onTrack.length, surplus: money(surplus) },
    behind: { reps: behind.length, gap: money(shortfall) },
  };
  if (quota === null) {
    gapAnalysis.gapToQuotaReason = 'no_quota';
    gapAnalysis.projectedGapReason = 'no_quota';
  }
  const pipelineOf = (r: JsonObject) => r.pipeline as JsonObject;
  const coverageRow = (r: JsonObject): JsonObject => {
    const p = pipelineOf(r);
    const row: JsonObject = {
      remaining: r.remaining ?? null,
      open: p.open ?? null,
      openDeals: p.openDeals ?? null,
      coverage: p.coverage ?? null,
      coverageBand: p.coverageBand ?? null,
    };
    if (r.remaining == null) row.remainingReason = (r.remainingReason ?? 'no_quota') as Json;
    if (p.coverage == null) row.coverageReason = (p.coverageReason ?? null) as Json;
    return row;
  };
  const coverageTable = {
    reps: carrying.map((r) => ({ rep: who(r), ...coverageRow(r) })),
    total: coverageRow(totals),
  };
  const a = ctx.model.settings.activity;
  const targets: JsonObject = {};
  for (const type of ['call', 'meeting', 'email', 'task'] as const) {
    const t = a.targets[type];
    targets[type] = t === undefined ? null : new Dec(t).toFixed();
  }
  // A score of 100 is every weighted type at its target (docs/metrics.md, "Activity").
  targets.score = '100';
  const activityRow = (r: JsonObject): JsonObject => {
    const act = r.activities as JsonObject;
    const c = act.counts as JsonObject;
    const row: JsonObject = {
      calls: c.call ?? 0,
      meetings: c.meeting ?? 0,
      emails: c.email ?? 0,
      tasks: c.task ?? 0,
      score: act.score ?? null,
    };
    if (act.score == null) row.scoreReason = (act.scoreReason ?? null) as Json;
    return row;
  };
  const activityTable = {
    window: (totals.activities as JsonObject).window ?? null,
    targets,
    reps: carrying.map((r) => ({ rep: who(r), ...activityRow(r) })),
    total: activityRow(totals),
  };
  const f = totals.forecast as JsonObject;
  const scenario = (at: Json | undefined): JsonObject => {
    const total = dec(at) ?? ZERO;
    const o: JsonObject = {
      total: money(total),
      attainment: quota === null || quota.lte(0) ? null : formatRatio(total.div(quota)),
      gap: quota === null ? null : money(Dec.max(quota.minus(total), 0)),
    };
    if (quota === null) {
      o.attainmentReason = 'no_quota';
      o.gapReason = 'no_quota';
    }
    return o;
  };
  return {
    distribution,
    gapAnalysis,
    coverageTable,
    activityTable,
    scenarios: { best: scenario(f.p90), base: scenario(f.p50), worst: scenario(f.p10) },
  };
}
