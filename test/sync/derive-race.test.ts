/**
 * Two pages that feed one derived column, committed at the same time (as `start` and workers do): a line-items
 * page still open when the deals page of its deal commits. Each page's derivation used to miss the other's rows
 * (READ COMMITTED), and the deal kept a null product line for good; the derivation lock makes the second page wait.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import type { DealLineItemRow, DealRow, NormalizedRecord, StreamSpec } from '../../src/connectors/types.ts';
import { applyPage } from '../../src/sync/apply-page.ts';
import { ensureConnection } from '../../src/sync/org-binding.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { dealsStream, itemsStream, page } from '../helpers/deal-pages.ts';

const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await ensureConnection(t.db, 'sf', 'salesforce');
});
afterAll(async () => {
  await t?.drop();
});

const deal: NormalizedRecord<'deals'> = {
  externalId: 'D1',
  sourceModifiedAt: '2026-11-20T10:00:00.000Z',
  isDeleted: false,
  row: {
    name: 'Acme',
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
const item: NormalizedRecord<'deal_line_items'> = {
  externalId: 'L1',
  sourceModifiedAt: '2026-11-20T10:00:00.000Z',
  isDeleted: false,
  row: {
    deal_external_id: 'D1',
    product_name: 'Seats',
    product_family: 'Platform',
    quantity: '1',
    amount: '1000',
  } satisfies DealLineItemRow,
};

async function run(stream: StreamSpec): Promise<number> {
  const r = await t.db
    .insertInto('sync_runs')
    .values({ connection_id: 'sf', stream: stream.name, trigger: 'test', full_scan: false })
    .returning('id')
    .executeTakeFirstOrThrow();
  return r.id;
}

it('a deals page committed while a line-items page of its deal is open still gets the product line', async () => {
  const ctx = async (stream: StreamSpec) => ({
    connectionId: 'sf',
    stream,
    runId: await run(stream),
    calendar,
    today: '2026-11-20',
  });
  const itemsCtx = await ctx(itemsStream);
  const dealsCtx = await ctx(dealsStream);
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let itemsApplied!: () => void;
  const applied = new Promise<void>((r) => {
    itemsApplied = r;
  });
  const first = t.db.transaction().execute(async (trx) => {
    await applyPage(trx, itemsCtx, page([item]), null);
    itemsApplied();
    await gate; // still uncommitted while the deals page runs
  });
  await applied;
  const second = t.db.transaction().execute((trx) => applyPage(trx, dealsCtx, page([deal]), null));
  await new Promise((r) => setTimeout(r, 300));
  release();
  await Promise.all([first, second]);
  const row = await t.db
    .selectFrom('deals')
    .select('product_line')
    .where('external_id', '=', 'D1')
    .executeTakeFirstOrThrow();
  expect(row.product_line).toBe('Platform');
});
