/**
 * A page's rows reach the warehouse as one array per column (unnest): every value must come back exactly as the
 * connector gave it, through the insert and through the update of a row already stored, whatever characters a CRM
 * puts in a text field (quotes, backslashes, commas, braces, the word NULL, an empty string), and null as null.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import type { ActivityRow, DealRow, NormalizedRecord, Page, QuotaRow, StreamSpec } from '../../src/connectors/types.ts';
import { applyPage } from '../../src/sync/apply-page.ts';
import { ensureConnection } from '../../src/sync/org-binding.ts';
import { arrayLiteral } from '../../src/sync/tables.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await ensureConnection(t.db, 'sf', 'salesforce');
});
afterAll(async () => {
  await t?.drop();
});

const NAMES = [
  'He said "yes"',
  'C:\\deals\\new',
  'a, b, c',
  '{not, an, array}',
  'NULL',
  '',
  null,
  'ünïcødé – ✓',
  'tab\there',
  'two\nlines\r\nand CRLF',
  'ends with a backslash \\',
  '\\"',
  '"',
  ' spaced ',
  '\\N',
];

const spec = (name: string, table: StreamSpec['table']): StreamSpec => ({ name, table, mode: 'incremental' });
const page = (records: NormalizedRecord[]): Page => ({
  records,
  deletedIds: [],
  quarantined: [],
  cursor: null,
  apiCalls: 1,
});

async function apply(stream: StreamSpec, records: NormalizedRecord[]): Promise<void> {
  const run = await t.db
    .insertInto('sync_runs')
    .values({ connection_id: 'sf', stream: stream.name, trigger: 'test', full_scan: false })
    .returning('id')
    .executeTakeFirstOrThrow();
  await t.db
    .transaction()
    .execute((trx) =>
      applyPage(trx, { connectionId: 'sf', stream, runId: run.id, calendar, today: '2026-11-20' }, page(records), null),
    );
}

function deal(i: number, name: string | null, amount: string, closeDate: string): NormalizedRecord<'deals'> {
  return {
    externalId: `D${i}`,
    sourceModifiedAt: '2026-11-20T10:00:00.123Z',
    isDeleted: false,
    row: {
      name,
      owner_external_id: null,
      amount,
      currency: 'USD',
      stage: 'Prospecting',
      stage_category: 'open',
      forecast_category: name,
      probability: '0.125',
      close_date: closeDate,
      created_date: '2026-11-01',
      deal_type: null,
      segment: null,
      account_external_id: null,
      account_name: name,
    } satisfies DealRow,
  };
}

describe('the page upsert', () => {
  it('stores text, numbers, dates and nulls exactly, on insert and on update', async () => {
    await apply(
      spec('opportunities', 'deals'),
      NAMES.map((n, i) => deal(i, n, '123456789.56789', '2026-12-31')),
    );
    const read = () =>
      sql<{
        external_id: string;
        name: string | null;
        account_name: string | null;
        amount: string;
        close_date: string;
        stamp: string;
      }>`select external_id, name, account_name, amount::text as amount, close_date::text as close_date,
        to_char(source_modified_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as stamp
        from deals where connection_id = 'sf' order by length(external_id), external_id`
        .execute(t.db)
        .then((r) => r.rows);
    expect(await read()).toEqual(
      NAMES.map((n, i) => ({
        external_id: `D${i}`,
        name: n,
        account_name: n,
        amount: '123456789.56789',
        close_date: '2026-12-31',
        stamp: '2026-11-20T10:00:00.123Z',
      })),
    );
    // The same ids again with every value moved: the conflict path takes each new value, nulls included.
    const moved = [...NAMES].reverse();
    await apply(
      spec('opportunities', 'deals'),
      moved.map((n, i) => deal(i, n, '0.5', '2027-01-01')),
    );
    expect(await read()).toEqual(
      moved.map((n, i) => ({
        external_id: `D${i}`,
        name: n,
        account_name: n,
        amount: '0.5',
        close_date: '2027-01-01',
        stamp: '2026-11-20T10:00:00.123Z',
      })),
    );
  });

  it('writes array literals PostgreSQL reads back element for element', async () => {
    const values = [...NAMES, 12.5, true, false, new Date('2026-01-02T03:04:05.678Z'), undefined];
    const back = await sql<{ v: Array<string | null> }>`select ${arrayLiteral(values)}::text[] as v`.execute(t.db);
    expect(back.rows[0]!.v).toEqual([...NAMES, '12.5', 'true', 'false', '2026-01-02T03:04:05.678Z', null]);
    expect(arrayLiteral([])).toBe('{}');
  });

  it('stores booleans and null booleans, and the CRM quotas through their partial key with source crm', async () => {
    const activity = (id: string, done: boolean | null): NormalizedRecord<'activities'> => ({
      externalId: id,
      sourceModifiedAt: '2026-11-20T10:00:00.000Z',
      isDeleted: false,
      row: {
        kind: 'task',
        owner_external_id: null,
        activity_type: 'call',
        subtype: 'a "quoted", {braced} subtype',
        activity_date: '2026-11-19',
        is_completed: done,
        deal_external_id: null,
      } satisfies ActivityRow,
    });
    await apply(spec('tasks', 'activities'), [activity('T1', true), activity('T2', false), activity('T3', null)]);
    const acts = await t.db
      .selectFrom('activities')
      .select(['external_id', 'is_completed', 'subtype', 'is_deleted'])
      .where('external_id', 'in', ['T1', 'T2', 'T3'])
      .orderBy('external_id')
      .execute();
    expect(acts).toEqual([
      { external_id: 'T1', is_completed: true, subtype: 'a "quoted", {braced} subtype', is_deleted: false },
      { external_id: 'T2', is_completed: false, subtype: 'a "quoted", {braced} subtype', is_deleted: false },
      { external_id: 'T3', is_completed: null, subtype: 'a "quoted", {braced} subtype', is_deleted: false },
    ]);

    const quota = (amount: string): NormalizedRecord<'quotas'> => ({
      externalId: 'Q1',
      sourceModifiedAt: '2026-11-20T10:00:00.000Z',
      isDeleted: false,
      row: {
        owner_external_id: 'U1',
        period_start: '2026-10-01',
        period_end: '2026-12-31',
        amount,
        currency: 'EUR',
        product_line: null,
      } satisfies QuotaRow,
    });
    await apply(spec('forecasting_quotas', 'quotas'), [quota('600000.00')]);
    await apply(spec('forecasting_quotas', 'quotas'), [quota('650000.50')]);
    const quotas = await sql<{ source: string; amount: string; currency: string }>`
      select source, amount::text as amount, currency from quotas where connection_id = 'sf'`.execute(t.db);
    expect(quotas.rows).toEqual([{ source: 'crm', amount: '650000.50', currency: 'EUR' }]);
  });
});
