/**
 * The figures oracle, CRM-neutral: every figure of docs/metrics.md for each rep, team, region and the org in the
 * period containing the as-of date, computed from plain records a sandbox read out of its own store (never
 * through a connector or the warehouse), with the metric math the engine uses. The Salesforce and HubSpot
 * sandboxes each turn their store into a `NeutralOrg` (`salesforce/figures.ts`, `hubspot/oracle.ts`); for the same
 * org the two give the same figures, which is what lets one CRM's results be checked against the other's.
 *
 * Identities are CRM-neutral: people by email, deals and activities by the generator's keys where the sandbox
 * knows them (so a forecast's seeded draws, keyed by deal, repeat across CRMs), stages by their position in the
 * pipeline (`stage-0` ... `stage-6`, won `stage-5`), teams and regions by the org model's keys (the org file).
 *
 * Choices: figures are for quota-carrying reps and every team, region and the org; money is rounded to cents and
 * ratios to 4 places on output, as the definitions say; the forecast runs `forecastTrials` trials (default 1,000)
 * on the `crm_fallback` basis, as the engine does without enough history to calibrate;
 * history-based pacing and alerts (which need snapshots) are left to the engine.
 */
import { validateConfig } from '../config/load.ts';
import { engineSettings } from '../metrics/engine/settings.ts';
import { bookDeals } from '../metrics/math/booking.ts';
import { FALLBACK_SIGMA } from '../metrics/math/calibration.ts';
import { leadToOpportunity, stageConversion } from '../metrics/math/conversion.ts';
import { buildFxTable, convertQuota } from '../metrics/math/currency.ts';
import { shockTable } from '../metrics/math/forecast.ts';
import { rankSubjects } from '../metrics/math/ranking.ts';
import { computeSubjectMetrics, type SubjectMetrics, seedFrom } from '../metrics/math/rep-metrics.ts';
import {
  groupCredits,
  groupQuotas,
  indexMemberships,
  leaverShare,
  membershipOn,
  ORG_ID,
  quotaMembershipDate,
  type RollupLevel,
} from '../metrics/math/rollup.ts';
import type {
  Activity,
  Deal,
  FxRate,
  Lead,
  Maybe,
  Membership,
  Period,
  StageHistoryEntry,
} from '../metrics/math/types.ts';
import { addDays, type PlainDate } from '../util/date.ts';
import { Dec, formatMoney, formatRatio } from '../util/money.ts';
import { type OrgModel, quarterOf } from './org/index.ts';

export interface NeutralQuota {
  ownerId: string;
  start: PlainDate;
  amount: Dec;
  currency: string;
}

/** What a sandbox reads out of its store: people by email, stages by position. */
export interface NeutralRecords {
  deals: Deal[];
  stageHistory: StageHistoryEntry[];
  quotas: NeutralQuota[];
  rates: FxRate[];
  activities: Activity[];
  leads: Lead[];
}

export interface FiguresOptions {
  asOf: PlainDate;
  forecastTrials?: number;
}

/** One subject's figures as strings (money to cents, ratios to 4 places), null with a reason where missing. */
export type SubjectFigures = Record<string, string | number | null>;

export interface Figures {
  asOf: PlainDate;
  period: Period;
  reps: Record<string, SubjectFigures>;
  teams: Record<string, SubjectFigures>;
  regions: Record<string, SubjectFigures>;
  org: SubjectFigures;
  stageConversion: { stage: string; entered: number; advanced: number; rate: string | null }[];
  leadConversion: { month: string; created: number; converted: number; rate: string }[];
}

/** Won is the sixth stage of every pipeline, lost the seventh: the neutral names of stage positions. */
export const NEUTRAL_STAGES = ['stage-0', 'stage-1', 'stage-2', 'stage-3', 'stage-4', 'stage-5'] as const;

/** Dated team memberships from the org model (what `org.csv` says), reps by email. */
export function membershipsOf(org: OrgModel): { memberships: Membership[]; startDates: Map<string, PlainDate> } {
  const teams = new Map(org.teams.map((t) => [t.key, t]));
  const memberships: Membership[] = [];
  const startDates = new Map<string, PlainDate>();
  for (const p of org.people) {
    if (p.role !== 'rep') continue;
    const email = p.email.toLowerCase();
    startDates.set(email, p.startDate);
    for (const s of p.teamHistory) {
      const t = teams.get(s.teamKey);
      if (!t) continue;
      // A leaver's last stint ends on the day they left, which is still a day in (docs/metrics.md, "left on day
      // 62 of 91" counts 62 days): the membership runs to the day after. A move's day is already the new team's.
      const validTo = s.to !== null && s.to === p.endDate ? addDays(s.to, 1) : s.to;
      memberships.push({ repId: email, teamId: t.key, regionId: t.regionKey, validFrom: s.from, validTo });
    }
  }
  return { memberships, startDates };
}

const money = (v: Dec | null | undefined): string | null => (v === null || v === undefined ? null : formatMoney(v));
const ratio = (v: Dec | null | undefined): string | null => (v === null || v === undefined ? null : formatRatio(v));
const mm = (m: Maybe<Dec>): string | null => money(m.value);
const mr = (m: Maybe<Dec>): string | null => ratio(m.value);

function figuresOf(m: SubjectMetrics): SubjectFigures {
  const out: SubjectFigures = {
    quota: mm(m.quota),
    actual: money(m.actual),
    closedWonDeals: m.closedWonDeals,
    attainment: mr(m.attainment),
    remaining: mm(m.remaining),
    expectedToDate: mm(m.expectedToDate),
    paceVariance: mm(m.paceVariance),
    paceVariancePct: mr(m.paceVariancePct),
    paceStatus: m.paceStatus.value,
    requiredDailyRunRate: mm(m.requiredDailyRunRate),
    requiredWeeklyRunRate: mm(m.requiredWeeklyRunRate),
    currentRunRate: money(m.currentRunRate),
    projectedTotal: money(m.projectedTotal),
    projectedAttainment: mr(m.projectedAttainment),
    status: m.status.value,
    daysElapsed: m.days.elapsed,
    daysRemaining: m.days.remaining,
    openPipeline: money(m.pipeline.open),
    weightedPipeline: money(m.pipeline.weighted),
    openDeals: m.pipeline.openDeals,
    overdueAmount: money(m.pipeline.overdueAmount),
    coverage: mr(m.pipeline.coverage),
    coverageBand: m.pipeline.coverageBand.value,
    winRate: mr(m.winRate),
    avgDealSize: mm(m.avgDealSize),
    salesCycleDays: mr(m.salesCycleDays),
    velocity: mm(m.velocity),
    activityScore: mr(m.activities.score),
    forecastP10: money(m.forecast.p10),
    forecastP50: money(m.forecast.p50),
    forecastP90: money(m.forecast.p90),
    forecastProbabilityToHitQuota: mr(m.forecast.probabilityToHitQuota),
    commissionAtActual: money(m.commission.atActual.value?.payout ?? null),
    commissionAtProjected: money(m.commission.atProjected.value?.payout ?? null),
    rampFactor: ratio(m.rampFactor),
    tenureAdjustedAttainment: mr(m.tenureAdjustedAttainment),
  };
  for (const [type, n] of Object.entries(m.activities.counts)) out[`activities.${type}`] = n;
  return out;
}

/** Every figure for the org's reps, teams, regions and the whole org, as of `opts.asOf`. */
export function computeFigures(org: OrgModel, records: NeutralRecords, opts: FiguresOptions): Figures {
  const config = validateConfig({ calendar: { timezone: org.timezone, baseCurrency: org.corporateCurrency } });
  const s = engineSettings(config);
  const asOf = opts.asOf;
  const q = quarterOf(asOf);
  const period: Period = { id: q.id, start: q.start, end: q.end };
  const fx = buildFxTable(org.corporateCurrency, records.rates);
  const booked = bookDeals(records.deals, [], s.booking, fx, asOf);
  const { memberships, startDates } = membershipsOf(org);
  const quotaCarriers = new Set(
    org.people.filter((p) => p.role === 'rep' && p.quotaCarrying).map((p) => p.email.toLowerCase()),
  );
  const index = indexMemberships(memberships);

  const repQuotas = new Map<string, Dec>();
  for (const qq of records.quotas) {
    if (qq.start !== period.start) continue;
    const c = convertQuota(
      fx,
      { subjectId: qq.ownerId, periodId: period.id, amount: qq.amount, currency: qq.currency },
      period,
    );
    if (c.amount !== null) repQuotas.set(qq.ownerId, (repQuotas.get(qq.ownerId) ?? new Dec(0)).plus(c.amount));
  }
  const trials = opts.forecastTrials ?? 1000;
  const seed = seedFrom(`${s.forecast.seed}|${period.id}|${asOf}`);
  const common = {
    period,
    asOf,
    pacing: { basis: 'calendar' as const },
    activityTargets: s.activity,
    commission: s.commission,
    forecastTrials: trials,
    // The engine's forecast on the `crm_fallback` basis (docs/metrics.md, "Enough history"): the CRM's
    // probabilities, one seed for every subject of the period, the fallback's shared shock and no new-pipeline term
    // (that term needs the calibrated basis). The oracle learns no history, so it models that basis only.
    forecastSeed: seed,
    forecastShocks: shockTable(seed, trials, FALLBACK_SIGMA),
    runRateWindowDays: s.runRateWindowDays,
    statusBands: s.statusBands,
    coverageBands: s.coverageBands,
    conversionWindow: { start: addDays(asOf, -364), end: asOf },
  };
  const activitiesBy = new Map<string, Activity[]>();
  for (const a of records.activities) {
    const list = activitiesBy.get(a.ownerId) ?? [];
    list.push(a);
    activitiesBy.set(a.ownerId, list);
  }
  const creditsBy = new Map<string, typeof booked.credits>();
  for (const c of booked.credits) {
    const list = creditsBy.get(c.ownerId) ?? [];
    list.push(c);
    creditsBy.set(c.ownerId, list);
  }

  const reps: Record<string, SubjectFigures> = {};
  const attainments: { id: string; value: Dec | null }[] = [];
  for (const email of [...repQuotas.keys()].sort()) {
    const m = computeSubjectMetrics({
      ...common,
      subjectId: email,
      quota: repQuotas.get(email) ?? null,
      credits: creditsBy.get(email) ?? [],
      activities: activitiesBy.get(email) ?? [],
      startDate: startDates.get(email) ?? null,
      ramp: s.ramp,
    });
    reps[email] = figuresOf(m);
    attainments.push({ id: email, value: m.attainment.value });
  }
  // People who left during the period (no membership on the quota date) are never ranked.
  const onQuotaDate = quotaMembershipDate(period, asOf);
  for (const r of rankSubjects(attainments.filter((a) => membershipOn(index, a.id, onQuotaDate) !== null))) {
    const f = reps[r.id];
    if (f) {
      f.rankInOrg = r.rank;
      f.percentileInOrg = ratio(r.percentile);
    }
  }

  // The org rolls up as a team or region does (docs/metrics.md, "People who left"): a leaver's quota prorated, an
  // open deal counted where its owner is on D, activity targets by the headcount on D.
  const group = (level: RollupLevel): Record<string, SubjectFigures> => {
    const groupOf = (m: Membership | null): string | null =>
      m ? (level === 'team' ? m.teamId : level === 'region' ? m.regionId : ORG_ID) : null;
    const { groups } = groupCredits(booked.credits, index, level, asOf);
    const { quotas, unassigned } = groupQuotas(level, repQuotas, index, period, asOf);
    // A leaver's quota counts toward each group they were in, prorated to their days in it over the period's.
    for (const repId of unassigned) {
      const q = repQuotas.get(repId) as Dec;
      for (const id of new Set(memberships.filter((m) => m.repId === repId).map(groupOf))) {
        if (id === null) continue;
        const share = leaverShare(index, repId, level, id, period, quotaMembershipDate(period, asOf));
        if (share) quotas.set(id, (quotas.get(id) ?? new Dec(0)).plus(q.times(share.days).div(share.of)));
      }
    }
    const ids =
      level === 'team' ? org.teams.map((t) => t.key) : level === 'region' ? org.regions.map((r) => r.key) : [ORG_ID];
    const out: Record<string, SubjectFigures> = {};
    // Headcount for the activity targets: quota carriers in the group on the quota membership date.
    const on = quotaMembershipDate(period, asOf);
    for (const id of ids) {
      const members = new Set(memberships.filter((m) => groupOf(m) === id).map((m) => m.repId));
      // An activity counts for the group its owner was in on its date (dated membership, as credits do).
      const acts = [...members].flatMap((e) =>
        (activitiesBy.get(e) ?? []).filter((a) => groupOf(membershipOn(index, e, a.date)) === id),
      );
      const headcount = [...members].filter(
        (e) => quotaCarriers.has(e) && groupOf(membershipOn(index, e, on)) === id,
      ).length;
      const targets = Object.fromEntries(
        Object.entries(s.activity.targets).map(([k, v]) => [k, new Dec(v ?? 0).times(Math.max(headcount, 1))]),
      );
      out[id] = figuresOf(
        computeSubjectMetrics({
          ...common,
          subjectId: id,
          quota: quotas.get(id) ?? null,
          credits: groups.get(id) ?? [],
          activities: acts,
          activityTargets: { ...s.activity, targets },
        }),
      );
    }
    return out;
  };
  return {
    asOf,
    period,
    reps,
    teams: group('team'),
    regions: group('region'),
    org: group('org')[ORG_ID] as SubjectFigures,
    stageConversion: stageConversion(records.stageHistory, NEUTRAL_STAGES).map((x) => ({
      stage: x.stage,
      entered: x.entered,
      advanced: x.advanced,
      rate: ratio(x.rate.value),
    })),
    leadConversion: leadToOpportunity(records.leads, asOf).map((c) => ({
      month: c.month,
      created: c.created,
      converted: c.converted,
      rate: formatRatio(c.rate),
    })),
  };
}

/**
 * Merges the records of several CRMs (one org split across them), in the order of their connections: a person's
 * quotas for a period come from the first part holding any (the default of `quotas.preferConnection`), never the
 * sum of two CRMs'.
 */
export function mergeRecords(parts: readonly NeutralRecords[]): NeutralRecords {
  const quotaFrom = new Map<string, number>();
  parts.forEach((p, i) => {
    for (const q of p.quotas)
      if (!quotaFrom.has(`${q.ownerId}|${q.start}`)) quotaFrom.set(`${q.ownerId}|${q.start}`, i);
  });
  const seenRates = new Set<string>();
  const rates: FxRate[] = [];
  for (const p of parts) {
    for (const r of p.rates) {
      const k = `${r.currency}|${r.validFrom}`;
      if (seenRates.has(k)) continue;
      seenRates.add(k);
      rates.push(r);
    }
  }
  return {
    deals: parts.flatMap((p) => p.deals),
    stageHistory: parts.flatMap((p) => p.stageHistory),
    quotas: parts.flatMap((p, i) => p.quotas.filter((q) => quotaFrom.get(`${q.ownerId}|${q.start}`) === i)),
    rates,
    activities: parts.flatMap((p) => p.activities),
    leads: parts.flatMap((p) => p.leads),
  };
}
