/**
 * Roll-ups under dated membership. Tom moves from West to East on 2026-05-15 (West's membership ends that day,
 * exclusive). Quarter 2026-04-01..06-30, D = 2026-06-12. Sarah is in West throughout; Sam (an overlay SE) too.
 */
import { describe, expect, it } from 'vitest';
import { computeAttainment } from '../../../src/metrics/math/attainment.ts';
import { bookDeals, creditsOf } from '../../../src/metrics/math/booking.ts';
import {
  breakdownBy,
  groupCredits,
  groupQuota,
  groupQuotas,
  indexMemberships,
  membershipOn,
} from '../../../src/metrics/math/rollup.ts';
import type { Membership, Period } from '../../../src/metrics/math/types.ts';
import { Dec, formatMoney, formatRatio } from '../../../src/util/money.ts';
import { d, deal, USD_ONLY } from './fixtures.ts';

const Q2: Period = { id: 'FY2026-Q2', start: '2026-04-01', end: '2026-06-30' };
const D = '2026-06-12';
const memberships: Membership[] = [
  { repId: 'rep-tom', teamId: 'west', regionId: 'americas-w', validFrom: '2025-01-01', validTo: '2026-05-15' },
  { repId: 'rep-tom', teamId: 'east', regionId: 'americas-e', validFrom: '2026-05-15', validTo: null },
  { repId: 'rep-sarah', teamId: 'west', regionId: 'americas-w', validFrom: '2025-01-01', validTo: null },
  { repId: 'se-sam', teamId: 'west', regionId: 'americas-w', validFrom: '2025-01-01', validTo: null },
];
const index = indexMemberships(memberships);
const deals = [
  deal({ id: 'T-0510', owner: 'rep-tom', amount: 50_000, closeDate: '2026-05-10', productLine: 'core' }),
  deal({ id: 'T-0515', owner: 'rep-tom', amount: 30_000, closeDate: '2026-05-15', productLine: 'addon' }),
  deal({
    id: 'T-OPEN',
    owner: 'rep-tom',
    amount: 40_000,
    closeDate: '2026-06-20',
    category: 'open',
    probability: '0.5',
  }),
  deal({ id: 'S-0420', owner: 'rep-sarah', amount: 100_000, closeDate: '2026-04-20', productLine: 'core' }),
  deal({ id: 'SPLIT', owner: 'rep-sarah', amount: 100_000, closeDate: '2026-05-20', productLine: 'core' }),
  deal({ id: 'NOBODY', owner: 'rep-gone', amount: 5_000, closeDate: '2026-05-20' }),
];
const { credits } = bookDeals(
  deals,
  [
    { dealId: 'SPLIT', ownerId: 'rep-sarah', percent: d(60), overlay: false },
    { dealId: 'SPLIT', ownerId: 'rep-tom', percent: d(40), overlay: false },
    { dealId: 'SPLIT', ownerId: 'se-sam', percent: d(100), overlay: true },
  ],
  { splits: true },
  USD_ONLY,
  D,
);
const repQuotas = new Map([
  ['rep-sarah', d(300_000)],
  ['rep-tom', d(200_000)],
]);

function teamFigures(level: 'team' | 'region' | 'org', id: string) {
  const { groups } = groupCredits(credits, index, level, D);
  const quota = groupQuota(id, level, repQuotas, index, Q2, D).quota;
  return computeAttainment({ period: Q2, asOf: D, quota, credits: groups.get(id) ?? [], f: new Dec(73).div(91) });
}

describe('dated membership', () => {
  it('finds the membership in force on a date, validTo exclusive', () => {
    expect(membershipOn(index, 'rep-tom', '2026-05-14')?.teamId).toBe('west');
    expect(membershipOn(index, 'rep-tom', '2026-05-15')?.teamId).toBe('east');
    expect(membershipOn(index, 'rep-tom', '2024-12-31')).toBeNull();
  });
});

describe('a rep who moved team mid-quarter', () => {
  const { groups, unassigned } = groupCredits(credits, index, 'team', D);
  it('leaves his deals closed before the move with the old team and puts later and open ones with the new', () => {
    const ids = (team: string) => (groups.get(team) ?? []).map((c) => `${c.deal.id}:${c.ownerId}`).sort();
    // West: Tom's 05-10 deal (before the move), Sarah's deal and her 60% of SPLIT; never Sam's overlay.
    expect(ids('west')).toEqual(['S-0420:rep-sarah', 'SPLIT:rep-sarah', 'T-0510:rep-tom']);
    // East: Tom's deal closed on the day of the move, his 40% of SPLIT (05-20) and his open deal (team on D).
    expect(ids('east')).toEqual(['SPLIT:rep-tom', 'T-0515:rep-tom', 'T-OPEN:rep-tom']);
    expect(unassigned.map((c) => c.deal.id)).toEqual(['NOBODY']);
  });

  it('sums each team from its own credits: West 210,000 of 300,000, East 70,000 of 200,000', () => {
    const west = teamFigures('team', 'west');
    // 50,000 + 100,000 + 60,000
    expect(formatMoney(west.actual)).toBe('210000.00');
    expect(formatRatio(west.attainment.value!)).toBe('0.7000');
    const east = teamFigures('team', 'east');
    // 30,000 + 40,000
    expect(formatMoney(east.actual)).toBe('70000.00');
    expect(formatRatio(east.attainment.value!)).toBe('0.3500');
  });

  it('takes the org ratio from its sums (280,000 / 500,000 = 0.56), not the mean of the reps (0.5667)', () => {
    const org = teamFigures('org', 'org');
    expect(formatMoney(org.actual)).toBe('280000.00');
    expect(formatRatio(org.attainment.value!)).toBe('0.5600');
    // Sarah 160,000 / 300,000 = 0.5333; Tom 120,000 / 200,000 = 0.6; their mean is 0.5667.
    const sarah = creditsOf(credits, 'rep-sarah').filter((c) => c.category === 'won');
    expect(formatMoney(sarah.reduce((s, c) => s.plus(c.amount), new Dec(0)))).toBe('160000.00');
  });

  it('rolls regions the same way', () => {
    expect(formatMoney(teamFigures('region', 'americas-w').actual)).toBe('210000.00');
    expect(formatMoney(teamFigures('region', 'americas-e').actual)).toBe('70000.00');
  });
});

describe('team quota', () => {
  it('is the sum of the reps in the team on D, unless RevOps sets one', () => {
    expect(groupQuota('west', 'team', repQuotas, index, Q2, D)).toEqual({ quota: d(300_000), reps: ['rep-sarah'] });
    expect(groupQuota('org', 'org', repQuotas, index, Q2, D).quota?.toString()).toBe('500000');
    // On 2026-05-01 (a D before the move) Tom's quota still counts for West.
    expect(groupQuota('west', 'team', repQuotas, index, Q2, '2026-05-01').quota?.toString()).toBe('500000');
    expect(groupQuota('west', 'team', repQuotas, index, Q2, D, d(450_000)).quota?.toString()).toBe('450000');
    expect(groupQuota('nowhere', 'team', repQuotas, index, Q2, D).quota).toBeNull();
  });
});

describe('all team quotas at once', () => {
  it('matches groupQuota for every team and applies overrides', () => {
    const { quotas, unassigned } = groupQuotas(
      'team',
      new Map([...repQuotas, ['rep-gone', d(1)]]),
      index,
      Q2,
      D,
      new Map([['east', d(1)]]),
    );
    expect([...quotas].map(([k, v]) => [k, v.toString()]).sort()).toEqual([
      ['east', '1'],
      ['west', '300000'],
    ]);
    expect(unassigned).toEqual(['rep-gone']);
  });
});

describe('breakdowns', () => {
  it('sums a subject credits by product line', () => {
    const won = creditsOf(credits, 'rep-tom').filter((c) => c.category === 'won');
    const b = breakdownBy(won, 'productLine');
    expect(formatMoney(b.get('core')!.amount)).toBe('90000.00'); // 50,000 + 40% of 100,000
    expect(formatMoney(b.get('addon')!.amount)).toBe('30000.00');
  });
});
