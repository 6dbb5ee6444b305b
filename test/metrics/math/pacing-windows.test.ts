/** Windows and the three pacing bases, worked by hand on the quarter 2026-04-01 (a Wednesday) .. 2026-06-30. */
import { describe, expect, it } from 'vitest';
import { isAppError } from '../../../src/errors.ts';
import { elapsedFraction, type LikePeriodBookings } from '../../../src/metrics/math/pacing.ts';
import type { Period } from '../../../src/metrics/math/types.ts';
import {
  businessDays,
  periodDays,
  priorWindow,
  trailingDays,
  trailingMonths,
} from '../../../src/metrics/math/windows.ts';
import { formatRatio } from '../../../src/util/money.ts';
import { d } from './fixtures.ts';

const Q2: Period = { id: 'FY2026-Q2', start: '2026-04-01', end: '2026-06-30' };
const D = '2026-06-12';

describe('windows', () => {
  it('takes the trailing 30 days as the 30 days ending on D', () => {
    expect(trailingDays(D, 30)).toEqual({ start: '2026-05-14', end: D });
    expect(trailingDays(D, 1)).toEqual({ start: D, end: D });
  });
  it('takes the trailing 4 quarters as the 12 months ending on D, leap days included', () => {
    expect(trailingMonths(D, 12)).toEqual({ start: '2025-06-13', end: D });
    expect(trailingMonths('2025-02-28', 12)).toEqual({ start: '2024-02-29', end: '2025-02-28' });
    expect(trailingMonths('2024-02-29', 12)).toEqual({ start: '2023-03-01', end: '2024-02-29' });
  });
  it('gives the window of the same length just before', () => {
    // Trailing 90: 03-15..06-12; the 90 before end on 03-14 and start 89 days earlier, on 2025-12-15.
    expect(priorWindow(trailingDays(D, 90))).toEqual({ start: '2025-12-15', end: '2026-03-14' });
  });
  it('rejects a period that ends before it starts, naming it', () => {
    try {
      periodDays({ id: 'FY2026-Q9', start: '2026-02-01', end: '2026-01-31' }, D);
      expect.unreachable();
    } catch (e) {
      expect(isAppError(e, 'CALENDAR_INVALID')).toBe(true);
      expect((e as Error).message).toBe('period FY2026-Q9 ends (2026-01-31) before it starts (2026-02-01)');
    }
  });
  it('counts weekdays less holidays: 13 whole weeks = 65, less Memorial Day (a Monday); a Saturday holiday changes nothing', () => {
    const holidays = new Set(['2026-05-25', '2026-05-30']);
    expect(businessDays(Q2, new Set())).toBe(65);
    expect(businessDays(Q2, holidays)).toBe(64);
    expect(businessDays({ start: '2026-06-13', end: '2026-06-14' }, holidays)).toBe(0); // a weekend
  });
});

describe('pacing bases', () => {
  it('calendar: 73 / 91', () => {
    const p = elapsedFraction({ basis: 'calendar', period: Q2, asOf: D });
    expect(p.f.eq(d(73).div(91))).toBe(true);
    expect(p.used).toBe('calendar');
  });

  it('business: 52 of 64 working days = 0.8125', () => {
    // Through Friday 06-12: 10 whole weeks (50) + Wed, Thu, Fri (3) = 53, less Memorial Day = 52.
    const p = elapsedFraction({ basis: 'business', period: Q2, asOf: D, holidays: ['2026-05-25', '2026-05-30'] });
    expect(p.f.toString()).toBe('0.8125');
    expect(p.used).toBe('business');
    expect(elapsedFraction({ basis: 'business', period: Q2, asOf: '2026-03-31' }).f.toString()).toBe('0');
  });

  const like = (year: number, bookings: [string, number][]): LikePeriodBookings => ({
    period: { id: `FY${year}-Q2`, start: `${year}-04-01`, end: `${year}-06-30` },
    bookings: bookings.map(([date, amount]) => ({ date: `${year}-${date}`, amount: d(amount) })),
  });
  // Same point = 73 days in = June 12 of each year.
  const y2025 = like(2025, [
    ['04-10', 100],
    ['05-10', 100],
    ['06-12', 100],
    ['06-13', 100],
  ]); // 300/400 = 0.75
  const y2024 = like(2024, [
    ['04-05', 50],
    ['05-05', 50],
    ['06-20', 100],
  ]); // 100/200 = 0.5
  const y2023 = like(2023, [
    ['04-05', 50],
    ['05-05', 50],
  ]); // two deals: not usable
  const y2022 = like(2022, [
    ['04-05', 30],
    ['05-05', 30],
    ['06-01', 40],
  ]); // 1.0
  const y2021 = like(2021, [
    ['06-20', 30],
    ['06-21', 30],
    ['06-22', 40],
  ]); // 0, but a fifth period back: not used

  it('seasonal: the mean share at the same point of the last 4 like periods, skipping thin ones: (0.75 + 0.5 + 1) / 3', () => {
    const p = elapsedFraction({ basis: 'seasonal', period: Q2, asOf: D, history: [y2021, y2023, y2025, y2022, y2024] });
    expect(p.used).toBe('seasonal');
    expect(p.f.toString()).toBe('0.75');
    expect(p.shares.map((s) => [s.periodId, s.share.toString()])).toEqual([
      ['FY2025-Q2', '0.75'],
      ['FY2024-Q2', '0.5'],
      ['FY2022-Q2', '1'],
    ]);
  });

  it('seasonal falls back to calendar when fewer than 2 like periods are usable', () => {
    const p = elapsedFraction({ basis: 'seasonal', period: Q2, asOf: D, history: [y2025, y2023] });
    expect(p.used).toBe('calendar');
    expect(p.fallbackReason).toBe('thin_history');
    expect(formatRatio(p.f)).toBe('0.8022'); // 73 / 91
  });

  it('seasonal is 1 on the last day whatever history says', () => {
    const p = elapsedFraction({ basis: 'seasonal', period: Q2, asOf: '2026-06-30', history: [y2025, y2024, y2022] });
    expect(p.f.toString()).toBe('1');
  });
});
