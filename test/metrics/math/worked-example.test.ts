/**
 * The worked example at the top of the metric definitions, built from real deals in a real 91-day quarter:
 * 2026-04-01..2026-06-30 (April 30 + May 31 + June 30 = 91 days). D = 2026-06-12 is day 30 + 31 + 12 = 73, so 18
 * days remain. Quota 600,000.
 *
 * Won deals in the quarter (A = 522,000 over 9 deals):
 *   W1 04-01 (first day) 60,000   W2 04-15 50,000   W3 04-28 70,000   W4 05-05 66,000   W5 05-13 60,000
 *   W6 05-14 40,000   W7 05-28 56,000   W8 06-05 70,000   W9 06-12 (D) 50,000
 *   60 + 50 + 70 + 66 + 60 + 40 + 56 + 70 + 50 = 522 thousand.
 * Trailing 30 days of D: 2026-05-14..2026-06-12 (W5 on 05-13 is the day before, out): W6..W9 = 216,000, so the
 * run rate is 216,000 / 30 = 7,200 a day.
 * W0, won 2026-03-31 (the day before the quarter) for 99,000, is in neither A nor the run rate.
 */
import { describe, expect, it } from 'vitest';
import { alertRulesSchema } from '../../../src/config/schema.ts';
import { evaluateRules } from '../../../src/metrics/engine/alerts.ts';
import { bookDeals, creditsOf } from '../../../src/metrics/math/booking.ts';
import { explainAttainment } from '../../../src/metrics/math/explain.ts';
import { computeSubjectMetrics } from '../../../src/metrics/math/rep-metrics.ts';
import type { Period } from '../../../src/metrics/math/types.ts';
import { formatMoney, formatRatio } from '../../../src/util/money.ts';
import { d, deal, SEED_PLAN, SEED_TARGETS, USD_ONLY } from './fixtures.ts';

const Q2: Period = { id: 'FY2026-Q2', start: '2026-04-01', end: '2026-06-30' };
const D = '2026-06-12';

const deals = [
  deal({ id: 'W0', amount: 99_000, closeDate: '2026-03-31' }),
  deal({ id: 'W1', amount: 60_000, closeDate: '2026-04-01' }),
  deal({ id: 'W2', amount: 50_000, closeDate: '2026-04-15' }),
  deal({ id: 'W3', amount: 70_000, closeDate: '2026-04-28' }),
  deal({ id: 'W4', amount: 66_000, closeDate: '2026-05-05' }),
  deal({ id: 'W5', amount: 60_000, closeDate: '2026-05-13' }),
  deal({ id: 'W6', amount: 40_000, closeDate: '2026-05-14' }),
  deal({ id: 'W7', amount: 56_000, closeDate: '2026-05-28' }),
  deal({ id: 'W8', amount: 70_000, closeDate: '2026-06-05' }),
  deal({ id: 'W9', amount: 50_000, closeDate: '2026-06-12' }),
  deal({ id: 'L1', amount: 30_000, closeDate: '2026-05-20', category: 'lost' }),
  // Open: on D (pipeline), on the last day (pipeline), the day after the quarter (not), the day before D (overdue).
  deal({ id: 'O1', amount: 150_000, closeDate: '2026-06-12', category: 'open', probability: '0.5' }),
  deal({ id: 'O2', amount: 100_000, closeDate: '2026-06-30', category: 'open', probability: '0.3' }),
  deal({ id: 'O3', amount: 80_000, closeDate: '2026-07-01', category: 'open', probability: '0.9' }),
  deal({ id: 'O4', amount: 40_000, closeDate: '2026-06-11', category: 'open', probability: '0.9' }),
];

function sarahsCredits() {
  const { credits, issues } = bookDeals(deals, [], { splits: false }, USD_ONLY, D);
  expect(issues).toEqual([]);
  return creditsOf(credits, 'rep-sarah');
}

function sarah() {
  return computeSubjectMetrics({
    subjectId: 'rep-sarah',
    period: Q2,
    asOf: D,
    quota: d(600_000),
    credits: sarahsCredits(),
    activities: [],
    pacing: { basis: 'calendar' },
    activityTargets: SEED_TARGETS,
    commission: SEED_PLAN,
  });
}

describe('the worked example of the metric definitions', () => {
  const m = sarah();

  it('counts 73 of 91 days with 18 remaining', () => {
    expect(m.days).toEqual({ total: 91, elapsed: 73, remaining: 18 });
  });

  it('sums A = 522,000 from the nine deals won in [period start, D], W1 on the first day and W9 on D included', () => {
    expect(formatMoney(m.actual)).toBe('522000.00');
    expect(m.actualCredits.map((c) => c.deal.id).sort()).toEqual([
      'W1',
      'W2',
      'W3',
      'W4',
      'W5',
      'W6',
      'W7',
      'W8',
      'W9',
    ]);
    // 522,000 / 600,000 = 0.87
    expect(formatRatio(m.attainment.value!)).toBe('0.8700');
    expect(formatMoney(m.remaining.value!)).toBe('78000.00');
  });

  it('expects E = 600,000 x 73/91 = 481,318.68 and a pace variance of 40,681.32 (+8.45%), ahead', () => {
    // 600,000 x 73 / 91 = 43,800,000 / 91 = 481,318.6813...
    expect(formatMoney(m.expectedToDate.value!)).toBe('481318.68');
    expect(formatMoney(m.paceVariance.value!)).toBe('40681.32');
    // (522,000 x 91 - 43,800,000) / 43,800,000 = 3,702,000 / 43,800,000 = 0.08452...
    expect(formatRatio(m.paceVariancePct.value!)).toBe('0.0845');
    expect(m.paceStatus.value).toBe('ahead');
  });

  it('requires 78,000 / 18 = 4,333.33 a day (30,333.33 a week)', () => {
    expect(formatMoney(m.requiredDailyRunRate.value!)).toBe('4333.33');
    // 78,000 x 7 / 18 = 30,333.333...
    expect(formatMoney(m.requiredWeeklyRunRate.value!)).toBe('30333.33');
  });

  it('runs at 7,200 a day and projects 522,000 + 7,200 x 18 = 651,600.00, 108.60% of quota: on_track', () => {
    expect(m.runRateCredits.map((c) => c.deal.id).sort()).toEqual(['W6', 'W7', 'W8', 'W9']);
    expect(formatMoney(m.currentRunRate)).toBe('7200.00');
    expect(formatMoney(m.projectedTotal)).toBe('651600.00');
    expect(formatRatio(m.projectedAttainment.value!)).toBe('1.0860');
    expect(m.status.value).toBe('on_track');
  });

  it('takes pipeline from open deals closing in [D, period end]; the overdue one is listed apart', () => {
    // O1 (on D) 150,000 + O2 (last day) 100,000; O3 closes the day after the quarter; O4 closed-date passed.
    expect(formatMoney(m.pipeline.open)).toBe('250000.00');
    expect(m.pipeline.openDeals).toBe(2);
    // 150,000 x 0.5 + 100,000 x 0.3 = 105,000
    expect(formatMoney(m.pipeline.weighted)).toBe('105000.00');
    expect(m.pipeline.overdue.map((c) => c.deal.id)).toEqual(['O4']);
    expect(formatMoney(m.pipeline.overdueAmount)).toBe('40000.00');
    // 250,000 / 78,000 = 3.20512...
    expect(formatRatio(m.pipeline.coverage.value!)).toBe('3.2051');
    expect(m.pipeline.coverageBand.value).toBe('strong');
  });

  it('computes win rate, deal size, cycle and velocity over the trailing 12 months', () => {
    // Window 2025-06-13..2026-06-12: won W0..W9 (10 deals, 621,000), lost L1 (30,000).
    expect(m.conversion.won).toBe(10);
    expect(m.conversion.lost).toBe(1);
    expect(formatRatio(m.winRate.value!)).toBe('0.9091'); // 10 / 11
    expect(formatRatio(m.conversion.winRateByValue.value!)).toBe('0.9539'); // 621,000 / 651,000 = 0.95391...
    expect(formatMoney(m.avgDealSize.value!)).toBe('62100.00');
    expect(m.salesCycleDays.value!.toString()).toBe('60');
    // 2 open deals x 10/11 x 62,100 / 60 = 1,242,000 / 660 = 1,881.8181...
    expect(formatMoney(m.velocity.value!)).toBe('1881.82');
  });

  it('pays 10% of 522,000 = 52,200 at actual and 60,000 + 51,600 x 16% = 68,256 at the projection', () => {
    expect(formatMoney(m.commission.atActual.value!.payout)).toBe('52200.00');
    expect(formatMoney(m.commission.atProjected.value!.payout)).toBe('68256.00');
    expect(formatMoney(m.commission.nextTier.value!.bookingsToReach)).toBe('78000.00');
  });

  it('explains attainment with the numbers filled in and the deals of each sum', () => {
    const e = explainAttainment(m, m.pacing);
    expect(e.expectedToDate!.working).toBe('600000.00 * (73 / 91 calendar days) = 481318.68');
    expect(e.projectedTotal!.working).toBe('522000.00 + 7200.00 * 18 = 651600.00');
    const deals = e.attainment!.sums[0]!.deals;
    expect(deals.map((x) => x.id)).toEqual(['W1', 'W2', 'W3', 'W4', 'W5', 'W6', 'W7', 'W8', 'W9']);
    expect(deals[0]).toMatchObject({ name: 'Deal W1', closeDate: '2026-04-01' });
    expect(formatMoney(deals[0]!.amount)).toBe('60000.00');
  });

  it('evaluates the alert rules on these figures (the engine rules at their default settings)', () => {
    // Pace index A / E = 522,000 / 481,318.68 = 1.0845; a week ago it was 1.20: a fall of 11.55 points.
    expect(formatRatio(m.paceIndex.value!)).toBe('1.0845');
    const inputs = {
      metrics: m,
      credits: sarahsCredits(),
      activities: [],
      paceIndexWeekAgo: '1.2000',
      commission: SEED_PLAN,
    };
    const outcomes = evaluateRules(inputs, alertRulesSchema.parse({}), 0.02, new Set());
    const firing = outcomes.filter((o) => o.firing).map((o) => [o.rule, o.severity]);
    // No activity logged: score 0. Trailing 90 days (03-15..06-12) win 10 of 11 (W0..W9, L1), the 90 before had no closed deal,
    // so neither comparison rule can fire; 1.086 is above the only tier, so no accelerator either.
    expect(firing).toEqual([
      ['pace_deterioration', 'warning'],
      ['activity_drop', 'warning'],
    ]);
    expect(formatRatio(m.trailing90.recent.winRate.value!)).toBe('0.9091');
    expect(m.trailing90.prior.winRate.reason).toBe('no_closed_deals');
  });
});
