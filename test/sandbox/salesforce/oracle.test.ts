import { describe, expect, it } from 'vitest';
import { generateOrg } from '../../../src/sandbox/org/index.ts';
import { lifeChanges } from '../../../src/sandbox/salesforce/life.ts';
import { expectedWarehouse, tableChecksum } from '../../../src/sandbox/salesforce/oracle.ts';
import { populateSalesforce } from '../../../src/sandbox/salesforce/populate.ts';
import { SalesforceStore } from '../../../src/sandbox/salesforce/store.ts';

const ANCHOR = '2026-11-15';
const NOW = new Date(`${ANCHOR}T12:00:00.000Z`);

/** A tiny hand-built org whose expected rows are worked out by hand below. */
function handOrg() {
  const store = new SalesforceStore({ seed: 7, now: NOW });
  store.insert('CurrencyType', {
    IsoCode: 'USD',
    ConversionRate: 1,
    DecimalPlaces: 2,
    IsActive: true,
    IsCorporate: true,
  });
  store.insert('CurrencyType', {
    IsoCode: 'EUR',
    ConversionRate: 0.9215,
    DecimalPlaces: 2,
    IsActive: true,
    IsCorporate: false,
  });
  const rep = store.insert('User', {
    Username: 'ana@x.example',
    Email: 'ana@x.example',
    FirstName: 'Ana',
    LastName: 'Silva',
    IsActive: true,
  });
  const opp = store.insert(
    'Opportunity',
    {
      Name: 'Globex - Platform',
      OwnerId: rep.Id,
      Amount: 1234.5,
      CurrencyIsoCode: 'EUR',
      StageName: 'Proposal/Price Quote',
      Probability: 75,
      ForecastCategoryName: 'Best Case',
      CloseDate: '2026-12-20',
      Type: 'New Business',
      Segment__c: 'SMB',
    },
    // 03:30 UTC is still the previous evening in New York: created_date is the 14th.
    { stamp: new Date('2026-11-15T03:30:00.000Z') },
  );
  const lost = store.insert('Opportunity', {
    Name: 'Initech - Services',
    OwnerId: rep.Id,
    Amount: 500,
    CurrencyIsoCode: 'USD',
    StageName: 'Closed Lost',
    Probability: 0,
    ForecastCategoryName: 'Omitted',
    CloseDate: '2026-11-02',
  });
  const broken = store.insert('Opportunity', {
    Name: 'No close',
    OwnerId: rep.Id,
    StageName: 'Prospecting',
    CloseDate: null,
  });
  const tasks = [
    store.insert('Task', {
      Subject: 'a',
      Status: 'Completed',
      Priority: 'Normal',
      OwnerId: rep.Id,
      WhatId: opp.Id,
      TaskSubtype: 'ListEmail',
      ActivityDate: '2026-11-10',
    }),
    store.insert('Task', {
      Subject: 'b',
      Status: 'Completed',
      Priority: 'Normal',
      OwnerId: rep.Id,
      TaskSubtype: 'Task',
      Type: 'Proposal',
      ActivityDate: '2026-11-11',
    }),
    store.insert('Task', {
      Subject: 'c',
      Status: 'Completed',
      Priority: 'Normal',
      OwnerId: rep.Id,
      TaskSubtype: 'Call',
      ActivityDate: '2026-11-12',
    }),
    store.insert('Task', {
      Subject: 'd',
      Status: 'Completed',
      Priority: 'Normal',
      OwnerId: rep.Id,
      TaskSubtype: 'Task',
      Type: 'Other',
      ActivityDate: '2026-11-12',
    }),
  ];
  const event = store.insert('Event', {
    Subject: 'Demo',
    OwnerId: rep.Id,
    WhatId: opp.Id,
    ActivityDate: '2026-11-13',
    Type: 'Meeting',
  });
  return { store, rep, opp, lost, broken, tasks, event };
}

describe('expectedWarehouse on a hand-built org', () => {
  const h = handOrg();
  const w = expectedWarehouse(h.store, { connectionId: 'sf-test', timezone: 'America/New_York' });

  it('normalizes an open opportunity by the shared rules', () => {
    const row = w.streams.opportunities?.rows.find((r) => r.external_id === h.opp.Id);
    expect(row).toEqual({
      connection_id: 'sf-test',
      external_id: h.opp.Id,
      source_modified_at: '2026-11-15T03:30:00.000Z',
      is_deleted: false,
      name: 'Globex - Platform',
      owner_external_id: h.rep.Id,
      amount: '1234.5',
      currency: 'EUR',
      stage: 'Proposal/Price Quote',
      stage_category: 'open',
      forecast_category: 'Best Case',
      probability: '0.75',
      close_date: '2026-12-20',
      created_date: '2026-11-14',
      deal_type: 'New Business',
      product_line: null,
      segment: 'SMB',
      account_external_id: null,
      account_name: null,
    });
    const lost = w.streams.opportunities?.rows.find((r) => r.external_id === h.lost.Id);
    expect(lost).toMatchObject({ stage_category: 'lost', probability: '0', amount: '500' });
  });

  it('quarantines the opportunity without a close date and writes no deal row for it', () => {
    expect(w.quarantined).toEqual([
      { stream: 'opportunities', external_id: h.broken.Id, reason_code: 'MISSING_CLOSE_DATE' },
    ]);
    expect(w.streams.opportunities?.rows.map((r) => r.external_id)).not.toContain(h.broken.Id);
    // Its history row is still expected: the history stream does not need a close date.
    expect(w.streams.opportunity_history?.rows.filter((r) => r.deal_external_id === h.broken.Id)).toHaveLength(1);
  });

  it('types activities from TaskSubtype and Type, events as meetings, and links deals by WhatId', () => {
    const types = w.streams.tasks?.rows.map((r) => [r.activity_type, r.deal_external_id]);
    expect(types).toEqual([
      ['email', h.opp.Id],
      ['proposal', null],
      ['call', null],
      ['task', null],
    ]);
    expect(w.streams.events?.rows).toEqual([
      expect.objectContaining({
        kind: 'event',
        activity_type: 'meeting',
        activity_date: '2026-11-13',
        deal_external_id: h.opp.Id,
      }),
    ]);
  });

  it('keeps soft- and hard-deleted rows flagged as deleted', () => {
    const { store, tasks } = handOrg();
    const [soft, viaLife, direct] = tasks;
    store.softDelete('Task', String(soft?.Id));
    lifeChanges(store).hardDelete('Task', String(viaLife?.Id));
    store.hardDelete('Task', String(direct?.Id));
    const out = expectedWarehouse(store, { connectionId: 'c' });
    const byId = new Map(out.streams.tasks?.rows.map((r) => [r.external_id, r]));
    expect(byId.get(String(soft?.Id))?.is_deleted).toBe(true);
    expect(byId.get(String(viaLife?.Id))).toMatchObject({ is_deleted: true, activity_type: 'proposal' });
    // Deleted straight in the store: the store itself remembers the last values.
    expect(byId.get(String(direct?.Id))).toMatchObject({ is_deleted: true, activity_type: 'call' });
    expect(out.unknownHardDeletes).toEqual([]);
  });
});

describe('expectedWarehouse: the derived columns and the rate rows', () => {
  it('takes the product line from the largest live line item, by decimal price, lowest id on a tie', () => {
    const h = handOrg();
    const product = (Name: string, Family: string) => h.store.insert('Product2', { Name, Family, IsActive: true });
    const a = product('Core', 'Platform');
    const b = product('Care', 'Support');
    const c = product('Days', 'Services');
    const item = (p: { Id?: unknown }, UnitPrice: number) =>
      h.store.insert('OpportunityLineItem', { OpportunityId: h.opp.Id, Product2Id: p.Id, Quantity: 1, UnitPrice });
    item(a, 100.1);
    const big = item(c, 900);
    item(b, 100.25);
    const rowOf = (store: SalesforceStore) =>
      expectedWarehouse(store, { connectionId: 'x' }).streams.opportunities?.rows.find(
        (r) => r.external_id === h.opp.Id,
      );
    expect(rowOf(h.store)?.product_line).toBe('Services');
    expect(
      expectedWarehouse(h.store, { connectionId: 'x' }).streams.opportunity_line_items?.rows.find(
        (r) => r.external_id === big.Id,
      ),
    ).toMatchObject({ product_name: 'Days', product_family: 'Services', quantity: '1', amount: '900' });
    // Deleted, the largest no longer counts: 100.25 beats 100.1.
    h.store.softDelete('OpportunityLineItem', String(big.Id));
    expect(rowOf(h.store)?.product_line).toBe('Support');
  });

  it('counts every user as quota-carrying until the org has a quota, then only quota owners', () => {
    const h = handOrg();
    const other = h.store.insert('User', { Username: 'bo@x.example', LastName: 'Bo', IsActive: true });
    const carrying = () =>
      Object.fromEntries(
        (expectedWarehouse(h.store, { connectionId: 'x' }).streams.users?.rows ?? []).map((r) => [
          r.external_id,
          r.quota_carrying,
        ]),
      );
    expect(carrying()).toMatchObject({ [String(h.rep.Id)]: true, [String(other.Id)]: true });
    h.store.insert('ForecastingQuota', { QuotaOwnerId: h.rep.Id, QuotaAmount: 100000, StartDate: '2026-10-01' });
    expect(carrying()).toMatchObject({ [String(h.rep.Id)]: true, [String(other.Id)]: false });
  });

  it('starts static rates at 1970-01-01 and gives rate rows no is_deleted', () => {
    const rows = expectedWarehouse(handOrg().store, { connectionId: 'x' }).streams.currency_types?.rows ?? [];
    const eur = rows.find((r) => r.currency === 'EUR');
    expect(eur).toMatchObject({ rate: '0.9215', valid_from: '1970-01-01', valid_to: null, source: 'crm_static' });
    expect(eur && 'is_deleted' in eur).toBe(false);
  });
});

describe('tableChecksum', () => {
  const rows: [Record<string, unknown>, Record<string, unknown>] = [
    {
      external_id: 'b',
      amount: '0.7500',
      close: '2026-01-02',
      at: new Date('2026-01-02T03:04:05.000Z'),
      won: true,
      x: null,
    },
    {
      external_id: 'a',
      amount: '10',
      close: '2026-01-01',
      at: new Date('2026-01-01T00:00:00.000Z'),
      won: false,
      x: null,
    },
  ];
  const base = tableChecksum(rows);

  it('is the same whatever the row order, number spelling or instant form', () => {
    const same = [
      { external_id: 'a', amount: 10, close: '2026-01-01', at: '2026-01-01T00:00:00.000+0000', won: false, x: null },
      { external_id: 'b', amount: 0.75, close: '2026-01-02', at: '2026-01-02T03:04:05Z', won: true, x: undefined },
    ];
    expect(tableChecksum(same)).toEqual(base);
    expect(base.count).toBe(2);
  });

  it('changes when one field of one row changes', () => {
    expect(tableChecksum([{ ...rows[0], amount: '0.7501' }, rows[1]]).sha256).not.toBe(base.sha256);
    expect(tableChecksum([rows[0], { ...rows[1], won: true }]).sha256).not.toBe(base.sha256);
    expect(tableChecksum([rows[0], { ...rows[1], x: 'null' }]).sha256).not.toBe(base.sha256);
  });

  it('compares only the named columns when given', () => {
    const extra = rows.map((r) => ({ ...r, synced_at: new Date() }));
    expect(tableChecksum(extra, Object.keys(rows[0] ?? {}))).toEqual(base);
  });
});

describe('expectedWarehouse on the populated small org', () => {
  const org = generateOrg({ seed: 42, size: 'small', anchorDate: ANCHOR });
  const checksums = () => {
    const store = new SalesforceStore({ seed: 42, now: NOW });
    populateSalesforce(store, org);
    const w = expectedWarehouse(store, { connectionId: 'sf' });
    return {
      store,
      w,
      sums: Object.fromEntries(Object.entries(w.streams).map(([k, v]) => [k, tableChecksum(v.rows)])),
    };
  };
  const first = checksums();

  it('gives the same checksums for the same org populated twice', () => {
    expect(checksums().sums).toEqual(first.sums);
  });

  it('expects every deal but the one without a close date, and the rep fields the sync needs', () => {
    expect(first.sums.opportunities?.count).toBe(org.deals.length - 1);
    expect(first.w.quarantined.map((q) => q.reason_code)).toEqual(['MISSING_CLOSE_DATE']);
    const reps = first.w.streams.users?.rows.filter((r) => r.quota_carrying === true) ?? [];
    expect(reps).toHaveLength(12);
    expect(reps.filter((r) => r.is_active === false)).toHaveLength(1);
    const activities = (first.w.streams.tasks?.rows.length ?? 0) + (first.w.streams.events?.rows.length ?? 0);
    expect(activities).toBe(org.activities.length);
  });

  it('moves the deals checksum when one opportunity changes one field', () => {
    const { store } = checksums();
    const id = String(store.all('Opportunity').find((o) => o.StageName === 'Prospecting')?.Id);
    lifeChanges(store).slip(id, 1);
    const w = expectedWarehouse(store, { connectionId: 'sf' });
    expect(tableChecksum(w.streams.opportunities?.rows ?? []).sha256).not.toBe(first.sums.opportunities?.sha256);
    expect(tableChecksum(w.streams.users?.rows ?? [])).toEqual(first.sums.users);
  });
});
