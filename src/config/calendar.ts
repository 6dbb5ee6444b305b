/**
 * Fiscal calendars: which fiscal year, quarter and month a date falls in, and what each period's first and last
 * days are. Pure functions of the calendar settings; no clock and no I/O (callers pass the as-of date).
 *
 * - `calendar`: the fiscal year starts on the first day of `fiscalYearStartMonth`; quarters are three calendar
 *   months. A fiscal year is named after the calendar year in which it ends, so with a February start FY2027 runs
 *   2026-02-01..2027-01-31.
 * - retail `4-4-5` / `4-5-4` / `5-4-4`: a year of 52 whole weeks (53 when due), ending on the last given weekday
 *   of the year-end month (`rule: last`) or on that weekday nearest to the month's last day (`rule: nearest`,
 *   which may be up to three days into the next month). Quarters are 13 weeks, months follow the pattern, and a
 *   53rd week is added to the year's last month. The year is named after the year of its year-end month.
 *
 * Periods are inclusive at both ends, as every metric window is.
 */
import { AppError } from '../errors.ts';
import { addDays, daysInMonth, diffDays, isPlainDate, makeDate, type PlainDate, weekday } from '../util/date.ts';
import { PERIOD_ID_EXPECTED, PERIOD_ID_RE } from './period-id.ts';
import { type CalendarConfig, RETAIL_PATTERNS, type RetailPattern, WEEKDAYS, type WeekdayName } from './schema.ts';

export type PeriodKind = 'year' | 'quarter' | 'month';

/** One fiscal period. `index` is the quarter (1-4) or fiscal month (1-12); 1 for a year. */
export interface FiscalPeriod {
  readonly id: string;
  readonly kind: PeriodKind;
  readonly fiscalYear: number;
  readonly index: number;
  /** First day, inclusive. */
  readonly start: PlainDate;
  /** Last day, inclusive. */
  readonly end: PlainDate;
  /** Days in the period, both ends counted. */
  readonly days: number;
}

/** The calendar settings this module needs; `Config['calendar']` satisfies it. */
export type FiscalCalendarSettings = Pick<CalendarConfig, 'type' | 'fiscalYearStartMonth' | 'yearEnd'> &
  Partial<Pick<CalendarConfig, 'timezone'>>;

export interface FiscalCalendar {
  readonly type: CalendarConfig['type'];
  /** The period of the given kind that contains the date. */
  periodContaining(date: PlainDate, kind: PeriodKind): FiscalPeriod;
  /** Parses `FY2026`, `FY2026-Q4`, `FY2026-M11`; anything else is a CALENDAR_INVALID error. */
  periodById(id: string): FiscalPeriod;
  previous(period: FiscalPeriod): FiscalPeriod;
  next(period: FiscalPeriod): FiscalPeriod;
  /** The period of the same kind and index one fiscal year earlier (FY2026-Q3 -> FY2025-Q3). */
  samePeriodLastYear(period: FiscalPeriod): FiscalPeriod;
  /** Periods of `kind` that overlap [a, b], in order; a and b are dates or periods (a period counts whole). */
  periodsBetween(a: PlainDate | FiscalPeriod, b: PlainDate | FiscalPeriod, kind: PeriodKind): FiscalPeriod[];
  /** The quarters of a year or the months of a year or quarter. */
  childrenOf(period: FiscalPeriod, kind: 'quarter' | 'month'): FiscalPeriod[];
  /** The year (or quarter) that contains a quarter or month. */
  parentOf(period: FiscalPeriod, kind: 'year' | 'quarter'): FiscalPeriod;
  isBusinessDay(date: PlainDate, holidays?: readonly PlainDate[]): boolean;
  businessDaysBetween(start: PlainDate, end: PlainDate, holidays?: readonly PlainDate[]): number;
}

// ---------------------------------------------------------------------------------------------------------------
// Period ids

/** `FY2026`, `FY2026-Q4` or `FY2026-M11`. */
export function formatPeriodId(kind: PeriodKind, fiscalYear: number, index: number): string {
  if (kind === 'year') return `FY${fiscalYear}`;
  return `FY${fiscalYear}-${kind === 'quarter' ? 'Q' : 'M'}${index}`;
}

/** Splits a period id into its parts, or throws CALENDAR_INVALID naming the id. */
export function parsePeriodId(id: string): { kind: PeriodKind; fiscalYear: number; index: number } {
  const m = PERIOD_ID_RE.exec(id);
  if (!m) {
    throw new AppError('CALENDAR_INVALID', `"${id}" is not a period id; ${PERIOD_ID_EXPECTED}`, { where: id });
  }
  const fiscalYear = Number(m[1]);
  if (m[3] !== undefined) return { kind: 'quarter', fiscalYear, index: Number(m[3]) };
  if (m[4] !== undefined) return { kind: 'month', fiscalYear, index: Number(m[4]) };
  return { kind: 'year', fiscalYear, index: 1 };
}

// ---------------------------------------------------------------------------------------------------------------
// Business days

/** Monday to Friday and not one of the holidays. */
export function isBusinessDay(date: PlainDate, holidays: readonly PlainDate[] = []): boolean {
  const wd = weekday(date);
  return wd !== 0 && wd !== 6 && !holidays.includes(date);
}

/** Business days in [start, end], both ends counted; 0 when end is before start. */
export function businessDaysBetween(start: PlainDate, end: PlainDate, holidays: readonly PlainDate[] = []): number {
  const total = diffDays(start, end) + 1;
  if (total <= 0) return 0;
  // Whole weeks hold five business days each; only the remainder needs walking.
  const weeks = Math.floor(total / 7);
  let count = weeks * 5;
  for (let d = addDays(start, weeks * 7); d <= end; d = addDays(d, 1)) {
    const wd = weekday(d);
    if (wd !== 0 && wd !== 6) count++;
  }
  const seen = new Set<PlainDate>();
  for (const h of holidays) {
    if (seen.has(h)) continue;
    seen.add(h);
    if (h >= start && h <= end && weekday(h) !== 0 && weekday(h) !== 6) count--;
  }
  return count;
}

// ---------------------------------------------------------------------------------------------------------------
// Year layouts: the one place that differs between calendar kinds

interface YearLayout {
  /** Fiscal year that contains a date. */
  fiscalYearOf(date: PlainDate): number;
  /** First and last day of fiscal year `fy`, and the first day of each of its 12 months (plus the next year's). */
  monthStarts(fy: number): PlainDate[];
}

function gregorianLayout(startMonth: number): YearLayout {
  // FY N starts in calendar year N-1 unless the year starts in January.
  const startYear = (fy: number) => (startMonth === 1 ? fy : fy - 1);
  return {
    fiscalYearOf(date) {
      const year = Number(date.slice(0, 4));
      const month = Number(date.slice(5, 7));
      return startMonth === 1 || month < startMonth ? year : year + 1;
    },
    monthStarts(fy) {
      const y0 = startYear(fy);
      const starts: PlainDate[] = [];
      for (let i = 0; i <= 12; i++) {
        const total = y0 * 12 + (startMonth - 1) + i;
        starts.push(makeDate(Math.floor(total / 12), (total % 12) + 1, 1));
      }
      return starts;
    },
  };
}

const PATTERN_WEEKS: Record<RetailPattern, readonly [number, number, number]> = {
  '4-4-5': [4, 4, 5],
  '4-5-4': [4, 5, 4],
  '5-4-4': [5, 4, 4],
};

function retailLayout(pattern: RetailPattern, yearEnd: NonNullable<CalendarConfig['yearEnd']>): YearLayout {
  const targetWeekday = WEEKDAYS.indexOf(yearEnd.weekday as WeekdayName);
  const weeks = PATTERN_WEEKS[pattern];
  const endCache = new Map<number, PlainDate>();

  /** Last day of fiscal year `fy`: the chosen weekday at the end of the year-end month of calendar year `fy`. */
  const yearEndDate = (fy: number): PlainDate => {
    let end = endCache.get(fy);
    if (end === undefined) {
      const lastOfMonth = makeDate(fy, yearEnd.month, daysInMonth(fy, yearEnd.month));
      const back = (weekday(lastOfMonth) - targetWeekday + 7) % 7; // days back to the last such weekday
      // Nearest: go forward instead when that is closer (at most 3 days), which moves the end into the next month.
      end = yearEnd.rule === 'nearest' && back > 3 ? addDays(lastOfMonth, 7 - back) : addDays(lastOfMonth, -back);
      endCache.set(fy, end);
    }
    return end;
  };

  return {
    fiscalYearOf(date) {
      let fy = Number(date.slice(0, 4));
      while (date > yearEndDate(fy)) fy++;
      while (date <= yearEndDate(fy - 1)) fy--;
      return fy;
    },
    monthStarts(fy) {
      const start = addDays(yearEndDate(fy - 1), 1);
      const starts: PlainDate[] = [start];
      let d = start;
      for (let m = 0; m < 11; m++) {
        d = addDays(d, 7 * (weeks[m % 3] as number));
        starts.push(d);
      }
      // The last month runs to the year end, which holds the 53rd week when the year has one.
      starts.push(addDays(yearEndDate(fy), 1));
      return starts;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The calendar

/** Builds a fiscal calendar from the `calendar` config block; an inconsistent block is CALENDAR_INVALID. */
export function createFiscalCalendar(settings: FiscalCalendarSettings): FiscalCalendar {
  const layout = layoutFor(settings);
  const monthStartsCache = new Map<number, PlainDate[]>();
  const monthStarts = (fy: number): PlainDate[] => {
    let s = monthStartsCache.get(fy);
    if (!s) {
      s = layout.monthStarts(fy);
      monthStartsCache.set(fy, s);
    }
    return s;
  };

  const make = (kind: PeriodKind, fiscalYear: number, index: number): FiscalPeriod => {
    if (fiscalYear < 1000 || fiscalYear > 9998) {
      throw new AppError('CALENDAR_INVALID', `fiscal year ${fiscalYear} is outside the supported range 1000-9998`, {
        where: formatPeriodId(kind, fiscalYear, index),
      });
    }
    const starts = monthStarts(fiscalYear);
    const [first, last] =
      kind === 'year' ? [0, 12] : kind === 'quarter' ? [(index - 1) * 3, index * 3] : [index - 1, index];
    const start = starts[first] as PlainDate;
    const end = addDays(starts[last] as PlainDate, -1);
    return {
      id: formatPeriodId(kind, fiscalYear, index),
      kind,
      fiscalYear,
      index,
      start,
      end,
      days: diffDays(start, end) + 1,
    };
  };

  const periodContaining = (date: PlainDate, kind: PeriodKind): FiscalPeriod => {
    if (!isPlainDate(date)) {
      throw new AppError('CALENDAR_INVALID', `"${date}" is not a date as YYYY-MM-DD`, { where: String(date) });
    }
    const fy = layout.fiscalYearOf(date);
    if (kind === 'year') return make('year', fy, 1);
    const starts = monthStarts(fy);
    let m = 11;
    while (m > 0 && date < (starts[m] as PlainDate)) m--;
    return kind === 'month' ? make('month', fy, m + 1) : make('quarter', fy, Math.floor(m / 3) + 1);
  };

  const perYear = (kind: PeriodKind) => (kind === 'year' ? 1 : kind === 'quarter' ? 4 : 12);

  const step = (p: FiscalPeriod, by: number): FiscalPeriod => {
    const n = perYear(p.kind);
    const ordinal = p.fiscalYear * n + (p.index - 1) + by;
    return make(p.kind, Math.floor(ordinal / n), (ordinal % n) + 1);
  };

  const toStart = (x: PlainDate | FiscalPeriod) => (typeof x === 'string' ? x : x.start);
  const toEnd = (x: PlainDate | FiscalPeriod) => (typeof x === 'string' ? x : x.end);

  return {
    type: settings.type,
    periodContaining,
    periodById(id) {
      const { kind, fiscalYear, index } = parsePeriodId(id);
      return make(kind, fiscalYear, index);
    },
    previous: (p) => step(p, -1),
    next: (p) => step(p, 1),
    samePeriodLastYear: (p) => make(p.kind, p.fiscalYear - 1, p.index),
    periodsBetween(a, b, kind) {
      const from = toStart(a);
      const to = toEnd(b);
      if (to < from) return [];
      const out: FiscalPeriod[] = [];
      for (let p = periodContaining(from, kind); p.start <= to; p = step(p, 1)) out.push(p);
      return out;
    },
    childrenOf(period, kind) {
      if (period.kind === 'month' || (period.kind === 'quarter' && kind === 'quarter')) {
        throw new AppError('CALENDAR_INVALID', `a ${period.kind} has no ${kind}s`, { where: period.id });
      }
      const per = kind === 'quarter' ? 4 : 12;
      const first = period.kind === 'year' ? 1 : (period.index - 1) * 3 + 1;
      const count = period.kind === 'year' ? per : 3;
      return Array.from({ length: count }, (_, i) => make(kind, period.fiscalYear, first + i));
    },
    parentOf(period, kind) {
      if (kind === 'year') return make('year', period.fiscalYear, 1);
      if (period.kind !== 'month') {
        throw new AppError('CALENDAR_INVALID', `a ${period.kind} is not inside a quarter`, { where: period.id });
      }
      return make('quarter', period.fiscalYear, Math.floor((period.index - 1) / 3) + 1);
    },
    isBusinessDay,
    businessDaysBetween,
  };
}

function layoutFor(settings: FiscalCalendarSettings): YearLayout {
  if (settings.type === 'calendar') {
    const m = settings.fiscalYearStartMonth;
    if (!Number.isInteger(m) || m < 1 || m > 12) {
      throw new AppError('CALENDAR_INVALID', `fiscalYearStartMonth must be a month 1-12, got ${m}`, {
        where: 'calendar.fiscalYearStartMonth',
      });
    }
    return gregorianLayout(m);
  }
  if (!(RETAIL_PATTERNS as readonly string[]).includes(settings.type)) {
    throw new AppError('CALENDAR_INVALID', `unknown calendar type "${settings.type}"`, { where: 'calendar.type' });
  }
  const ye = settings.yearEnd;
  if (!ye) {
    throw new AppError('CALENDAR_INVALID', `a ${settings.type} calendar needs yearEnd: { month, weekday, rule }`, {
      where: 'calendar.yearEnd',
    });
  }
  if (!WEEKDAYS.includes(ye.weekday as WeekdayName) || !(ye.month >= 1 && ye.month <= 12)) {
    throw new AppError('CALENDAR_INVALID', `yearEnd needs a month 1-12 and a weekday name, got ${JSON.stringify(ye)}`, {
      where: 'calendar.yearEnd',
    });
  }
  return retailLayout(settings.type, ye);
}
