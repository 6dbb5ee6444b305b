/** Ramp and territory adjustments, attainment history, period changes and trend, worked by hand. */
import { describe, expect, it } from 'vitest';
import {
  rampFactor,
  rampOn,
  tenureAdjustedAttainment,
  territoryAdjustedAttainment,
  territoryIndexes,
} from '../../../src/metrics/math/adjustments.ts';
import { attainmentHistory, changeOverLag, trend } from '../../../src/metrics/math/history.ts';
import type { Period } from '../../../src/metrics/math/types.ts';
import { formatRatio } from '../../../src/util/money.ts';
import { d } from './fixtures.ts';

const Q2: Period = { id: 'FY2026-Q2', start: '2026-04-01', end: '2026-06-30' };

describe('ramp (tenure-adjusted)', () => {
  it('steps 25/50/75/100% by month of tenure, 0 before the start', () => {
    expect(rampOn('2026-04-01', '2026-03-31').toString()).toBe('0');
    expect(rampOn('2026-04-01', '2026-04-30').toString()).toBe('0.25');
    expect(rampOn('2026-04-01', '2026-05-01').toString()).toBe('0.5');
    expect(rampOn('2026-04-01', '2026-07-01').toString()).toBe('1');
  });
  it('averages the ramp over the quarter days: starting 04-01, (30 x 0.25 + 31 x 0.5 + 30 x 0.75) / 91 = 0.5', () => {
    expect(rampFactor('2026-04-01', Q2).toString()).toBe('0.5');
    // Starting 05-01: (30 x 0 + 31 x 0.25 + 30 x 0.5) / 91 = 22.75 / 91 = 0.25
    expect(rampFactor('2026-05-01', Q2).toString()).toBe('0.25');
    expect(rampFactor('2020-01-01', Q2).toString()).toBe('1');
    expect(rampFactor(null, Q2).toString()).toBe('1');
  });
  it('scales the quota: 150,000 / (600,000 x 0.5) = 0.5 where plain attainment is 0.25', () => {
    expect(tenureAdjustedAttainment(d(150_000), d(600_000), d('0.5')).value!.toString()).toBe('0.5');
    expect(tenureAdjustedAttainment(d(1), d(600_000), d(0)).reason).toBe('no_quota');
    expect(tenureAdjustedAttainment(d(1), null, d(1)).reason).toBe('no_quota');
  });
});

describe('territory adjustment', () => {
  it('indexes territories by trailing bookings over their mean: 100, 200, 300 give 0.5, 1, 1.5', () => {
    const t = territoryIndexes(
      new Map([
        ['north', d(100)],
        ['south', d(200)],
        ['west', d(300)],
      ]),
    )!;
    expect([...t].map(([k, v]) => [k, v.toString()])).toEqual([
      ['north', '0.5'],
      ['south', '1'],
      ['west', '1.5'],
    ]);
    expect(territoryIndexes(new Map([['x', d(0)]]))).toBeNull();
  });
  it('divides attainment by the index: 0.6 / 1.5 = 0.4', () => {
    expect(territoryAdjustedAttainment({ value: d('0.6'), reason: null }, d('1.5')).value!.toString()).toBe('0.4');
    expect(territoryAdjustedAttainment({ value: d('0.6'), reason: null }, null).reason).toBe('no_territory_index');
  });
});

describe('history, changes and trend', () => {
  // The seed's quarters: 468 / 492 / 570 / 522 thousand of 600 thousand = 78%, 82%, 95%, 87%.
  const points = attainmentHistory([
    { periodId: 'Q1', quota: d(600_000), actual: d(468_000) },
    { periodId: 'Q2', quota: d(600_000), actual: d(492_000) },
    { periodId: 'Q3', quota: d(600_000), actual: d(570_000) },
    { periodId: 'Q4', quota: d(600_000), actual: d(522_000) },
  ]);
  it('gives attainment per period', () => {
    expect(points.map((p) => formatRatio(p.attainment.value!))).toEqual(['0.7800', '0.8200', '0.9500', '0.8700']);
  });
  it('gives QoQ as the last change: -8 points, actual down 48,000 / 570,000 = 8.42%', () => {
    const qoq = changeOverLag(points, 1)!;
    expect(qoq.attainmentPoints.value!.toString()).toBe('-8');
    expect(formatRatio(qoq.actualGrowth.value!)).toBe('-0.0842');
    // Three periods back: 87 - 78 = +9 points.
    expect(changeOverLag(points, 3)!.attainmentPoints.value!.toString()).toBe('9');
    expect(changeOverLag(points, 4)).toBeNull();
  });
  it('gives the slope as the mean change, (4 + 13 - 8) / 3 = 3 points a period, improving', () => {
    const t = trend(points);
    expect(t.slopePoints.value!.toString()).toBe('3');
    expect(t.direction).toBe('improving');
  });
  it('calls a slope under 2 points flat, and skips periods without a quota', () => {
    const flat = attainmentHistory([
      { periodId: 'a', quota: d(100), actual: d(80) },
      { periodId: 'b', quota: null, actual: d(5) },
      { periodId: 'c', quota: d(100), actual: d(81) },
      { periodId: 'd', quota: d(100), actual: d(79) },
    ]);
    // Only c -> d has two attainments: -2 points: not flat (the size is 2, not under 2), declining.
    expect(trend(flat)).toMatchObject({ direction: 'declining' });
    expect(trend(flat).slopePoints.value!.toString()).toBe('-2');
    const tiny = attainmentHistory([
      { periodId: 'a', quota: d(100), actual: d(80) },
      { periodId: 'b', quota: d(100), actual: d('81.5') },
    ]);
    expect(trend(tiny).direction).toBe('flat');
    expect(trend(tiny.slice(0, 1)).slopePoints.reason).toBe('too_few_periods');
  });
});
