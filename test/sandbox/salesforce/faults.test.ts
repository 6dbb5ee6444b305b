import jsforce from 'jsforce';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FaultInjector } from '../../../src/sandbox/salesforce/faults.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../../src/sandbox/salesforce/index.ts';
import { admin, connect, oauth2, rejection } from './helpers.ts';

let sb: SalesforceSandbox;
let token: string;

beforeAll(async () => {
  sb = await startSalesforceSandbox({ seed: 31, size: 'small', populate: false, anchorDate: '2026-03-10' });
  token = (await new jsforce.OAuth2(oauth2(sb)).requestToken({ grant_type: 'client_credentials' })).access_token;
});
afterAll(async () => sb.close());
beforeEach(() => {
  sb.faults.clear();
  sb.log.clear();
});

const get = (path: string) => fetch(`${sb.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
const Q = `/services/data/v62.0/query?q=${encodeURIComponent('SELECT Id FROM Organization')}`;

describe('FaultInjector selection', () => {
  it('hits exactly the next n matching requests, by method and path', () => {
    const f = new FaultInjector(5);
    f.add({ kind: 'error_500', path: '/query', method: 'GET', count: 2 });
    const picks = [
      f.pick('GET', '/services/data/v62.0/sobjects/User/describe'),
      f.pick('POST', '/services/data/v62.0/query'),
      f.pick('GET', '/services/data/v62.0/query'),
      f.pick('GET', '/services/data/v62.0/query'),
      f.pick('GET', '/services/data/v62.0/query'),
    ].map((p) => p?.kind ?? null);
    expect(picks).toEqual([null, null, 'error_500', 'error_500', null]);
    expect(f.list()).toEqual([]);
  });

  it('draws probabilities from the seed: same seed same hits, about the asked share', () => {
    const run = (seed: number) => {
      const f = new FaultInjector(seed);
      f.add({ kind: 'unavailable_503', probability: 0.2 });
      return Array.from({ length: 1000 }, () => (f.pick('GET', '/x') ? 1 : 0));
    };
    const a = run(7);
    expect(run(7)).toEqual(a);
    expect(run(8)).not.toEqual(a);
    const hits = a.reduce<number>((s, x) => s + x, 0);
    expect(hits).toBeGreaterThan(150);
    expect(hits).toBeLessThan(250);
  });
});

describe('faults on the wire, seen in the request log', () => {
  it('429 carries Retry-After and the REQUEST_LIMIT_EXCEEDED body; the 403 variant too', async () => {
    sb.faults.add({ kind: 'rate_limit_429', path: '/query', count: 1, retryAfterSeconds: 3 });
    sb.faults.add({ kind: 'request_limit_403', path: '/limits', count: 1 });
    const r429 = await get(Q);
    expect(r429.status).toBe(429);
    expect(r429.headers.get('retry-after')).toBe('3');
    expect(r429.headers.get('sforce-limit-info')).toMatch(/^api-usage=\d+\/100000$/);
    expect(await r429.json()).toEqual([expect.objectContaining({ errorCode: 'REQUEST_LIMIT_EXCEEDED' })]);
    const r403 = await get('/services/data/v62.0/limits');
    expect(r403.status).toBe(403);
    expect(await r403.json()).toEqual([
      { message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' },
    ]);
    expect((await get(Q)).status).toBe(200);
    expect(sb.log.entries().map((e) => [e.status, e.fault ?? null, e.retryAfterSeconds ?? null])).toEqual([
      [429, 'rate_limit_429', 3],
      [403, 'request_limit_403', null],
      [200, null, null],
    ]);
  });

  it('jsforce retries a GET through 503s, and the log shows each attempt', async () => {
    sb.faults.add({ kind: 'unavailable_503', path: '/query', count: 2 });
    const conn = new jsforce.Connection({ instanceUrl: sb.url, accessToken: token, version: '62.0' });
    const r = await conn.query('SELECT Id FROM Organization');
    expect(r.totalSize).toBe(1);
    expect(sb.log.find('/query').map((e) => e.status)).toEqual([503, 503, 200]);
  });

  it('QUERY_TIMEOUT answers 400 and is not retried by jsforce', async () => {
    sb.faults.add({ kind: 'query_timeout', path: '/query', count: 1 });
    const conn = new jsforce.Connection({ instanceUrl: sb.url, accessToken: token, version: '62.0' });
    expect((await rejection(conn.query('SELECT Id FROM Organization'))).errorCode).toBe('QUERY_TIMEOUT');
    expect(sb.log.find('/query').map((e) => [e.status, e.errorCode])).toEqual([[400, 'QUERY_TIMEOUT']]);
  });

  it('a slow response takes at least its delay', async () => {
    sb.faults.add({ kind: 'slow', path: '/limits', count: 1, delayMs: 300 });
    expect((await get('/services/data/v62.0/limits')).status).toBe(200);
    const [e] = sb.log.entries();
    expect(e?.fault).toBe('slow');
    expect(e!.durationMs).toBeGreaterThanOrEqual(290);
  });

  it('a dropped connection fails the client mid-response', async () => {
    sb.faults.add({ kind: 'drop', path: '/limits', count: 1 });
    const err = await rejection(get('/services/data/v62.0/limits').then((r) => r.text()));
    expect(String(err.message + String((err as { cause?: unknown }).cause))).toMatch(
      /terminated|socket|aborted|closed/i,
    );
    expect(sb.log.entries()[0]).toMatchObject({ fault: 'drop', status: 200 });
  });

  it('an expired session answers 401; jsforce refreshes and retries, visible in the log', async () => {
    const conn = connect(sb);
    await conn.query('SELECT Id FROM Organization');
    sb.log.clear();
    sb.faults.add({ kind: 'expire_session', path: '/query', count: 1 });
    const r = await conn.query('SELECT Id FROM Organization');
    expect(r.totalSize).toBe(1);
    expect(sb.log.entries().map((e) => [e.path, e.status, e.errorCode ?? null])).toEqual([
      ['/services/data/v62.0/query', 401, 'INVALID_SESSION_ID'],
      ['/services/oauth2/token', 200, null],
      ['/services/data/v62.0/query', 200, null],
    ]);
  });

  it('faults can be set and the log read through the test API', async () => {
    const res = await admin(sb, 'POST', 'faults', { kind: 'error_500', path: '/sobjects', count: 1 });
    expect(res.status).toBe(201);
    const d = await get('/services/data/v62.0/sobjects/User/describe');
    expect(d.status).toBe(500);
    expect(await d.json()).toEqual([expect.objectContaining({ errorCode: 'UNKNOWN_EXCEPTION' })]);
    const log = (await (await admin(sb, 'GET', 'log')).json()) as Array<{ status: number; fault?: string }>;
    expect(log).toEqual([expect.objectContaining({ status: 500, fault: 'error_500' })]);
  });
});

describe('daily API allocation', () => {
  it('answers 403 REQUEST_LIMIT_EXCEEDED once the configured allocation is used, with usage in the header', async () => {
    const small = await startSalesforceSandbox({ seed: 32, size: 'small', populate: false, apiLimit: 2 });
    try {
      const t = (await new jsforce.OAuth2(oauth2(small)).requestToken({ grant_type: 'client_credentials' }))
        .access_token;
      const call = () =>
        fetch(`${small.url}/services/data/v62.0/limits`, { headers: { authorization: `Bearer ${t}` } });
      const statuses: Array<[number, string | null]> = [];
      for (let i = 0; i < 3; i++) {
        const r = await call();
        statuses.push([r.status, r.headers.get('sforce-limit-info')]);
      }
      expect(statuses).toEqual([
        [200, 'api-usage=1/2'],
        [200, 'api-usage=2/2'],
        [403, 'api-usage=3/2'],
      ]);
    } finally {
      await small.close();
    }
  });

  it('the test API can expire every session at once', async () => {
    expect((await get('/services/data/v62.0/limits')).status).toBe(200);
    expect((await admin(sb, 'POST', 'sessions/expire')).status).toBe(204);
    const r = await get('/services/data/v62.0/limits');
    expect(r.status).toBe(401);
    token = (await new jsforce.OAuth2(oauth2(sb)).requestToken({ grant_type: 'client_credentials' })).access_token;
  });
});
