/**
 * Calendar dates as plain `YYYY-MM-DD` strings. Metrics are functions of dates in the org's time zone, never of
 * instants, so dates are handled as day numbers (days since 1970-01-01) and never pass through a local-time Date.
 */
import { now } from '../clock.ts';
import { AppError } from '../errors.ts';

/** A calendar date, `YYYY-MM-DD`. */
export type PlainDate = string;

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isPlainDate(s: unknown): s is PlainDate {
  if (typeof s !== 'string') return false;
  const m = DATE_RE.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth(y, mo);
}

export function parsePlainDate(s: string, where = 'date'): PlainDate {
  if (!isPlainDate(s)) throw new AppError('USAGE', `${where} must be a date as YYYY-MM-DD, got "${s}"`, { where });
  return s;
}

export function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

export function daysInMonth(y: number, month: number): number {
  return [31, isLeapYear(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
}

/** Days since 1970-01-01 (day 0). */
export function toDayNumber(d: PlainDate): number {
  const m = DATE_RE.exec(d);
  if (!m) throw new AppError('INTERNAL', `not a date: "${d}"`);
  return Math.round(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / 86_400_000);
}

export function fromDayNumber(n: number): PlainDate {
  return new Date(n * 86_400_000).toISOString().slice(0, 10);
}

export function makeDate(year: number, month: number, day: number): PlainDate {
  return fromDayNumber(Math.round(Date.UTC(year, month - 1, day) / 86_400_000));
}

export function addDays(d: PlainDate, n: number): PlainDate {
  return fromDayNumber(toDayNumber(d) + n);
}

/** The earlier of two dates (ISO dates order as text). */
export function earlierOf(a: PlainDate, b: PlainDate): PlainDate {
  return a <= b ? a : b;
}

/** The later of two dates. */
export function laterOf(a: PlainDate, b: PlainDate): PlainDate {
  return a >= b ? a : b;
}

/** Whole days from a to b (b - a). */
export function diffDays(a: PlainDate, b: PlainDate): number {
  return toDayNumber(b) - toDayNumber(a);
}

/** Adds calendar months, clamping the day to the target month's length (Jan 31 + 1 month = Feb 28/29). */
export function addMonths(d: PlainDate, n: number): PlainDate {
  const { year, month, day } = dateParts(d);
  const total = year * 12 + (month - 1) + n;
  const y = Math.floor(total / 12);
  const m = (total % 12) + 1;
  return makeDate(y, m, Math.min(day, daysInMonth(y, m)));
}

export function dateParts(d: PlainDate): { year: number; month: number; day: number } {
  const m = DATE_RE.exec(d);
  if (!m) throw new AppError('INTERNAL', `not a date: "${d}"`);
  return { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) };
}

/** 0 = Sunday ... 6 = Saturday. */
export function weekday(d: PlainDate): number {
  return (((toDayNumber(d) + 4) % 7) + 7) % 7;
}

export function minDate(a: PlainDate, b: PlainDate): PlainDate {
  return a <= b ? a : b;
}

export function maxDate(a: PlainDate, b: PlainDate): PlainDate {
  return a >= b ? a : b;
}

/** Inclusive at both ends, as every metric window is. */
export function inRange(d: PlainDate, start: PlainDate, end: PlainDate): boolean {
  return d >= start && d <= end;
}

const zoneFormatters = new Map<string, Intl.DateTimeFormat>();

/** The calendar date of an instant in a time zone: how a CRM timestamp becomes a date in the org's zone. */
export function dateInZone(instant: Date | string | number, timeZone: string): PlainDate {
  let f = zoneFormatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    zoneFormatters.set(timeZone, f);
  }
  const date = instant instanceof Date ? instant : new Date(instant);
  if (Number.isNaN(date.getTime())) throw new AppError('RECORD_INVALID', `not a timestamp: "${String(instant)}"`);
  return f.format(date);
}

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Today in the given time zone, by the program's clock (`src/clock.ts`) unless `at` is given. */
export function today(timeZone: string, at: Date = now()): PlainDate {
  return dateInZone(at, timeZone);
}
