/**
 * Attainment history over past periods, period-over-period changes (QoQ on a quarterly series, MoM on a monthly
 * one, YoY as a lag of 4 quarters or 12 months) and the trend slope: the mean period-over-period change in
 * percentage points, `flat` when its size is under 2 points.
 */
import { Dec, type DecimalInput } from '../../util/money.ts';
import type { Maybe } from './types.ts';
import { none, some } from './types.ts';

export interface HistoryInput {
  periodId: string;
  quota: Dec | null;
  actual: Dec;
}

export interface HistoryPoint extends HistoryInput {
  attainment: Maybe<Dec>;
}

/** Attainment per period, in the order given (oldest first). */
export function attainmentHistory(series: readonly HistoryInput[]): HistoryPoint[] {
  return series.map((p) => ({
    ...p,
    attainment: p.quota === null || p.quota.isZero() ? none('no_quota') : some(p.actual.div(p.quota)),
  }));
}

export interface PeriodChange {
  from: string;
  to: string;
  /** Change in attainment, in percentage points. */
  attainmentPoints: Maybe<Dec>;
  /** Growth of actual, as a ratio (0.24 = +24%). */
  actualGrowth: Maybe<Dec>;
}

/** The last period against the one `lag` periods earlier (lag 1 = QoQ / MoM; 4 quarters or 12 months = YoY). */
export function changeOverLag(points: readonly HistoryPoint[], lag: number): PeriodChange | null {
  const to = points[points.length - 1];
  const from = points[points.length - 1 - lag];
  if (!to || !from || lag < 1) return null;
  return {
    from: from.periodId,
    to: to.periodId,
    attainmentPoints:
      from.attainment.value === null || to.attainment.value === null
        ? none('no_quota')
        : some(to.attainment.value.minus(from.attainment.value).times(100)),
    actualGrowth: from.actual.isZero() ? none('no_prior_actual') : some(to.actual.minus(from.actual).div(from.actual)),
  };
}

export interface Trend {
  /** Mean change between consecutive periods with an attainment, in points per period. */
  slopePoints: Maybe<Dec>;
  direction: 'improving' | 'declining' | 'flat' | null;
}

export function trend(points: readonly HistoryPoint[], flatUnderPoints: DecimalInput = 2): Trend {
  let total = new Dec(0);
  let steps = 0;
  for (let i = 1; i < points.length; i++) {
    const a = (points[i - 1] as HistoryPoint).attainment.value;
    const b = (points[i] as HistoryPoint).attainment.value;
    if (a === null || b === null) continue;
    total = total.plus(b.minus(a).times(100));
    steps++;
  }
  if (steps === 0) return { slopePoints: none('too_few_periods'), direction: null };
  const slope = total.div(steps);
  const direction = slope.abs().lt(flatUnderPoints) ? 'flat' : slope.gt(0) ? 'improving' : 'declining';
  return { slopePoints: some(slope), direction };
}
