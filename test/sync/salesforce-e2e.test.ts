/**
 * The Salesforce read side end to end: the real jsforce client against the sandbox's HTTP server, the runner
 * writing into a real PostgreSQL database. The org starts empty and is filled through the sandbox store; what the
 * warehouse must hold is read from the store directly (never through our normalizer).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import type { SalesforceConnector } from '../../src/connectors/salesforce/connector.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { runSync } from '../../src/sync/run.ts';
import { Dec } from '../../src/util/money.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnector } from '../helpers/sandbox.ts';

const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
let sb: SalesforceSandbox;
let t: TestDatabase;
const hardDeleted = new Set<string>();
let ownerA: string;
let ownerB: string;

function connector(batchSize = 200): SalesforceConnector {
  return sandboxConnector(sb, { batchSize });
}

const sync = (c: SalesforceConnector, stream = 'opportunities', full = false) =>
  runSync({ db: t.db, connector: c, connectionId: 'sf', stream, calendar, full, now: () => sb.store.now() });

/** What the deals table must hold, worked out from the store: live and soft-deleted rows, plus hard deletes. */
function expectedDeals() {
  const rows = sb.store.all('Opportunity', { includeDeleted: true }).map((r) => ({
    external_id: String(r.Id),
    owner_external_id: r.OwnerId,
    amount: r.Amount === null || r.Amount === undefined ? null : new Dec(String(r.Amount)).toFixed(),
    stage: r.StageName,
    close_date: r.CloseDate,
    is_deleted: r.IsDeleted === true,
  }));
  for (const id of hardDeleted) rows.push({ ...warehouseRow.get(id)!, is_deleted: true });
  return rows.sort(byId);
}

/** Query calls about opportunities: the first page (its SOQL names the object) and the query-more pages. */
const oppQueries = () =>
  sb.log
    .entries()
    .filter((e) => e.path.includes('/query') && (e.locator !== undefined || /FROM Opportunity/.test(e.soql ?? '')));

const byId = (a: { external_id: string }, b: { external_id: string }) =>
  a.external_id < b.external_id ? -1 : a.external_id > b.external_id ? 1 : 0;

const warehouseRow = new Map<string, ReturnType<typeof expectedDeals>[number]>();

async function actualDeals() {
  const rows = await t.db
    .selectFrom('deals')
    .select(['external_id', 'owner_external_id', 'amount', 'stage', 'close_date', 'is_deleted'])
    .orderBy('external_id')
    .execute();
  const out = rows.map((r) => ({ ...r, amount: r.amount === null ? null : new Dec(r.amount).toFixed() }));
  for (const r of out) warehouseRow.set(r.external_id, r);
  return out.sort(byId);
}

beforeAll(async () => {
  t = await createTestDatabase();
  sb = await startSalesforceSandbox({ seed: 7, size: 'small', populate: false, anchorDate: '2026-03-02' });
  ownerA = String(
    sb.store.insert('User', { Username: 'a@x.test', Email: 'A@x.test', LastName: 'Able', IsActive: true }).Id,
  );
  ownerB = String(
    sb.store.insert('User', { Username: 'b@x.test', Email: 'b@x.test', LastName: 'Baker', IsActive: true }).Id,
  );
  // 450 deals sharing one SystemModstamp: ties across the 200-record pages.
  sb.store.advance(60_000);
  for (let i = 0; i < 450; i++) {
    sb.store.insert('Opportunity', {
      Name: `Deal ${i}`,
      OwnerId: i % 2 ? ownerA : ownerB,
      Amount: 1000 + i + 0.25,
      CloseDate: i % 3 ? '2026-03-20' : '2026-05-10',
      StageName: i % 5 ? 'Prospecting' : 'Closed Won',
      Probability: i % 5 ? 10 : 100,
      CurrencyIsoCode: 'USD',
    });
  }
  // The first sync runs a while after the org was last changed, as it would in life.
  sb.store.advance(30 * 60_000);
});
afterAll(async () => {
  await sb?.close();
  await t?.drop();
});
afterEach(() => {
  sb.faults.clear();
});

describe('Salesforce sync against the sandbox', () => {
  it('a full sync reads every deal once, ties included, and binds the org', async () => {
    sb.log.clear();
    const s = await sync(connector());
    expect(s).toMatchObject({ status: 'succeeded', read: 450, changed: 450, quarantined: 0 });
    expect(await actualDeals()).toEqual(expectedDeals());
    const queries = oppQueries();
    expect(queries.reduce((n, e) => n + (e.recordsReturned ?? 0), 0)).toBe(450);
    const conn = await t.db.selectFrom('connections').selectAll().executeTakeFirstOrThrow();
    expect(conn.crm_org_id).toBe(sb.orgId);
  });

  it('after k changes an incremental sync reads k records plus the lookback window, in one query', async () => {
    sb.store.advance(30 * 60_000); // past the lookback of the full sync's records
    const ids = sb.store.all('Opportunity').map((r) => String(r.Id));
    sb.store.update('Opportunity', ids[0]!, { Amount: 99.5 }); // update
    sb.store.update('Opportunity', ids[1]!, {
      OwnerId: ownerA === sb.store.get('Opportunity', ids[1]!)?.OwnerId ? ownerB : ownerA,
      CloseDate: '2026-07-01',
    }); // owner move + slip
    sb.store.softDelete('Opportunity', ids[2]!);
    sb.store.hardDelete('Opportunity', ids[3]!);
    hardDeleted.add(ids[3]!);
    // A transaction that committed late: stamped 3 minutes ago, visible only now.
    sb.store.update(
      'Opportunity',
      ids[4]!,
      { StageName: 'Closed Lost', Probability: 0 },
      { stamp: new Date(sb.store.now().getTime() - 3 * 60_000) },
    );
    // The delete feed covers whole minutes up to now: a sync two minutes later sees this minute's deletes.
    sb.store.advance(2 * 60_000);
    sb.log.clear();
    const s = await sync(connector());
    expect(s.status).toBe('succeeded');
    expect(await actualDeals()).toEqual(expectedDeals());
    const queries = oppQueries();
    expect(queries).toHaveLength(1);
    // k = 4 records still queryable (the hard delete comes from the feed); the lookback adds none here.
    expect(queries[0]?.recordsReturned).toBe(4);
    expect(sb.log.find('/deleted').length).toBe(1);
    const dirty = await t.db.selectFrom('dirty_keys').select(['subject_key', 'period_id']).execute();
    expect(dirty.length).toBeGreaterThan(0);
  });

  it('a run interrupted mid-scan resumes after its last page without re-reading', async () => {
    sb.store.advance(30 * 60_000);
    for (const r of sb.store.all('Opportunity').slice(0, 420))
      sb.store.update('Opportunity', String(r.Id), { Amount: 5 });
    sb.log.clear();
    // Every query-more page fails with 500 until the retries give up: the first page (200 records) is committed.
    sb.faults.add({ kind: 'error_500', path: '/query/', count: 100 });
    const c = connector();
    const failed = await sync(c);
    expect(failed.status).toBe('failed');
    sb.faults.clear();
    const resumed = await sync(connector());
    expect(resumed.status).toBe('succeeded');
    expect(await actualDeals()).toEqual(expectedDeals());
    const returned = sb.log
      .entries()
      .reduce((n, e) => n + (e.path.includes('/query') && e.status === 200 ? (e.recordsReturned ?? 0) : 0), 0);
    // 420 changed records; the resumed run starts after the 200 committed ones.
    expect(returned).toBeLessThan(420 * 1.3);
  });

  it('with 429 and 5xx on 20% of calls: same final state, Retry-After honoured, 400 never retried', async () => {
    sb.store.advance(30 * 60_000);
    for (const r of sb.store.all('Opportunity').slice(0, 300))
      sb.store.update('Opportunity', String(r.Id), { Amount: 7.75 });
    sb.log.clear();
    sb.faults.add({ kind: 'rate_limit_429', path: '/services/data', probability: 0.1, retryAfterSeconds: 1 });
    sb.faults.add({ kind: 'unavailable_503', path: '/services/data', probability: 0.1 });
    const s = await sync(connector());
    expect(s.status).toBe('succeeded');
    expect(await actualDeals()).toEqual(expectedDeals());
    const entries = sb.log.entries();
    expect(entries.some((e) => e.status === 429)).toBe(true);
    for (const [i, e] of entries.entries()) {
      if (e.status !== 429) continue;
      const next = entries.slice(i + 1).find((n) => n.path === e.path && n.query.q === e.query.q);
      if (next) expect(next.startedAt - e.startedAt).toBeGreaterThanOrEqual((e.retryAfterSeconds ?? 0) * 1000);
    }
    sb.faults.clear();
  });

  it('a 400 is never retried', async () => {
    sb.log.clear();
    const c = connector();
    const err = await c.client.query('SELECT NoSuchField__c FROM Opportunity').catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('CRM_FIELD_MISSING');
    expect(sb.log.entries().filter((e) => e.status === 400)).toHaveLength(1);
    expect(sb.log.entries().filter((e) => e.path.includes('/query'))).toHaveLength(1);
  });
});
