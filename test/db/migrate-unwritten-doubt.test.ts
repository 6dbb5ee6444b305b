/**
 * Upgrading a database whose ledger has rows from before `written` existed: a field we had never written that a
 * dead or unanswered call put in doubt (no value, uncertain) must come out "never written", or a revert would clear
 * what may be someone else's value; a field we did write empty (a successful audit row) stays written.
 */
import { Migrator, sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MIGRATIONS, migrateToLatest } from '../../src/db/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const BEFORE = '2026-12-11_13_snapshot_inputs_at';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase({ migrate: false });
});
afterAll(() => t.drop());

it('the migration that adds `written` marks never-written fields in doubt as such, and only those', async () => {
  const names = Object.keys(MIGRATIONS).sort();
  expect(names[names.indexOf(BEFORE) + 1]).toBe('2026-12-11_14_writeback_unwritten_doubt');
  const upTo = await new Migrator({ db: t.db, provider: { getMigrations: async () => ({ ...MIGRATIONS }) } }).migrateTo(
    BEFORE,
  );
  expect(upTo.error).toBeUndefined();

  await sql`insert into connections (id, kind) values ('c1', 'salesforce')`.execute(t.db);
  const run = await sql<{ id: string }>`insert into writeback_runs (connection_id, mode, status)
    values ('c1', 'live', 'abandoned') returning id`.execute(t.db);
  const runId = run.rows[0]?.id;
  // What markWritebackAbandoned and a failed write left then: uncertain rows, some of them without a value.
  await sql`insert into writeback_ledger (connection_id, target_object, target_record_id, field, value, run_id, uncertain)
    values ('c1', 'User', 'never', 'F__c', null, ${runId}, true),
           ('c1', 'User', 'triedOnce', 'F__c', null, ${runId}, true),
           ('c1', 'User', 'wroteEmpty', 'F__c', null, ${runId}, true),
           ('c1', 'User', 'wrote70', 'F__c', '70', ${runId}, true),
           ('c1', 'User', 'certainEmpty', 'F__c', null, ${runId}, false)`.execute(t.db);
  await sql`insert into writeback_audit (run_id, connection_id, target_object, target_record_id, field, value_before, value_after, ok, error_code)
    values (${runId}, 'c1', 'User', 'triedOnce', 'F__c', null, '50', false, 'UNABLE_TO_LOCK_ROW'),
           (${runId}, 'c1', 'User', 'wroteEmpty', 'F__c', '50', null, true, null),
           (${runId}, 'c1', 'User', 'wrote70', 'F__c', null, '70', true, null),
           (${runId}, 'c1', 'User', 'certainEmpty', 'F__c', '50', null, true, null)`.execute(t.db);

  await migrateToLatest(t.db);
  const rows = await t.db
    .selectFrom('writeback_ledger')
    .select(['target_record_id', 'written'])
    .orderBy('target_record_id')
    .execute();
  expect(Object.fromEntries(rows.map((r) => [r.target_record_id, r.written]))).toEqual({
    never: false,
    triedOnce: false,
    wroteEmpty: true,
    wrote70: true,
    certainEmpty: true,
  });
});
