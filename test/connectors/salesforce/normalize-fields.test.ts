/**
 * The datetime and date readers every synced record goes through have fast paths (an ISO text written from day
 * and time tables, a Bulk API cell handed back as it is, dates seen before looked up): for any input they must
 * answer exactly what the plain reading answers, value or error.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  date,
  decimal,
  instant,
  percentAsRatio,
  type RawRecord,
} from '../../../src/connectors/salesforce/normalize/fields.ts';
import { dateInZone, isPlainDate } from '../../../src/util/date.ts';
import { Dec } from '../../../src/util/money.ts';

/** The reading before the fast paths: Date.parse, then toISOString and its year checks. */
function plainInstant(v: unknown): string | null {
  if (v === null || v === undefined || v === '') return null;
  const t = typeof v === 'string' ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(t)) throw new Error('BAD_DATETIME');
  const iso = new Date(t).toISOString();
  if (/^0000-/.test(iso) || iso.startsWith('-') || iso.startsWith('+')) throw new Error('UNSTORABLE_VALUE');
  return iso;
}

function plainDate(v: unknown, timeZone: string): string | null {
  if (v === null || v === undefined || v === '') return null;
  if (typeof v === 'string' && /^0000-/.test(v)) throw new Error('UNSTORABLE_VALUE');
  if (typeof v === 'string' && isPlainDate(v)) return v;
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) && !Number.isNaN(Date.parse(v))) {
    return dateInZone(v, timeZone);
  }
  throw new Error('BAD_DATE');
}

/** What a reader gives: its value, or the reason code it throws. */
function outcome(f: () => string | null): string | null {
  try {
    return f();
  } catch (e) {
    return `error ${(e as { reasonCode?: string }).reasonCode ?? (e as Error).message}`;
  }
}

const YEAR_0 = Date.parse('0000-01-01T00:00:00.000Z');
const YEAR_10001 = Date.UTC(10001, 0, 1);

describe('instant and date', () => {
  it('read every datetime form as Date.parse and toISOString do, fast path or not', () => {
    // Instants around 1970, the years synced, and out to years 0 and 10000; texts as the CRM writes them and not.
    const t = fc.oneof(
      fc.integer({ min: Date.UTC(2015, 0, 1), max: Date.UTC(2030, 0, 1) }),
      fc.integer({ min: -86_400_000 * 3, max: 86_400_000 * 3 }),
      fc.integer({ min: YEAR_0 - 86_400_000 * 400, max: YEAR_10001 }),
    );
    const form = fc.constantFrom('iso', 'rest', 'noMs', 'offset', 'badDay', 'junk', 'lower');
    fc.assert(
      fc.property(t, form, fc.string({ maxLength: 3 }), (ms, how, junk) => {
        const iso = new Date(ms).toISOString();
        const text =
          how === 'iso'
            ? iso
            : how === 'rest'
              ? `${iso.slice(0, -1)}+0000`
              : how === 'noMs'
                ? `${iso.slice(0, 19)}Z`
                : how === 'offset'
                  ? `${iso.slice(0, 23)}+05:30`
                  : how === 'badDay'
                    ? `${iso.slice(0, 8)}3${iso.slice(9)}`
                    : how === 'lower'
                      ? iso.toLowerCase()
                      : `${iso.slice(0, 11 + (Math.abs(ms) % 13))}${junk}${iso.slice(11 + (Math.abs(ms) % 13))}`;
        const raw: RawRecord = { At: text };
        expect(outcome(() => instant(raw, 'At'))).toBe(outcome(() => plainInstant(text)));
        // Twice: the second read takes the cached day.
        expect(outcome(() => instant(raw, 'At'))).toBe(outcome(() => plainInstant(text)));
      }),
      { numRuns: 5000 },
    );
    for (const v of [null, undefined, '', 5, '2026-02-30T10:00:00.000Z', '2026-01-01T24:00:00.000Z', 'x'])
      expect(outcome(() => instant({ At: v }, 'At'))).toBe(outcome(() => plainInstant(v)));
  });

  it('read every date form as the pattern and calendar check do, seen before or not', () => {
    const text = fc.oneof(
      fc
        .tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 }))
        .map(
          ([y, m, d]) => `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`,
        ),
      fc.string({ maxLength: 12 }),
      fc.constantFrom('2026-11-20T10:00:00.000Z', '0000-01-01', '2024-02-29', '2023-02-29'),
    );
    fc.assert(
      fc.property(text, (v) => {
        for (let i = 0; i < 2; i++)
          expect(outcome(() => date({ D: v }, 'D', 'America/New_York'))).toBe(
            outcome(() => plainDate(v, 'America/New_York')),
          );
      }),
      { numRuns: 5000 },
    );
  });

  it('read numbers and percents as decimal.js does, whole percents and exponent-free numbers included', () => {
    const plainDecimal = (v: unknown): string | null => {
      if (v === null || v === undefined || v === '') return null;
      if (typeof v === 'number' && !Number.isFinite(v)) throw new Error('BAD_NUMBER');
      if (typeof v !== 'number' && typeof v !== 'string') throw new Error('BAD_NUMBER');
      if (typeof v === 'string' && !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v.trim()))
        throw new Error('BAD_NUMBER');
      return new Dec(String(v).trim()).toFixed();
    };
    const plainPercent = (v: unknown): string | null => {
      const d = plainDecimal(v);
      if (d === null) return null;
      const r = new Dec(d).div(100);
      if (r.lt(0) || r.gt(1)) throw new Error('BAD_PERCENT');
      return r.toFixed();
    };
    const v = fc.oneof(
      fc.double(),
      fc.integer({ min: -5, max: 105 }),
      fc.double({ min: -1, max: 101, noNaN: true }),
      fc.constantFrom(1e-7, 1e21, -0, 5e-324, 0.1 + 0.2, '12.50', ' 7 ', '1e3', '100', 'abc', '', null),
      fc.integer({ min: -5, max: 105 }).map(String),
    );
    fc.assert(
      fc.property(v, (x) => {
        expect(outcome(() => decimal({ N: x }, 'N'))).toBe(outcome(() => plainDecimal(x)));
        expect(outcome(() => percentAsRatio({ N: x }, 'N'))).toBe(outcome(() => plainPercent(x)));
      }),
      { numRuns: 5000 },
    );
  });
});
