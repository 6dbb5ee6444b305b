import { describe, expect, it } from 'vitest';
import { generateOrg, type OrgModel } from '../../../src/sandbox/org/index.ts';
import { repeatPass } from '../../helpers/ci-pass.ts';

function dirtyKinds(org: OrgModel): (string | null)[] {
  return org.deals
    .filter((d) => d.dirty !== null)
    .map((d) => d.dirty)
    .sort();
}

// `quota-tracker sandbox --size medium` anchors on today, so the promise of exactly 100,000 deals must hold on
// any day. The natural draw comes out a little above or below it depending on the anchor: seed 42 on 2026-03-02
// drew 6 short and on 2026-03-31 (a quarter's last day) 1,188 short, seed 1 on 2026-04-01 drew 2,086 over.
// Pure generation from the anchors given: the same in every CI pass, so the first pass runs it.
describe.skipIf(repeatPass)('the medium org has exactly 100,000 deals for any seed and anchor', () => {
  it.each([
    [42, '2026-03-02'],
    [42, '2026-03-31'],
    [1, '2026-04-01'],
    [7, '2028-02-29'],
  ])(
    'seed %i, anchor %s',
    (seed, anchorDate) => {
      const org = generateOrg({ seed, size: 'medium', anchorDate });
      expect(org.deals).toHaveLength(100_000);
      expect(new Set(org.deals.map((d) => d.key)).size).toBe(100_000);
      expect(org.deals[99_999]?.key).toBe('deal-100000');
      expect(dirtyKinds(org)).toEqual(['no_amount', 'null_close_date', 'unknown_currency']);
    },
    60_000,
  );
});

// On a quarter's last day no open deal is due later in the quarter; the deal without an amount then comes from
// next quarter's pipeline (generation used to throw "no deal fits the dirty record").
describe.skipIf(repeatPass)('an org anchored on the last day of a quarter', () => {
  it.each(['2026-03-31', '2026-06-30', '2026-12-31'])('small, anchor %s, has its three dirty deals', (anchorDate) => {
    const org = generateOrg({ seed: 42, size: 'small', anchorDate });
    expect(dirtyKinds(org)).toEqual(['no_amount', 'null_close_date', 'unknown_currency']);
    const noAmount = org.deals.find((d) => d.dirty === 'no_amount');
    expect(noAmount?.amount).toBeNull();
    expect(noAmount?.stage).not.toMatch(/^Closed/);
    expect(noAmount?.closeDate !== null && (noAmount?.closeDate ?? '') > anchorDate).toBe(true);
  });
});
