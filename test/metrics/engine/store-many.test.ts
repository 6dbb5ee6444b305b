/**
 * A full recompute of a large org stores thousands of snapshots: in bounded statements, all of them, each change
 * reported once; storing the same documents again changes nothing. Figures from earlier reads never replace
 * figures from later ones, whichever recompute finishes last.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { storeSnapshots } from '../../../src/metrics/engine/snapshots.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.ts';
import { sampleFigures } from '../../helpers/figures.ts';

const T1 = '2026-11-26T10:00:00.000000Z';
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
  const first = await storeSnapshots(t.db, writes, '2026-11-26', 'c1', T1);
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
  const again = await storeSnapshots(t.db, writes, '2026-11-26', 'c1', T1);
  expect(again.changes).toEqual([]);
  const moved = await storeSnapshots(
    t.db,
    writes.map((w, i) => (i === 1700 ? { ...w, doc: sampleFigures('1.00') } : w)),
    '2026-11-26',
    'c1',
    T1,
  );
  expect(moved.changes.map((c) => [c.subject.id, c.changedFields])).toEqual([['person:1701', ['actual']]]);
}, 60_000);

it('keeps the figures whose reads began later when an earlier-read recompute stores after them', async () => {
  const rep = { kind: 'rep' as const, id: 'person:fence' };
  const at = (doc: string) => ({ subject: rep, periodId: 'FY2026-Q4', doc: sampleFigures(doc) });
  const stored = async () =>
    (
      await t.db
        .selectFrom('metric_snapshots')
        .select('metrics')
        .where('subject_id', '=', rep.id)
        .executeTakeFirstOrThrow()
    ).metrics as { actual: string };
  const history = async () =>
    (
      await t.db
        .selectFrom('metric_snapshot_history')
        .select('metrics')
        .where('subject_id', '=', rep.id)
        .executeTakeFirstOrThrow()
    ).metrics as { actual: string };
  // The daily full recompute read the warehouse at 10:00 (before a deal was won) and is still computing; a sync's
  // recompute read it at 10:00:05 and stores first.
  const incremental = await storeSnapshots(t.db, [at('500.00')], '2026-11-26', 'c1', '2026-11-26T10:00:05.000000Z');
  expect(incremental.changes).toHaveLength(1);
  const full = await storeSnapshots(t.db, [at('0.00')], '2026-11-26', 'c1', '2026-11-26T10:00:00.000000Z');
  expect(full.changes).toEqual([]);
  expect(full.superseded.map((w) => w.subject.id)).toEqual(['person:fence']);
  expect((await stored()).actual).toBe('500.00');
  expect((await history()).actual).toBe('500.00');
  // A later read stores as usual.
  const next = await storeSnapshots(t.db, [at('750.00')], '2026-11-26', 'c1', '2026-11-26T10:01:00.000000Z');
  expect(next.changes.map((c) => c.changedFields)).toEqual([['actual']]);
  expect((await stored()).actual).toBe('750.00');
  expect((await history()).actual).toBe('750.00');
});
