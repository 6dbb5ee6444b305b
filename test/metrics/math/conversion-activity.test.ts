/** Win rate, deal size, cycle, stage conversion, lead cohorts, activity counts and score, worked by hand. */
import { describe, expect, it } from 'vitest';
import { activityDrop, computeActivity } from '../../../src/metrics/math/activity.ts';
import { bookDeals } from '../../../src/metrics/math/booking.ts';
import {
  computeConversion,
  leadToOpportunity,
  stageConversion,
  velocity,
} from '../../../src/metrics/math/conversion.ts';
import type { Activity, ActivityType } from '../../../src/metrics/math/types.ts';
import { addDays } from '../../../src/util/date.ts';
import { formatMoney, formatRatio } from '../../../src/util/money.ts';
import { d, deal, SEED_TARGETS, USD_ONLY } from './fixtures.ts';

const window = { start: '2026-01-01', end: '2026-03-31' };

describe('win rate, deal size and cycle over a window', () => {
  const { credits } = bookDeals(
    [
      deal({ id: 'FIRST', amount: 10_000, closeDate: '2026-01-01', createdDate: '2025-12-02' }), // 30 days
      deal({ id: 'LAST', amount: 30_000, closeDate: '2026-03-31', createdDate: '2026-02-14' }), // 45 days
      deal({ id: 'LOST', amount: 60_000, closeDate: '2026-03-31', category: 'lost' }),
      deal({ id: 'AFTER', amount: 99_000, closeDate: '2026-04-01' }),
      deal({ id: 'BEFORE', amount: 99_000, closeDate: '2025-12-31' }),
      deal({ id: 'OPEN', amount: 99_000, closeDate: '2026-02-01', category: 'open' }),
    ],
    [],
    { splits: false },
    USD_ONLY,
    '2026-03-31',
  );
  const c = computeConversion(credits, window);
  it('counts deals closed on the window first and last days, not the day before or after', () => {
    expect([c.won, c.lost]).toEqual([2, 1]);
    expect(formatRatio(c.winRate.value!)).toBe('0.6667'); // 2 / 3
    expect(formatRatio(c.winRateByValue.value!)).toBe('0.4000'); // 40,000 / 100,000
    expect(formatMoney(c.avgDealSize.value!)).toBe('20000.00');
    expect(c.salesCycleDays.value!.toString()).toBe('37.5'); // (30 + 45) / 2
  });
  it('gives velocity = 3 open x 2/3 x 20,000 / 37.5 = 1,066.67 a day', () => {
    expect(formatMoney(velocity(3, c).value!)).toBe('1066.67');
  });
  it('is null with a reason without closed deals', () => {
    const none = computeConversion([], window);
    expect(none.winRate).toEqual({ value: null, reason: 'no_closed_deals' });
    expect(none.avgDealSize).toEqual({ value: null, reason: 'no_won_deals' });
    expect(velocity(3, none)).toEqual({ value: null, reason: 'no_closed_deals' });
  });
  it('counts a split deal once for a team holding both splits', () => {
    const { credits: split } = bookDeals(
      [deal({ id: 'S', amount: 100, closeDate: '2026-02-01' })],
      [
        { dealId: 'S', ownerId: 'a', percent: d(60), overlay: false },
        { dealId: 'S', ownerId: 'b', percent: d(40), overlay: false },
      ],
      { splits: true },
      USD_ONLY,
      '2026-03-31',
    );
    const t = computeConversion(split, window);
    expect(t.won).toBe(1);
    expect(t.avgDealSize.value!.toString()).toBe('100');
  });
});

describe('stage conversion from stage history', () => {
  const order = ['Qualify', 'Demo', 'Proposal', 'Closed Won'];
  const h = (dealId: string, stage: string, date: string) => ({ dealId, stage, date });
  const result = stageConversion(
    [
      h('A', 'Qualify', '2026-01-01'),
      h('A', 'Demo', '2026-01-10'),
      h('A', 'Proposal', '2026-01-20'),
      h('A', 'Closed Won', '2026-02-01'),
      h('B', 'Qualify', '2026-01-01'),
      h('B', 'Proposal', '2026-01-15'), // skipped Demo: still got past Qualify
      h('C', 'Qualify', '2026-01-01'),
      h('C', 'Demo', '2026-01-05'),
      h('C', 'Closed Lost', '2026-01-09'),
      h('D', 'Demo', '2026-01-05'),
      h('D', 'Qualify', '2026-01-07'), // moved back: Demo came before Qualify, so not an advance from Qualify
    ],
    order,
  );
  it('gives Qualify 3/4, Demo 1/3, Proposal 1/2', () => {
    expect(result.map((s) => [s.stage, s.entered, s.advanced, s.rate.value?.toString()])).toEqual([
      ['Qualify', 4, 3, '0.75'],
      ['Demo', 3, 1, d(1).div(3).toString()],
      ['Proposal', 2, 1, '0.5'],
    ]);
  });
});

describe('lead-to-opportunity by cohort month', () => {
  it('counts conversions up to D in the month the lead was created', () => {
    const cohorts = leadToOpportunity(
      [
        { id: 'L1', createdDate: '2026-01-05', convertedDate: '2026-02-01' },
        { id: 'L2', createdDate: '2026-01-31', convertedDate: '2026-03-20' }, // after D
        { id: 'L3', createdDate: '2026-01-10', convertedDate: null },
        { id: 'L4', createdDate: '2026-02-01', convertedDate: '2026-02-28' },
        { id: 'L5', createdDate: '2026-03-16', convertedDate: null }, // after D
      ],
      '2026-03-15',
    );
    expect(cohorts.map((c) => [c.month, c.created, c.converted, formatRatio(c.rate)])).toEqual([
      ['2026-01', 3, 1, '0.3333'],
      ['2026-02', 1, 1, '1.0000'],
    ]);
  });
});

function acts(type: ActivityType, n: number, date: string): Activity[] {
  return Array.from({ length: n }, (_, i) => ({ id: `${type}-${date}-${i}`, ownerId: 'rep-sarah', type, date }));
}

describe('activity', () => {
  const D = '2026-06-12';
  // 300 calls on D (300/120 = 2.5, capped at 1.5), 10 meetings on the window first day 05-14 (10/20 = 0.5),
  // 100 emails (0.5); 50 calls on 05-13, the day before the window, do not count.
  const a = [
    ...acts('call', 300, D),
    ...acts('meeting', 10, '2026-05-14'),
    ...acts('email', 100, D),
    ...acts('call', 50, '2026-05-13'),
    ...acts('proposal', 4, D),
  ];
  const f = computeActivity(a, D, SEED_TARGETS);
  it('counts by type over the trailing 30 days', () => {
    expect(f.window).toEqual({ start: '2026-05-14', end: D });
    expect(f.counts).toEqual({ call: 300, meeting: 10, email: 100, task: 0, proposal: 4, other: 0 });
  });
  it('scores 100 x (1 x 1.5 + 2 x 0.5 + 0.5 x 0.5) / 3.5 = 78.57', () => {
    expect(formatMoney(f.score.value!)).toBe('78.57');
    expect(f.terms.map((t) => [t.type, t.ratio.toString()])).toEqual([
      ['call', '1.5'],
      ['meeting', '0.5'],
      ['email', '0.5'],
    ]);
  });
  it('has no score without targets', () => {
    expect(computeActivity(a, D, { windowDays: 30, targets: {}, weights: {} }).score.reason).toBe(
      'no_activity_targets',
    );
  });
  it('measures the last 14 days against the prior 28: 7 against 28 is a 50% drop', () => {
    // Recent window 05-30..06-12; prior 05-02..05-29.
    const list = [
      ...acts('call', 7, '2026-05-30'),
      ...acts('call', 28, '2026-05-02'),
      ...acts('call', 9, addDays('2026-05-02', -1)),
    ];
    expect(activityDrop(list, D).value!.toString()).toBe('0.5');
    expect(activityDrop([], D)).toEqual({ value: null, reason: 'no_prior_activity' });
  });
});
