/** Forecast calibration: snapshots, the shrunken table, isotonic map and shock, worked by hand; recovery of a known truth. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyIsotonic,
  countOutcomes,
  type DealTimeline,
  dealProbability,
  FALLBACK_SIGMA,
  fitIsotonic,
  fitRateTable,
  fitShockSigma,
  learnCalibration,
  newPipelineTerms,
  periodSnapshots,
  type Snapshot,
  tableRate,
  weeksLeft,
} from '../../../src/metrics/math/calibration.ts';
import type { Period } from '../../../src/metrics/math/types.ts';
import { addDays } from '../../../src/util/date.ts';
import { Dec } from '../../../src/util/money.ts';
import { quarters, syntheticHistory, TRUE_WIN } from './history-fixture.ts';

const open = (date: string, stage: string, closeDate: string, probability = 0.5) => ({
  date,
  stage,
  category: 'open' as const,
  closeDate,
  probability,
});
const closed = (date: string, won: boolean) => ({
  date,
  stage: won ? 'Closed Won' : 'Closed Lost',
  category: won ? ('won' as const) : ('lost' as const),
  closeDate: date,
  probability: won ? 1 : 0,
});

describe('weeks left', () => {
  it('counts the weekly steps after the date through the period end, rounded up, at least 1 and at most 13', () => {
    expect(weeksLeft('2026-01-01', '2026-03-31')).toBe(13); // 89 days after
    expect(weeksLeft('2025-12-01', '2026-03-31')).toBe(13); // capped
    expect(weeksLeft('2026-03-24', '2026-03-31')).toBe(1); // 7 days after
    expect(weeksLeft('2026-03-23', '2026-03-31')).toBe(2); // 8 days after
    expect(weeksLeft('2026-03-31', '2026-03-31')).toBe(1); // the last day
  });
  it('gives week k the same weeks left in 90-, 91- and 92-day quarters', () => {
    const quarters = [
      ['2025-01-01', '2025-03-31'],
      ['2025-04-01', '2025-06-30'],
      ['2025-10-01', '2025-12-31'],
    ] as const;
    for (let k = 0; k <= 12; k++)
      expect(
        quarters.map(([start, end]) => weeksLeft(addDays(start, 7 * k), end)),
        `week ${k}`,
      ).toEqual([13 - k, 13 - k, 13 - k]);
  });
});

describe('snapshots of an ended period', () => {
  const P: Period = { id: 'P', start: '2026-01-01', end: '2026-01-21' };
  const deals: DealTimeline[] = [
    {
      id: 'A',
      ownerId: 'r',
      createdDate: '2025-12-20',
      amount: new Dec(100),
      rows: [
        open('2025-12-20', 'Prospecting', '2026-01-20', 0.1),
        open('2026-01-10', 'Negotiation', '2026-01-20', 0.9),
        closed('2026-01-18', true),
      ],
    },
    {
      id: 'B',
      ownerId: 'r',
      createdDate: '2026-01-05',
      amount: new Dec(100),
      rows: [
        open('2026-01-05', 'Prospecting', '2026-01-30'),
        open('2026-01-12', 'Prospecting', '2026-01-19'),
        closed('2026-02-02', false),
      ],
    },
    {
      // Slips on 01-09 to February and is won there: a miss for this period.
      id: 'C',
      ownerId: 'r',
      createdDate: '2025-12-01',
      amount: new Dec(100),
      rows: [
        open('2025-12-01', 'Proposal', '2026-01-10'),
        open('2026-01-09', 'Proposal', '2026-02-15'),
        closed('2026-02-10', true),
      ],
    },
  ];
  const snaps = periodSnapshots(deals, P);
  it('takes every deal open on each week origin with a close date inside the period, labelled won-in-period', () => {
    expect(snaps.map((s) => [s.dealId, s.origin, s.stage, s.weeksLeft, s.won])).toEqual([
      ['A', '2026-01-01', 'Prospecting', 3, true],
      ['A', '2026-01-08', 'Prospecting', 2, true],
      ['A', '2026-01-15', 'Negotiation', 1, true],
      ['B', '2026-01-15', 'Prospecting', 1, false],
      ['C', '2026-01-01', 'Proposal', 3, false],
      ['C', '2026-01-08', 'Proposal', 2, false],
    ]);
  });
  it('counts wins and losses as (deal, period) pairs', () => {
    expect(countOutcomes(snaps)).toEqual({ wins: 1, losses: 2 });
  });
  it('counts new pipeline: deals created after the origin and won inside the period', () => {
    const later: DealTimeline = {
      id: 'N',
      ownerId: 'r',
      createdDate: '2026-01-03',
      amount: new Dec(250),
      rows: [open('2026-01-03', 'Prospecting', '2026-01-19'), closed('2026-01-19', true)],
    };
    const terms = newPipelineTerms([...deals, later], [P], 0);
    expect(terms.get('r')?.lambda).toBe(1);
    expect(terms.get('r')?.amounts.map(String)).toEqual(['250']);
    expect(newPipelineTerms([...deals, later], [P], 1).size).toBe(0); // created before the second origin
  });
});

function snap(stage: string, weeks: number, won: boolean, periodId = 'P', week = 0): Snapshot {
  return { dealId: 'x', periodId, origin: '2026-01-01', week, stage, weeksLeft: weeks, crmProbability: 0.9, won };
}
const many = (n: number, f: () => Snapshot) => Array.from({ length: n }, f);

describe('the shrunken rate table (docs/metrics.md worked example)', () => {
  const snaps = [
    ...many(2, () => snap('S', 5, true)),
    ...many(3, () => snap('S', 5, false)),
    ...many(10, () => snap('S', 6, true)),
    ...many(25, () => snap('S', 6, false)),
    ...many(18, () => snap('T', 4, true)),
    ...many(42, () => snap('T', 4, false)),
  ];
  const t = fitRateTable(snaps, 20);
  it('pulls cells toward their stage and stages toward the org rate', () => {
    expect(t.org).toEqual({ wins: 30, n: 100, rate: 0.3 });
    expect(t.stages.get('S')?.rate).toBeCloseTo(0.3, 12); // (12 + 6) / 60
    expect(tableRate(t, 'S', 5)).toEqual({ rate: expect.closeTo(0.32, 12), source: 'cell', n: 5 }); // (2 + 6) / 25
    expect(tableRate(t, 'S', 6).rate).toBeCloseTo(16 / 55, 12); // (10 + 6) / 55
  });
  it('falls back to the stage, then the org, where history is silent', () => {
    expect(tableRate(t, 'S', 1)).toEqual({ rate: expect.closeTo(0.3, 12), source: 'stage', n: 40 });
    expect(tableRate(t, 'Unknown', 1)).toEqual({ rate: 0.3, source: 'org', n: 100 });
  });
  it('a larger prior weight pulls harder', () => {
    expect(tableRate(fitRateTable(snaps, 0), 'S', 5).rate).toBe(0.4);
    expect(tableRate(fitRateTable(snaps, 1e9), 'S', 5).rate).toBeCloseTo(0.3, 6);
  });
});

describe('isotonic regression', () => {
  it('pools adjacent violators into increasing points', () => {
    const m = fitIsotonic([
      { x: 0.1, y: 0 },
      { x: 0.2, y: 1 },
      { x: 0.3, y: 0 },
      { x: 0.4, y: 1 },
    ]);
    expect(m.x.map((v) => v.toFixed(10))).toEqual(['0.1000000000', '0.2500000000', '0.4000000000']);
    expect(m.y).toEqual([0, 0.5, 1]);
    expect(applyIsotonic(m, 0.175)).toBeCloseTo(0.25, 12);
    expect(applyIsotonic(m, 0.05)).toBe(0);
    expect(applyIsotonic(m, 0.9)).toBe(1);
  });
  it('pools equal x first; no points is the identity', () => {
    expect(
      fitIsotonic([
        { x: 0.5, y: 1 },
        { x: 0.5, y: 0 },
        { x: 0.5, y: 0 },
      ]),
    ).toEqual({ x: [0.5], y: [1 / 3] });
    expect(applyIsotonic({ x: [], y: [] }, 0.37)).toBe(0.37);
  });
  it('is increasing and maps into [0, 1] for any labels (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ x: fc.double({ min: 0, max: 1, noNaN: true }), y: fc.constantFrom(0, 1) })),
        (pts) => {
          const m = fitIsotonic(pts);
          for (let i = 1; i < m.y.length; i++) {
            expect(m.y[i]).toBeGreaterThan(m.y[i - 1] as number);
            expect(m.x[i]).toBeGreaterThan(m.x[i - 1] as number);
          }
          let last = -1;
          for (let x = 0; x <= 1; x += 0.05) {
            const y = applyIsotonic(m, x);
            if (pts.length > 0) expect(y).toBeGreaterThanOrEqual(0);
            expect(y).toBeLessThanOrEqual(1);
            expect(y).toBeGreaterThanOrEqual(last);
            last = y;
          }
        },
      ),
    );
  });
});

describe('the shared shock', () => {
  it('is the excess variance of origin totals over the independent variance, by moments', () => {
    // Two origins of two deals at p = 0.5: one wins both, one neither. excess = 2 x ((2-1)^2 - 0.5) = 1,
    // sum V^2 = 2 x 0.25 = 0.5, sigma = sqrt(2).
    const snaps = [
      snap('S', 1, true, 'P', 0),
      snap('S', 1, true, 'P', 0),
      snap('S', 1, false, 'P', 1),
      snap('S', 1, false, 'P', 1),
    ];
    expect(fitShockSigma(snaps, () => 0.5)).toBeCloseTo(Math.SQRT2, 12);
  });
  it('is 0 when outcomes vary less than independent deals would', () => {
    const snaps = [
      snap('S', 1, true, 'P', 0),
      snap('S', 1, false, 'P', 0),
      snap('S', 1, true, 'P', 1),
      snap('S', 1, false, 'P', 1),
    ];
    expect(fitShockSigma(snaps, () => 0.5)).toBe(0);
  });
});

describe('learning from history', () => {
  const ps = quarters().slice(0, 8);
  const snapsOf = (timelines: DealTimeline[]) => ps.map((p) => periodSnapshots(timelines, p));
  it('falls back to the CRM probabilities, with a wider band, when wins or losses are too few', () => {
    const c = learnCalibration(snapsOf(syntheticHistory(1, 20)), { priorWeight: 20, minWins: 50, minLosses: 150 });
    expect(c.wins).toBeLessThan(50);
    expect(c.basis).toBe('crm_fallback');
    expect(c.sigma).toBe(FALLBACK_SIGMA);
    expect(dealProbability(c, 'Late', 3, 0.9)).toEqual({ p: 0.9, source: 'crm', stage: 'Late', weeksLeft: 3, n: 0 });
  });
  it('minWins and minLosses decide the basis', () => {
    const snaps = snapsOf(syntheticHistory(1, 20));
    const { wins, losses } = countOutcomes(snaps.flat());
    expect(learnCalibration(snaps, { priorWeight: 20, minWins: wins, minLosses: losses }).basis).toBe('calibrated');
    expect(learnCalibration(snaps, { priorWeight: 20, minWins: wins + 1, minLosses: losses }).basis).toBe(
      'crm_fallback',
    );
    expect(learnCalibration(snaps, { priorWeight: 20, minWins: wins, minLosses: losses + 1 }).basis).toBe(
      'crm_fallback',
    );
  });
  it('recovers the true won-in-period probabilities within 0.05 per stage over three seeds', () => {
    for (const seed of [1, 2, 3]) {
      const c = learnCalibration(snapsOf(syntheticHistory(seed, 400)), {
        priorWeight: 20,
        minWins: 50,
        minLosses: 150,
      });
      expect(c.basis).toBe('calibrated');
      for (const stage of ['Early', 'Late']) {
        // The truth: no slip (0.9) and then a win at the stage's rate.
        const truth = 0.9 * (TRUE_WIN[stage] as number);
        let err = 0;
        for (let w = 1; w <= 13; w++) err += Math.abs(dealProbability(c, stage, w, 0.9).p - truth);
        expect(err / 13, `seed ${seed} ${stage}`).toBeLessThan(0.05);
      }
    }
  });
  it('gives probabilities in [0, 1] for any stage and weeks left (property)', () => {
    const c = learnCalibration(snapsOf(syntheticHistory(4, 100)), { priorWeight: 5, minWins: 1, minLosses: 1 });
    fc.assert(
      fc.property(fc.constantFrom('Early', 'Late', 'Other'), fc.integer({ min: 1, max: 40 }), (stage, w) => {
        const p = dealProbability(c, stage, w, null).p;
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThanOrEqual(1);
      }),
    );
  });
});
