/**
 * The dirty rep-periods a page marks (recordChanges in src/sync/change-feed.ts): every owner x the quarter of every
 * day of each change, each once, with each day's quarter asked of the calendar once a page.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { type Change, recordChanges } from '../../src/sync/change-feed.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
}, 60_000);
afterAll(async () => {
  await t?.drop();
});

it("marks each owner x quarter once, asking the calendar each day's quarter once", async () => {
  const fiscal = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
  const asked: string[] = [];
  const calendar = {
    periodContaining(day: string, kind: 'quarter') {
      asked.push(day);
      return fiscal.periodContaining(day, kind);
    },
  };
  const change = (owners: Array<string | null>, days: Array<string | null>): Change => ({
    externalId: `x${owners.join()}${days.join()}`,
    change: 'changed',
    owners,
    days,
  });
  const changes = [
    // A new record: no owner or day before.
    change([null, 'A'], [null, '2026-02-10']),
    // Moved from A in Q1 to B in Q2: both owners x both quarters.
    change(['A', 'B'], ['2026-01-05', '2026-05-01']),
    // The same days again, and a day in a quarter already marked.
    change(['B'], ['2026-02-10', '2026-03-31']),
    // No day, or no owner: nothing.
    change(['C'], [null]),
    change([null], ['2026-08-01']),
  ];
  await t.db
    .transaction()
    .execute((trx) =>
      recordChanges(trx, { connectionId: 'sf', stream: { name: 'tasks' }, runId: 1, calendar }, changes, [
        { owner: 'D', day: '2026-05-01' },
      ]),
    );
  const rows = await t.db
    .selectFrom('dirty_keys')
    .select(['subject_kind', 'subject_key', 'period_id', 'reason'])
    .orderBy('subject_key')
    .orderBy('period_id')
    .execute();
  const q1 = fiscal.periodContaining('2026-02-10', 'quarter').id;
  const q2 = fiscal.periodContaining('2026-05-01', 'quarter').id;
  expect(rows).toEqual([
    { subject_kind: 'rep', subject_key: 'sf:A', period_id: q1, reason: 'sync:tasks' },
    { subject_kind: 'rep', subject_key: 'sf:A', period_id: q2, reason: 'sync:tasks' },
    { subject_kind: 'rep', subject_key: 'sf:B', period_id: q1, reason: 'sync:tasks' },
    { subject_kind: 'rep', subject_key: 'sf:B', period_id: q2, reason: 'sync:tasks' },
    { subject_kind: 'rep', subject_key: 'sf:D', period_id: q2, reason: 'sync:tasks' },
  ]);
  expect([...asked].sort()).toEqual(['2026-01-05', '2026-02-10', '2026-03-31', '2026-05-01', '2026-08-01']);
});
