/** Commission with marginal tiers, decelerator and cap, worked by hand on a 600,000 quota. */
import { describe, expect, it } from 'vitest';
import { commissionFor, nextTier } from '../../../src/metrics/math/commission.ts';
import { explainCommission } from '../../../src/metrics/math/explain.ts';
import type { CommissionPlan } from '../../../src/metrics/math/types.ts';
import { formatMoney } from '../../../src/util/money.ts';
import { d, SEED_PLAN } from './fixtures.ts';

const Q = d(600_000);
const pay = (bookings: number, plan: CommissionPlan = SEED_PLAN) => {
  const r = commissionFor(d(bookings), Q, plan);
  if (r.value === null) throw new Error(r.reason);
  return r.value;
};

describe('the seed plan: 10% base, 1.6x from 100%', () => {
  it('pays 60,000 at 600,000', () => {
    expect(formatMoney(pay(600_000).payout)).toBe('60000.00');
  });
  it('pays 68,000 at 650,000: 60,000 + 50,000 x 16%', () => {
    const r = pay(650_000);
    expect(formatMoney(r.payout)).toBe('68000.00');
    expect(r.segments.map((s) => [formatMoney(s.bookings), s.rate.toString(), formatMoney(s.pay)])).toEqual([
      ['600000.00', '0.1', '60000.00'],
      ['50000.00', '0.16', '8000.00'],
    ]);
  });
  it('pays the base rate only below quota and nothing on negative bookings', () => {
    expect(formatMoney(pay(300_000).payout)).toBe('30000.00');
    expect(formatMoney(pay(-5_000).payout)).toBe('0.00');
  });
});

describe('more tiers, a decelerator and a cap', () => {
  const plan: CommissionPlan = {
    baseRate: '0.10',
    tiers: [
      { from: '1.25', multiplier: '2' },
      { from: '1.0', multiplier: '1.6' },
    ],
    decelerator: { below: '0.5', multiplier: '0.5' },
    cap: '90000',
  };
  it('pays each tier on its own slice: 800,000 = 60,000 + 150,000 x 16% + 50,000 x 20% = 94,000, capped to 90,000', () => {
    const r = pay(800_000, plan);
    expect(formatMoney(r.uncapped)).toBe('94000.00');
    expect(formatMoney(r.payout)).toBe('90000.00');
    expect(r.capped).toBe(true);
  });
  it('pays everything at 5% below 50% of quota: 250,000 pays 12,500', () => {
    const r = pay(250_000, plan);
    expect(r.decelerated).toBe(true);
    expect(formatMoney(r.payout)).toBe('12500.00');
  });
  it('leaves the decelerator at exactly 50%: 300,000 pays 30,000', () => {
    const r = pay(300_000, plan);
    expect(r.decelerated).toBe(false);
    expect(formatMoney(r.payout)).toBe('30000.00');
  });
  it('names the next step and the bookings to reach it', () => {
    const under = nextTier(d(250_000), Q, plan).value!;
    expect([under.from.toString(), under.multiplier.toString(), formatMoney(under.bookingsToReach)]).toEqual([
      '0.5',
      '1',
      '50000.00',
    ]);
    const mid = nextTier(d(700_000), Q, plan).value!;
    // 1.25 x 600,000 = 750,000; 50,000 to go.
    expect([mid.from.toString(), formatMoney(mid.threshold), formatMoney(mid.bookingsToReach)]).toEqual([
      '1.25',
      '750000.00',
      '50000.00',
    ]);
    expect(nextTier(d(750_000), Q, plan)).toEqual({ value: null, reason: 'top_tier' });
  });
});

describe('without a quota', () => {
  it('is null with no_quota', () => {
    expect(commissionFor(d(1), null, SEED_PLAN)).toEqual({ value: null, reason: 'no_quota' });
    expect(nextTier(d(1), d(0), SEED_PLAN)).toEqual({ value: null, reason: 'no_quota' });
  });
});

describe('explanation', () => {
  it('shows each tier slice times its rate, with the range of bookings the tier covers', () => {
    expect(explainCommission('atProjected', commissionFor(d(650_000), Q, SEED_PLAN)).working).toBe(
      '600000.00 * 0.1000 [0.00, 600000.00) + 50000.00 * 0.1600 [600000.00, up) = 68000.00',
    );
    const capped = commissionFor(d(650_000), Q, { ...SEED_PLAN, cap: '65000' });
    expect(explainCommission('atProjected', capped).working).toBe(
      '600000.00 * 0.1000 [0.00, 600000.00) + 50000.00 * 0.1600 [600000.00, up) = 68000.00, capped to 65000.00',
    );
    expect(explainCommission('atActual', commissionFor(d(1), null, SEED_PLAN)).reason).toBe('no_quota');
  });
});
