/**
 * The reports' won sums per window (`wonSumsIn`, one pass over a credit list for every window a report asks about)
 * are the engine's `sumCredits(wonIn(list, window))` to the last digit: the same credits, summed in list order,
 * whatever the windows (overlapping, empty, touching) and the credits (lost and open ones, splits with shares
 * that do not terminate in decimal).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sumCredits, wonIn } from '../../src/metrics/math/attainment.ts';
import type { Credit } from '../../src/metrics/math/booking.ts';
import type { DateWindow } from '../../src/metrics/math/windows.ts';
import { wonSumsIn } from '../../src/reports/context.ts';
import { addDays } from '../../src/util/date.ts';
import { Dec } from '../../src/util/money.ts';

const day = (n: number) => addDays('2026-01-01', n);

function credit(i: number, closeDay: number, category: 'won' | 'lost' | 'open', cents: number, thirds: number): Credit {
  const dealAmount = new Dec(cents).div(100);
  const share = new Dec(thirds).div(3);
  return {
    deal: {
      id: `d${i}`,
      name: `d${i}`,
      ownerId: 'o',
      amount: dealAmount,
      currency: 'USD',
      stage: category,
      stageCategory: category,
      probability: null,
      closeDate: day(closeDay),
      createdDate: day(0),
    },
    category,
    ownerId: 'o',
    share,
    dealAmount,
    amount: dealAmount.times(share),
    overlay: false,
  };
}

const credits = fc.array(
  fc
    .tuple(
      fc.integer({ min: 0, max: 400 }),
      fc.constantFrom('won' as const, 'won' as const, 'lost' as const, 'open' as const),
      fc.integer({ min: 0, max: 10_000_000 }),
      fc.integer({ min: 1, max: 3 }),
    )
    .map(([d, c, cents, thirds]) => ({ d, c, cents, thirds })),
  { maxLength: 200 },
);
const windows = fc.array(
  fc
    .tuple(fc.integer({ min: -10, max: 410 }), fc.integer({ min: -5, max: 120 }))
    .map(([s, len]): DateWindow => ({ start: day(s), end: day(s + len) })),
  { minLength: 1, maxLength: 12 },
);

describe('wonSumsIn', () => {
  it('sums each window as sumCredits(wonIn(...)) does, to the last digit', () => {
    fc.assert(
      fc.property(credits, windows, (cs, ws) => {
        const list = cs.map((c, i) => credit(i, c.d, c.c, c.cents, c.thirds));
        const sums = wonSumsIn(list, ws);
        for (const w of ws)
          expect(sums.get(`${w.start}..${w.end}`)?.toString()).toBe(sumCredits(wonIn(list, w)).toString());
      }),
      { numRuns: 300 },
    );
  });

  it('answers a window asked later about the same list, and the windows of the first pass', () => {
    const list = [credit(1, 10, 'won', 100, 3), credit(2, 40, 'won', 250, 3), credit(3, 95, 'lost', 999, 3)];
    const q1 = { start: day(0), end: day(89) };
    const q2 = { start: day(90), end: day(179) };
    const trailing = { start: day(20), end: day(49) };
    expect(
      wonSumsIn(list, [q1], () => [q2])
        .get(`${q1.start}..${q1.end}`)
        ?.toString(),
    ).toBe('3.5');
    const again = wonSumsIn(list, [trailing]);
    expect(again.get(`${trailing.start}..${trailing.end}`)?.toString()).toBe('2.5');
    expect(again.get(`${q2.start}..${q2.end}`)?.toString()).toBe('0');
    expect(again.get(`${q1.start}..${q1.end}`)?.toString()).toBe('3.5');
  });
});
