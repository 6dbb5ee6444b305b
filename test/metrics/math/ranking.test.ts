/** Shared ranks, percentiles, months of tenure and distribution. */
import { describe, expect, it } from 'vitest';
import { distribution, monthsOfTenure, rankSubjects } from '../../../src/metrics/math/ranking.ts';
import { formatRatio } from '../../../src/util/money.ts';
import { d } from './fixtures.ts';

describe('ranking', () => {
  const ranked = rankSubjects([
    { id: 'carol', value: d('0.8') },
    { id: 'nq', value: null },
    { id: 'amy', value: d('0.9') },
    { id: 'dan', value: d('0.7') },
    { id: 'bob', value: d('0.80') },
  ]);
  it('shares ranks on ties: 1, 2, 2, 4, and leaves subjects without a value unranked', () => {
    expect(ranked.map((r) => [r.id, r.rank, r.of])).toEqual([
      ['amy', 1, 4],
      ['bob', 2, 4],
      ['carol', 2, 4],
      ['dan', 4, 4],
      ['nq', null, 4],
    ]);
  });
  it('gives the share of the others strictly behind: 3/3, 1/3, 1/3, 0/3', () => {
    expect(ranked.map((r) => (r.percentile ? formatRatio(r.percentile) : null))).toEqual([
      '1.0000',
      '0.3333',
      '0.3333',
      '0.0000',
      null,
    ]);
  });
  it('ranks a lone subject first at percentile 1', () => {
    expect(rankSubjects([{ id: 'x', value: d(0) }])[0]).toMatchObject({ rank: 1, of: 1, percentile: d(1) });
  });
});

describe('tenure', () => {
  it('counts whole months of tenure', () => {
    expect(monthsOfTenure('2026-01-15', '2026-02-14')).toBe(0);
    expect(monthsOfTenure('2026-01-15', '2026-02-15')).toBe(1);
    expect(monthsOfTenure('2024-02-29', '2025-02-28')).toBe(12); // Feb 29 + 12 months clamps to Feb 28
    expect(monthsOfTenure('2026-03-01', '2026-02-28')).toBe(-1);
  });
});

describe('distribution', () => {
  const rep = (id: string, att: string | null, status: 'on_track' | 'at_risk' | 'major_gap' | null) => ({
    id,
    status,
    attainment: att === null ? null : d(att),
    actual: d(100),
    quota: att === null ? null : d(200),
    projectedTotal: d(150),
  });
  const dist = distribution([
    rep('r1', '1.1', 'on_track'),
    rep('r2', '0.9', 'at_risk'),
    rep('r3', '0.5', 'major_gap'),
    rep('r4', '0.95', 'on_track'),
    rep('r5', '0.2', 'major_gap'),
    rep('r6', '0.6', 'major_gap'),
    rep('r7', '0.7', 'at_risk'),
    rep('r8', null, null),
  ]);
  it('counts and sums per status band', () => {
    expect(dist.byBand.major_gap.count).toBe(3);
    expect(dist.byBand.major_gap.actual.toString()).toBe('300');
    expect(dist.byBand.major_gap.quota.toString()).toBe('600');
    expect(dist.byBand.no_quota.count).toBe(1);
    expect(dist.byBand.likely_to_hit.count).toBe(0);
  });
  it('splits seven ranked reps into thirds of 3, 2 and 2 by attainment', () => {
    expect(dist.thirds).toEqual({ top: ['r1', 'r4', 'r2'], middle: ['r7', 'r6'], bottom: ['r3', 'r5'] });
    expect(dist.unplaced).toEqual(['r8']);
  });
});
