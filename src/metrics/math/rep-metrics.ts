/**
 * One function computing every figure of the interface's `report rep` object for one subject and period from plain
 * inputs. It is subject-agnostic: give it a rep's credits (overlays included) for a rep, or a team's grouped credits
 * (from `rollup.ts`, overlays excluded) and the team's quota for a team; the ratios then come from the team's own sums.
 *
 * Ranks and alerts are not here: ranks compare subjects (`ranking.ts`) and alerts need the previous state and
 * snapshots (`alerts.ts`); the engine fills them around this.
 */
import { AppError } from '../../errors.ts';
import type { PlainDate } from '../../util/date.ts';
import { Dec, ZERO } from '../../util/money.ts';
import {
  ACTIVITY_TYPES,
  type ActivityCounts,
  type ActivityFigures,
  activityDropCounts,
  activityDropFrom,
  activityFromCounts,
  countActivities,
} from './activity.ts';
import { rampFactor, tenureAdjustedAttainment, territoryAdjustedAttainment } from './adjustments.ts';
import { type AttainmentFigures, attainmentFromSums, sumCredits, wonIn } from './attainment.ts';
import type { Credit } from './booking.ts';
import type { CalibrationBasis } from './calibration.ts';
import { type CommissionResult, commissionFor, type NextTier, nextTier } from './commission.ts';
import {
  type ConversionFigures,
  type ConversionPartial,
  conversionFromPartial,
  conversionPartial,
  mergeConversionPartials,
  velocity,
} from './conversion.ts';
import {
  addNewPipelineTrials,
  dealStreamSeed,
  type ForecastDeal,
  type ForecastResult,
  forecastFromTotals,
  trialTotals,
} from './forecast.ts';
import { attainmentHistory, type HistoryInput, type HistoryPoint, type Trend, trend } from './history.ts';
import { type ElapsedFraction, elapsedFraction, type LikePeriodBookings, type PacingBasis } from './pacing.ts';
import {
  type CoverageBands,
  mergePipelinePartials,
  type PipelineFigures,
  type PipelinePartial,
  pipelineFromPartial,
  pipelinePartial,
} from './pipeline.ts';
import type {
  Activity,
  ActivityTargets,
  CommissionPlan,
  Deal,
  Maybe,
  Period,
  RampSchedule,
  StatusBands,
} from './types.ts';
import { type DateWindow, priorWindow, toDateWindow, trailingDays, trailingMonths } from './windows.ts';

export interface SubjectMetricsInput {
  subjectId: string;
  period: Period;
  asOf: PlainDate;
  /** Quota in base currency, or null. */
  quota: Dec | null;
  credits: readonly Credit[];
  activities: readonly Activity[];
  pacing: { basis: PacingBasis; holidays?: readonly PlainDate[]; history?: readonly LikePeriodBookings[] };
  activityTargets: ActivityTargets;
  commission: CommissionPlan;
  /** Calibrated per-deal probabilities by deal id; a deal not listed uses its CRM probability and pInPeriod 1. */
  forecastProbabilities?: ReadonlyMap<string, { pWin: number; pInPeriod: number }>;
  /** A deal's calibrated probability to be won inside the period (wins over `forecastProbabilities`). */
  forecastDealProbability?: (deal: Deal) => number;
  forecastTrials?: number;
  /** Defaults to a hash of subject, period and D, so reruns repeat exactly. */
  forecastSeed?: number;
  /** The shared period shock of each trial (`shockTable`); none: deals are independent. */
  forecastShocks?: Float64Array;
  /** The rep's pipeline not created yet: a compound Poisson drawn from its own stream (`streamKey`). */
  forecastNewPipeline?: NewPipelineInput | null;
  /** Where the forecast's probabilities came from; none: the CRM's, uncalibrated. */
  forecastCalibration?: ForecastCalibrationInfo;
  /** Window of win rate, deal size and cycle; default the trailing 12 months ending on D. */
  conversionWindow?: DateWindow;
  runRateWindowDays?: number;
  statusBands?: StatusBands;
  coverageBands?: CoverageBands;
  /** Past periods, oldest first (the current one is appended from this computation). */
  history?: readonly HistoryInput[];
  startDate?: PlainDate | null;
  ramp?: RampSchedule;
  territoryIndex?: Dec | null;
}

export interface SubjectMetrics extends AttainmentFigures {
  subjectId: string;
  /** Distinct deals among `actualCredits`. */
  closedWonDeals: number;
  period: Period;
  asOf: PlainDate;
  pacing: ElapsedFraction;
  pipeline: PipelineFigures;
  conversion: ConversionFigures;
  winRate: Maybe<Dec>;
  avgDealSize: Maybe<Dec>;
  salesCycleDays: Maybe<Dec>;
  velocity: Maybe<Dec>;
  activities: ActivityFigures;
  /** Last 14 days against the prior 28, for the activity_drop rule. */
  activityDrop: Maybe<Dec>;
  /** Trailing 90 days against the 90 before, for conversion_decline and velocity_slowdown. */
  trailing90: { recent: ConversionFigures; prior: ConversionFigures };
  forecast: ForecastResult & { calibration: ForecastCalibrationInfo };
  commission: {
    atActual: Maybe<CommissionResult>;
    atProjected: Maybe<CommissionResult>;
    atP50: Maybe<CommissionResult>;
    nextTier: Maybe<NextTier>;
  };
  /** The tier above the projection and the bookings still needed from actual to reach it (accelerator rule). */
  nextTierAboveProjection: { from: Dec; bookingsToReach: Dec } | null;
  history: HistoryPoint[];
  trend: Trend;
  rampFactor: Dec;
  tenureAdjustedAttainment: Maybe<Dec>;
  territoryAdjustedAttainment: Maybe<Dec>;
}

export interface NewPipelineInput {
  streamKey: string;
  lambda: number;
  /** Amounts (base currency, integer cents) the term draws from. */
  cents: readonly number[];
}

/** The basis of a forecast, shown beside every one (docs/metrics.md, "Enough history"). */
export interface ForecastCalibrationInfo {
  basis: CalibrationBasis;
  /** Ended periods the calibration learned from. */
  periods: number;
  wins: number;
  losses: number;
  sigma: number;
  /** From the last stored backtest: periods it scored and the share of outcomes at or above their P10. */
  backtest: { asOf: PlainDate; periods: number; p10Held: Dec | null } | null;
}

export const UNCALIBRATED: ForecastCalibrationInfo = {
  basis: 'crm_fallback',
  periods: 0,
  wins: 0,
  losses: 0,
  sigma: 0,
  backtest: null,
};

/** FNV-1a, 32 bits: a stable seed from a string. */
export function seedFrom(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Everything a subject's figures need from its credits and activities that adds up across reps: sums, counts,
 * credit lists and each forecast trial's won cents. A group's partial is its members' partials merged
 * (`mergeSubjectPartials`), so a group is rebuilt from ~members partials, never from all its credits.
 */
export interface SubjectPartial {
  actualCredits: Credit[];
  actual: Dec;
  /** The distinct deals of `actualCredits`: sole credits counted, shared ones by id. */
  soleWonDeals: number;
  sharedWonDeals: Set<string>;
  runRateCredits: Credit[];
  runRateSum: Dec;
  pipeline: PipelinePartial;
  conversion: ConversionPartial;
  recent90: ConversionPartial;
  prior90: ConversionPartial;
  activityCounts: ActivityCounts;
  dropRecent: number;
  dropPrior: number;
  /** Won cents of the open pipeline in each forecast trial (the actual not included). */
  trials: Float64Array;
  /** A merge's money sums, unrounded (`EXACT_SUMS` order), for updating it by difference. */
  exactSums?: Dec[];
}

/**
 * Unrounded decimals for a group's money sums: added without rounding, a sum updated by difference (minus the old
 * partial, plus the new) equals the sum from scratch digit for digit, in any order. The figures round from there.
 */
const Exact = Dec.clone({ precision: 1e9 });

type SumField = readonly [get: (p: SubjectPartial) => Dec, set: (p: SubjectPartial, v: Dec) => void];

/** One money sum of a partial: the object holding it (the partial or one of its parts) and its key there. */
function sumField<K extends string>(holder: (p: SubjectPartial) => Record<K, Dec>, key: K): SumField {
  return [
    (p) => holder(p)[key],
    (p, v) => {
      holder(p)[key] = v;
    },
  ];
}

const EXACT_SUMS: readonly SumField[] = [
  sumField((p) => p, 'actual'),
  sumField((p) => p, 'runRateSum'),
  sumField((p) => p.pipeline, 'open'),
  sumField((p) => p.pipeline, 'weighted'),
  sumField((p) => p.pipeline, 'overdueAmount'),
  sumField((p) => p.conversion, 'wonAmount'),
  sumField((p) => p.conversion, 'lostAmount'),
  sumField((p) => p.recent90, 'wonAmount'),
  sumField((p) => p.recent90, 'lostAmount'),
  sumField((p) => p.prior90, 'wonAmount'),
  sumField((p) => p.prior90, 'lostAmount'),
];

/** The inputs of `computeSubjectMetrics` that are the same for every subject of a period as of D. */
export type PartialInput = Pick<
  SubjectMetricsInput,
  | 'period'
  | 'asOf'
  | 'credits'
  | 'activities'
  | 'activityTargets'
  | 'forecastProbabilities'
  | 'forecastDealProbability'
  | 'forecastTrials'
  | 'forecastSeed'
  | 'forecastShocks'
  | 'forecastNewPipeline'
  | 'conversionWindow'
  | 'runRateWindowDays'
  | 'subjectId'
>;

/** The forecast deal of a credit; a deal's stream is keyed by its id alone, so split credits draw alike. */
function forecastDealOf(
  c: Credit,
  probs: SubjectMetricsInput['forecastProbabilities'],
  learned: SubjectMetricsInput['forecastDealProbability'],
): ForecastDeal {
  if (learned) return { id: c.deal.id, amount: c.amount, pWin: learned(c.deal), pInPeriod: 1 };
  const p = probs?.get(c.deal.id);
  return {
    id: c.deal.id,
    amount: c.amount,
    pWin: p ? p.pWin : (c.deal.probability?.toNumber() ?? 0),
    pInPeriod: p ? p.pInPeriod : 1,
  };
}

function seedOf(input: Pick<SubjectMetricsInput, 'forecastSeed' | 'subjectId' | 'period' | 'asOf'>): number {
  return input.forecastSeed ?? seedFrom(`${input.subjectId}|${input.period.id}|${input.asOf}`);
}

/**
 * A subject's partial from its credits and activities. `trialsOf` may supply the trial totals of an open pipeline
 * (a cache shared by a rep's team, region and org partials); by default they are simulated.
 */
export function subjectPartial(
  input: PartialInput,
  trialsOf?: (openCredits: readonly Credit[], simulate: () => Float64Array) => Float64Array,
): SubjectPartial {
  const { period, asOf, credits } = input;
  const actualCredits = wonIn(credits, toDateWindow(period, asOf));
  const runRateCredits = wonIn(credits, trailingDays(asOf, input.runRateWindowDays ?? 30));
  const pipeline = pipelinePartial(credits, period, asOf);
  const recent = trailingDays(asOf, 90);
  const drop = activityDropCounts(input.activities, asOf);
  const simulate = () => {
    const seed = seedOf(input);
    const totals = trialTotals(
      pipeline.openCredits.map((c) => forecastDealOf(c, input.forecastProbabilities, input.forecastDealProbability)),
      input.forecastTrials ?? 10_000,
      seed,
      input.forecastShocks,
    );
    const n = input.forecastNewPipeline;
    if (n) addNewPipelineTrials(totals, dealStreamSeed(seed, `new:${n.streamKey}`), n.lambda, n.cents);
    return totals;
  };
  let soleWonDeals = 0;
  const sharedWonDeals = new Set<string>();
  for (const c of actualCredits) {
    if (c.sole === true) soleWonDeals++;
    else sharedWonDeals.add(c.deal.id);
  }
  return {
    actualCredits,
    actual: sumCredits(actualCredits),
    soleWonDeals,
    sharedWonDeals,
    runRateCredits,
    runRateSum: sumCredits(runRateCredits),
    pipeline,
    conversion: conversionPartial(credits, input.conversionWindow ?? trailingMonths(asOf, 12)),
    recent90: conversionPartial(credits, recent),
    prior90: conversionPartial(credits, priorWindow(recent)),
    activityCounts: countActivities(input.activities, trailingDays(asOf, input.activityTargets.windowDays)),
    dropRecent: drop.recent,
    dropPrior: drop.prior,
    trials: trialsOf ? trialsOf(pipeline.openCredits, simulate) : simulate(),
  };
}

/**
 * A group's partial: its members' partials merged in the order given (sums in that order, so reruns repeat).
 * With `previous` (the last merge of this group and the member partials it was made from), only what changed is
 * redone where order cannot matter: the trial totals and the money sums are updated by difference (exact either
 * way). The credit lists are concatenated only when read. The result equals a merge from scratch.
 */
export function mergeSubjectPartials(
  parts: readonly SubjectPartial[],
  trials: number,
  previous?: { parts: readonly SubjectPartial[]; merged: SubjectPartial },
): SubjectPartial {
  let delta: { removed: SubjectPartial[]; added: SubjectPartial[] } | null = null;
  if (previous && previous.merged.trials.length === trials) {
    const now = new Set(parts);
    const before = new Set(previous.parts);
    const removed = previous.parts.filter((p) => !now.has(p));
    const added = parts.filter((p) => !before.has(p));
    // Past a few changed members a rebuild is as cheap and simpler.
    if (removed.length + added.length <= Math.max(8, parts.length / 8)) delta = { removed, added };
  }
  let totals: Float64Array;
  let exact: Dec[];
  const prevExact = previous?.merged.exactSums;
  if (delta && previous && prevExact) {
    totals = previous.merged.trials.slice();
    for (const p of delta.removed) addTrials(totals, p.trials, -1);
    for (const p of delta.added) addTrials(totals, p.trials, 1);
    exact = EXACT_SUMS.map(([get], i) => {
      let v = prevExact[i] as Dec;
      for (const p of delta.removed) v = v.minus(get(p));
      for (const p of delta.added) v = v.plus(get(p));
      return v;
    });
  } else {
    totals = new Float64Array(trials);
    for (const p of parts) addTrials(totals, p.trials, 1);
    exact = EXACT_SUMS.map(([get]) => {
      let v: Dec = new Exact(0);
      for (const p of parts) v = v.plus(get(p));
      return v;
    });
  }
  const actualCredits: Credit[] = [];
  const runRateCredits: Credit[] = [];
  const activityCounts: ActivityCounts = { call: 0, meeting: 0, email: 0, task: 0, proposal: 0, other: 0 };
  let dropRecent = 0;
  let dropPrior = 0;
  let soleWonDeals = 0;
  const sharedWonDeals = new Set<string>();
  for (const p of parts) {
    soleWonDeals += p.soleWonDeals;
    for (const id of p.sharedWonDeals) sharedWonDeals.add(id);
    for (const c of p.actualCredits) actualCredits.push(c);
    for (const c of p.runRateCredits) runRateCredits.push(c);
    for (const k of ACTIVITY_TYPES) activityCounts[k] += p.activityCounts[k];
    dropRecent += p.dropRecent;
    dropPrior += p.dropPrior;
  }
  const merged: SubjectPartial = {
    actualCredits,
    actual: ZERO,
    soleWonDeals,
    sharedWonDeals,
    runRateCredits,
    runRateSum: ZERO,
    pipeline: mergePipelinePartials(
      parts.map((p) => p.pipeline),
      false,
    ),
    conversion: mergeConversionPartials(
      parts.map((p) => p.conversion),
      false,
    ),
    recent90: mergeConversionPartials(
      parts.map((p) => p.recent90),
      false,
    ),
    prior90: mergeConversionPartials(
      parts.map((p) => p.prior90),
      false,
    ),
    activityCounts,
    dropRecent,
    dropPrior,
    trials: totals,
    exactSums: exact,
  };
  // The figures take the exact sums as ordinary decimals (all their digits kept; later arithmetic rounds).
  EXACT_SUMS.forEach(([, set], i) => {
    set(merged, new Dec(exact[i] as Dec));
  });
  return merged;
}

/** Adds (sign 1) or takes away (sign -1) a member's trial totals; integer cents in float64, so exact either way. */
function addTrials(totals: Float64Array, member: Float64Array, sign: 1 | -1): void {
  const n = totals.length;
  if (member.length !== n)
    throw new AppError('INTERNAL', `a member's forecast has ${member.length} trials, the group ${n}`);
  if (sign === 1) for (let t = 0; t < n; t++) totals[t] = (totals[t] as number) + (member[t] as number);
  else for (let t = 0; t < n; t++) totals[t] = (totals[t] as number) - (member[t] as number);
}

export function computeSubjectMetrics(input: SubjectMetricsInput): SubjectMetrics {
  return subjectMetricsFromPartial(input, subjectPartial(input));
}

/** Every figure of a subject from its (own or merged) partial; the `credits` and `activities` are not read. */
export function subjectMetricsFromPartial(
  input: Omit<SubjectMetricsInput, 'credits' | 'activities'>,
  part: SubjectPartial,
): SubjectMetrics {
  const { period, asOf } = input;
  const pacing = elapsedFraction({ ...input.pacing, period, asOf });
  const att = attainmentFromSums(
    {
      period,
      asOf,
      quota: input.quota,
      f: pacing.f,
      runRateWindowDays: input.runRateWindowDays,
      statusBands: input.statusBands,
    },
    part.actualCredits,
    part.actual,
    part.runRateCredits,
    part.runRateSum,
  );
  const pipeline = pipelineFromPartial(part.pipeline, att.remaining, input.coverageBands);
  const conversion = conversionFromPartial(part.conversion);
  const activities = activityFromCounts(part.activityCounts, asOf, input.activityTargets);
  const forecast = {
    ...forecastFromTotals(att.actual, att.quota.value, part.trials, seedOf(input)),
    calibration: input.forecastCalibration ?? UNCALIBRATED,
  };

  const Q = att.quota.value;
  const history = attainmentHistory([...(input.history ?? []), { periodId: period.id, quota: Q, actual: att.actual }]);
  const ramp = rampFactor(input.startDate ?? null, period, input.ramp);
  return {
    ...att,
    subjectId: input.subjectId,
    closedWonDeals: part.soleWonDeals + part.sharedWonDeals.size,
    period,
    asOf,
    pacing,
    pipeline,
    conversion,
    winRate: conversion.winRate,
    avgDealSize: conversion.avgDealSize,
    salesCycleDays: conversion.salesCycleDays,
    velocity: velocity(pipeline.openDeals, conversion),
    activities,
    activityDrop: activityDropFrom(part.dropRecent, part.dropPrior),
    trailing90: { recent: conversionFromPartial(part.recent90), prior: conversionFromPartial(part.prior90) },
    forecast,
    commission: {
      atActual: commissionFor(att.actual, Q, input.commission),
      atProjected: commissionFor(att.projectedTotal, Q, input.commission),
      atP50: commissionFor(forecast.p50, Q, input.commission),
      nextTier: nextTier(att.actual, Q, input.commission),
    },
    nextTierAboveProjection: nextTierAbove(att.projectedTotal, att.actual, Q, input.commission),
    history,
    trend: trend(history),
    rampFactor: ramp,
    tenureAdjustedAttainment: tenureAdjustedAttainment(att.actual, Q, ramp),
    territoryAdjustedAttainment: territoryAdjustedAttainment(att.attainment, input.territoryIndex ?? null),
  };
}

function nextTierAbove(
  projected: Dec,
  actual: Dec,
  quota: Dec | null,
  plan: CommissionPlan,
): { from: Dec; bookingsToReach: Dec } | null {
  const t = nextTier(projected, quota, plan).value;
  return t === null ? null : { from: t.from, bookingsToReach: t.threshold.minus(actual) };
}
