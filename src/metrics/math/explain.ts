/**
 * Explanations: every figure can show its working, the formula with the numbers filled in, and the deals (ids,
 * names, amounts, dates) in each sum, so "why is my attainment 87%?" has an answer. Numbers in the working are
 * formatted as reports show them (money to cents, ratios to 4 places); the values themselves stay exact.
 */
import type { PlainDate } from '../../util/date.ts';
import { type Dec, formatMoney, formatRatio, ZERO } from '../../util/money.ts';
import type { ActivityFigures } from './activity.ts';
import type { AttainmentFigures } from './attainment.ts';
import type { Credit } from './booking.ts';
import type { CommissionResult } from './commission.ts';
import type { ConversionFigures } from './conversion.ts';
import type { ForecastResult } from './forecast.ts';
import type { ElapsedFraction } from './pacing.ts';
import type { PipelineFigures } from './pipeline.ts';
import type { Maybe } from './types.ts';

export interface DealLine {
  id: string;
  name: string;
  /** Credited amount in base currency. */
  amount: Dec;
  nativeAmount: Dec | null;
  currency: string;
  /** Share credited (1 without splits). */
  share: Dec;
  closeDate: PlainDate;
  createdDate: PlainDate;
  ownerId: string;
  stage: string;
}

export interface Explanation {
  figure: string;
  formula: string;
  /** The formula with the numbers filled in, or the reason the figure is missing. */
  working: string;
  value: Dec | null;
  reason: string | null;
  sums: ExplainedSum[];
}

/**
 * Which part of a report a sum's deals feed: the deal table of `--explain` has a column per use, and each figure
 * names its sums' deals by id.
 */
export type DealUse = 'actual' | 'runRate' | 'pipeline' | 'overdue' | 'won' | 'lost' | 'forecast';

export interface ExplainedSum {
  label: string;
  use: DealUse;
  total: Dec;
  deals: DealLine[];
}

export function dealLines(credits: readonly Credit[]): DealLine[] {
  return credits
    .map((c) => ({
      id: c.deal.id,
      name: c.deal.name,
      amount: c.amount,
      nativeAmount: c.deal.amount,
      currency: c.deal.currency,
      share: c.share,
      closeDate: c.deal.closeDate,
      createdDate: c.deal.createdDate,
      ownerId: c.ownerId,
      stage: c.deal.stage,
    }))
    .sort((a, b) => (a.closeDate !== b.closeDate ? (a.closeDate < b.closeDate ? -1 : 1) : a.id < b.id ? -1 : 1));
}

const m = formatMoney;
const count = (n: number) => `${n} ${n === 1 ? 'deal' : 'deals'}`;
const r = formatRatio;

function fig(
  figure: string,
  formula: string,
  value: Maybe<Dec>,
  working: () => string,
  sums: Explanation['sums'] = [],
): Explanation {
  return value.value === null
    ? { figure, formula, working: `not available: ${value.reason}`, value: null, reason: value.reason, sums }
    : { figure, formula, working: working(), value: value.value, reason: null, sums };
}

/** The working of every core attainment figure. */
export function explainAttainment(a: AttainmentFigures, pacing: ElapsedFraction): Record<string, Explanation> {
  const actualSum: ExplainedSum = {
    label: 'won deals closed in [period start, D]',
    use: 'actual',
    total: a.actual,
    deals: dealLines(a.actualCredits),
  };
  const runSum: ExplainedSum = {
    label: `won deals closed in the trailing ${a.runRateWindowDays} days`,
    use: 'runRate',
    total: a.currentRunRate.times(a.runRateWindowDays),
    deals: dealLines(a.runRateCredits),
  };
  const Q = a.quota.value;
  const E = a.expectedToDate.value;
  const fText =
    pacing.used === 'seasonal'
      ? `mean seasonal share ${pacing.shares.map((s) => `${s.periodId} ${r(s.share)}`).join(', ')}`
      : `${pacing.numerator.toString()} / ${pacing.denominator.toString()} ${pacing.used} days`;
  return {
    actual: fig(
      'actual',
      'sum of won amounts closed in [period start, D]',
      { value: a.actual, reason: null },
      () => `${count(a.actualCredits.length)} = ${m(a.actual)}`,
      [actualSum],
    ),
    attainment: fig(
      'attainment',
      'A / Q',
      a.attainment,
      () => `${m(a.actual)} / ${m(Q as Dec)} = ${r(a.attainment.value as Dec)}`,
      [actualSum],
    ),
    remaining: fig(
      'remaining',
      'max(Q - A, 0)',
      a.remaining,
      () => `max(${m(Q as Dec)} - ${m(a.actual)}, 0) = ${m(a.remaining.value as Dec)}`,
    ),
    expectedToDate: fig(
      'expectedToDate',
      'Q * f',
      a.expectedToDate,
      () => `${m(Q as Dec)} * (${fText}) = ${m(E as Dec)}`,
    ),
    paceVariance: fig(
      'paceVariance',
      'A - E',
      a.paceVariance,
      () => `${m(a.actual)} - ${m(E as Dec)} = ${m(a.paceVariance.value as Dec)}`,
    ),
    paceVariancePct: fig(
      'paceVariancePct',
      '(A - E) / E',
      a.paceVariancePct,
      () => `${m(a.paceVariance.value as Dec)} / ${m(E as Dec)} = ${r(a.paceVariancePct.value as Dec)}`,
    ),
    requiredDailyRunRate: fig(
      'requiredDailyRunRate',
      'remaining / days_remaining',
      a.requiredDailyRunRate,
      () => `${m(a.remaining.value as Dec)} / ${a.days.remaining} = ${m(a.requiredDailyRunRate.value as Dec)}`,
    ),
    currentRunRate: fig(
      'currentRunRate',
      `won in trailing ${a.runRateWindowDays} days / ${a.runRateWindowDays}`,
      { value: a.currentRunRate, reason: null },
      () => `${m(runSum.total)} / ${a.runRateWindowDays} = ${m(a.currentRunRate)}`,
      [runSum],
    ),
    projectedTotal: fig(
      'projectedTotal',
      'A + current_run_rate * days_remaining',
      { value: a.projectedTotal, reason: null },
      () => `${m(a.actual)} + ${m(a.currentRunRate)} * ${a.days.remaining} = ${m(a.projectedTotal)}`,
      [actualSum, runSum],
    ),
    projectedAttainment: fig(
      'projectedAttainment',
      'projected / Q',
      a.projectedAttainment,
      () => `${m(a.projectedTotal)} / ${m(Q as Dec)} = ${r(a.projectedAttainment.value as Dec)}`,
    ),
  };
}

/** The working of the pipeline figures; overdue deals are listed apart. */
export function explainPipeline(p: PipelineFigures, remaining: Maybe<Dec>): Record<string, Explanation> {
  const openSum: ExplainedSum = {
    label: 'open deals closing in [D, period end]',
    use: 'pipeline',
    total: p.open,
    deals: dealLines(p.openCredits),
  };
  const overdueSum: ExplainedSum = {
    label: 'overdue open deals (close date before D; not pipeline)',
    use: 'overdue',
    total: p.overdueAmount,
    deals: dealLines(p.overdue),
  };
  return {
    open: fig(
      'pipeline.open',
      'sum of open amounts closing in [D, period end]',
      { value: p.open, reason: null },
      () => `${count(p.openDeals)} = ${m(p.open)}`,
      [openSum, overdueSum],
    ),
    weighted: fig(
      'pipeline.weighted',
      'sum of amount * probability',
      { value: p.weighted, reason: null },
      () =>
        `${p.openCredits
          .map((c) => `${m(c.amount)} * ${c.deal.probability === null ? '0 (no probability)' : r(c.deal.probability)}`)
          .join(' + ')} = ${m(p.weighted)}`,
      [openSum],
    ),
    coverage: fig(
      'pipeline.coverage',
      'open pipeline / remaining',
      p.coverage,
      () => `${m(p.open)} / ${m(remaining.value as Dec)} = ${r(p.coverage.value as Dec)}`,
      [openSum],
    ),
  };
}

/** The working of win rate, deal size and cycle. */
export function explainConversion(c: ConversionFigures): Record<string, Explanation> {
  const won: ExplainedSum = {
    label: 'won deals in the window',
    use: 'won',
    total: c.wonAmount,
    deals: dealLines(c.wonCredits),
  };
  const lost: ExplainedSum = {
    label: 'lost deals in the window',
    use: 'lost',
    total: c.lostAmount,
    deals: dealLines(c.lostCredits),
  };
  return {
    winRate: fig(
      'winRate',
      'won / (won + lost), by count',
      c.winRate,
      () => `${c.won} / (${c.won} + ${c.lost}) = ${r(c.winRate.value as Dec)}`,
      [won, lost],
    ),
    winRateByValue: fig(
      'winRateByValue',
      'won amount / (won + lost amount)',
      c.winRateByValue,
      () => `${m(c.wonAmount)} / (${m(c.wonAmount)} + ${m(c.lostAmount)}) = ${r(c.winRateByValue.value as Dec)}`,
      [won, lost],
    ),
    avgDealSize: fig(
      'avgDealSize',
      'won amount / won deals',
      c.avgDealSize,
      () => `${m(c.wonAmount)} / ${c.won} = ${m(c.avgDealSize.value as Dec)}`,
      [won],
    ),
    salesCycleDays: fig(
      'salesCycleDays',
      'mean days from created to close of won deals',
      c.salesCycleDays,
      () => `${c.salesCycleDays.value?.times(c.won).toString()} days / ${c.won} = ${r(c.salesCycleDays.value as Dec)}`,
      [won],
    ),
  };
}

/** The working of a commission: each tier's bookings times its rate, then the cap. */
export function explainCommission(figure: string, c: Maybe<CommissionResult>): Explanation {
  return fig(
    figure,
    'sum over tiers of bookings in tier * rate, capped',
    c.value === null ? c : { value: c.value.payout, reason: null },
    () => {
      const v = c.value as CommissionResult;
      const parts = v.segments
        .filter((s) => !s.bookings.isZero())
        .map((s) => `${m(s.bookings)} * ${r(s.rate)} [${m(s.from)}, ${s.to === null ? 'up' : m(s.to)})`);
      const sum = `${parts.length === 0 ? '0' : parts.join(' + ')} = ${m(v.uncapped)}`;
      return v.capped ? `${sum}, capped to ${m(v.payout)}` : v.decelerated ? `${sum} (decelerator)` : sum;
    },
  );
}

/** The method and seed of a forecast, so a P10 can be reproduced. */
export function explainForecast(f: ForecastResult, deals: readonly Credit[]): Explanation {
  return fig(
    'forecast.p10',
    'A + sum of won open in-period deals per trial; nearest-rank percentile',
    { value: f.p10, reason: null },
    () => `${f.trials} trials, seed ${f.seed}: P10 ${m(f.p10)}, P25 ${m(f.p25)}, P50 ${m(f.p50)}, P90 ${m(f.p90)}`,
    [
      {
        label: 'open deals simulated',
        use: 'forecast',
        total: deals.reduce((s, c) => s.plus(c.amount), ZERO),
        deals: dealLines(deals),
      },
    ],
  );
}

/** Velocity from the pipeline's deal count and the window's conversion (docs/metrics.md, "Pipeline and conversion"). */
export function explainVelocity(openDeals: number, c: ConversionFigures, v: Maybe<Dec>, open: Dec): Explanation {
  return fig(
    'velocity',
    'open deals * win rate * average deal size / sales cycle, a day',
    v,
    () =>
      `${openDeals} * ${r(c.winRate.value as Dec)} * ${m(c.avgDealSize.value as Dec)} / ${r(c.salesCycleDays.value as Dec)} = ${m(v.value as Dec)}`,
    [
      { label: 'open deals (the count)', use: 'pipeline', total: open, deals: [] },
      { label: 'won deals in the window (win rate, size, cycle)', use: 'won', total: c.wonAmount, deals: [] },
    ],
  );
}

/** The activity score with each type's count, target, weight and the cap. */
export function explainActivity(a: ActivityFigures, cap: Dec): Explanation {
  const weights = a.terms.reduce((s, t) => s.plus(t.weight), ZERO);
  return fig(
    'activityScore',
    `100 * sum(w * min(count / target, ${cap.toString()})) / sum(w), counts over ${a.window.start}..${a.window.end}`,
    a.score,
    () =>
      `100 * (${a.terms
        .map((t) => `${t.weight.toString()} * min(${t.actual} ${t.type} / ${t.target.toString()}, ${cap.toString()})`)
        .join(' + ')}) / ${weights.toString()} = ${(a.score.value as Dec).toDecimalPlaces(2).toFixed(2)}`,
  );
}

/** The chance to hit quota: the share of the forecast's trials reaching it. */
export function explainChance(f: ForecastResult, quota: Dec | null): Explanation {
  const p = f.probabilityToHitQuota;
  return fig('probabilityToHitQuota', 'trials with total >= Q / trials', p, () => {
    const hits = (p.value as Dec).times(f.trials).round().toString();
    return `${hits} of ${f.trials} trials (seed ${f.seed}) reach ${m(quota as Dec)} = ${r(p.value as Dec)}`;
  });
}
