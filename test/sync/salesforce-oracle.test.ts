/**
 * Every stream of a generated `small` sandbox org, synced through the product (jsforce client, connector, runner,
 * PostgreSQL) and compared with the sandbox's own oracle (computed from its store, not through our normalizer):
 * a full sync, then incremental syncs after updates, owner moves, soft and hard deletes, a late commit and
 * SystemModstamp ties.
 *
 *
 * Every column the oracle names is compared, derived ones included: reps.quota_carrying (from the quotas) and
 * deals.product_line (from the line items), which the runner works out in the warehouse after those streams sync.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import type { SalesforceConnector } from '../../src/connectors/salesforce/connector.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { rememberHardDeleted } from '../../src/sandbox/salesforce/oracle.ts';
import { runSync } from '../../src/sync/run.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnector } from '../helpers/sandbox.ts';
import { expectWarehouseEqualsOracle } from './helpers/oracle-compare.ts';

const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
let sb: SalesforceSandbox;
let t: TestDatabase;
let connector: SalesforceConnector;

async function syncAll(): Promise<void> {
  for (const s of connector.streams()) {
    const r = await runSync({
      db: t.db,
      connector,
      connectionId: 'sf',
      stream: s.name,
      calendar,
      now: () => sb.store.now(),
    });
    expect(r.status, `${s.name}: ${r.errorMessage}`).toBe('succeeded');
  }
}

async function compareAll(): Promise<void> {
  await expectWarehouseEqualsOracle(t.db, sb, 'sf');
}

beforeAll(async () => {
  t = await createTestDatabase();
  sb = await startSalesforceSandbox({ seed: 5, size: 'small', anchorDate: '2026-03-02' });
  sb.store.advance(60 * 60_000);
  connector = sandboxConnector(sb);
}, 120_000);
afterAll(async () => {
  await sb?.close();
  await t?.drop();
});

describe('Salesforce sync compared with the sandbox oracle', () => {
  it('a full sync leaves every stream equal to the oracle (count and checksum)', async () => {
    await syncAll();
    await compareAll();
    // The derived columns are really in play: both answers occur, and no deal keeps a FiscalYear row's like.
    const reps = await t.db.selectFrom('reps').select(['quota_carrying']).execute();
    expect(new Set(reps.map((r) => r.quota_carrying))).toEqual(new Set([true, false]));
    const lines = await t.db.selectFrom('deals').select('product_line').where('product_line', 'is not', null).execute();
    expect(lines.length).toBeGreaterThan(0);
  }, 120_000);

  it('a new larger line item moves the deal product line, and a rep losing its last quota stops carrying one', async () => {
    const store = sb.store;
    const deal = (await t.db
      .selectFrom('deals')
      .select(['external_id', 'product_line', 'owner_external_id', 'close_date'])
      .where('product_line', 'is not', null)
      .where('is_deleted', '=', false)
      .orderBy('external_id')
      .executeTakeFirstOrThrow()) as {
      external_id: string;
      product_line: string;
      owner_external_id: string;
      close_date: unknown;
    };
    const other = store.all('Product2').find((p) => p.Family && p.Family !== deal.product_line)!;
    const items = store.all('OpportunityLineItem').filter((li) => li.OpportunityId === deal.external_id);
    const top = items.reduce((n, li) => Math.max(n, Number(li.TotalPrice ?? 0)), 0);
    store.insert('OpportunityLineItem', {
      OpportunityId: deal.external_id,
      Product2Id: other.Id,
      Quantity: 1,
      UnitPrice: top + 1000,
    });
    const quotas = store.all('ForecastingQuota');
    const owner = String(quotas[0]!.QuotaOwnerId);
    for (const q of quotas.filter((x) => x.QuotaOwnerId === owner)) {
      rememberHardDeleted(store, q);
      store.hardDelete('ForecastingQuota', String(q.Id));
    }
    store.advance(2 * 60_000);
    await t.db.deleteFrom('dirty_keys').execute();
    await syncAll();
    await compareAll();
    const after = await t.db
      .selectFrom('deals')
      .select('product_line')
      .where('external_id', '=', deal.external_id)
      .executeTakeFirstOrThrow();
    expect(after.product_line).toBe(other.Family);
    const rep = await t.db
      .selectFrom('reps')
      .select('quota_carrying')
      .where('external_id', '=', owner)
      .executeTakeFirstOrThrow();
    expect(rep.quota_carrying).toBe(false);
    // Both derived changes queued their rep's metrics: the deal's owner for its close quarter, the rep for now.
    const dirty = await t.db.selectFrom('dirty_keys').select(['subject_key', 'period_id', 'reason']).execute();
    const quarter = (d: string) => calendar.periodContaining(d, 'quarter').id;
    expect(dirty).toContainEqual({
      subject_key: `sf:${deal.owner_external_id}`,
      period_id: quarter(String(deal.close_date)),
      reason: 'sync:opportunity_line_items',
    });
    expect(dirty).toContainEqual({
      subject_key: `sf:${owner}`,
      period_id: quarter(store.now().toISOString().slice(0, 10)),
      reason: 'sync:forecasting_quotas',
    });
  }, 120_000);

  it('incremental syncs after updates, owner moves, deletes, a late commit and stamp ties stay equal', async () => {
    const store = sb.store;
    const opps = store.all('Opportunity').filter((o) => o.CloseDate);
    const users = store.all('User').filter((u) => u.IsActive === true);
    // Ties: five changes in the same millisecond.
    for (const o of opps.slice(0, 5)) store.update('Opportunity', String(o.Id), { Amount: 4321.5 });
    // Owner move.
    store.update('Opportunity', String(opps[5]!.Id), { OwnerId: users[users.length - 1]!.Id });
    // Soft delete and hard delete (the oracle remembers the hard-deleted row's last values).
    store.softDelete('Opportunity', String(opps[6]!.Id));
    const gone = store.get('Opportunity', String(opps[7]!.Id))!;
    rememberHardDeleted(store, gone);
    store.hardDelete('Opportunity', String(gone.Id));
    const task = store.all('Task')[0]!;
    rememberHardDeleted(store, task);
    store.hardDelete('Task', String(task.Id));
    store.advance(2 * 60_000);
    // A late commit: stamped 4 minutes ago, visible only now.
    store.update(
      'Opportunity',
      String(opps[8]!.Id),
      { StageName: 'Closed Lost' },
      { stamp: new Date(store.now().getTime() - 4 * 60_000) },
    );
    store.advance(60_000);
    await syncAll();
    await compareAll();
    // A second round with nothing changed writes nothing.
    store.advance(30 * 60_000);
    const lastRun = await t.db
      .selectFrom('sync_runs')
      .select((eb) => eb.fn.max('id').as('id'))
      .executeTakeFirstOrThrow();
    const dirtyBefore = await t.db
      .selectFrom('dirty_keys')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    await syncAll();
    await compareAll();
    const round = await t.db
      .selectFrom('sync_runs')
      .select(['stream', 'status', 'records_read', 'records_changed', 'records_deleted'])
      .where('id', '>', Number(lastRun.id))
      .execute();
    expect(round.length).toBeGreaterThan(0);
    expect(round.filter((r) => r.status !== 'succeeded' || r.records_changed !== 0 || r.records_deleted !== 0)).toEqual(
      [],
    );
    const dirtyAfter = await t.db
      .selectFrom('dirty_keys')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(dirtyAfter.n)).toBe(Number(dirtyBefore.n));
  }, 120_000);
});
