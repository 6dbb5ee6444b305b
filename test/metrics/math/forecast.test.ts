/** The seeded Monte Carlo: hand-checkable degenerate cases, the percentile definition, determinism. */
import { describe, expect, it } from 'vitest';
import { isAppError } from '../../../src/errors.ts';
import {
  forecastFromTotals,
  mulberry32,
  nearestRankIndex,
  simulateForecast,
} from '../../../src/metrics/math/forecast.ts';
import { formatMoney, formatRatio } from '../../../src/util/money.ts';
import { d } from './fixtures.ts';

describe('nearest-rank percentiles', () => {
  it('takes the value at 1-based rank ceil(k n / 100)', () => {
    expect(nearestRankIndex(10, 10_000)).toBe(999);
    expect(nearestRankIndex(50, 3)).toBe(1); // ceil(1.5) = 2nd value
    expect(nearestRankIndex(90, 10)).toBe(8); // 9th of 10
    expect(nearestRankIndex(10, 1)).toBe(0);
  });
});

describe('percentiles of trial totals', () => {
  it('are the values a full sort puts at the nearest ranks, ties and all', () => {
    const rand = mulberry32(11);
    for (const [n, distinct] of [
      [1, 1],
      [7, 3],
      [1000, 2],
      [10_000, 50],
      [10_000, 1_000_000],
    ] as const) {
      // Few distinct values make long runs of equal totals (a small pipeline: most trials win the same deals).
      const totals = Float64Array.from({ length: n }, () => Math.floor(rand() * distinct) * 100);
      const before = totals.slice();
      const sorted = totals.slice().sort();
      const r = forecastFromTotals(d(1000), d(1500), totals, 1);
      const at = (k: number) => formatMoney(d(1000).plus(d((sorted[nearestRankIndex(k, n)] as number) / 100)));
      expect([r.p10, r.p25, r.p50, r.p90].map(formatMoney)).toEqual([at(10), at(25), at(50), at(90)]);
      const hits = sorted.filter((x) => x >= 50_000).length;
      expect(formatRatio(r.probabilityToHitQuota.value!)).toBe(formatRatio(d(hits).div(n)));
      expect(totals).toEqual(before);
    }
  });
});

describe('certain and impossible deals', () => {
  // A = 100,000; D1 certain (pWin 1, pInPeriod 1), D2 won but never in the period (pInPeriod 0), D3 never won.
  const input = {
    actual: d(100_000),
    quota: d(150_000),
    deals: [
      { id: 'D1', amount: d(50_000), pWin: 1, pInPeriod: 1 },
      { id: 'D2', amount: d(30_000), pWin: 1, pInPeriod: 0 },
      { id: 'D3', amount: d(20_000), pWin: 0, pInPeriod: 1 },
    ],
    trials: 1000,
    seed: 7,
  };
  it('ends every trial at 150,000, which reaches a 150,000 quota', () => {
    const r = simulateForecast(input);
    expect([r.p10, r.p25, r.p50, r.p90, r.mean].map(formatMoney)).toEqual(Array(5).fill('150000.00'));
    expect(formatRatio(r.probabilityToHitQuota.value!)).toBe('1.0000');
  });
  it('never reaches a quota one cent higher', () => {
    const r = simulateForecast({ ...input, quota: d('150000.01') });
    expect(formatRatio(r.probabilityToHitQuota.value!)).toBe('0.0000');
  });
  it('has no probability to hit without a quota', () => {
    expect(simulateForecast({ ...input, quota: null }).probabilityToHitQuota).toEqual({
      value: null,
      reason: 'no_quota',
    });
  });
});

describe('a coin-flip deal', () => {
  // One deal of 100 at p = 0.5: about half the trials end at A = 0, half at 100. P10 and P25 are then A, P90 is 100.
  const r = simulateForecast({
    actual: d(0),
    quota: d(100),
    deals: [{ id: 'X', amount: d(100), pWin: 0.5, pInPeriod: 1 }],
    seed: 42,
  });
  it('splits the trials near 50/50 and reads the percentiles off the sorted totals', () => {
    const p = r.probabilityToHitQuota.value!.toNumber();
    expect(p).toBeGreaterThan(0.47);
    expect(p).toBeLessThan(0.53);
    expect(formatMoney(r.p10)).toBe('0.00');
    expect(formatMoney(r.p25)).toBe('0.00');
    expect(formatMoney(r.p90)).toBe('100.00');
    expect(r.trials).toBe(10_000);
  });
});

describe('determinism', () => {
  const deals = Array.from({ length: 20 }, (_, i) => ({
    id: `D${i}`,
    amount: d(1000 * (i + 1)).plus('0.005'),
    pWin: (i % 10) / 10,
    pInPeriod: 0.9,
  }));
  it('gives the same answer for the same seed, whatever the order of the deals', () => {
    const a = simulateForecast({ actual: d(5000), quota: d(60_000), deals, seed: 99 });
    const b = simulateForecast({ actual: d(5000), quota: d(60_000), deals: [...deals].reverse(), seed: 99 });
    expect(b).toEqual(a);
  });
  it('repeats mulberry32 exactly from a seed', () => {
    const g1 = mulberry32(1);
    const g2 = mulberry32(1);
    const s1 = [g1(), g1(), g1()];
    expect([g2(), g2(), g2()]).toEqual(s1);
    expect(new Set(s1).size).toBe(3);
  });
});

describe('bad input', () => {
  it('names the deal whose probability is out of range', () => {
    try {
      simulateForecast({ actual: d(0), quota: null, deals: [{ id: 'BAD-1', amount: d(1), pWin: 1.2, pInPeriod: 1 }] });
      expect.unreachable();
    } catch (e) {
      expect(isAppError(e, 'RECORD_INVALID')).toBe(true);
      expect((e as Error).message).toBe('pWin of deal BAD-1 must be a probability in [0, 1], got 1.2');
    }
  });
});
