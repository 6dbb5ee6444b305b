import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLE_NAMES, toJsonb } from '../../src/db/schema.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await t.db.insertInto('connections').values({ id: 'sf-prod', kind: 'salesforce' }).execute();
});
afterAll(() => t.drop());

/** Index name -> its column list as PostgreSQL prints it. */
async function indexes(table: string): Promise<Map<string, string>> {
  const rows = await sql<{ indexname: string; indexdef: string }>`
    select indexname, indexdef from pg_indexes where schemaname = 'public' and tablename = ${table}`.execute(t.db);
  return new Map(rows.rows.map((r) => [r.indexname, r.indexdef.replace(/^.* USING \w+ /, '')]));
}

describe('warehouse schema', () => {
  it('has every table of the Database interface, and no other', async () => {
    const rows = await sql<{ table_name: string }>`
      select table_name from information_schema.tables
      where table_schema = 'public' and table_name not like 'kysely_%' order by table_name`.execute(t.db);
    expect(rows.rows.map((r) => r.table_name)).toEqual([...TABLE_NAMES].sort());
  });

  it('has the indexes the metric queries need', async () => {
    expect((await indexes('deals')).get('deals_owner_close_idx')).toBe(
      '(connection_id, owner_external_id, close_date)',
    );
    expect((await indexes('deals')).get('deals_category_close_idx')).toBe('(stage_category, close_date)');
    expect((await indexes('activities')).get('activities_owner_date_idx')).toBe(
      '(connection_id, owner_external_id, activity_date)',
    );
    expect((await indexes('deal_stage_history')).get('deal_stage_history_deal_idx')).toBe(
      '(connection_id, deal_external_id, changed_at)',
    );
    expect((await indexes('quotas')).get('quotas_person_period_idx')).toBe('(person_id, period_start)');
    expect((await indexes('quotas')).get('quotas_owner_period_idx')).toBe(
      '(connection_id, owner_external_id, period_start)',
    );
    expect((await indexes('metric_snapshots')).get('metric_snapshots_pkey')).toBe(
      '(subject_kind, subject_id, period_id)',
    );
    expect((await indexes('dirty_keys')).get('dirty_keys_unclaimed_uq')).toBe(
      '(subject_kind, subject_key, period_id) WHERE (claimed_at IS NULL)',
    );
    expect((await indexes('persons')).get('persons_email_uq')).toBe('(lower(email))');
  });

  it('returns dates as YYYY-MM-DD strings, numeric as exact decimal strings and bigint ids as numbers', async () => {
    const row = await t.db
      .insertInto('deals')
      .values({
        connection_id: 'sf-prod',
        external_id: '006A',
        content_hash: 'h1',
        amount: '1234567890123.45',
        currency: 'USD',
        stage: 'Closed Won',
        stage_category: 'won',
        probability: '0.1',
        close_date: '2026-03-31',
        created_date: '2026-01-01',
      })
      .returning(['amount', 'close_date', 'probability', 'is_deleted'])
      .executeTakeFirstOrThrow();
    expect(row).toEqual({
      amount: '1234567890123.45',
      close_date: '2026-03-31',
      probability: '0.1',
      is_deleted: false,
    });
    const run = await t.db
      .insertInto('sync_runs')
      .values({ connection_id: 'sf-prod', stream: 'deals', trigger: 'test' })
      .returning(['id', 'status'])
      .executeTakeFirstOrThrow();
    expect(run.status).toBe('running');
    expect(typeof run.id).toBe('number');
    const arrays = await sql<{ dates: string[]; ids: (number | null)[]; big: number }>`
      select array['2026-02-28'::date, '2024-02-29'::date] as dates, array[7::int8, null] as ids,
        9007199254740991::int8 as big`.execute(t.db);
    expect(arrays.rows[0]).toEqual({ dates: ['2026-02-28', '2024-02-29'], ids: [7, null], big: 9007199254740991 });
  });

  it('rejects a deal with a lower-case currency or a probability above 1', async () => {
    const base = {
      connection_id: 'sf-prod',
      content_hash: 'h',
      stage: 'Prospecting',
      stage_category: 'open' as const,
      created_date: '2026-01-01',
    };
    await expect(
      t.db
        .insertInto('deals')
        .values({ ...base, external_id: '006B', currency: 'usd' })
        .execute(),
    ).rejects.toThrow(/deals_currency_check/);
    await expect(
      t.db
        .insertInto('deals')
        .values({ ...base, external_id: '006C', currency: 'USD', probability: '1.5' })
        .execute(),
    ).rejects.toThrow(/deals_probability_check/);
  });

  it('keeps writeback_audit append-only: UPDATE, DELETE and TRUNCATE are refused', async () => {
    const run = await t.db
      .insertInto('writeback_runs')
      .values({ connection_id: 'sf-prod', mode: 'live' })
      .returning('id')
      .executeTakeFirstOrThrow();
    await t.db
      .insertInto('writeback_audit')
      .values({
        run_id: run.id,
        connection_id: 'sf-prod',
        target_object: 'User',
        target_record_id: '005A',
        field: 'Quota_Attainment__c',
        value_before: null,
        value_after: '87',
        ok: true,
        error_code: null,
        response: toJsonb({ id: '005A', success: true }),
      })
      .execute();
    await expect(t.db.updateTable('writeback_audit').set({ value_after: '99' }).execute()).rejects.toThrow(
      /append-only: UPDATE/,
    );
    await expect(t.db.deleteFrom('writeback_audit').execute()).rejects.toThrow(/append-only: DELETE/);
    await expect(sql`truncate writeback_audit`.execute(t.db)).rejects.toThrow(/append-only: TRUNCATE/);
    const rows = await t.db.selectFrom('writeback_audit').select(['value_after', 'response']).execute();
    expect(rows).toEqual([{ value_after: '87', response: { id: '005A', success: true } }]);
  });

  it('refuses overlapping team memberships of one person', async () => {
    const person = await t.db
      .insertInto('persons')
      .values({ email: 'Ana@Example.com', name: 'Ana' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const [east, west] = await t.db
      .insertInto('org_units')
      .values([
        { kind: 'team', name: 'East', source: 'file' },
        { kind: 'team', name: 'West', source: 'file' },
      ])
      .returning('id')
      .execute();
    if (!east || !west) throw new Error('org units not created');
    await t.db
      .insertInto('memberships')
      .values({
        person_id: person.id,
        org_unit_id: east.id,
        valid_from: '2026-01-01',
        valid_to: '2026-04-01',
        source: 'file',
      })
      .execute();
    // Starts on the exclusive end of the first range: allowed.
    await t.db
      .insertInto('memberships')
      .values({ person_id: person.id, org_unit_id: west.id, valid_from: '2026-04-01', valid_to: null, source: 'file' })
      .execute();
    await expect(
      t.db
        .insertInto('memberships')
        .values({ person_id: person.id, org_unit_id: west.id, valid_from: '2026-03-31', source: 'file' })
        .execute(),
    ).rejects.toThrow(/memberships_no_overlap/);
    // Emails are one identity whatever their case.
    await expect(t.db.insertInto('persons').values({ email: 'ana@example.COM' }).execute()).rejects.toThrow(
      /persons_email_uq/,
    );
  });

  it('coalesces repeated dirty marks of a rep-period while unclaimed, and keeps a mark made during a claim', async () => {
    const mark = () =>
      t.db
        .insertInto('dirty_keys')
        .values({ subject_kind: 'rep', subject_key: 'sf-prod:005A', period_id: 'FY2026-Q1', reason: 'deal' })
        .onConflict((oc) =>
          oc.columns(['subject_kind', 'subject_key', 'period_id']).where('claimed_at', 'is', null).doNothing(),
        )
        .execute();
    await mark();
    await mark();
    expect(await t.db.selectFrom('dirty_keys').select('id').execute()).toHaveLength(1);
    await t.db.updateTable('dirty_keys').set({ claimed_at: new Date(), claimed_by: 'worker-1' }).execute();
    await mark();
    const rows = await t.db.selectFrom('dirty_keys').select(['claimed_by']).orderBy('id').execute();
    expect(rows).toEqual([{ claimed_by: 'worker-1' }, { claimed_by: null }]);
  });
});
