/** The whole-subject computation on edge inputs, and the explanations of pipeline and conversion. */
import { describe, expect, it } from 'vitest';
import { bookDeals, creditsOf } from '../../../src/metrics/math/booking.ts';
import { explainConversion, explainForecast, explainPipeline } from '../../../src/metrics/math/explain.ts';
import { computePipeline } from '../../../src/metrics/math/pipeline.ts';
import { computeSubjectMetrics, seedFrom } from '../../../src/metrics/math/rep-metrics.ts';
import type { Period } from '../../../src/metrics/math/types.ts';
import { formatMoney, formatRatio } from '../../../src/util/money.ts';
import { d, deal, SEED_PLAN, SEED_TARGETS, USD_ONLY } from './fixtures.ts';

const Q2: Period = { id: 'FY2026-Q2', start: '2026-04-01', end: '2026-06-30' };
const D = '2026-06-12';
const deals = [
  deal({ id: 'W1', amount: 40_000, closeDate: '2026-05-20' }),
  deal({ id: 'L1', amount: 10_000, closeDate: '2026-05-21', category: 'lost' }),
  deal({ id: 'O1', amount: 20_000, closeDate: '2026-06-15', category: 'open', probability: '0.25' }),
  deal({ id: 'O2', amount: 5_000, closeDate: '2026-06-20', category: 'open' }),
  deal({ id: 'LATE', amount: 7_000, closeDate: '2026-06-01', category: 'open', probability: '0.9' }),
];
const { credits } = bookDeals(deals, [], { splits: false }, USD_ONLY, D);

function run(quota: number | null, probabilities?: Map<string, { pWin: number; pInPeriod: number }>) {
  return computeSubjectMetrics({
    subjectId: 'rep-sarah',
    period: Q2,
    asOf: D,
    quota: quota === null ? null : d(quota),
    credits: creditsOf(credits, 'rep-sarah'),
    activities: [],
    pacing: { basis: 'calendar' },
    activityTargets: SEED_TARGETS,
    commission: SEED_PLAN,
    forecastProbabilities: probabilities,
    history: [{ periodId: 'FY2026-Q1', quota: d(100_000), actual: d(80_000) }],
  });
}

describe('a subject without a quota', () => {
  const m = run(null);
  it('keeps the money figures and gives null with no_quota for ratios, coverage and commission', () => {
    expect(formatMoney(m.actual)).toBe('40000.00');
    expect(m.attainment.reason).toBe('no_quota');
    expect(m.pipeline.coverage).toEqual({ value: null, reason: 'no_quota' });
    expect(m.pipeline.coverageBand.reason).toBe('no_quota');
    expect(m.commission.atActual.reason).toBe('no_quota');
    expect(m.forecast.probabilityToHitQuota.reason).toBe('no_quota');
    expect(m.tenureAdjustedAttainment.reason).toBe('no_quota');
    expect(m.history.map((h) => h.attainment.value?.toString() ?? h.attainment.reason)).toEqual(['0.8', 'no_quota']);
  });
});

describe('a subject whose quota is met', () => {
  const m = run(40_000);
  it('has coverage null with quota_met and the history trend from its own periods', () => {
    expect(m.remaining.value!.toString()).toBe('0');
    expect(m.pipeline.coverage).toEqual({ value: null, reason: 'quota_met' });
    // 80% then 100%: +20 points a period.
    expect(m.trend.slopePoints.value!.toString()).toBe('20');
  });
});

describe('the forecast inside the subject computation', () => {
  it('simulates only in-period open deals, with calibrated probabilities where given', () => {
    // O1 certain, O2 impossible: every trial is 40,000 + 20,000; LATE is overdue and never simulated.
    const m = run(
      100_000,
      new Map([
        ['O1', { pWin: 1, pInPeriod: 1 }],
        ['O2', { pWin: 1, pInPeriod: 0 }],
        ['LATE', { pWin: 1, pInPeriod: 1 }],
      ]),
    );
    expect(formatMoney(m.forecast.p10)).toBe('60000.00');
    expect(formatMoney(m.forecast.p90)).toBe('60000.00');
    expect(m.forecast.seed).toBe(seedFrom(`rep-sarah|FY2026-Q2|${D}`));
    const e = explainForecast(m.forecast, m.pipeline.openCredits);
    expect(e.working).toBe(
      `10000 trials, seed ${m.forecast.seed}: P10 60000.00, P25 60000.00, P50 60000.00, P90 60000.00`,
    );
    expect(e.sums[0]!.deals.map((x) => x.id)).toEqual(['O1', 'O2']);
    // At P50 = 60,000 on a 100,000 quota: 6,000.
    expect(formatMoney(m.commission.atP50.value!.payout)).toBe('6000.00');
  });
});

describe('a period that has not started', () => {
  it('takes only open deals closing inside it as pipeline, and still lists overdue deals', () => {
    const Q3: Period = { id: 'FY2026-Q3', start: '2026-07-01', end: '2026-09-30' };
    const { credits: c } = bookDeals(
      [
        deal({ id: 'JUNE', amount: 1, closeDate: '2026-06-20', category: 'open' }),
        deal({ id: 'JULY1', amount: 10, closeDate: '2026-07-01', category: 'open' }),
        deal({ id: 'SEP30', amount: 100, closeDate: '2026-09-30', category: 'open' }),
        deal({ id: 'OCT1', amount: 1000, closeDate: '2026-10-01', category: 'open' }),
        deal({ id: 'OLD', amount: 5, closeDate: '2026-06-01', category: 'open' }),
      ],
      [],
      { splits: false },
      USD_ONLY,
      D,
    );
    const p = computePipeline(c, Q3, D, { value: d(1000), reason: null });
    expect(p.openCredits.map((x) => x.deal.id)).toEqual(['JULY1', 'SEP30']);
    expect(p.open.toString()).toBe('110');
    expect(p.overdue.map((x) => x.deal.id)).toEqual(['OLD']);
  });
});

describe('explanations', () => {
  const m = run(100_000);
  it('shows the pipeline sum with its deals and the overdue deal apart', () => {
    const e = explainPipeline(m.pipeline, m.remaining);
    expect(e.open!.working).toBe('2 deals = 25000.00');
    expect(e.open!.sums[0]!.deals.map((x) => x.id)).toEqual(['O1', 'O2']);
    expect(e.open!.sums[1]).toMatchObject({ label: 'overdue open deals (close date before D; not pipeline)' });
    expect(e.open!.sums[1]!.deals.map((x) => [x.id, x.closeDate])).toEqual([['LATE', '2026-06-01']]);
    // 20,000 x 0.25 + 5,000 x 0 (no probability) = 5,000
    expect(e.weighted!.working).toBe('20000.00 * 0.2500 + 5000.00 * 0 (no probability) = 5000.00');
    // 25,000 / (100,000 - 40,000) = 0.41666...
    expect(e.coverage!.working).toBe('25000.00 / 60000.00 = 0.4167');
    expect(formatRatio(m.pipeline.coverage.value!)).toBe('0.4167');
  });
  it('shows win rate working and says why a figure is missing', () => {
    const e = explainConversion(m.conversion);
    expect(e.winRate!.working).toBe('1 / (1 + 1) = 0.5000');
    expect(e.winRate!.sums.map((s) => s.deals.map((x) => x.id))).toEqual([['W1'], ['L1']]);
    const empty = explainConversion({ ...m.conversion, winRate: { value: null, reason: 'no_closed_deals' } });
    expect(empty.winRate).toMatchObject({
      working: 'not available: no_closed_deals',
      value: null,
      reason: 'no_closed_deals',
    });
  });
});
