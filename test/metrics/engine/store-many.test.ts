/**
 * A full recompute of a large org stores thousands of snapshots: in bounded statements, all of them, each change
 * reported once; storing the same documents again changes nothing.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { storeSnapshots } from '../../../src/metrics/engine/snapshots.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.ts';
import { sampleFigures } from '../../helpers/figures.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

it('stores 2,500 snapshots with their history rows and reports each change once', async () => {
  const writes = Array.from({ length: 2500 }, (_, i) => ({
    subject: { kind: 'rep' as const, id: `person:${i + 1}` },
    periodId: 'FY2026-Q4',
    doc: sampleFigures(`${i}.00`),
  }));
  const first = await storeSnapshots(t.db, writes, '2026-11-26', 'c1');
  expect(first.changes).toHaveLength(2500);
  expect(new Set(first.changes.map((c) => c.subject.id)).size).toBe(2500);
  const count = async (table: 'metric_snapshots' | 'metric_snapshot_history') =>
    Number(
      (
        await t.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  expect([await count('metric_snapshots'), await count('metric_snapshot_history')]).toEqual([2500, 2500]);
  const again = await storeSnapshots(t.db, writes, '2026-11-26', 'c1');
  expect(again.changes).toEqual([]);
  const moved = await storeSnapshots(
    t.db,
    writes.map((w, i) => (i === 1700 ? { ...w, doc: sampleFigures('1.00') } : w)),
    '2026-11-26',
    'c1',
  );
  expect(moved.changes.map((c) => [c.subject.id, c.changedFields])).toEqual([['person:1701', ['actual']]]);
}, 60_000);
