import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import nock from 'nock';
import pino from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SalesforceClient, type SalesforceSession } from '../../../src/connectors/salesforce/client.ts';
import { isAppError } from '../../../src/errors.ts';
import { silentLogger } from '../../../src/util/log.ts';

const INSTANCE = 'https://acme.my.salesforce.test';

function makeClient(opts: { budgetShare?: number } = {}) {
  const sleeps: number[] = [];
  const refreshes: string[] = [];
  let token = 'tok-1';
  const session = {
    current: async (): Promise<SalesforceSession> => ({ accessToken: token, instanceUrl: INSTANCE }),
    refresh: async (refused: string): Promise<SalesforceSession> => {
      refreshes.push(refused);
      token = 'tok-2';
      return { accessToken: token, instanceUrl: INSTANCE };
    },
  };
  const client = new SalesforceClient({
    apiVersion: '62.0',
    session,
    log: silentLogger,
    budgetShare: opts.budgetShare ?? 0.5,
    retry: { random: () => 0.5 },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
  return { client, sleeps, refreshes };
}

beforeAll(() => nock.disableNetConnect());
afterEach(() => {
  expect(nock.pendingMocks()).toEqual([]);
  nock.cleanAll();
});

describe('SalesforceClient', () => {
  it('pins the configured API version, sends the bearer token and the batch size header', async () => {
    const { client } = makeClient();
    nock(INSTANCE, { reqheaders: { authorization: 'Bearer tok-1', 'sforce-query-options': 'batchSize=500' } })
      .get('/services/data/v62.0/queryAll')
      .query({ q: 'SELECT Id FROM Opportunity' })
      .reply(200, { totalSize: 1, done: true, records: [{ Id: '006A' }] });
    const page = await client.query('SELECT Id FROM Opportunity', { all: true, batchSize: 500 });
    expect(page.records).toEqual([{ Id: '006A' }]);
    expect(client.apiCalls()).toBe(1);
  });

  it('follows nextRecordsUrl by hand (queryMore)', async () => {
    const { client } = makeClient();
    nock(INSTANCE)
      .get('/services/data/v62.0/query/01gXX-2000')
      .reply(200, { totalSize: 3, done: true, records: [{ Id: '3' }] });
    const page = await client.queryMore('/services/data/v62.0/query/01gXX-2000');
    expect(page.records).toEqual([{ Id: '3' }]);
  });

  it('waits at least Retry-After after a 429, then succeeds', async () => {
    const { client, sleeps } = makeClient();
    nock(INSTANCE)
      .get('/services/data/v62.0/limits')
      .reply(429, [{ errorCode: 'REQUEST_LIMIT_EXCEEDED', message: 'slow down' }], { 'Retry-After': '3' })
      .get('/services/data/v62.0/limits')
      .reply(200, { DailyApiRequests: { Max: 100, Remaining: 90 } });
    const limits = await client.limits();
    expect(limits.DailyApiRequests?.Max).toBe(100);
    expect(sleeps).toEqual([3000]);
    expect(client.apiCalls()).toBe(2);
  });

  it('retries 503 with backoff', async () => {
    const { client, sleeps } = makeClient();
    nock(INSTANCE)
      .get('/services/data/v62.0/limits')
      .reply(503, 'unavailable')
      .get('/services/data/v62.0/limits')
      .reply(502, 'bad gateway')
      .get('/services/data/v62.0/limits')
      .reply(200, {});
    await client.limits();
    // full jitter at 0.5 of 500 ms then 1000 ms
    expect(sleeps).toEqual([250, 500]);
  });

  it('retries a connection the server dropped (socket hang up)', async () => {
    // nock 15 cannot emulate a reset socket through node-fetch, so a real server hangs up on the first request.
    let hits = 0;
    const server = createServer((req, res) => {
      hits++;
      if (hits === 1) {
        req.socket.destroy();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    nock.enableNetConnect('127.0.0.1');
    try {
      const port = (server.address() as AddressInfo).port;
      const sleeps: number[] = [];
      const client = new SalesforceClient({
        apiVersion: '62.0',
        session: {
          current: async () => ({ accessToken: 't', instanceUrl: `http://127.0.0.1:${port}` }),
          refresh: async () => ({ accessToken: 't', instanceUrl: `http://127.0.0.1:${port}` }),
        },
        log: silentLogger,
        retry: { random: () => 0.5 },
        sleep: async (ms) => {
          sleeps.push(ms);
        },
      });
      expect(await client.limits()).toEqual({ ok: true });
      expect(hits).toBe(2);
      expect(sleeps).toEqual([250]);
    } finally {
      nock.disableNetConnect();
      server.close();
    }
  });

  it('retries at once a connection reset after the headers, mid-body, not after the request timeout', async () => {
    // The sandbox's `drop` fault, and a proxy cutting a long answer: the status line and half the body, then a reset.
    // jsforce's own transport never noticed (pipe() drops the body's error) and the attempt waited out the 180 s
    // request timeout; in the soak that stalled a one-minute stream for 3 minutes.
    let hits = 0;
    const body = JSON.stringify({ totalSize: 1, done: true, records: [{ Id: '006A', Name: 'x'.repeat(2000) }] });
    const server = createServer((_req, res) => {
      hits++;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
      if (hits === 1) {
        res.write(body.slice(0, body.length / 2));
        setImmediate(() => res.socket?.destroy());
        return;
      }
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    nock.enableNetConnect('127.0.0.1');
    try {
      const port = (server.address() as AddressInfo).port;
      const warnings: string[] = [];
      const client = new SalesforceClient({
        apiVersion: '62.0',
        session: {
          current: async () => ({ accessToken: 't', instanceUrl: `http://127.0.0.1:${port}` }),
          refresh: async () => ({ accessToken: 't', instanceUrl: `http://127.0.0.1:${port}` }),
        },
        log: pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line).msg) }),
        retry: { random: () => 0.5 },
        sleep: async () => {},
      });
      const page = await client.query('SELECT Id, Name FROM Opportunity');
      expect(page.records[0]?.Id).toBe('006A');
      expect(hits).toBe(2);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/^salesforce: network error \((?!ETIMEDOUT)[A-Z_]+\), attempt 1; retrying$/);
    } finally {
      nock.disableNetConnect();
      server.close();
    }
  });

  it('never retries a 400 MALFORMED_QUERY and names the endpoint', async () => {
    const { client, sleeps } = makeClient();
    nock(INSTANCE)
      .get('/services/data/v62.0/query')
      .query(true)
      .reply(400, [{ errorCode: 'MALFORMED_QUERY', message: 'unexpected token: FORM' }]);
    const err = await client.query('SELECT Id FORM Lead').catch((e: unknown) => e);
    expect(isAppError(err, 'CRM_REQUEST_INVALID')).toBe(true);
    expect((err as Error).message).toContain('unexpected token: FORM');
    expect(sleeps).toEqual([]);
    expect(client.apiCalls()).toBe(1);
  });

  it('refreshes the session once on 401 INVALID_SESSION_ID and retries with the new token', async () => {
    const { client, refreshes } = makeClient();
    nock(INSTANCE, { reqheaders: { authorization: 'Bearer tok-1' } })
      .get('/services/data/v62.0/limits')
      .reply(401, [{ errorCode: 'INVALID_SESSION_ID', message: 'Session expired or invalid' }]);
    nock(INSTANCE, { reqheaders: { authorization: 'Bearer tok-2' } })
      .get('/services/data/v62.0/limits')
      .reply(200, { ok: true });
    expect(await client.limits()).toEqual({ ok: true });
    expect(refreshes).toEqual(['tok-1']);
  });

  it('fails with CRM_AUTH_FAILED when the refreshed session is refused too', async () => {
    const { client, refreshes } = makeClient();
    nock(INSTANCE)
      .get('/services/data/v62.0/limits')
      .times(2)
      .reply(401, [{ errorCode: 'INVALID_SESSION_ID', message: 'Session expired or invalid' }]);
    const err = await client.limits().catch((e: unknown) => e);
    expect(isAppError(err, 'CRM_AUTH_FAILED')).toBe(true);
    expect(refreshes).toHaveLength(1);
  });

  it('reads Sforce-Limit-Info and stops before the configured share of the daily allocation', async () => {
    const { client } = makeClient({ budgetShare: 0.5 });
    nock(INSTANCE)
      .get('/services/data/v62.0/limits')
      .reply(200, {}, { 'Sforce-Limit-Info': 'api-usage=499/1000' })
      .get('/services/data/v62.0/limits')
      .reply(200, {}, { 'Sforce-Limit-Info': 'api-usage=500/1000' });
    await client.limits();
    expect(client.usage).toEqual({ used: 499, limit: 1000 });
    await client.limits();
    const err = await client.limits().catch((e: unknown) => e);
    expect(isAppError(err, 'CRM_BUDGET_EXHAUSTED')).toBe(true);
    expect((err as Error).message).toContain('500 of its 1000');
    expect(client.apiCalls()).toBe(2);
  });

  it('keeps the server clock from the Date header', async () => {
    const { client } = makeClient();
    nock(INSTANCE).get('/services/data/v62.0/limits').reply(200, {}, { Date: 'Mon, 02 Mar 2026 10:00:12 GMT' });
    await client.limits();
    expect(client.serverTime?.toISOString()).toBe('2026-03-02T10:00:12.000Z');
  });

  it('asks the delete feed with second-precision UTC bounds', async () => {
    const { client } = makeClient();
    nock(INSTANCE)
      .get('/services/data/v62.0/sobjects/Opportunity/deleted/')
      .query({ start: '2026-03-01T00:00:00Z', end: '2026-03-02T10:00:00Z' })
      .reply(200, { deletedRecords: [{ id: '006X', deletedDate: '2026-03-01T05:00:00.000+0000' }] });
    const res = await client.deleted(
      'Opportunity',
      new Date('2026-03-01T00:00:00.000Z'),
      new Date('2026-03-02T10:00:00.250Z'),
    );
    expect(res.deletedRecords.map((r) => r.id)).toEqual(['006X']);
  });
});
