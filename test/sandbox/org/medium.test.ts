import { describe, expect, it } from 'vitest';
import { type Deal, generateOrgWithNotes } from '../../../src/sandbox/org/index.ts';
import { repeatPass } from '../../helpers/ci-pass.ts';

// Pure generation from a pinned anchor: the same org in every CI pass, so the first pass checks it.
describe.skipIf(repeatPass)('the medium org (seed 42, anchor 2026-11-15)', () => {
  it('has 500 reps and exactly 100,000 deals, with the special cases once each', () => {
    const { org, notes } = generateOrgWithNotes({ seed: 42, size: 'medium', anchorDate: '2026-11-15' });
    const reps = org.people.filter((p) => p.role === 'rep');
    expect(reps).toHaveLength(500);
    expect(org.deals).toHaveLength(100_000);
    expect(new Set(org.deals.map((d) => d.key)).size).toBe(100_000);
    expect(org.teams).toHaveLength(60);
    expect(org.regions).toHaveLength(6);
    expect(notes.rampingKeys).toHaveLength(25);
    expect(reps.filter((r) => !r.isActive).map((r) => r.key)).toEqual([notes.leaverKey]);
    expect(reps.filter((r) => r.teamHistory.length > 1).map((r) => r.key)).toEqual([notes.moverKey]);
    expect(
      org.deals
        .filter((d) => d.dirty !== null)
        .map((d) => d.dirty)
        .sort(),
    ).toEqual(['no_amount', 'null_close_date', 'unknown_currency']);
    expect(new Set(org.deals.map((d) => d.currency))).toEqual(
      new Set(['USD', 'EUR', 'GBP', 'JPY', 'CAD', 'AUD', 'CHF']),
    );

    const rate = (segment: string): number => {
      let won = 0;
      let lost = 0;
      for (const d of org.deals as Deal[]) {
        if (d.segment !== segment) continue;
        if (d.stage === 'Closed Won') won++;
        else if (d.stage === 'Closed Lost') lost++;
      }
      return won / (won + lost);
    };
    // With tens of thousands of closed deals per segment the differences are far outside noise.
    expect(rate('Enterprise')).toBeLessThan(rate('Mid-Market') - 0.03);
    expect(rate('Mid-Market')).toBeLessThan(rate('SMB') - 0.03);
    expect(org.activities.length).toBeGreaterThan(100_000);
  }, 240_000);
});
