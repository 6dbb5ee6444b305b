/** Conversion at dated rates and the booking policy (won stages, splits), worked by hand. */
import { describe, expect, it } from 'vitest';
import { bookDeals, creditsOf, effectiveCategory } from '../../../src/metrics/math/booking.ts';
import { convertQuota, rateOn } from '../../../src/metrics/math/currency.ts';
import type { DealSplit, Period } from '../../../src/metrics/math/types.ts';
import { formatMoney } from '../../../src/util/money.ts';
import { d, deal, fx } from './fixtures.ts';

const Q2: Period = { id: 'FY2026-Q2', start: '2026-04-01', end: '2026-06-30' };
const D = '2026-06-12';
// 0.8 EUR per USD until 2026-05-01 (exclusive), then 0.9; GBP known only from 2026-05-01.
const rates = fx([
  { currency: 'EUR', rate: '0.8', from: '2026-01-01', to: '2026-05-01' },
  { currency: 'EUR', rate: '0.9', from: '2026-05-01' },
  { currency: 'GBP', rate: '0.75', from: '2026-05-01' },
]);

describe('dated conversion rates', () => {
  it('picks the rate in force on the date, validTo exclusive, and 1 for the base currency', () => {
    expect(rateOn(rates, 'EUR', '2026-04-30').rate?.toString()).toBe('0.8');
    expect(rateOn(rates, 'EUR', '2026-05-01').rate?.toString()).toBe('0.9');
    expect(rateOn(rates, 'USD', '2020-01-01').rate?.toString()).toBe('1');
    expect(rateOn(rates, 'EUR', '2025-12-31')).toEqual({ rate: null, issue: 'no_rate_on_date' });
    expect(rateOn(rates, 'JPY', D)).toEqual({ rate: null, issue: 'unknown_currency' });
  });

  it('converts closed deals at the close-date rate and open deals at the rate on D', () => {
    const { credits, issues } = bookDeals(
      [
        // 8,000 EUR / 0.8 = 10,000 USD (closed 04-20, before the rate change)
        deal({ id: 'EUR-WON', amount: 8000, currency: 'EUR', closeDate: '2026-04-20' }),
        // 9,000 EUR / 0.9 = 10,000 USD (closed on the day the new rate starts)
        deal({ id: 'EUR-WON-0501', amount: 9000, currency: 'EUR', closeDate: '2026-05-01' }),
        // Open, closing 06-20, valued at D's rate: 9,000 / 0.9 = 10,000 (at the close-date-era rate 0.8 it would be 11,250)
        deal({ id: 'EUR-OPEN', amount: 9000, currency: 'EUR', closeDate: '2026-06-20', category: 'open' }),
      ],
      [],
      { splits: false },
      rates,
      D,
    );
    expect(issues).toEqual([]);
    expect(credits.map((c) => [c.deal.id, formatMoney(c.amount)])).toEqual([
      ['EUR-WON', '10000.00'],
      ['EUR-WON-0501', '10000.00'],
      ['EUR-OPEN', '10000.00'],
    ]);
  });

  it('converts a quota at the rate on the period first day: 480,000 EUR / 0.8 = 600,000', () => {
    const q = convertQuota(rates, { subjectId: 'rep-sarah', periodId: Q2.id, amount: d(480_000), currency: 'EUR' }, Q2);
    expect(formatMoney(q.amount!)).toBe('600000.00');
  });

  it('never converts an unknown currency at 1.0: the deal is left out and named', () => {
    const { credits, issues } = bookDeals(
      [
        deal({ id: 'JPY-1', amount: 1_000_000, currency: 'JPY', closeDate: '2026-05-02' }),
        deal({ id: 'GBP-EARLY', amount: 750, currency: 'GBP', closeDate: '2026-04-10' }),
        deal({ id: 'NO-AMOUNT', amount: null, closeDate: '2026-04-10' }),
      ],
      [],
      { splits: false },
      rates,
      D,
    );
    expect(issues.map((i) => [i.recordId, i.kind])).toEqual([
      ['JPY-1', 'unknown_currency'],
      ['GBP-EARLY', 'no_rate_on_date'],
      ['NO-AMOUNT', 'missing_amount'],
    ]);
    expect(issues[0]!.message).toBe('JPY-1 is in JPY, a currency with no conversion rate to USD');
    expect(issues[1]!.message).toBe('GBP-EARLY is in GBP, which has no rate to USD in force on 2026-04-10');
    // Only the deal without an amount stays (at 0), so it still counts as a won deal.
    expect(credits.map((c) => [c.deal.id, c.amount.toString()])).toEqual([['NO-AMOUNT', '0']]);
  });
});

describe('booking policy', () => {
  it('lets listed won stages override the CRM category', () => {
    const policy = { wonStages: ['Signed'], splits: false };
    expect(
      effectiveCategory(deal({ id: 'a', amount: 1, closeDate: D, category: 'open', stage: 'Signed' }), policy),
    ).toBe('won');
    // Won in the CRM but in a stage RevOps did not list: closed, not booked.
    expect(
      effectiveCategory(deal({ id: 'b', amount: 1, closeDate: D, category: 'won', stage: 'Closed Won' }), policy),
    ).toBe('lost');
    expect(effectiveCategory(deal({ id: 'c', amount: 1, closeDate: D, category: 'open' }), policy)).toBe('open');
    expect(effectiveCategory(deal({ id: 'd', amount: 1, closeDate: D, category: 'won' }), { splits: false })).toBe(
      'won',
    );
  });

  const split = deal({ id: 'S1', amount: 100_000, closeDate: '2026-05-10' });
  const overlayOnly = deal({ id: 'S2', amount: 20_000, closeDate: '2026-05-11' });
  const splits: DealSplit[] = [
    { dealId: 'S1', ownerId: 'rep-sarah', percent: d(60), overlay: false },
    { dealId: 'S1', ownerId: 'rep-tom', percent: d(40), overlay: false },
    { dealId: 'S1', ownerId: 'se-sam', percent: d(100), overlay: true },
    { dealId: 'S2', ownerId: 'se-sam', percent: d(50), overlay: true },
  ];

  it('credits each split share with splits on: 60,000 to Sarah, 40,000 to Tom, the overlay 100,000 to Sam', () => {
    const { credits } = bookDeals([split, overlayOnly], splits, { splits: true }, rates, D);
    const view = credits.map((c) => [c.deal.id, c.ownerId, formatMoney(c.amount), c.overlay]);
    expect(view).toEqual([
      ['S1', 'rep-sarah', '60000.00', false],
      ['S1', 'rep-tom', '40000.00', false],
      ['S1', 'se-sam', '100000.00', true],
      // A deal with only an overlay split still credits its owner in full.
      ['S2', 'rep-sarah', '20000.00', false],
      ['S2', 'se-sam', '10000.00', true],
    ]);
    expect(creditsOf(credits, 'se-sam').map((c) => c.amount.toString())).toEqual(['100000', '10000']);
  });

  it('credits the whole deal to its owner with splits off', () => {
    const { credits } = bookDeals([split], splits, { splits: false }, rates, D);
    expect(credits.map((c) => [c.ownerId, c.amount.toString()])).toEqual([['rep-sarah', '100000']]);
  });
});
