/**
 * Days and windows. Every window is inclusive at both ends, and every figure that depends on the as-of date D takes
 * it as an argument: nothing here reads a clock.
 */
import { AppError } from '../../errors.ts';
import { addDays, addMonths, diffDays, type PlainDate, weekday } from '../../util/date.ts';
import type { Period } from './types.ts';

/** An inclusive span of dates. */
export interface DateWindow {
  start: PlainDate;
  end: PlainDate;
}

export interface PeriodDays {
  total: number;
  /** Days from the period start through D inclusive, capped to [0, total]. */
  elapsed: number;
  remaining: number;
}

/** Rejects a period whose end precedes its start, naming it: every other function trusts this. */
export function checkPeriod(period: Period): void {
  if (period.end < period.start)
    throw new AppError(
      'CALENDAR_INVALID',
      `period ${period.id} ends (${period.end}) before it starts (${period.start})`,
      {
        where: `period ${period.id}`,
      },
    );
}

/** `days_total`, `days_elapsed` and `days_remaining` of the definitions (seed: 73 of 91, 18 remaining). */
export function periodDays(period: Period, asOf: PlainDate): PeriodDays {
  checkPeriod(period);
  const total = diffDays(period.start, period.end) + 1;
  const elapsed = Math.min(Math.max(diffDays(period.start, asOf) + 1, 0), total);
  return { total, elapsed, remaining: total - elapsed };
}

/** The part of the period up to D: `[start, min(D, end)]`; empty (end < start) before the period starts. */
export function toDateWindow(period: Period, asOf: PlainDate): DateWindow {
  return { start: period.start, end: asOf < period.end ? asOf : period.end };
}

/** The N days ending on D, D included: the trailing 30 days of D = 2026-06-12 start on 2026-05-14. */
export function trailingDays(asOf: PlainDate, days: number): DateWindow {
  if (!Number.isInteger(days) || days < 1)
    throw new AppError('CONFIG_INVALID', `a trailing window must be a whole number of days >= 1, got ${days}`);
  return { start: addDays(asOf, -(days - 1)), end: asOf };
}

/** The N months ending on D: the day after "D minus N months" through D ("trailing 4 quarters" is 12 months). */
export function trailingMonths(asOf: PlainDate, months: number): DateWindow {
  return { start: addDays(addMonths(asOf, -months), 1), end: asOf };
}

/** The window of the same length just before `w` (the "90 days before" of a trailing-90-day comparison). */
export function priorWindow(w: DateWindow): DateWindow {
  const len = diffDays(w.start, w.end) + 1;
  return { start: addDays(w.start, -len), end: addDays(w.start, -1) };
}

export function inWindow(d: PlainDate, w: DateWindow): boolean {
  return d >= w.start && d <= w.end;
}

/** Weekdays (Monday to Friday) in the window that are not in `holidays`. */
export function businessDays(w: DateWindow, holidays: ReadonlySet<PlainDate>): number {
  const len = diffDays(w.start, w.end) + 1;
  if (len <= 0) return 0;
  // Whole weeks hold five weekdays each; only the leftover days need looking at.
  const weeks = Math.floor(len / 7);
  let count = weeks * 5;
  let d = addDays(w.start, weeks * 7);
  for (let i = weeks * 7; i < len; i++, d = addDays(d, 1)) {
    const wd = weekday(d);
    if (wd !== 0 && wd !== 6) count++;
  }
  for (const h of holidays) {
    if (inWindow(h, w)) {
      const wd = weekday(h);
      if (wd !== 0 && wd !== 6) count--;
    }
  }
  return count;
}
