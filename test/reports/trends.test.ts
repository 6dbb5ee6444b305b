/**
 * The rules of `report trends` on hand-worked values (docs/metrics.md, "Trends"): qoq and yoy are differences of
 * the printed ratios, the periods a request loads reach a year before the first shown, and the consistent performers
 * are those with a quota in each complete period, a spread of at most 25 points and a mean at or above 100% (top)
 * or below 70% (bottom), lowest spread first.
 */
import { describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import {
  consistencyOf,
  consistentPerformers,
  parseTrendBy,
  parseTrendPeriods,
  ratioChange,
  trendHistory,
} from '../../src/reports/trends.ts';

describe('qoq and yoy', () => {
  it('is the later ratio less the earlier, to four places', () => {
    // 101.17% after 87.00%: +14.17 points.
    expect(ratioChange('1.0117', '0.8700')).toBe('0.1417');
    // A partial period compares its projection (0.5155) with the whole quarter before (0.9063): -39.08 points.
    expect(ratioChange('0.5155', '0.9063')).toBe('-0.3908');
    expect(ratioChange('0.5000', '0.5000')).toBe('0.0000');
  });
  it('is missing where either period has no quota', () => {
    expect(ratioChange(null, '0.8700')).toBeNull();
    expect(ratioChange('0.8700', null)).toBeNull();
  });
});

describe('the periods a trends request loads', () => {
  const cal = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
  it('four quarters to FY2026-Q4 load FY2025-Q1 to FY2026-Q3: the year before FY2026-Q1 and the quarter before it', () => {
    const h = trendHistory(cal, cal.periodById('FY2026-Q4'), 4);
    expect(h.map((p) => p.id)).toEqual([
      'FY2024-Q4',
      'FY2025-Q1',
      'FY2025-Q2',
      'FY2025-Q3',
      'FY2025-Q4',
      'FY2026-Q1',
      'FY2026-Q2',
      'FY2026-Q3',
    ]);
  });
  it('one quarter loads the five before it', () => {
    expect(trendHistory(cal, cal.periodById('FY2026-Q2'), 1).map((p) => p.id)).toEqual([
      'FY2025-Q1',
      'FY2025-Q2',
      'FY2025-Q3',
      'FY2025-Q4',
      'FY2026-Q1',
    ]);
  });
});

describe('consistency', () => {
  it('is the mean and the population standard deviation of the printed attainments', () => {
    // 0.90, 1.00, 1.10: mean 1.00; deviations -0.1, 0, 0.1; variance 0.02/3 = 0.006667; sd 0.08165.
    expect(consistencyOf(['0.9000', '1.0000', '1.1000'])).toEqual({ mean: '1.0000', spread: '0.0816' });
    // 1.20 and 1.00: mean 1.10, sd 0.10.
    expect(consistencyOf(['1.2000', '1.0000'])).toEqual({ mean: '1.1000', spread: '0.1000' });
  });

  it('names the top and bottom consistent performers, lowest spread first', () => {
    const r = consistentPerformers([
      // mean 1.10, spread 0.10: top.
      { id: 'a', name: 'Ana', attainments: ['1.2000', '1.0000'] },
      // mean 1.05, spread 0.05: top, ahead of Ana.
      { id: 'b', name: 'Bo', attainments: ['1.1000', '1.0000'] },
      // mean 1.50, spread 0.50: above 100% but not consistent.
      { id: 'c', name: 'Cy', attainments: ['2.0000', '1.0000'] },
      // a period without a quota: not a candidate.
      { id: 'd', name: 'Di', attainments: ['1.0000', null] },
      // mean 0.50, spread 0: bottom.
      { id: 'e', name: 'Ed', attainments: ['0.5000', '0.5000'] },
      // mean 0.60, spread 0: bottom, after Ed (the same spread, the lower mean first).
      { id: 'f', name: 'Flo', attainments: ['0.6000', '0.6000'] },
      // mean 0.85: in between, on neither list.
      { id: 'g', name: 'Gus', attainments: ['0.8500', '0.8500'] },
      // one period only: not a candidate.
      { id: 'h', name: 'Hal', attainments: ['1.0000'] },
      // mean exactly 0.70: not below it.
      { id: 'i', name: 'Ida', attainments: ['0.7000', '0.7000'] },
    ]);
    expect(r.top).toEqual([
      { id: 'b', mean: '1.0500', spread: '0.0500' },
      { id: 'a', mean: '1.1000', spread: '0.1000' },
    ]);
    expect(r.bottom).toEqual([
      { id: 'e', mean: '0.5000', spread: '0.0000' },
      { id: 'f', mean: '0.6000', spread: '0.0000' },
    ]);
  });

  it('names five at most on each list', () => {
    const many = Array.from({ length: 8 }, (_, i) => ({
      id: `r${i}`,
      name: `Rep ${i}`,
      attainments: ['1.0000', `1.0${i}00`],
    }));
    expect(consistentPerformers(many).top.map((x) => x.id)).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
  });
});

describe('the options', () => {
  it('takes --periods from 1 to 20 and --by as a scope', () => {
    expect(parseTrendPeriods('4', '--periods')).toBe(4);
    expect(parseTrendPeriods(undefined, '--periods')).toBeUndefined();
    for (const bad of ['0', '21', '2.5', 'four', '-1'])
      expect(() => parseTrendPeriods(bad, '--periods')).toThrow(/--periods must be a whole number from 1 to 20/);
    expect(parseTrendBy('product-line', '--by')).toBe('product-line');
    expect(parseTrendBy('Region', '--by')).toBe('region');
    expect(() => parseTrendBy('country', 'by')).toThrow(/by must be one of region, team, segment, product-line/);
  });
});
