/** Core attainment figures and their edges, each worked by hand. */
import { describe, expect, it } from 'vitest';
import { computeAttainment, statusBand } from '../../../src/metrics/math/attainment.ts';
import { bookDeals } from '../../../src/metrics/math/booking.ts';
import { elapsedFraction } from '../../../src/metrics/math/pacing.ts';
import type { Deal, Period } from '../../../src/metrics/math/types.ts';
import { Dec, formatMoney, formatRatio } from '../../../src/util/money.ts';
import { d, deal, USD_ONLY } from './fixtures.ts';

const Q2: Period = { id: 'FY2026-Q2', start: '2026-04-01', end: '2026-06-30' };

function figures(deals: Deal[], quota: Dec | null, period: Period, asOf: string) {
  const { credits } = bookDeals(deals, [], { splits: false }, USD_ONLY, asOf);
  const f = elapsedFraction({ basis: 'calendar', period, asOf }).f;
  return computeAttainment({ period, asOf, quota, credits, f });
}

describe('no quota', () => {
  const m = figures([deal({ id: 'W1', amount: 1000, closeDate: '2026-04-02' })], null, Q2, '2026-06-12');
  it('gives null with no_quota for every ratio, but still sums actual and the projection', () => {
    expect(m.attainment).toEqual({ value: null, reason: 'no_quota' });
    expect(m.remaining.reason).toBe('no_quota');
    expect(m.expectedToDate.reason).toBe('no_quota');
    expect(m.requiredDailyRunRate.reason).toBe('no_quota');
    expect(m.projectedAttainment.reason).toBe('no_quota');
    expect(m.status.reason).toBe('no_quota');
    expect(formatMoney(m.actual)).toBe('1000.00');
    // Nothing in the trailing 30 days (05-14..06-12): projection = A.
    expect(formatMoney(m.projectedTotal)).toBe('1000.00');
  });
  it('treats a quota of 0 as no quota', () => {
    const z = figures([], d(0), Q2, '2026-06-12');
    expect(z.attainment.reason).toBe('no_quota');
    expect(z.quota.value?.toString()).toBe('0');
  });
});

describe('quota met', () => {
  // A = 650,000 against 600,000: remaining max(-50,000, 0) = 0, nothing more required.
  const m = figures([deal({ id: 'W1', amount: 650_000, closeDate: '2026-04-20' })], d(600_000), Q2, '2026-06-12');
  it('leaves nothing remaining and needs 0 a day', () => {
    expect(formatRatio(m.attainment.value!)).toBe('1.0833'); // 650 / 600 = 1.08333...
    expect(m.remaining.value!.toString()).toBe('0');
    expect(m.requiredDailyRunRate.value!.toString()).toBe('0');
  });
});

describe('no closed deals', () => {
  const m = figures(
    [deal({ id: 'O1', amount: 5000, closeDate: '2026-06-20', category: 'open' })],
    d(100_000),
    Q2,
    '2026-06-12',
  );
  it('has A = 0, attainment 0, run rate 0, the whole quota behind pace and a major gap', () => {
    expect(m.actual.toString()).toBe('0');
    expect(formatRatio(m.attainment.value!)).toBe('0.0000');
    expect(m.currentRunRate.toString()).toBe('0');
    // E = 100,000 x 73/91 = 80,219.78; variance -80,219.78, ratio exactly -1.
    expect(formatMoney(m.paceVariance.value!)).toBe('-80219.78');
    expect(formatRatio(m.paceVariancePct.value!)).toBe('-1.0000');
    expect(m.paceStatus.value).toBe('behind');
    expect(m.status.value).toBe('major_gap');
  });
});

describe('zero days left and dates outside the period', () => {
  it('on the last day: 91 of 91, required run rate null with no_days_left, projection = A', () => {
    const m = figures(
      [
        deal({ id: 'W1', amount: 300_000, closeDate: '2026-06-30' }),
        deal({ id: 'W2', amount: 30_000, closeDate: '2026-06-15' }),
      ],
      d(600_000),
      Q2,
      '2026-06-30',
    );
    expect(m.days).toEqual({ total: 91, elapsed: 91, remaining: 0 });
    expect(m.requiredDailyRunRate).toEqual({ value: null, reason: 'no_days_left' });
    expect(m.requiredWeeklyRunRate.reason).toBe('no_days_left');
    // Run rate 330,000 / 30 = 11,000 a day, times 0 days: the projection is A.
    expect(formatMoney(m.currentRunRate)).toBe('11000.00');
    expect(formatMoney(m.projectedTotal)).toBe('330000.00');
    expect(formatMoney(m.expectedToDate.value!)).toBe('600000.00');
  });
  it('after the period: elapsed capped at 91 and A still only the period deals', () => {
    const m = figures(
      [
        deal({ id: 'W1', amount: 100, closeDate: '2026-06-30' }),
        deal({ id: 'W2', amount: 7, closeDate: '2026-07-01' }),
      ],
      d(1000),
      Q2,
      '2026-07-10',
    );
    expect(m.days).toEqual({ total: 91, elapsed: 91, remaining: 0 });
    expect(m.actual.toString()).toBe('100');
  });
  it('before the period: f = 0, E = 0 and the pace ratio null with not_started', () => {
    const m = figures([], d(1000), Q2, '2026-03-31');
    expect(m.days).toEqual({ total: 91, elapsed: 0, remaining: 91 });
    expect(m.expectedToDate.value!.toString()).toBe('0');
    expect(m.paceVariancePct).toEqual({ value: null, reason: 'not_started' });
    expect(m.paceStatus.value).toBe('ahead');
    // 1,000 / 91 = 10.989...
    expect(formatMoney(m.requiredDailyRunRate.value!)).toBe('10.99');
  });
});

describe('a leap day', () => {
  // Calendar Q1 2024 is 31 + 29 + 31 = 91 days; 2024-02-29 is day 31 + 29 = 60.
  const Q1: Period = { id: 'FY2024-Q1', start: '2024-01-01', end: '2024-03-31' };
  const m = figures(
    [
      deal({ id: 'LEAP', amount: 29_000, closeDate: '2024-02-29' }),
      deal({ id: 'JAN31', amount: 1_000, closeDate: '2024-01-31' }),
    ],
    d(91_000),
    Q1,
    '2024-02-29',
  );
  it('counts 60 of 91 days and the deal closed on Feb 29', () => {
    expect(m.days).toEqual({ total: 91, elapsed: 60, remaining: 31 });
    expect(formatMoney(m.actual)).toBe('30000.00');
    // E = 91,000 x 60/91 = 60,000 exactly.
    expect(m.expectedToDate.value!.toString()).toBe('60000');
    // Trailing 30 days: 2024-01-31..2024-02-29 (Jan 31 is day 1 of the window): 30,000 / 30 = 1,000 a day.
    expect(formatMoney(m.currentRunRate)).toBe('1000.00');
    // 30,000 + 1,000 x 31 = 61,000
    expect(formatMoney(m.projectedTotal)).toBe('61000.00');
  });
});

describe('rounding only on output', () => {
  // A = 400,000 (04-10) + 100,000 (06-01) = 500,000; the trailing 30 days hold 100,000: run rate 3,333.333... a day.
  const m = figures(
    [
      deal({ id: 'W1', amount: 400_000, closeDate: '2026-04-10' }),
      deal({ id: 'W2', amount: 100_000, closeDate: '2026-06-01' }),
    ],
    d(600_000),
    Q2,
    '2026-06-12',
  );
  it('projects with the exact run rate, 500,000 + (100,000 / 30) x 18 = 560,000.00', () => {
    expect(formatMoney(m.projectedTotal)).toBe('560000.00');
    expect(formatRatio(m.projectedAttainment.value!)).toBe('0.9333'); // 560 / 600
  });
  it('differs from rounding the run rate to cents first: 500,000 + 3,333.33 x 18 = 559,999.94', () => {
    const roundedFirst = m.actual.plus(m.currentRunRate.toDecimalPlaces(2).times(m.days.remaining));
    expect(formatMoney(roundedFirst)).toBe('559999.94');
    expect(formatMoney(roundedFirst)).not.toBe(formatMoney(m.projectedTotal));
  });
});

describe('status bands on projected attainment', () => {
  it.each([
    ['1.2', 'on_track'],
    ['1', 'on_track'],
    ['0.9999', 'likely_to_hit'],
    ['0.95', 'likely_to_hit'],
    ['0.9499', 'at_risk'],
    ['0.9', 'at_risk'],
    ['0.8999', 'likely_miss'],
    ['0.8', 'likely_miss'],
    ['0.7999', 'significant_gap'],
    ['0.7', 'significant_gap'],
    ['0.6999', 'major_gap'],
    ['0', 'major_gap'],
  ])('%s is %s', (v, band) => {
    expect(statusBand(new Dec(v))).toBe(band);
  });
});
