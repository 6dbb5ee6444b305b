/** The sanity bounds, hand-worked: where each one starts to bite, and what the reason says. */
import { describe, expect, it } from 'vitest';
import { boundsViolation, DEFAULT_SANITY, isKnownCurrency } from '../../src/sync/sanity.ts';

const deal = (over: Record<string, unknown>) => ({ name: 'Acme', amount: '1000.00', currency: 'USD', ...over });

describe('boundsViolation', () => {
  it('lets an amount of exactly the bound in and stops one a cent beyond, either sign', () => {
    expect(boundsViolation('deals', deal({ amount: '1000000000000' }), DEFAULT_SANITY)).toBeNull();
    expect(boundsViolation('deals', deal({ amount: '-1000000000000' }), DEFAULT_SANITY)).toBeNull();
    expect(boundsViolation('deals', deal({ amount: '1000000000000.01' }), DEFAULT_SANITY)).toEqual({
      reasonCode: 'AMOUNT_OUT_OF_BOUNDS',
      reason: 'amount 1000000000000.01 is beyond ±1000000000000 (sync.sanity.maxAbsAmount)',
    });
    // The issue's -1e15, which drove an attainment to -828,731,199,942%.
    expect(boundsViolation('deals', deal({ amount: '-1000000000000000' }), DEFAULT_SANITY)?.reasonCode).toBe(
      'AMOUNT_OUT_OF_BOUNDS',
    );
    expect(boundsViolation('deal_splits', { split_amount: '5.5' }, { ...DEFAULT_SANITY, maxAbsAmount: 5 })).toEqual({
      reasonCode: 'AMOUNT_OUT_OF_BOUNDS',
      reason: 'split_amount 5.5 is beyond ±5 (sync.sanity.maxAbsAmount)',
    });
    expect(boundsViolation('deals', deal({ amount: null }), DEFAULT_SANITY)).toBeNull();
  });

  it('caps every text column at maxTextLength characters', () => {
    expect(boundsViolation('deals', deal({ name: 'x'.repeat(32_768) }), DEFAULT_SANITY)).toBeNull();
    expect(boundsViolation('deals', deal({ name: 'x'.repeat(32_769) }), DEFAULT_SANITY)).toEqual({
      reasonCode: 'TEXT_TOO_LONG',
      reason: 'name is 32,769 characters long, over sync.sanity.maxTextLength (32,768)',
    });
    expect(boundsViolation('reps', { title: 'abcdef' }, { ...DEFAULT_SANITY, maxTextLength: 5 })?.reason).toBe(
      'title is 6 characters long, over sync.sanity.maxTextLength (5)',
    );
  });

  it('refuses a deal or quota currency that is no ISO 4217 money, and keeps a real one without a rate', () => {
    expect(boundsViolation('deals', deal({ currency: 'XXX' }), DEFAULT_SANITY)).toEqual({
      reasonCode: 'UNKNOWN_CURRENCY',
      reason: 'currency "XXX" is not an ISO 4217 currency code',
    });
    expect(boundsViolation('quotas', { amount: '1', currency: 'usd' }, DEFAULT_SANITY)?.reasonCode).toBe(
      'UNKNOWN_CURRENCY',
    );
    // CHF may have no rate in an org: that is the metrics' missing-rate case, not a bad record.
    expect(boundsViolation('deals', deal({ currency: 'CHF' }), DEFAULT_SANITY)).toBeNull();
    expect(['USD', 'EUR', 'JPY', 'XOF'].every(isKnownCurrency)).toBe(true);
    expect(['XXX', 'XTS', 'XDR', 'ABC'].some(isKnownCurrency)).toBe(false);
  });
});
