/**
 * The connector's Bulk API 2.0 reader against the sandbox's query jobs: a job created, polled, read in pages of
 * maxRecords; resumed after a kill from the saved position without a new job; started again when the job expired
 * (seven days by the sandbox clock) or failed.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  approximateRowCount,
  type BulkPosition,
  bulkQuery,
  parseCsv,
  parseResultSet,
} from '../../../src/connectors/salesforce/bulk-query.ts';
import { SalesforceClient } from '../../../src/connectors/salesforce/client.ts';
import { isAppError } from '../../../src/errors.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../../src/sandbox/salesforce/index.ts';
import { silentLogger } from '../../../src/util/log.ts';
import { admin, connect } from '../../sandbox/salesforce/helpers.ts';

let sb: SalesforceSandbox;
let client: SalesforceClient;
const SOQL = 'SELECT Id, Name, Amount, IsDeleted, CloseDate, Owner.Email, Account.Name FROM Opportunity';
const types = new Map([
  ['Amount', 'currency'],
  ['IsDeleted', 'boolean'],
  ['CloseDate', 'date'],
]);

beforeAll(async () => {
  sb = await startSalesforceSandbox({ seed: 5, size: 'small', populate: false, anchorDate: '2026-03-10' });
  const owner = sb.store.insert('User', {
    Username: 'o@acme.test',
    Email: 'o@acme.test',
    LastName: 'O',
    IsActive: true,
  });
  const account = sb.store.insert('Account', { Name: 'Acme, "Intl"' });
  for (let i = 0; i < 23; i++) {
    sb.store.insert('Opportunity', {
      Name: `Deal ${i}`,
      OwnerId: owner.Id,
      AccountId: i % 4 === 0 ? null : account.Id,
      StageName: 'Prospecting',
      CloseDate: '2026-03-31',
      Amount: i === 3 ? null : 1000.5 + i,
    });
  }
  const conn = connect(sb);
  await conn.query('SELECT Id FROM User LIMIT 1');
  const session = { accessToken: conn.accessToken!, instanceUrl: sb.url };
  client = new SalesforceClient({
    apiVersion: '62.0',
    session: { current: async () => session, refresh: async () => session },
    log: silentLogger,
  });
});

beforeEach(async () => {
  await admin(sb, 'DELETE', 'log');
  await admin(sb, 'POST', 'bulk', { pollsToComplete: 3 });
});

afterAll(async () => {
  await sb?.close();
});

const sleeps: number[] = [];
const options = (resume?: BulkPosition) => ({
  client,
  soql: SOQL,
  all: true,
  maxRecords: 10,
  types,
  pollIntervalMs: 5,
  log: silentLogger,
  sleep: async (ms: number) => {
    sleeps.push(ms);
  },
  ...(resume ? { resume } : {}),
});

async function jobsCreated(): Promise<number> {
  const log = (await (await admin(sb, 'GET', 'log')).json()) as Array<{ method: string; path: string }>;
  return log.filter((e) => e.method === 'POST' && e.path.endsWith('/jobs/query')).length;
}

describe('bulkQuery', () => {
  it('creates a job, polls it to completion and reads it in pages of maxRecords as REST-shaped records', async () => {
    const pages = [];
    for await (const page of bulkQuery(options())) pages.push(page);
    expect(pages.map((p) => p.records.length)).toEqual([10, 10, 3]);
    expect(pages.at(-1)!.next).toBeNull();
    expect(await jobsCreated()).toBe(1);
    const records = pages.flatMap((p) => p.records);
    expect(new Set(records.map((r) => r.Id)).size).toBe(23);
    expect(records[1]).toMatchObject({
      Name: 'Deal 1',
      Amount: 1001.5,
      IsDeleted: false,
      CloseDate: '2026-03-31',
      Owner: { Email: 'o@acme.test' },
      Account: { Name: 'Acme, "Intl"' },
    });
    expect(records[0]!.Account).toBeNull();
    expect(records[3]!.Amount).toBeNull();
  });

  it('resumes a killed read from the saved position, without a new job and without the pages already read', async () => {
    const first: string[] = [];
    let saved: BulkPosition | null = null;
    for await (const page of bulkQuery(options())) {
      first.push(...page.records.map((r) => String(r.Id)));
      saved = page.next;
      break; // the process dies after committing the first page
    }
    expect(saved).not.toBeNull();
    const rest: string[] = [];
    for await (const page of bulkQuery(options(saved!))) {
      expect(page.restarted).toBe(false);
      rest.push(...page.records.map((r) => String(r.Id)));
    }
    expect(await jobsCreated()).toBe(1);
    expect(first).toHaveLength(10);
    expect(rest).toHaveLength(13);
    expect(new Set([...first, ...rest]).size).toBe(23);
  });

  it('starts a new job when the saved one expired, and says the rows come again', async () => {
    let saved: BulkPosition | null = null;
    for await (const page of bulkQuery(options())) {
      saved = page.next;
      break;
    }
    await admin(sb, 'POST', 'clock', { advanceMs: 7 * 86_400_000 });
    const pages = [];
    for await (const page of bulkQuery(options(saved!))) pages.push(page);
    expect(pages[0]!.restarted).toBe(true);
    expect(pages[0]!.jobId).not.toBe(saved!.jobId);
    expect(pages.flatMap((p) => p.records)).toHaveLength(23);
    expect(await jobsCreated()).toBe(2);
  });

  it('starts a failed job again, and gives up with the reason after repeated failures', async () => {
    await admin(sb, 'POST', 'bulk', { failNext: 1, errorMessage: 'QUERY_TIMEOUT while chunking' });
    const ids: unknown[] = [];
    for await (const page of bulkQuery(options())) ids.push(...page.records.map((r) => r.Id));
    expect(ids).toHaveLength(23);
    expect(await jobsCreated()).toBe(2);
    await admin(sb, 'POST', 'bulk', { failNext: 3, errorMessage: 'QUERY_TIMEOUT while chunking' });
    const err = await (async () => {
      for await (const _ of bulkQuery(options())) {
        // no page arrives
      }
    })().catch((e: unknown) => e);
    expect(isAppError(err, 'CRM_BULK_JOB_FAILED')).toBe(true);
    expect(String((err as Error).message)).toContain('QUERY_TIMEOUT while chunking');
  });
});

describe('approximateRowCount', () => {
  it('takes the Record Count figure, and counts with SELECT COUNT() an object the resource does not list', async () => {
    expect(await approximateRowCount(client, 'Opportunity')).toBe(sb.store.count('Opportunity'));
    // History objects are not in the Record Count answer.
    expect(await approximateRowCount(client, 'OpportunityHistory')).toBe(sb.store.count('OpportunityHistory'));
    const log = (await (await admin(sb, 'GET', 'log')).json()) as Array<{
      path: string;
      query?: Record<string, string>;
    }>;
    const paths = log.map((e) => `${e.path.replace('/services/data/v62.0', '')} ${e.query?.q ?? ''}`.trim());
    expect(paths).toEqual([
      '/limits/recordCount',
      '/limits/recordCount',
      '/query SELECT COUNT() FROM OpportunityHistory',
    ]);
  });
});

describe('parseResultSet', () => {
  it('reads quoted cells with delimiters, quotes and line breaks, CRLF lines and empty cells', () => {
    const text = '"Id","Name","Owner.Email","Amount"\r\n"1","a, ""b""\nc",,"2.5"\r\n"2","x","e@x",\r\n';
    expect(parseResultSet(text, new Map([['Amount', 'double']]))).toEqual([
      { Id: '1', Name: 'a, "b"\nc', Owner: null, Amount: 2.5 },
      { Id: '2', Name: 'x', Owner: { Email: 'e@x' }, Amount: null },
    ]);
  });
});

describe('parseCsv', () => {
  it('reads quoted cells with commas, doubled quotes and line breaks, empty cells, CRLF and a missing last newline', () => {
    const text = '"Id","Name","Note"\r\n"1","a, b","say ""hi""\r\nthen go"\r\n2,,"x"\n"3","\\","",\n4,"tail"';
    expect(parseCsv(text)).toEqual([
      ['Id', 'Name', 'Note'],
      ['1', 'a, b', 'say "hi"\r\nthen go'],
      ['2', '', 'x'],
      ['3', '\\', '', ''],
      ['4', 'tail'],
    ]);
    expect(parseCsv('')).toEqual([]);
    expect(parseCsv('a,')).toEqual([['a', '']]);
    expect(parseCsv('"unterminated, still one cell')).toEqual([['unterminated, still one cell']]);
  });
});
