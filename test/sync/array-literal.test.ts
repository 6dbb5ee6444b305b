/**
 * The page writer's array literals (one text parameter per column) are built column-wise, with the escaping asked
 * of the whole column at once: for any column of values the literal must be the one each value escaped on its own
 * gives (the database round trip of awkward values is upsert-values.test.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arrayLiteral } from '../../src/sync/tables.ts';

/** The literal value by value, as the writer built it before. */
function perValue(values: readonly unknown[]): string {
  const parts = values.map((v) => {
    if (v === null || v === undefined) return 'NULL';
    let text: string;
    if (typeof v === 'string') text = v;
    else if (typeof v === 'number' || typeof v === 'bigint') text = String(v);
    else if (typeof v === 'boolean') text = v ? 'true' : 'false';
    else if (v instanceof Date) text = v.toISOString();
    else text = JSON.stringify(v);
    return /["\\]/.test(text) ? `"${text.replace(/["\\]/g, '\\$&')}"` : `"${text}"`;
  });
  return `{${parts.join(',')}}`;
}

describe('arrayLiteral', () => {
  it('gives the per-value literal for any column: texts with and without quotes or backslashes, nulls, dates', () => {
    const stamp = new Date('2026-11-20T10:00:00.123Z');
    const value = fc.oneof(
      { weight: 6, arbitrary: fc.string({ unit: fc.constantFrom('a', 'b', ',', '{', ' ', 'é', '"', '\\', 'N') }) },
      { weight: 2, arbitrary: fc.constantFrom(null, undefined, '', 'NULL', stamp) },
      { weight: 1, arbitrary: fc.double() },
      { weight: 1, arbitrary: fc.boolean() },
      { weight: 1, arbitrary: fc.date({ noInvalidDate: true }) },
      { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 })) },
    );
    fc.assert(
      fc.property(fc.array(value, { maxLength: 30 }), (values) => {
        expect(arrayLiteral(values)).toBe(perValue(values));
      }),
      { numRuns: 3000 },
    );
    expect(arrayLiteral([])).toBe('{}');
    expect(arrayLiteral([stamp, stamp, null, new Date(0)])).toBe(
      '{"2026-11-20T10:00:00.123Z","2026-11-20T10:00:00.123Z",NULL,"1970-01-01T00:00:00.000Z"}',
    );
  });
});
