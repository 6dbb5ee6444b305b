/**
 * Core attainment of one subject (rep, team, region or org) for one period as of D: actual, attainment, remaining,
 * expected to date, pace, run rates, projection and status band. Exact decimals throughout; nothing is rounded
 * here, least of all the run rate before it is projected.
 */
import type { PlainDate } from '../../util/date.ts';
import { Dec, ZERO } from '../../util/money.ts';
import type { Credit } from './booking.ts';
import {
  DEFAULT_STATUS_BANDS,
  type Maybe,
  none,
  type Period,
  type StatusBand,
  type StatusBands,
  some,
} from './types.ts';
import { inWindow, type PeriodDays, periodDays, toDateWindow, trailingDays } from './windows.ts';

export interface AttainmentInput {
  period: Period;
  asOf: PlainDate;
  /** The subject's quota in base currency; null when it has none. */
  quota: Dec | null;
  /** The subject's credits (any period; this function picks by close date). */
  credits: readonly Credit[];
  /** Elapsed fraction from `pacing.ts`. */
  f: Dec;
  /** Trailing window of the current run rate, 30 days by default. */
  runRateWindowDays?: number;
  statusBands?: StatusBands;
}

export interface AttainmentFigures {
  days: PeriodDays;
  quota: Maybe<Dec>;
  actual: Dec;
  /** The won credits summed into `actual`. */
  actualCredits: Credit[];
  attainment: Maybe<Dec>;
  remaining: Maybe<Dec>;
  expectedToDate: Maybe<Dec>;
  paceVariance: Maybe<Dec>;
  /** `(A - E) / E` as a ratio. */
  paceVariancePct: Maybe<Dec>;
  paceStatus: Maybe<'ahead' | 'behind'>;
  /** `A / E`, the pace index the pace_deterioration rule watches. */
  paceIndex: Maybe<Dec>;
  requiredDailyRunRate: Maybe<Dec>;
  requiredWeeklyRunRate: Maybe<Dec>;
  runRateWindowDays: number;
  currentRunRate: Dec;
  runRateCredits: Credit[];
  projectedTotal: Dec;
  projectedAttainment: Maybe<Dec>;
  status: Maybe<StatusBand>;
}

/** Sum of credited amounts. */
export function sumCredits(credits: readonly Credit[]): Dec {
  let total = ZERO;
  for (const c of credits) total = total.plus(c.amount);
  return total;
}

/** Won credits closed in the inclusive window. */
export function wonIn(credits: readonly Credit[], w: { start: PlainDate; end: PlainDate }): Credit[] {
  return credits.filter((c) => c.category === 'won' && inWindow(c.deal.closeDate, w));
}

/** The status band of a projected attainment: `>= 100%` on_track, ..., `< 70%` major_gap. */
export function statusBand(projectedAttainment: Dec, bands: StatusBands = DEFAULT_STATUS_BANDS): StatusBand {
  if (projectedAttainment.gte(bands.on_track)) return 'on_track';
  if (projectedAttainment.gte(bands.likely_to_hit)) return 'likely_to_hit';
  if (projectedAttainment.gte(bands.at_risk)) return 'at_risk';
  if (projectedAttainment.gte(bands.likely_miss)) return 'likely_miss';
  if (projectedAttainment.gte(bands.significant_gap)) return 'significant_gap';
  return 'major_gap';
}

/** Every core attainment figure of the definitions for one subject-period as of D. */
export function computeAttainment(input: AttainmentInput): AttainmentFigures {
  const actualCredits = wonIn(input.credits, toDateWindow(input.period, input.asOf));
  const runRateCredits = wonIn(input.credits, trailingDays(input.asOf, input.runRateWindowDays ?? 30));
  return attainmentFromSums(
    input,
    actualCredits,
    sumCredits(actualCredits),
    runRateCredits,
    sumCredits(runRateCredits),
  );
}

/**
 * The attainment figures from the won credits of the period to date and of the run-rate window with their sums
 * (a group passes its members' sums added up; the `credits` of the input are not read).
 */
export function attainmentFromSums(
  input: Omit<AttainmentInput, 'credits'>,
  actualCredits: Credit[],
  A: Dec,
  runRateCredits: Credit[],
  runRateSum: Dec,
): AttainmentFigures {
  const { period, asOf, f } = input;
  const days = periodDays(period, asOf);
  const runRateWindowDays = input.runRateWindowDays ?? 30;
  const currentRunRate = runRateSum.div(runRateWindowDays);
  const projectedTotal = A.plus(currentRunRate.times(days.remaining));
  const Q = input.quota;

  const common = { days, actual: A, actualCredits, runRateWindowDays, currentRunRate, runRateCredits, projectedTotal };
  if (Q === null || Q.isZero()) {
    const noQuota = none<never>('no_quota');
    return {
      ...common,
      quota: Q === null ? noQuota : some(Q),
      attainment: noQuota,
      remaining: noQuota,
      expectedToDate: noQuota,
      paceVariance: noQuota,
      paceVariancePct: noQuota,
      paceStatus: noQuota,
      paceIndex: noQuota,
      requiredDailyRunRate: noQuota,
      requiredWeeklyRunRate: noQuota,
      projectedAttainment: noQuota,
      status: noQuota,
    };
  }
  const remaining = Dec.max(Q.minus(A), 0);
  const E = Q.times(f);
  const variance = A.minus(E);
  const required = days.remaining === 0 ? null : remaining.div(days.remaining);
  const projectedAttainment = projectedTotal.div(Q);
  return {
    ...common,
    quota: some(Q),
    attainment: some(A.div(Q)),
    remaining: some(remaining),
    expectedToDate: some(E),
    paceVariance: some(variance),
    paceVariancePct: E.isZero() ? none('not_started') : some(variance.div(E)),
    paceStatus: some(A.gte(E) ? 'ahead' : 'behind'),
    paceIndex: E.isZero() ? none('not_started') : some(A.div(E)),
    requiredDailyRunRate: required === null ? none('no_days_left') : some(required),
    requiredWeeklyRunRate: required === null ? none('no_days_left') : some(required.times(7)),
    projectedAttainment: some(projectedAttainment),
    status: some(statusBand(projectedAttainment, input.statusBands)),
  };
}
