/**
 * A page costs the same on the first day and the millionth row: applying it reads the stored rows of its own ids
 * and no others, even while the table's statistics still say it is empty (an initial sync grows a table by
 * millions of rows between two ANALYZEs). With stale statistics PostgreSQL planned `external_id = ANY($ids)` as a
 * scan of every row of the connection filtered by the array, and the product-line derivation as hash joins over
 * all deals: each page read the whole table, and an initial sync grew with the square of its size.
 *
 * The tables here hold 100,000 rows that were never analyzed (autovacuum off for them), and the rows a statement
 * fetched are counted by PostgreSQL itself (`pg_stat_xact_user_tables`, this transaction's own counters).
 */
import { sql, type Transaction } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import type { DealLineItemRow, DealRow, NormalizedRecord, Page, StreamSpec } from '../../src/connectors/types.ts';
import type { Database } from '../../src/db/schema.ts';
import { applyPage } from '../../src/sync/apply-page.ts';
import { ensureConnection } from '../../src/sync/org-binding.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { dealsStream, itemsStream, page } from '../helpers/deal-pages.ts';

const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
const STORED = 100_000;
const PAGE = 400;

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await ensureConnection(t.db, 'sf', 'salesforce');
  for (const table of ['deals', 'deal_line_items']) {
    await sql`ALTER TABLE ${sql.table(table)} SET (autovacuum_enabled = false)`.execute(t.db);
  }
  await sql`INSERT INTO deals (connection_id, external_id, content_hash, name, owner_external_id, amount, currency,
      stage, stage_category, close_date, created_date)
    SELECT 'sf', 'D' || g, 'h' || g, 'Deal ' || g, 'U' || (g % 50), 1000, 'USD', 'Prospecting', 'open',
      date '2026-10-01' + (g % 60), date '2026-09-01'
    FROM generate_series(1, ${STORED}) AS g`.execute(t.db);
  await sql`INSERT INTO deal_line_items (connection_id, external_id, content_hash, deal_external_id, product_family,
      amount)
    SELECT 'sf', 'L' || g, 'h' || g, 'D' || g, 'Platform', 1000 FROM generate_series(1, ${STORED}) AS g`.execute(t.db);
  const [stats] = (
    await sql<{
      n: number;
    }>`SELECT count(*)::int AS n FROM pg_stats WHERE tablename IN ('deals', 'deal_line_items')`.execute(t.db)
  ).rows;
  // The premise: the planner knows nothing of these rows.
  expect(stats?.n).toBe(0);
});
afterAll(async () => {
  await t?.drop();
});

function deal(id: string, name: string): NormalizedRecord<'deals'> {
  return {
    externalId: id,
    sourceModifiedAt: '2026-11-20T10:00:00.000Z',
    isDeleted: false,
    row: {
      name,
      owner_external_id: null,
      amount: '1000',
      currency: 'USD',
      stage: 'Prospecting',
      stage_category: 'open',
      forecast_category: null,
      probability: '0.1',
      close_date: '2026-12-15',
      created_date: '2026-11-01',
      deal_type: null,
      segment: null,
      account_external_id: null,
      account_name: null,
    } satisfies DealRow,
  };
}

function item(id: string, dealId: string): NormalizedRecord<'deal_line_items'> {
  return {
    externalId: id,
    sourceModifiedAt: '2026-11-20T10:00:00.000Z',
    isDeleted: false,
    row: {
      deal_external_id: dealId,
      product_name: 'Seats',
      product_family: 'Services',
      quantity: '1',
      amount: '5000',
    } satisfies DealLineItemRow,
  };
}

/** Rows of `table` read by sequential and by index (bitmap included) scans, as this connection's counters stand. */
async function rowsRead(trx: Transaction<Database>, table: string): Promise<number> {
  const { rows } = await sql<{ n: string }>`SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS n
    FROM pg_stat_xact_user_tables WHERE relname = ${table}`.execute(trx);
  return Number(rows[0]?.n ?? 0);
}

async function applied(stream: StreamSpec, p: Page, tables: string[]): Promise<Record<string, number>> {
  const run = await t.db
    .insertInto('sync_runs')
    .values({ connection_id: 'sf', stream: stream.name, trigger: 'test', full_scan: false })
    .returning('id')
    .executeTakeFirstOrThrow();
  return t.db.transaction().execute(async (trx) => {
    // The counters hold what this connection read earlier and has not reported yet: the page's reads are the
    // difference (nothing is reported in the middle of a transaction).
    const before: Record<string, number> = {};
    for (const table of tables) before[table] = await rowsRead(trx, table);
    await applyPage(trx, { connectionId: 'sf', stream, runId: run.id, calendar, today: '2026-11-20' }, p, null);
    const read: Record<string, number> = {};
    for (const table of tables) read[table] = (await rowsRead(trx, table)) - (before[table] ?? 0);
    return read;
  });
}

describe('a page reads only its own rows of a big table with stale statistics', () => {
  it('a deals page of new, changed and deleted deals', async () => {
    // Half new deals, half stored ones renamed, and ten stored ones deleted by the delete feed.
    const records = [
      ...Array.from({ length: PAGE / 2 }, (_, i) => deal(`N${i}`, `New ${i}`)),
      ...Array.from({ length: PAGE / 2 }, (_, i) => deal(`D${i * 7 + 1}`, `Renamed ${i}`)),
    ];
    const deleted = Array.from({ length: 10 }, (_, i) => `D${19_000 + i}`);
    const read = await applied(dealsStream, page(records, deleted), ['deals', 'deal_line_items']);
    // The lookup, the derivation's lookup and its update, and the deletes: a few reads per id, never the table.
    expect(read.deals).toBeLessThanOrEqual(4 * (PAGE + deleted.length));
    expect(read.deal_line_items).toBeLessThanOrEqual(2 * PAGE);
    // What was read was enough: the renamed and the deleted deals got their line item's product line, the new ones
    // (no line items) none.
    const rows = await t.db
      .selectFrom('deals')
      .select(['external_id', 'name', 'product_line', 'is_deleted'])
      .where('external_id', 'in', ['N0', 'D1', 'D19000'])
      .orderBy('external_id')
      .execute();
    expect(rows).toEqual([
      { external_id: 'D1', name: 'Renamed 0', product_line: 'Platform', is_deleted: false },
      { external_id: 'D19000', name: 'Deal 19000', product_line: 'Platform', is_deleted: true },
      { external_id: 'N0', name: 'New 0', product_line: null, is_deleted: false },
    ]);
  });

  it('a line-items page moves its deals’ product lines and reads no other deal', async () => {
    const records = Array.from({ length: PAGE }, (_, i) => item(`M${i}`, `D${i * 11 + 3}`));
    const read = await applied(itemsStream, page(records), ['deals', 'deal_line_items']);
    expect(read.deals).toBeLessThanOrEqual(4 * PAGE);
    expect(read.deal_line_items).toBeLessThanOrEqual(6 * PAGE);
    const moved = await t.db
      .selectFrom('deals')
      .select(['external_id', 'product_line'])
      .where('external_id', 'in', ['D3', 'D14', 'D2'])
      .orderBy('external_id')
      .execute();
    // D3 and D14 have a larger Services item now; D2's only item is still Platform (it was never derived: null).
    expect(moved).toEqual([
      { external_id: 'D14', product_line: 'Services' },
      { external_id: 'D2', product_line: null },
      { external_id: 'D3', product_line: 'Services' },
    ]);
  });

  it('a page whose records did not change restamps them by key', async () => {
    // The same content as stored by the first test, a newer stamp: a restamp, not a write.
    const records = Array.from({ length: PAGE / 2 }, (_, i) => ({
      ...deal(`N${i}`, `New ${i}`),
      sourceModifiedAt: '2026-11-21T10:00:00.000Z',
    }));
    const read = await applied(dealsStream, page(records), ['deals']);
    expect(read.deals).toBeLessThanOrEqual(3 * PAGE);
    const [row] = await t.db
      .selectFrom('deals')
      .select(sql<string>`to_char(source_modified_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`.as('day'))
      .where('external_id', '=', 'N5')
      .execute();
    expect(row?.day).toBe('2026-11-21');
  });
});

describe('a row another transaction updates while a page writes it by key', () => {
  it('is still deleted, and still gets its derived product line', async () => {
    // Another transaction has updated D500 and D501 and not committed yet.
    let commit!: () => void;
    const gate = new Promise<void>((r) => {
      commit = r;
    });
    let holding!: () => void;
    const held = new Promise<void>((r) => {
      holding = r;
    });
    const other = t.db.transaction().execute(async (trx) => {
      await sql`UPDATE deals SET name = name || ' (edited)' WHERE external_id IN ('D500', 'D501')`.execute(trx);
      holding();
      await gate;
    });
    await held;
    const apply = async (stream: StreamSpec, p: Page) => {
      const run = await t.db
        .insertInto('sync_runs')
        .values({ connection_id: 'sf', stream: stream.name, trigger: 'test', full_scan: false })
        .returning('id')
        .executeTakeFirstOrThrow();
      return t.db
        .transaction()
        .execute((trx) =>
          applyPage(trx, { connectionId: 'sf', stream, runId: run.id, calendar, today: '2026-11-20' }, p, null),
        );
    };
    // The delete feed names D500; a larger Services item arrives for D501. Both wait for the other transaction.
    const deleting = apply(dealsStream, page([], ['D500']));
    const deriving = apply(itemsStream, page([item('Q1', 'D501')]));
    await new Promise((r) => setTimeout(r, 300));
    commit();
    await other;
    expect((await deleting).deleted).toBe(1);
    await deriving;
    const rows = await t.db
      .selectFrom('deals')
      .select(['external_id', 'name', 'is_deleted', 'product_line'])
      .where('external_id', 'in', ['D500', 'D501'])
      .orderBy('external_id')
      .execute();
    expect(rows).toEqual([
      { external_id: 'D500', name: 'Deal 500 (edited)', is_deleted: true, product_line: 'Platform' },
      { external_id: 'D501', name: 'Deal 501 (edited)', is_deleted: false, product_line: 'Services' },
    ]);
  });
});
