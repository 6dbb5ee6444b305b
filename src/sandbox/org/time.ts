/**
 * Calendar helpers for the generator: calendar quarters and the instants records are stamped with.
 *
 * Every generated instant falls between 11:00 and 20:59 UTC, which is the same calendar day in the org's zone
 * (America/New_York, UTC-5 or UTC-4) and every European zone, so "a timestamp read as a date in the org's time
 * zone" gives the day the generator meant. Records on the anchor day itself are stamped before `anchorInstant`.
 */
import {
  addDays,
  addMonths,
  dateParts,
  fromDayNumber,
  makeDate,
  type PlainDate,
  toDayNumber,
} from '../../util/date.ts';
import type { FiscalQuarter } from './model.ts';
import type { Rng } from './random.ts';

/** The moment the generated history ends: 12:00 UTC (7 or 8 am in New York) on the anchor date. */
export function anchorInstant(anchor: PlainDate): string {
  return `${anchor}T12:00:00.000Z`;
}

/** The calendar quarter containing a date, named for a fiscal year that starts in January. */
export function quarterOf(d: PlainDate): FiscalQuarter {
  const { year, month } = dateParts(d);
  const number = Math.floor((month - 1) / 3) + 1;
  const start = makeDate(year, (number - 1) * 3 + 1, 1);
  return { id: `FY${year}-Q${number}`, fiscalYear: year, number, start, end: addDays(addMonths(start, 3), -1) };
}

/** `n` quarters after (or before, when negative) the one containing `d`. */
export function quarterOffset(d: PlainDate, n: number): FiscalQuarter {
  return quarterOf(addMonths(quarterOf(d).start, 3 * n));
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** An instant at the given minute after 11:00 UTC on a date (0..599). */
export function instantAt(d: PlainDate, minutesAfter11Utc: number): string {
  const m = Math.max(0, Math.min(599, Math.floor(minutesAfter11Utc)));
  const s = Math.floor((minutesAfter11Utc - Math.floor(minutesAfter11Utc)) * 60);
  return `${d}T${pad(11 + Math.floor(m / 60))}:${pad(m % 60)}:${pad(s)}.000Z`;
}

/** A random working-hours instant on a date; on the anchor day only before `anchorInstant`. */
export function workInstant(rng: Rng, d: PlainDate, anchor: PlainDate): string {
  const span = d === anchor ? 59 : 599;
  return instantAt(d, rng.next() * span);
}

export function isWeekday(d: PlainDate): boolean {
  const w = (((dayNumber(d) + 4) % 7) + 7) % 7;
  return w >= 1 && w <= 5;
}

/** The instant's calendar date (valid for generated instants, which never cross midnight in the org's zone). */
export function dateOfInstant(instant: string): PlainDate {
  return instant.slice(0, 10);
}

// Day arithmetic is the generator's hottest path (a medium org does millions of date steps); memoizing the
// conversions between `YYYY-MM-DD` and day numbers keeps it cheap. Pure functions, so the caches change no result.
const dayNumbers = new Map<string, number>();
const dayStrings = new Map<number, PlainDate>();

function dayNumber(d: PlainDate): number {
  let n = dayNumbers.get(d);
  if (n === undefined) {
    n = toDayNumber(d);
    dayNumbers.set(d, n);
  }
  return n;
}

function dayString(n: number): PlainDate {
  let s = dayStrings.get(n);
  if (s === undefined) {
    s = fromDayNumber(n);
    dayStrings.set(n, s);
  }
  return s;
}

/** `addDays`, memoized. */
export function plusDays(d: PlainDate, n: number): PlainDate {
  return dayString(dayNumber(d) + n);
}

/** `diffDays` (b - a), memoized. */
export function daysBetween(a: PlainDate, b: PlainDate): number {
  return dayNumber(b) - dayNumber(a);
}
