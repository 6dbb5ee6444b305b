import nock from 'nock';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SalesforceClient } from '../../../src/connectors/salesforce/client.ts';
import { parseCursor, type SyncCursor } from '../../../src/connectors/salesforce/cursor.ts';
import { keysetWhere, readSalesforceStream, soqlDateTime } from '../../../src/connectors/salesforce/read.ts';
import { salesforceStreams } from '../../../src/connectors/salesforce/streams.ts';
import type { Page } from '../../../src/connectors/types.ts';
import { silentLogger } from '../../../src/util/log.ts';

const INSTANCE = 'https://acme.my.salesforce.test';
const V = '/services/data/v62.0';
const NOW = new Date('2026-03-02T12:00:00.000Z');

const oppDescribe = {
  name: 'Opportunity',
  fields: [
    'Id',
    'SystemModstamp',
    'IsDeleted',
    'Name',
    'OwnerId',
    'Amount',
    'StageName',
    'IsClosed',
    'IsWon',
    'ForecastCategoryName',
    'Probability',
    'CloseDate',
    'CreatedDate',
    'Type',
    'AccountId',
    'CurrencyIsoCode',
  ].map((name) => ({ name, type: 'string' })),
};

function opp(id: string, stamp: string, extra: Record<string, unknown> = {}) {
  return {
    attributes: { type: 'Opportunity' },
    Id: id,
    SystemModstamp: stamp,
    IsDeleted: false,
    Name: `Deal ${id}`,
    OwnerId: '005A',
    Amount: 1250.5,
    StageName: 'Closed Won',
    IsClosed: true,
    IsWon: true,
    ForecastCategoryName: 'Closed',
    Probability: 100,
    CloseDate: '2026-02-27',
    CreatedDate: '2026-01-05T03:30:00.000+0000',
    Type: 'New Business',
    AccountId: '001A',
    Account: { attributes: { type: 'Account' }, Name: 'Globex' },
    CurrencyIsoCode: 'EUR',
    ...extra,
  };
}

function setup() {
  const client = new SalesforceClient({
    apiVersion: '62.0',
    session: {
      current: async () => ({ accessToken: 't', instanceUrl: INSTANCE }),
      refresh: async () => ({ accessToken: 't', instanceUrl: INSTANCE }),
    },
    log: silentLogger,
    sleep: async () => {},
  });
  const stream = salesforceStreams().find((s) => s.name === 'opportunities')!;
  return (from: SyncCursor | null) =>
    readSalesforceStream(
      {
        client,
        stream,
        mapping: {},
        // New York: 2026-01-05T03:30Z is still January 4th there.
        orgFacts: async () => ({ timeZone: 'America/New_York', corporateCurrency: 'USD', multiCurrency: true }),
        lookbackMinutes: 10,
        batchSize: 2000,
        formulaRefreshEverySeconds: 86_400,
        log: silentLogger,
        now: () => NOW,
      },
      from,
    );
}

async function collect<P extends Page>(gen: AsyncGenerator<P>): Promise<P[]> {
  const pages: P[] = [];
  for await (const p of gen) pages.push(p);
  return pages;
}

beforeAll(() => nock.disableNetConnect());
afterEach(() => {
  expect(nock.pendingMocks()).toEqual([]);
  nock.cleanAll();
});

describe('soql helpers', () => {
  it('formats stamps as SOQL datetimes, whole seconds when there are no milliseconds', () => {
    expect(soqlDateTime('2026-03-01T10:00:00.000+0000')).toBe('2026-03-01T10:00:00Z');
    expect(soqlDateTime('2026-03-01T10:00:00.123Z')).toBe('2026-03-01T10:00:00.123Z');
  });

  it('resumes after a keyset position so ties on the stamp are kept', () => {
    expect(keysetWhere('SystemModstamp', { stamp: '2026-03-01T10:00:00.000Z', id: "006B'" }, undefined)).toBe(
      "WHERE (SystemModstamp > 2026-03-01T10:00:00Z OR (SystemModstamp = 2026-03-01T10:00:00Z AND Id > '006B\\''))",
    );
    expect(keysetWhere('SystemModstamp', undefined, '2026-03-01T09:50:00.000Z')).toBe(
      'WHERE SystemModstamp >= 2026-03-01T09:50:00Z',
    );
  });
});

describe('readSalesforceStream (opportunities)', () => {
  it('reads everything on the first run through queryAll, ascending, paging by nextRecordsUrl', async () => {
    const queries: string[] = [];
    nock(INSTANCE)
      .get(`${V}/sobjects/Opportunity/describe`)
      .reply(200, oppDescribe)
      .get(`${V}/sobjects/Opportunity/deleted/`)
      .query({ start: '2026-03-02T11:50:00Z', end: '2026-03-02T12:00:00Z' })
      .reply(200, {
        deletedRecords: [],
        earliestDateAvailable: '2026-02-15T00:00:00.000+0000',
        latestDateCovered: '2026-03-02T11:59:00.000+0000',
      })
      .get(`${V}/queryAll`)
      .query((q) => {
        if (q.q !== undefined) queries.push(String(q.q));
        return q.q !== undefined;
      })
      .reply(200, {
        totalSize: 3,
        done: false,
        nextRecordsUrl: `${V}/query/01gA-2000`,
        records: [
          opp('006A', '2026-03-01T10:00:00.000+0000'),
          opp('006B', '2026-03-01T10:00:00.000+0000', { CloseDate: null }),
        ],
      })
      .get(`${V}/query/01gA-2000`)
      .reply(200, {
        totalSize: 3,
        done: true,
        records: [
          opp('006C', '2026-03-01T11:00:00.000+0000', {
            IsDeleted: true,
            StageName: 'Prospecting',
            IsWon: false,
            IsClosed: false,
            Probability: 10,
            Amount: null,
          }),
        ],
      });

    const pages = await collect(setup()(null));
    expect(queries).toEqual([
      'SELECT Id, SystemModstamp, IsDeleted, Name, OwnerId, Amount, StageName, IsClosed, IsWon, ForecastCategoryName, ' +
        'Probability, CloseDate, CreatedDate, Type, AccountId, Account.Name, CurrencyIsoCode FROM Opportunity ' +
        'ORDER BY SystemModstamp ASC, Id ASC',
    ]);
    const [deletes, p1, p2] = pages;
    // Hard deletes come first; describe and the delete feed are the calls of that page.
    expect(deletes).toMatchObject({ deletedIds: [], records: [], apiCalls: 2 });
    expect(p1?.records).toEqual([
      {
        externalId: '006A',
        sourceModifiedAt: '2026-03-01T10:00:00.000Z',
        isDeleted: false,
        row: {
          name: 'Deal 006A',
          owner_external_id: '005A',
          amount: '1250.5',
          currency: 'EUR',
          stage: 'Closed Won',
          stage_category: 'won',
          forecast_category: 'Closed',
          probability: '1',
          close_date: '2026-02-27',
          created_date: '2026-01-04',
          deal_type: 'New Business',
          // No product_line: unmapped, the warehouse derives it from the line items.
          segment: null,
          account_external_id: '001A',
          account_name: 'Globex',
        },
      },
    ]);
    expect(p1?.quarantined).toMatchObject([
      { externalId: '006B', reasonCode: 'MISSING_CLOSE_DATE', reason: 'Opportunity 006B: CloseDate is missing' },
    ]);
    expect(p1?.cursor).toMatchObject({ phase: 'initial', after: { stamp: '2026-03-01T10:00:00.000Z', id: '006B' } });
    expect(p1?.apiCalls).toBe(1);
    expect(p2?.records[0]).toMatchObject({
      externalId: '006C',
      isDeleted: true,
      row: { stage_category: 'open', probability: '0.1', amount: null },
    });
    const last = pages[pages.length - 1]!;
    // High-water mark: the CRM's clock when the scan began (what the delete feed covered up to).
    expect(last.cursor).toMatchObject({
      phase: 'incremental',
      since: '2026-03-02T11:59:00.000Z',
      deletesCheckedTo: '2026-03-02T11:59:00.000Z',
    });
    expect(last.cursor.after).toBeUndefined();
    expect(parseCursor(JSON.parse(JSON.stringify(last.cursor)))).toEqual(last.cursor);
  });

  it('reads incrementally from the high-water mark minus the lookback, and takes hard deletes from the feed', async () => {
    const queries: string[] = [];
    const cursor: SyncCursor = {
      v: 1,
      phase: 'incremental',
      since: '2026-03-02T11:00:00.000Z',
      deletesCheckedTo: '2026-03-02T11:30:00.000Z',
      meta: {
        fields: { Opportunity: ['Id', 'SystemModstamp', 'IsDeleted', 'StageName', 'CloseDate', 'CreatedDate'] },
        timeZone: 'UTC',
        corporateCurrency: 'USD',
        multiCurrency: false,
      },
    };
    nock(INSTANCE)
      .get(`${V}/queryAll`)
      .query((q) => {
        if (q.q !== undefined) queries.push(String(q.q));
        return q.q !== undefined;
      })
      .reply(200, { totalSize: 0, done: true, records: [] })
      .get(`${V}/sobjects/Opportunity/deleted/`)
      .query({ start: '2026-03-02T11:20:00Z', end: '2026-03-02T12:00:00Z' })
      .reply(200, {
        deletedRecords: [{ id: '006Z', deletedDate: '2026-03-02T11:40:00.000+0000' }],
        earliestDateAvailable: '2026-02-15T00:00:00.000+0000',
        latestDateCovered: '2026-03-02T11:59:00.000+0000',
      });
    const pages = await collect(setup()(cursor));
    expect(queries).toEqual([
      'SELECT Id, SystemModstamp, IsDeleted, StageName, CloseDate, CreatedDate FROM Opportunity ' +
        'WHERE SystemModstamp >= 2026-03-02T10:50:00Z ORDER BY SystemModstamp ASC, Id ASC',
    ]);
    expect(pages.flatMap((p) => p.deletedIds)).toEqual(['006Z']);
    expect(pages[0]?.deletedIds).toEqual(['006Z']);
    expect(pages[pages.length - 1]?.cursor).toMatchObject({ since: '2026-03-02T11:59:00.000Z' });
  });

  it('resumes an interrupted run after its last committed keyset', async () => {
    const queries: string[] = [];
    const cursor: SyncCursor = {
      v: 1,
      phase: 'initial',
      after: { stamp: '2026-03-01T10:00:00.000Z', id: '006B' },
      deletesCheckedTo: '2026-03-02T11:55:00.000Z',
      meta: {
        fields: { Opportunity: ['Id', 'SystemModstamp'] },
        timeZone: 'UTC',
        corporateCurrency: 'USD',
        multiCurrency: false,
      },
    };
    nock(INSTANCE)
      .get(`${V}/queryAll`)
      .query((q) => {
        if (q.q !== undefined) queries.push(String(q.q));
        return q.q !== undefined;
      })
      .reply(200, { totalSize: 0, done: true, records: [] })
      .get(`${V}/sobjects/Opportunity/deleted/`)
      .query(true)
      .reply(200, {
        deletedRecords: [],
        earliestDateAvailable: '2026-02-15T00:00:00.000+0000',
        latestDateCovered: '2026-03-02T11:59:00.000+0000',
      });
    await collect(setup()(cursor));
    expect(queries[0]).toContain(
      "WHERE (SystemModstamp > 2026-03-01T10:00:00Z OR (SystemModstamp = 2026-03-01T10:00:00Z AND Id > '006B'))",
    );
  });

  it('sweeps with a paged full id scan when the last delete check is older than the feed keeps', async () => {
    const cursor: SyncCursor = {
      v: 1,
      phase: 'incremental',
      since: '2026-03-02T11:00:00.000Z',
      deletesCheckedTo: '2026-02-01T00:00:00.000Z',
      meta: {
        fields: { Opportunity: ['Id', 'SystemModstamp'] },
        timeZone: 'UTC',
        corporateCurrency: 'USD',
        multiCurrency: false,
      },
    };
    nock(INSTANCE)
      .get(`${V}/queryAll`)
      .query(true)
      .reply(200, { totalSize: 0, done: true, records: [] })
      .get(`${V}/query`)
      .query({ q: 'SELECT Id FROM Opportunity' })
      .reply(200, { totalSize: 2, done: true, records: [{ Id: '006A' }, { Id: '006C' }] });
    const pages = await collect(setup()(cursor));
    // The ids go to the warehouse page by page: a first page that begins the sweep, a last one that ends it.
    const sweeps = pages.filter((p) => p.sweep);
    expect(sweeps.map((p) => p.sweep)).toEqual([
      { begin: true, seenIds: ['006A', '006C'] },
      { begin: false, seenIds: [], end: true },
    ]);
    // Until the end page, the cursor still owes the sweep (a kill meanwhile starts it over).
    expect(sweeps[0]?.cursor).toMatchObject({ sweepPending: true });
    // Without the feed's word on the CRM clock, the next delete check starts from the high-water mark.
    expect(pages[pages.length - 1]?.cursor).toMatchObject({
      deletesCheckedTo: '2026-03-02T11:00:00.000Z',
      sweepPending: false,
    });
  });
});

describe('parseCursor', () => {
  it('continues after the last record read when Salesforce no longer knows the query locator', async () => {
    const queries: string[] = [];
    nock(INSTANCE)
      .get(`${V}/sobjects/Opportunity/describe`)
      .reply(200, oppDescribe)
      .get(`${V}/sobjects/Opportunity/deleted/`)
      .query(true)
      .reply(200, {
        deletedRecords: [],
        earliestDateAvailable: '2026-02-15T00:00:00.000+0000',
        latestDateCovered: '2026-03-02T11:59:00.000+0000',
      })
      .get(`${V}/queryAll`)
      .query((q) => {
        if (q.q !== undefined) queries.push(String(q.q));
        return q.q !== undefined;
      })
      .reply(200, {
        totalSize: 3,
        done: false,
        nextRecordsUrl: `${V}/query/01gA-2000`,
        records: [opp('006A', '2026-03-01T10:00:00.000+0000'), opp('006B', '2026-03-01T10:00:00.000+0000')],
      })
      .get(`${V}/query/01gA-2000`)
      .reply(400, [{ errorCode: 'INVALID_QUERY_LOCATOR', message: 'invalid query locator' }])
      .get(`${V}/queryAll`)
      .query((q) => {
        if (q.q !== undefined) queries.push(String(q.q));
        return q.q !== undefined;
      })
      .reply(200, { totalSize: 1, done: true, records: [opp('006C', '2026-03-01T10:00:00.000+0000')] });

    const pages = await collect(setup()(null));
    // The second query starts after 006B, with the same stamp: the tie is kept, nothing is read twice.
    expect(queries[1]).toContain(
      'WHERE (SystemModstamp > 2026-03-01T10:00:00Z OR (SystemModstamp = 2026-03-01T10:00:00Z AND ' +
        "Id > '006B')) ORDER BY SystemModstamp ASC, Id ASC",
    );
    expect(pages.flatMap((p) => p.records.map((r) => r.externalId))).toEqual(['006A', '006B', '006C']);
  });

  it('treats an unreadable cursor as absent (full re-read), never a crash', () => {
    expect(parseCursor({ v: 2, phase: 'incremental', since: 'x' })).toBeNull();
    expect(parseCursor('garbage')).toBeNull();
    expect(parseCursor(null)).toBeNull();
    expect(parseCursor({ v: 1, phase: 'incremental', since: '2026-03-01T00:00:00.000Z' })).toEqual({
      v: 1,
      phase: 'incremental',
      since: '2026-03-01T00:00:00.000Z',
    });
  });
});
