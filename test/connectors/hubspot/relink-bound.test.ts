/**
 * The relink rotation's bound (read.ts, README "Links made later"): each run's slice is ceil(S / 24,000) association
 * calls of 1,000 stored rows, the fewest whole calls that cover S rows in 24 runs, and its position survives in the
 * cursor from run to run. The sandbox tests (test/sync/hubspot-activities.test.ts) count the calls a run makes.
 */
import { expect, it } from 'vitest';
import { parseCursor, toJson } from '../../../src/connectors/hubspot/cursor.ts';
import { RELINK_PAGE, RELINK_ROTATION_RUNS, relinkCallsPerRun } from '../../../src/connectors/hubspot/read.ts';
import { silentLogger } from '../../../src/util/log.ts';

it('a run reads the fewest whole association calls that cover every stored row within 24 runs', () => {
  expect(relinkCallsPerRun(0)).toBe(0);
  expect(relinkCallsPerRun(1)).toBe(1);
  expect(relinkCallsPerRun(24_000)).toBe(1);
  expect(relinkCallsPerRun(24_001)).toBe(2);
  // The medium org's emails: 129 calls a run before the bound.
  expect(relinkCallsPerRun(128_999)).toBe(6);
  expect(relinkCallsPerRun(500_000)).toBe(21);
  for (const stored of [1, 999, 1_000, 1_001, 23_999, 24_001, 99_169, 128_999, 500_000, 2_000_000]) {
    const calls = relinkCallsPerRun(stored);
    // Every row within the rotation ...
    expect(calls * RELINK_PAGE * RELINK_ROTATION_RUNS, String(stored)).toBeGreaterThanOrEqual(stored);
    // ... with one call fewer it would not be.
    expect((calls - 1) * RELINK_PAGE * RELINK_ROTATION_RUNS, String(stored)).toBeLessThan(stored);
  }
});

it('the rotation position is kept in the cursor between runs, and a relink scan resumes with its calls left', () => {
  const between = parseCursor(
    toJson({ v: 1, since: 1_700_000_000_000, scan: null, relink: '64000004717' }),
    silentLogger,
  );
  expect(between).toEqual({ v: 1, since: 1_700_000_000_000, scan: null, relink: '64000004717' });
  const during = parseCursor(
    toJson({
      v: 1,
      since: 1_700_000_000_000,
      scan: { kind: 'relink', afterId: '64000004717', next: 1_700_000_100_000, calls: 3 },
      relink: '64000004717',
    }),
    silentLogger,
  );
  expect(during.scan).toEqual({ kind: 'relink', afterId: '64000004717', next: 1_700_000_100_000, calls: 3 });
  // A cursor written before the bound (no `calls`) resumes with one call left, not a whole pass.
  const older = parseCursor(
    { v: 1, since: 1, scan: { kind: 'relink', afterId: null, next: 2 } } as unknown as Parameters<
      typeof parseCursor
    >[0],
    silentLogger,
  );
  expect(older.scan).toEqual({ kind: 'relink', afterId: null, next: 2, calls: 1 });
});
