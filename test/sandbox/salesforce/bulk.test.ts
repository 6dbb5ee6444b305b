import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeLocator } from '../../../src/sandbox/salesforce/bulk.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../../src/sandbox/salesforce/index.ts';
import { admin, connect } from './helpers.ts';

let sb: SalesforceSandbox;
let token: string;
let repId: string;

const V = '/services/data/v62.0';

async function call(method: string, path: string, body?: unknown, version = V) {
  const res = await fetch(`${sb.url}${version}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return {
    status: res.status,
    headers: res.headers,
    text,
    json: type.includes('json') && text !== '' ? (JSON.parse(text) as Record<string, unknown>) : undefined,
  };
}

async function completedJob(query: string, operation = 'query'): Promise<string> {
  const created = await call('POST', '/jobs/query', { operation, query });
  expect(created.status).toBe(200);
  const id = String(created.json!.id);
  for (let i = 0; i < 10; i++) {
    const info = await call('GET', `/jobs/query/${id}`);
    if (info.json!.state === 'JobComplete') return id;
  }
  throw new Error('job never completed');
}

beforeAll(async () => {
  sb = await startSalesforceSandbox({ seed: 7, size: 'small', populate: false, anchorDate: '2026-03-10' });
  const rep = sb.store.insert('User', {
    Username: 'rep@acme.test',
    Email: 'rep@acme.test',
    LastName: 'Rep',
    IsActive: true,
  });
  repId = String(rep.Id);
  const account = sb.store.insert('Account', { Name: 'Acme, "Intl"' });
  for (let i = 0; i < 25; i++) {
    sb.store.insert('Opportunity', {
      Name: `Deal ${i}`,
      AccountId: i % 5 === 0 ? null : account.Id,
      OwnerId: repId,
      StageName: 'Prospecting',
      CloseDate: '2026-03-31',
      Amount: 1000 + i,
      Probability: 10,
    });
  }
  const conn = connect(sb);
  await conn.query('SELECT Id FROM User LIMIT 1');
  token = conn.accessToken!;
});

afterAll(async () => {
  await sb?.close();
});

describe('Bulk API 2.0 query jobs', () => {
  it('creates a job answering UploadComplete, then InProgress, then JobComplete as it is polled', async () => {
    const created = await call('POST', '/jobs/query', { operation: 'query', query: 'SELECT Id FROM Opportunity' });
    expect(created.json).toMatchObject({
      operation: 'query',
      object: 'Opportunity',
      state: 'UploadComplete',
      contentType: 'CSV',
      apiVersion: 62,
      lineEnding: 'LF',
      columnDelimiter: 'COMMA',
    });
    expect(String(created.json!.id)).toMatch(/^750[0-9A-Za-z]{15}$/);
    const id = String(created.json!.id);
    expect((await call('GET', `/jobs/query/${id}/results`)).status).toBe(400);
    expect((await call('GET', `/jobs/query/${id}`)).json!.state).toBe('InProgress');
    const done = await call('GET', `/jobs/query/${id}`);
    expect(done.json).toMatchObject({ state: 'JobComplete', numberRecordsProcessed: 25, jobType: 'V2Query' });
  });

  it('reads results in CSV sets of maxRecords, each with its header, following Sforce-Locator to "null"', async () => {
    const id = await completedJob('SELECT Id, Name, Amount, Account.Name, CreatedDate FROM Opportunity');
    const ids: string[] = [];
    let locator: string | null = null;
    const sizes: number[] = [];
    do {
      const q: string = `?maxRecords=10${locator ? `&locator=${locator}` : ''}`;
      const page = await call('GET', `/jobs/query/${id}/results${q}`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/csv');
      const lines = page.text.trimEnd().split('\n');
      expect(lines[0]).toBe('"Id","Name","Amount","Account.Name","CreatedDate"');
      sizes.push(Number(page.headers.get('sforce-numberofrecords')));
      for (const line of lines.slice(1)) ids.push(line.split(',')[0]!);
      locator = page.headers.get('sforce-locator');
      if (sizes.length === 1) {
        // No Account is an empty unquoted cell; a comma and quotes inside a value are quoted and doubled; datetimes
        // carry Z.
        expect(lines[1]).toMatch(/^"006\w{15}","Deal 0","1000",,"2026-03-10T12:00:00\.000Z"$/);
        expect(lines[2]).toContain(',"Acme, ""Intl""",');
      }
    } while (locator !== 'null');
    expect(sizes).toEqual([10, 10, 5]);
    expect(new Set(ids).size).toBe(25);
    // A locator stays valid while the job exists: the second set again.
    const again = await call('GET', `/jobs/query/${id}/results?maxRecords=10&locator=${encodeLocator(10)}`);
    expect(again.text.split('\n')[1]!.split(',')[0]).toBe(ids[10]);
    // Results are the query as it ran at the job's creation: later writes do not show.
    sb.store.insert('Opportunity', { Name: 'Late', OwnerId: repId, StageName: 'Prospecting', CloseDate: '2026-03-31' });
    const all = await call('GET', `/jobs/query/${id}/results`);
    expect(all.headers.get('sforce-numberofrecords')).toBe('25');
    expect(all.headers.get('sforce-locator')).toBe('null');
    // Another API version gets 409.
    expect((await call('GET', `/jobs/query/${id}/results`, undefined, '/services/data/v61.0')).status).toBe(409);
  });

  it('honours columnDelimiter and lineEnding, and queryAll includes the recycle bin', async () => {
    const gone = sb.store.insert('Opportunity', {
      Name: 'Gone',
      OwnerId: repId,
      StageName: 'Prospecting',
      CloseDate: '2026-03-31',
    });
    sb.store.softDelete('Opportunity', String(gone.Id));
    const created = await call('POST', '/jobs/query', {
      operation: 'queryAll',
      query: "SELECT Id, IsDeleted FROM Opportunity WHERE Name = 'Gone'",
      columnDelimiter: 'PIPE',
      lineEnding: 'CRLF',
    });
    const id = String(created.json!.id);
    await call('GET', `/jobs/query/${id}`);
    await call('GET', `/jobs/query/${id}`);
    const page = await call('GET', `/jobs/query/${id}/results`);
    expect(page.text).toBe(`"Id"|"IsDeleted"\r\n"${String(gone.Id)}"|"true"\r\n`);
  });

  it('refuses what Bulk API 2.0 does not support and bad SOQL', async () => {
    const count = await call('POST', '/jobs/query', { operation: 'query', query: 'SELECT COUNT() FROM Opportunity' });
    expect(count.status).toBe(400);
    const offset = await call('POST', '/jobs/query', {
      operation: 'query',
      query: 'SELECT Id FROM Opportunity LIMIT 5 OFFSET 2',
    });
    expect(offset.status).toBe(400);
    const field = await call('POST', '/jobs/query', { operation: 'query', query: 'SELECT Nope__c FROM Opportunity' });
    expect(field.status).toBe(400);
    expect((field.json as unknown as Array<{ errorCode: string }>)[0]!.errorCode).toBe('INVALID_FIELD');
  });

  it('fails a job the test API scheduled to fail, with its errorMessage and no results', async () => {
    await admin(sb, 'POST', 'bulk', { failNext: 1, errorMessage: 'QUERY_TIMEOUT' });
    const created = await call('POST', '/jobs/query', { operation: 'query', query: 'SELECT Id FROM Opportunity' });
    const id = String(created.json!.id);
    await call('GET', `/jobs/query/${id}`);
    const failed = await call('GET', `/jobs/query/${id}`);
    expect(failed.json).toMatchObject({ state: 'Failed', errorMessage: 'QUERY_TIMEOUT' });
    expect((await call('GET', `/jobs/query/${id}/results`)).status).toBe(400);
    expect((await call('DELETE', `/jobs/query/${id}`)).status).toBe(204);
    expect((await call('GET', `/jobs/query/${id}`)).status).toBe(404);
  });

  it('aborts a running job; deletes only finished jobs', async () => {
    const created = await call('POST', '/jobs/query', { operation: 'query', query: 'SELECT Id FROM Opportunity' });
    const id = String(created.json!.id);
    expect((await call('DELETE', `/jobs/query/${id}`)).status).toBe(400);
    const aborted = await call('PATCH', `/jobs/query/${id}`, { state: 'Aborted' });
    expect(aborted.json!.state).toBe('Aborted');
    expect((await call('GET', `/jobs/query/${id}`)).json!.state).toBe('Aborted');
    expect((await call('GET', `/jobs/query/${id}/results`)).status).toBe(400);
    expect((await call('DELETE', `/jobs/query/${id}`)).status).toBe(204);
  });

  it('deletes jobs older than seven days by the sandbox clock: their locators answer 404', async () => {
    const id = await completedJob('SELECT Id FROM Opportunity');
    await admin(sb, 'POST', 'clock', { advanceMs: 6 * 86_400_000 });
    expect((await call('GET', `/jobs/query/${id}/results?maxRecords=5`)).status).toBe(200);
    await admin(sb, 'POST', 'clock', { advanceMs: 86_400_000 });
    expect((await call('GET', `/jobs/query/${id}/results?maxRecords=5&locator=${encodeLocator(5)}`)).status).toBe(404);
    expect((await call('GET', `/jobs/query/${id}`)).status).toBe(404);
  });

  it('runs through jsforce bulk2.query', async () => {
    const conn = connect(sb);
    conn.bulk2.pollInterval = 1;
    const stream = await conn.bulk2.query("SELECT Id, Name FROM Opportunity WHERE Name LIKE 'Deal 1%'");
    const rows = (await stream.toArray()) as Array<Record<string, string>>;
    expect(rows.map((r) => r.Name).sort()).toEqual(['Deal 1', ...Array.from({ length: 10 }, (_, i) => `Deal 1${i}`)]);
  });
});

describe('Record Count', () => {
  it('lists approximate counts of the named objects from a cache, without history objects or unknown names', async () => {
    const first = await call('GET', '/limits/recordCount?sObjects=Opportunity,OpportunityHistory,Nope__c,User');
    const counts = first.json!.sObjects as Array<{ name: string; count: number }>;
    const opps = sb.store.count('Opportunity');
    expect(counts).toEqual(
      expect.arrayContaining([
        { name: 'Opportunity', count: opps },
        { name: 'User', count: sb.store.count('User') },
      ]),
    );
    expect(counts.map((c) => c.name).sort()).toEqual(['Opportunity', 'User']);
    // A new row does not show until the cache is refreshed (an hour of sandbox clock by default).
    sb.store.insert('Opportunity', {
      Name: 'Fresh',
      OwnerId: repId,
      StageName: 'Prospecting',
      CloseDate: '2026-03-31',
    });
    const cached = await call('GET', '/limits/recordCount?sObjects=Opportunity');
    expect(cached.json!.sObjects).toEqual([{ name: 'Opportunity', count: opps }]);
    await admin(sb, 'POST', 'clock', { advanceMs: 3_600_000 });
    const fresh = await call('GET', '/limits/recordCount?sObjects=Opportunity');
    expect(fresh.json!.sObjects).toEqual([{ name: 'Opportunity', count: opps + 1 }]);
  });
});
