/**
 * Reading typed values out of a raw Salesforce record. Each reader either returns the value in its warehouse form
 * (decimal strings for money, `YYYY-MM-DD` dates, ISO instants) or throws `Unnormalizable` with a reason code that
 * names the field, so the record is quarantined and the run goes on.
 */
import { dateInZone, isPlainDate, type PlainDate } from '../../../util/date.ts';
import { Dec } from '../../../util/money.ts';

/** The record cannot be normalized; the sync quarantines it with this code and reason. */
export class Unnormalizable extends Error {
  readonly reasonCode: string;
  constructor(reasonCode: string, reason: string) {
    super(reason);
    this.name = 'Unnormalizable';
    this.reasonCode = reasonCode;
  }
}

export type RawRecord = { [field: string]: unknown };

/** The connection's custom field mapping, as the config file spells it. */
export interface SalesforceFieldMapping {
  amount?: string;
  segment?: string;
  productLine?: string;
  dealType?: string;
  forecastCategory?: string;
  startDate?: string;
  territory?: string;
  /** A User checkbox saying who carries a quota; unset: derived from who owns a ForecastingQuota. */
  quotaCarrying?: string;
}

/** What every normalizer needs to know about the org and the configuration. */
export interface NormalizeContext {
  /** The org's time zone: datetimes become dates there. */
  timeZone: string;
  /** The corporate currency; every amount is in it when the org is single-currency. */
  corporateCurrency: string;
  /** Whether records carry CurrencyIsoCode. */
  multiCurrency: boolean;
  /** Custom field names from the connection's `fields` mapping. */
  fields: SalesforceFieldMapping;
}

/** Walks a dotted path through relationship objects (`Account.Name`). */
export function get(raw: RawRecord, path: string): unknown {
  // Most fields are the record's own: no split (an array a field of every record read) for them.
  if (!path.includes('.')) return raw[path];
  let v: unknown = raw;
  for (const part of path.split('.')) {
    if (v === null || v === undefined || typeof v !== 'object') return undefined;
    v = (v as RawRecord)[part];
  }
  return v;
}

/**
 * Values the warehouse cannot hold are the record's fault, found here and named by field, never a database error
 * half-way through a page: PostgreSQL text holds no NUL character and its dates and timestamps have no year 0.
 */
function unstorable(path: string, what: string): Unnormalizable {
  return new Unnormalizable('UNSTORABLE_VALUE', `${path} ${what}, which the warehouse cannot store`);
}

const YEAR_ZERO = /^0000-/;

export function str(raw: RawRecord, path: string): string | null {
  const v = get(raw, path);
  if (v === null || v === undefined || v === '') return null;
  if (typeof v === 'string') {
    if (v.includes('\u0000')) throw unstorable(path, 'contains a NUL character');
    return v;
  }
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new Unnormalizable('BAD_VALUE', `${path} is not text: ${JSON.stringify(v)}`);
}

export function reqStr(raw: RawRecord, path: string, code: string): string {
  const v = str(raw, path);
  if (v === null) throw new Unnormalizable(code, `${path} is missing`);
  return v;
}

export function bool(raw: RawRecord, path: string): boolean {
  const v = get(raw, path);
  if (v === null || v === undefined) return false;
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new Unnormalizable('BAD_BOOLEAN', `${path} is not a boolean: ${JSON.stringify(v)}`);
}

/** A number as a canonical decimal string (never through float arithmetic beyond the JSON parse). */
export function decimal(raw: RawRecord, path: string): string | null {
  const v = get(raw, path);
  if (v === null || v === undefined || v === '') return null;
  if (typeof v !== 'number' && typeof v !== 'string') {
    throw new Unnormalizable('BAD_NUMBER', `${path} is not a number: ${JSON.stringify(v)}`);
  }
  if (typeof v === 'number' && !Number.isFinite(v)) {
    throw new Unnormalizable('BAD_NUMBER', `${path} is not a finite number`);
  }
  if (typeof v === 'string' && !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v.trim())) {
    throw new Unnormalizable('BAD_NUMBER', `${path} is not a number: ${JSON.stringify(v)}`);
  }
  if (typeof v === 'number') {
    // A number's own text without an exponent is already the canonical decimal (at most 17 significant digits,
    // no trailing zeros): the decimal.js round trip gives the same.
    const text = String(v);
    if (!text.includes('e')) return text;
  }
  return new Dec(String(v).trim()).toFixed();
}

/** The ratio of each whole percent 0..100, as the division below writes it (most Probability values are). */
const WHOLE_PERCENTS = new Map(
  Array.from({ length: 101 }, (_, n) => [String(n), new Dec(n).div(100).toFixed()] as const),
);

/** A Percent field (0..100) as a 0..1 ratio. */
export function percentAsRatio(raw: RawRecord, path: string): string | null {
  const d = decimal(raw, path);
  if (d === null) return null;
  const whole = WHOLE_PERCENTS.get(d);
  if (whole !== undefined) return whole;
  const r = new Dec(d).div(100);
  if (r.lt(0) || r.gt(1)) throw new Unnormalizable('BAD_PERCENT', `${path} is outside 0..100: ${d}`);
  return r.toFixed();
}

/** An ISO instant from a Salesforce datetime (`2026-01-01T00:00:00.000+0000`). */
export function instant(raw: RawRecord, path: string): string | null {
  const v = get(raw, path);
  if (v === null || v === undefined || v === '') return null;
  const t = typeof v === 'string' ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(t)) throw new Unnormalizable('BAD_DATETIME', `${path} is not a datetime: ${JSON.stringify(v)}`);
  // From 1970 to 9999 the ISO text is written from the day and time tables (every record's stamp is read here);
  // outside, toISOString is the reference and the year checks apply.
  if (t >= 0 && t < YEAR_10000_MS) return isoOf(t, v as string);
  const iso = new Date(t).toISOString();
  if (YEAR_ZERO.test(iso) || iso.startsWith('-') || iso.startsWith('+')) throw unstorable(path, `is ${String(v)}`);
  return iso;
}

const DAY_MS = 86_400_000;
const YEAR_10000_MS = Date.UTC(10000, 0, 1);
/** `YYYY-MM-DDT` by days since 1970-01-01 (a sync's stamps fall on a few thousand days; capped for odd data). */
const dayPrefixes = new Map<number, string>();
const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
const THREE_DIGITS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/** The number written by `n` decimal digits of `s` from `from`, or -1 where one is no digit. */
function digitsAt(s: string, from: number, n: number): number {
  let x = 0;
  for (let i = from; i < from + n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    x = x * 10 + c;
  }
  return x;
}

/**
 * `new Date(t).toISOString()` for 0 <= t < year 10000. When `text` is that very form already (a Bulk API CSV cell
 * is), it is returned itself rather than a new string.
 */
function isoOf(t: number, text: string): string {
  const day = Math.floor(t / DAY_MS);
  let prefix = dayPrefixes.get(day);
  if (prefix === undefined) {
    prefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
    if (dayPrefixes.size < 100_000) dayPrefixes.set(day, prefix);
  }
  const inDay = t - day * DAY_MS;
  const seconds = Math.floor(inDay / 1000);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor(seconds / 60) % 60;
  const sec = seconds % 60;
  const ms = inDay % 1000;
  if (
    text.length === 24 &&
    text.charCodeAt(13) === 58 /* : */ &&
    text.charCodeAt(16) === 58 &&
    text.charCodeAt(19) === 46 /* . */ &&
    text.charCodeAt(23) === 90 /* Z */ &&
    text.startsWith(prefix) &&
    digitsAt(text, 11, 2) === h &&
    digitsAt(text, 14, 2) === m &&
    digitsAt(text, 17, 2) === sec &&
    digitsAt(text, 20, 3) === ms
  )
    return text;
  return `${prefix}${TWO_DIGITS[h]}:${TWO_DIGITS[m]}:${TWO_DIGITS[sec]}.${THREE_DIGITS[ms]}Z`;
}

/**
 * Date fields seen to be valid `YYYY-MM-DD` dates (a sync reads a few hundred distinct ones, hundreds of thousands
 * of times): a lookup instead of the pattern and the calendar check. Bounded for odd data.
 */
const validDates = new Set<string>();

/** A Date field as given; a Datetime field becomes its date in the org's time zone. */
export function date(raw: RawRecord, path: string, timeZone: string): PlainDate | null {
  const v = get(raw, path);
  if (v === null || v === undefined || v === '') return null;
  if (typeof v === 'string' && validDates.has(v)) return v;
  if (typeof v === 'string' && YEAR_ZERO.test(v)) throw unstorable(path, `is ${v}`);
  if (typeof v === 'string' && isPlainDate(v)) {
    if (validDates.size < 100_000) validDates.add(v);
    return v;
  }
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) && !Number.isNaN(Date.parse(v))) {
    return dateInZone(v, timeZone);
  }
  throw new Unnormalizable('BAD_DATE', `${path} is not a date: ${JSON.stringify(v)}`);
}

export function reqDate(raw: RawRecord, path: string, timeZone: string, code: string): PlainDate {
  const d = date(raw, path, timeZone);
  if (d === null) throw new Unnormalizable(code, `${path} is missing`);
  return d;
}

/** The record's currency: CurrencyIsoCode on a multi-currency org, else the corporate currency. */
export function currency(raw: RawRecord, ctx: NormalizeContext): string {
  if (!ctx.multiCurrency) return ctx.corporateCurrency;
  const c = str(raw, 'CurrencyIsoCode');
  if (c === null) return ctx.corporateCurrency;
  if (!/^[A-Z]{3}$/.test(c)) throw new Unnormalizable('BAD_CURRENCY', `CurrencyIsoCode is not ISO 4217: "${c}"`);
  return c;
}

/** won if IsWon, lost if IsClosed and not IsWon, else open. */
export function stageCategory(isClosed: boolean, isWon: boolean): 'open' | 'won' | 'lost' {
  if (isWon) return 'won';
  return isClosed ? 'lost' : 'open';
}

export function recordId(raw: RawRecord): string {
  const id = get(raw, 'Id');
  if (typeof id !== 'string' || id === '') throw new Unnormalizable('MISSING_ID', 'Id is missing');
  return id;
}
