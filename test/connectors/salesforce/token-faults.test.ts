/**
 * The token endpoint failing the ways a real deployment meets it: a connection reset while the answer arrives, an
 * answer that never completes, 500s, a refused grant, an HTML page from a proxy; and the refresh lock another
 * process holds. Each token call is bounded and goes through the one retry policy, a refusal is sent once, every
 * failure prints what the CRM said, and neither a token call nor a lock wait outlives an abort.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SalesforceAuth, type SalesforceAuthConfig } from '../../../src/connectors/salesforce/auth.ts';
import { salesforceKind } from '../../../src/connectors/salesforce/index.ts';
import { readTokenFailure } from '../../../src/connectors/salesforce/token.ts';
import { AppError, isAppError } from '../../../src/errors.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../../src/sandbox/salesforce/index.ts';
import { pgRefreshLock } from '../../../src/sync/locks.ts';

import { silentLogger } from '../../../src/util/log.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.ts';

/** Salesforce's refresh-lock key (its registry entry's), the one `holdLock` takes. */
const refreshKey = (connectionId: string) => salesforceKind.lockKeys.credentials(connectionId);

let sb: SalesforceSandbox;
let t: TestDatabase;

beforeAll(async () => {
  sb = await startSalesforceSandbox({ seed: 5, size: 'small', populate: false });
  t = await createTestDatabase();
}, 60_000);
afterAll(async () => {
  await sb?.close();
  await t?.drop();
});
beforeEach(() => {
  sb.faults.clear();
  sb.log.clear();
});

function refreshAuth(extra: { refreshToken?: string; signal?: AbortSignal; tokenTimeoutMs?: number } = {}) {
  const c = sb.credentials;
  const auth: SalesforceAuthConfig = {
    kind: 'refresh_token',
    clientId: c.clientId,
    clientSecret: c.clientSecret,
    refreshToken: extra.refreshToken ?? c.refreshToken,
  };
  return new SalesforceAuth({
    connectionId: 'sf',
    loginUrl: sb.url,
    auth,
    log: silentLogger,
    retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 4 },
    tokenTimeoutMs: extra.tokenTimeoutMs ?? 500,
    ...(extra.signal ? { signal: extra.signal } : {}),
  });
}

const tokenCalls = () => sb.log.find('/oauth2/token');

async function failureOf(p: Promise<unknown>): Promise<AppError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  if (!isAppError(e)) throw new Error(`expected an AppError, got ${String(e)}`);
  return e;
}

describe('token requests under faults', () => {
  it('a connection reset while the token answer arrives is retried, and the login succeeds', async () => {
    sb.faults.add({ kind: 'drop', path: '/oauth2/token', count: 1 });
    const s = await refreshAuth().current();
    expect(s.accessToken).toBeTruthy();
    expect(tokenCalls().map((e) => e.fault ?? 'ok')).toEqual(['drop', 'ok']);
  });

  it('a token answer that never completes is given up on after the token timeout and retried', async () => {
    // The answer would come after 60 s; the attempt ends at the 500 ms timeout instead.
    sb.faults.add({ kind: 'slow', path: '/oauth2/token', count: 1, delayMs: 60_000 });
    const s = await refreshAuth().current();
    expect(s.accessToken).toBeTruthy();
    expect(tokenCalls()).toHaveLength(2);
  });

  it('500s from the token endpoint are retried; past the attempts the error carries the CRM words', async () => {
    sb.faults.add({ kind: 'error_500', path: '/oauth2/token', count: 2 });
    expect((await refreshAuth().current()).accessToken).toBeTruthy();
    expect(tokenCalls()).toHaveLength(3);

    sb.log.clear();
    sb.faults.add({ kind: 'error_500', path: '/oauth2/token' });
    const e = await failureOf(refreshAuth().current());
    expect(e.code).toBe('CRM_UNAVAILABLE');
    expect(e.retryable).toBe(true);
    expect(e.message).toBe(
      'Salesforce refresh_token login for connection "sf" failed: server error (500 UNKNOWN_EXCEPTION) after 4 attempts: ' +
        'An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)',
    );
    expect(tokenCalls()).toHaveLength(4);
  });

  it('invalid_grant is sent once and fails with the CRM words', async () => {
    const e = await failureOf(refreshAuth({ refreshToken: 'revoked-token' }).current());
    expect(e.code).toBe('CRM_AUTH_FAILED');
    expect(e.retryable).toBe(false);
    expect(e.message).toBe(
      'Salesforce refresh_token login for connection "sf" failed: the token endpoint refused it (400 invalid_grant): expired access/refresh token',
    );
    expect(tokenCalls()).toHaveLength(1);
  });

  it('reads the words out of each shape a failed token answer takes', () => {
    const h = new Headers({ 'retry-after': '3' });
    expect(readTokenFailure(400, '{"error":"inactive_user","error_description":"user is inactive"}', h)).toMatchObject({
      status: 400,
      code: 'inactive_user',
      message: 'user is inactive',
    });
    expect(readTokenFailure(500, '[{"errorCode":"UNKNOWN_EXCEPTION","message":"boom"}]', h)).toMatchObject({
      status: 500,
      code: 'UNKNOWN_EXCEPTION',
      message: 'boom',
      headers: { 'retry-after': '3' },
    });
    const html =
      '<html><head><title>502 Bad Gateway</title><style>b{}</style></head><body><h1>Bad Gateway</h1><p>The proxy got no answer.</p></body></html>';
    expect(readTokenFailure(502, html, h)).toMatchObject({
      status: 502,
      message: '502 Bad Gateway: Bad Gateway The proxy got no answer.',
    });
    expect(readTokenFailure(503, '', h).message).toBe('HTTP 503 with an empty body');
  });

  it('an abort ends a token request that is waiting for its answer, with the abort reason', async () => {
    sb.faults.add({ kind: 'slow', path: '/oauth2/token', delayMs: 60_000 });
    const abort = new AbortController();
    const login = refreshAuth({ signal: abort.signal, tokenTimeoutMs: 120_000 }).current();
    // Abort once the request has reached the sandbox (it is then waiting for the answer).
    while (tokenCalls().length === 0) await new Promise((r) => setTimeout(r, 10));
    abort.abort(new AppError('INTERNAL', 'interrupted'));
    const e = await failureOf(login);
    expect(e.message).toBe('interrupted');
    expect(tokenCalls()).toHaveLength(1);
  });
});

describe('the refresh lock another process holds', () => {
  async function holdLock(connectionId: string) {
    // A second pooled session takes the lock, as a stuck process would.
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    let taken!: () => void;
    const isTaken = new Promise<void>((r) => {
      taken = r;
    });
    const held = t.db.connection().execute(async (conn) => {
      await sql`SELECT pg_advisory_lock(hashtextextended(${`token-refresh:${connectionId}`}, 0))`.execute(conn);
      taken();
      await released;
      await sql`SELECT pg_advisory_unlock(hashtextextended(${`token-refresh:${connectionId}`}, 0))`.execute(conn);
    });
    await isTaken;
    return async () => {
      release();
      await held;
    };
  }

  it('a wait is bounded: past maxWaitMs it fails naming the lock, and never runs the refresh', async () => {
    const release = await holdLock('bounded');
    try {
      let ran = false;
      let slept = 0;
      const lock = pgRefreshLock(t.db, 'bounded', refreshKey('bounded'), {
        maxWaitMs: 2_000,
        // Counted, not slept: the bound is on the waiting the lock does, whatever the machine's speed.
        sleep: async (ms) => {
          slept += ms;
        },
      });
      const e = await failureOf(
        lock.run(async () => {
          ran = true;
        }),
      );
      expect(e.code).toBe('SYNC_IN_PROGRESS');
      expect(e.message).toMatch(
        /^the token refresh of connection "bounded" is held by another process, still after waiting 2 s;/,
      );
      expect(ran).toBe(false);
      expect(slept).toBeGreaterThanOrEqual(2_000);
    } finally {
      await release();
    }
  });

  it('a wait ends on abort, and the lock is taken once it is free', async () => {
    const release = await holdLock('abortable');
    const abort = new AbortController();
    const waiting = pgRefreshLock(t.db, 'abortable', refreshKey('abortable'), { signal: abort.signal }).run(
      async () => 'ran',
    );
    abort.abort(new AppError('INTERNAL', 'interrupted'));
    expect((await failureOf(waiting)).message).toBe('interrupted');
    const second = pgRefreshLock(t.db, 'abortable', refreshKey('abortable')).run(async () => 'ran');
    await release();
    expect(await second).toBe('ran');
  });
});
