import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { contentHash, stableStringify } from '../../src/util/hash.ts';

/** The serialization every stored content hash was made with: a sorted copy of each object, through a replacer. */
function sortedCopyStringify(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v as object)
            .sort()
            .map((k) => [k, (v as Record<string, unknown>)[k]]),
        )
      : v,
  );
}

describe('stableStringify', () => {
  it('gives the text the stored hashes were made from, for flat rows and for everything else', () => {
    const cases: unknown[] = [
      {},
      { b: 1, a: 'x"\n\u2028\\', c: null, d: undefined, e: true, f: -0, g: 1e21, h: 0.1, i: false },
      { '"key': 'v', a: '', ü: 'é' },
      // Integer-like keys: an object's own order puts them first, ascending, whatever the sort said.
      { '10': 1, '9': 2, b: 3, '01': 4 },
      { x: Number.NaN, y: Number.POSITIVE_INFINITY },
      { d: new Date(0) },
      [1, { b: 2, a: 1 }],
      { n: { b: 1, a: 2 }, a: [3, { z: 1, y: 2 }] },
      'text',
      5,
      null,
    ];
    for (const c of cases) expect(stableStringify(c)).toBe(sortedCopyStringify(c));
    expect(contentHash({ b: 1, a: 'x' })).toBe(contentHash({ a: 'x', b: 1 }));
    // A deal row as the Salesforce normalizer gives it, and the hash stored for it since the first sync: a change to
    // both paths at once (which the comparison above cannot see) would make every record look changed.
    const row = {
      name: 'Acme renewal',
      owner_external_id: '005000000000001AAA',
      amount: '12500.00',
      currency: 'USD',
      stage: 'Closed Won',
      stage_category: 'won',
      probability: 100,
      close_date: '2026-03-31',
      is_closed: true,
      lead_source: null,
    };
    expect(stableStringify(row)).toBe(
      '{"amount":"12500.00","close_date":"2026-03-31","currency":"USD","is_closed":true,"lead_source":null,' +
        '"name":"Acme renewal","owner_external_id":"005000000000001AAA","probability":100,"stage":"Closed Won",' +
        '"stage_category":"won"}',
    );
  });

  it('gives the same text and hash as the replacer path for any flat or nested row, in any key order', () => {
    // Keys a normalizer uses, odd ones (quotes, integer-like, unicode) and many shapes, so that the shape cache
    // (32 key lists) is filled and cycled.
    const key = fc.oneof(
      fc.constantFrom('amount', 'stage', 'close_date', 'a', 'b', 'z', '10', '9', '01', '"q', 'ü', 'é', '', '__proto__'),
      fc.string({ maxLength: 6 }),
    );
    const scalar = fc.oneof(
      fc.string(),
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.constantFrom(-0, Number.NaN, Number.POSITIVE_INFINITY, 1e21, 0.1),
    );
    const value = fc.oneof(
      { weight: 8, arbitrary: scalar },
      { weight: 1, arbitrary: fc.array(scalar, { maxLength: 3 }) },
    );
    const row = fc.dictionary(key, value, { maxKeys: 14 });
    fc.assert(
      fc.property(row, (r) => {
        // The same row built in another insertion order: the same text.
        const reversed = Object.fromEntries(Object.entries(r).reverse());
        const want = sortedCopyStringify(r);
        expect(stableStringify(r)).toBe(want);
        expect(stableStringify(reversed)).toBe(want);
        expect(contentHash(r)).toBe(createHash('sha256').update(want).digest('hex'));
      }),
      { numRuns: 3000 },
    );
  });
});
