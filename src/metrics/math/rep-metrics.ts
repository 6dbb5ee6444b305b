/**
 * One function computing every figure of the interface's `report rep` object for one subject and period from plain
 * inputs. It is subject-agnostic: give it a rep's credits (overlays included) for a rep, or a team's grouped credits
 * (from `rollup.ts`, overlays excluded) and the team's quota for a team; the ratios then come from the team's own sums.
 *
 * Ranks and alerts are not here: ranks compare subjects (`ranking.ts`) and alerts need the previous state and
 * snapshots (`alerts.ts`); the engine fills them around this.
 */
import type { PlainDate } from '../../util/date.ts';
import type { Dec } from '../../util/money.ts';
import { type ActivityFigures, activityDrop, computeActivity } from './activity.ts';
import { rampFactor, tenureAdjustedAttainment, territoryAdjustedAttainment } from './adjustments.ts';
import type { AlertInputs } from './alerts.ts';
import { type AttainmentFigures, computeAttainment } from './attainment.ts';
import type { Credit } from './booking.ts';
import { type CommissionResult, commissionFor, type NextTier, nextTier } from './commission.ts';
import { type ConversionFigures, computeConversion, trailingComparison, velocity } from './conversion.ts';
import { type ForecastResult, simulateForecast } from './forecast.ts';
import { attainmentHistory, type HistoryInput, type HistoryPoint, type Trend, trend } from './history.ts';
import { type ElapsedFraction, elapsedFraction, type LikePeriodBookings, type PacingBasis } from './pacing.ts';
import { type CoverageBands, computePipeline, type PipelineFigures } from './pipeline.ts';
import type { Activity, ActivityTargets, CommissionPlan, Maybe, Period, RampSchedule, StatusBands } from './types.ts';
import { type DateWindow, trailingMonths } from './windows.ts';

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
  forecastTrials?: number;
  /** Defaults to a hash of subject, period and D, so reruns repeat exactly. */
  forecastSeed?: number;
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
  forecast: ForecastResult;
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

/** FNV-1a, 32 bits: a stable seed from a string. */
export function seedFrom(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function computeSubjectMetrics(input: SubjectMetricsInput): SubjectMetrics {
  const { period, asOf } = input;
  const pacing = elapsedFraction({ ...input.pacing, period, asOf });
  const att = computeAttainment({
    period,
    asOf,
    quota: input.quota,
    credits: input.credits,
    f: pacing.f,
    runRateWindowDays: input.runRateWindowDays,
    statusBands: input.statusBands,
  });
  const pipeline = computePipeline(input.credits, period, asOf, att.remaining, input.coverageBands);
  const conversion = computeConversion(input.credits, input.conversionWindow ?? trailingMonths(asOf, 12));
  const activities = computeActivity(input.activities, asOf, input.activityTargets);

  const probs = input.forecastProbabilities;
  const forecast = simulateForecast({
    actual: att.actual,
    quota: att.quota.value,
    deals: pipeline.openCredits.map((c) => {
      const p = probs?.get(c.deal.id);
      return {
        // A subject may hold two credits of one deal (a split and an overlay); keep both, distinctly named.
        id: `${c.deal.id}#${c.ownerId}#${c.overlay ? 'overlay' : 'revenue'}`,
        amount: c.amount,
        pWin: p ? p.pWin : (c.deal.probability?.toNumber() ?? 0),
        pInPeriod: p ? p.pInPeriod : 1,
      };
    }),
    trials: input.forecastTrials,
    seed: input.forecastSeed ?? seedFrom(`${input.subjectId}|${period.id}|${asOf}`),
  });

  const Q = att.quota.value;
  const history = attainmentHistory([...(input.history ?? []), { periodId: period.id, quota: Q, actual: att.actual }]);
  const ramp = rampFactor(input.startDate ?? null, period, input.ramp);
  return {
    ...att,
    subjectId: input.subjectId,
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
    activityDrop: activityDrop(input.activities, asOf),
    trailing90: trailingComparison(input.credits, asOf, 90),
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

/** The alert rules' inputs from a subject's metrics; the pace index of 7 days earlier comes from its snapshot. */
export function alertInputsFrom(m: SubjectMetrics, paceIndexWeekAgo: Maybe<Dec>): AlertInputs {
  return {
    projectedAttainment: m.projectedAttainment,
    paceIndexNow: m.paceIndex,
    paceIndexWeekAgo,
    activityScore: m.activities.score,
    activityDrop: m.activityDrop,
    coverage: m.pipeline.coverage,
    daysRemaining: m.days.remaining,
    winRateRecent: m.trailing90.recent.winRate,
    winRatePrior: m.trailing90.prior.winRate,
    cycleRecent: m.trailing90.recent.salesCycleDays,
    cyclePrior: m.trailing90.prior.salesCycleDays,
    nextTier: m.nextTierAboveProjection,
    weightedPipeline: m.pipeline.weighted,
  };
}
