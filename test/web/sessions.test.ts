/**
 * Signing in from a browser and what protects it: the session cookie (HTTP-only, SameSite, 8 hours, holding a
 * session id, not the token), revocation ending sessions, CSRF on every form and unsafe request made with the
 * cookie, security headers on every answer, and the limit on failed sign-ins and bad tokens per address (over a
 * real HTTP server, so the address is the socket's).
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.ts';
import { createWebApp } from '../../src/web/app.ts';
import { FailureLimiter } from '../../src/web/rate-limit.ts';
import { startWebServer } from '../../src/web/server.ts';
import { createApiToken, revokeApiToken } from '../../src/web/tokens.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let t: TestDatabase;
let web: ReturnType<typeof createWebApp>;

beforeAll(async () => {
  t = await createTestDatabase();
  web = createWebApp({ db: t.db });
});
afterAll(() => t.drop());

/** The cookies a response sets, by name: value and attributes. */
function cookies(res: Response): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of res.headers.getSetCookie()) out.set(line.slice(0, line.indexOf('=')), line);
  return out;
}
const cookieValue = (line: string | undefined) => (line ?? '').split(';')[0]?.split('=')[1] ?? '';

/** Opens the form and signs in with a token; returns the session cookie line and the response. */
async function signIn(token: string, next = '/api/v1/whoami'): Promise<{ res: Response; cookie: string }> {
  const form = await web.app.request(`/login?next=${encodeURIComponent(next)}`);
  const html = await form.text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  const loginCsrf = cookieValue(cookies(form).get('qt_login_csrf'));
  const res = await web.app.request('/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `qt_login_csrf=${loginCsrf}` },
    body: new URLSearchParams({ token, _csrf: csrf, next }).toString(),
  });
  return { res, cookie: cookies(res).get('qt_session') ?? '' };
}

describe('signing in with a token', () => {
  it('sets an HTTP-only SameSite cookie for 8 hours holding a session, not the token, and goes to next', async () => {
    const { token } = await createApiToken(t.db, { role: 'admin' });
    const { res, cookie } = await signIn(token);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/api/v1/whoami');
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Max-Age=28800/);
    expect(cookie).toMatch(/Path=\//);
    expect(cookie).not.toContain(token);
    expect(cookie).not.toContain(token.slice('qt_000000000000_'.length));
    const session = cookieValue(cookie);
    const me = await web.app.request('/api/v1/whoami', { headers: { cookie: `qt_session=${session}` } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ role: 'admin' });
    expect(me.headers.get('cache-control')).toBe('no-store');
    const row = await sql<{ hours: number }>`
      select extract(epoch from expires_at - created_at) / 3600 as hours from web_sessions`.execute(t.db);
    expect(row.rows.map((r) => Number(r.hours))).toEqual([8]);
  });

  it('refuses a bad token (401, the form again), a form without its CSRF cookie (403) and a foreign next', async () => {
    const bad = await signIn('qt_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    expect(bad.res.status).toBe(401);
    expect(bad.cookie).toBe('');
    expect(await bad.res.text()).toContain('That token is unknown, malformed or revoked.');
    const { token } = await createApiToken(t.db, { role: 'admin' });
    const forged = await web.app.request('/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, _csrf: 'guess' }).toString(),
    });
    expect(forged.status).toBe(403);
    expect(cookies(forged).has('qt_session')).toBe(false);
    const away = await signIn(token, '//evil.example.com/x');
    expect(away.res.headers.get('location')).toBe('/login');
  });

  it('ends every session of a token when the token is revoked, and a session after 8 hours', async () => {
    const made = await createApiToken(t.db, { role: 'admin' });
    const a = cookieValue((await signIn(made.token)).cookie);
    const b = cookieValue((await signIn(made.token)).cookie);
    const whoami = (s: string) => web.app.request('/api/v1/whoami', { headers: { cookie: `qt_session=${s}` } });
    expect((await whoami(a)).status).toBe(200);
    await revokeApiToken(t.db, made.id);
    expect((await whoami(a)).status).toBe(401);
    expect((await whoami(b)).status).toBe(401);
    const fresh = await createApiToken(t.db, { role: 'admin' });
    const c = cookieValue((await signIn(fresh.token)).cookie);
    expect((await whoami(c)).status).toBe(200);
    await sql`update web_sessions set expires_at = expires_at - interval '8 hours'
      where token_id = ${fresh.id}`.execute(t.db);
    const expired = await whoami(c);
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { error: { message: string } }).error.message).toContain('expired');
  });

  it('sends the browser to sign in when an htmx request comes after the session ended (HX-Redirect)', async () => {
    const made = await createApiToken(t.db, { role: 'admin' });
    const session = cookieValue((await signIn(made.token)).cookie);
    await sql`update web_sessions set expires_at = expires_at - interval '8 hours'
      where token_id = ${made.id}`.execute(t.db);
    // The leaderboard's Next link (htmx swaps the board) with the expired cookie, and with none at all.
    for (const cookie of [`qt_session=${session}`, undefined]) {
      const res = await web.app.request('/leaderboard?page=2', {
        headers: { 'hx-request': 'true', 'hx-target': 'board', ...(cookie ? { cookie } : {}) },
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('hx-redirect')).toBe('/login?next=%2Fleaderboard%3Fpage%3D2');
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      await res.arrayBuffer();
    }
    // An unsafe htmx request goes back to the page it was made from, never to another site.
    for (const [current, next] of [
      ['http://localhost/teams/West%20Mid?asOf=2026-06-12', '%2Fteams%2FWest%2520Mid%3FasOf%3D2026-06-12'],
      ['https://evil.example.com/x', '%2F'],
    ] as const) {
      const res = await web.app.request('/logout', {
        method: 'POST',
        headers: { 'hx-request': 'true', 'hx-current-url': current, cookie: `qt_session=${session}` },
      });
      expect(res.status, current).toBe(401);
      expect(res.headers.get('hx-redirect'), current).toBe(`/login?next=${next}`);
      await res.arrayBuffer();
    }
    // A script (no htmx) still gets the plain 401.
    const plain = await web.app.request('/api/v1/whoami', { headers: { cookie: `qt_session=${session}` } });
    expect(plain.status).toBe(401);
    expect(plain.headers.get('hx-redirect')).toBeNull();
  });

  it('needs the session CSRF token on unsafe requests made with the cookie, not with a bearer token', async () => {
    const made = await createApiToken(t.db, { role: 'admin' });
    const session = cookieValue((await signIn(made.token)).cookie);
    const page = await web.app.request('/login', { headers: { cookie: `qt_session=${session}` } });
    const html = await page.text();
    expect(html).toContain('Signed in as <strong>admin</strong>');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
    const post = (body: Record<string, string>, headers: Record<string, string> = {}) =>
      web.app.request('/logout', {
        method: 'POST',
        headers: { cookie: `qt_session=${session}`, 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(body).toString(),
      });
    const forged = await post({});
    expect(forged.status).toBe(403);
    expect(await forged.json()).toMatchObject({ error: { code: 'CSRF_INVALID' } });
    expect((await post({ _csrf: 'x'.repeat(43) })).status).toBe(403);
    const out = await post({ _csrf: csrf });
    expect(out.status).toBe(303);
    expect(cookies(out).get('qt_session')).toMatch(/Max-Age=0/);
    expect((await web.app.request('/api/v1/whoami', { headers: { cookie: `qt_session=${session}` } })).status).toBe(
      401,
    );
    // A script's bearer token is no ambient credential: no CSRF token needed.
    const bearer = await web.app.request('/logout', {
      method: 'POST',
      headers: { authorization: `Bearer ${made.token}` },
    });
    expect(bearer.status).toBe(303);
  });
});

describe('security headers', () => {
  it('are on every answer: public, refused, missing, signed-in and the sign-in page', async () => {
    const { token } = await createApiToken(t.db, { role: 'admin' });
    const answers = [
      await web.app.request('/healthz'),
      await web.app.request('/api/v1/whoami'),
      await web.app.request('/no/such/page'),
      await web.app.request('/api/v1/whoami', { headers: { authorization: `Bearer ${token}` } }),
      await web.app.request('/login'),
    ];
    for (const res of answers) {
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toMatch(/script-src 'self'(;|$)/);
      expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
    }
    // The sign-in page itself runs no inline script.
    expect(await (answers[4] as Response).text()).not.toMatch(/<script/i);
  });
});

describe('failed sign-ins and bad tokens from one address', () => {
  it('answer 401 ten times a minute, then 429 with Retry-After for any token, until the minute has passed', async () => {
    let now = 1_000_000;
    const limiter = new FailureLimiter({ now: () => now });
    const server = await startWebServer({ db: t.db, port: 0, limiter });
    try {
      const { token } = await createApiToken(t.db, { role: 'admin' });
      const call = (bearer: string) =>
        fetch(`${server.url}/api/v1/whoami`, { headers: { authorization: `Bearer ${bearer}` } });
      const statuses: number[] = [];
      for (let i = 0; i < 300; i++) {
        const res = await call(`qt_${String(i).padStart(12, '0')}_${'A'.repeat(43)}`);
        statuses.push(res.status);
        if (res.status === 429 && i === 10) expect(Number(res.headers.get('retry-after'))).toBe(60);
        await res.arrayBuffer();
        now += 40; // 300 tries in 12 s
      }
      expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
      expect(statuses.slice(10)).toEqual(Array(290).fill(429));
      // The good token is refused too while the address is over the limit: no guess can be confirmed.
      const good = await call(token);
      expect(good.status).toBe(429);
      expect(await good.json()).toMatchObject({ error: { code: 'AUTH_RATE_LIMITED' } });
      now += 60_000;
      expect((await call(token)).status).toBe(200);
      // Sign-in form failures count against the same address.
      for (let i = 0; i < 10; i++) limiter.fail('127.0.0.1');
      const form = await fetch(`${server.url}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'token=x',
      });
      expect(form.status).toBe(429);
      expect(form.headers.get('retry-after')).toBe('60');
    } finally {
      await server.close();
    }
  });
});

describe('behind a reverse proxy (web.trustProxy)', () => {
  const badToken = (i: number) => `qt_${String(i).padStart(12, '0')}_${'B'.repeat(43)}`;
  async function statusesFrom(url: string, forwardedFor: string, n: number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${url}/api/v1/whoami`, {
        headers: { authorization: `Bearer ${badToken(i)}`, 'x-forwarded-for': forwardedFor },
      });
      await res.arrayBuffer();
      out.push(res.status);
    }
    return out;
  }

  it('counts each client named by a listed proxy apart, and only the nearest untrusted hop', async () => {
    const config = validateConfig({ web: { trustProxy: ['127.0.0.0/8', '10.1.0.0/16'] } });
    const server = await startWebServer({ db: t.db, port: 0, config, limiter: new FailureLimiter() });
    try {
      // Ten failures from one client behind the proxy (through a second, listed proxy) lock that client out...
      expect(await statusesFrom(server.url, '203.0.113.5, 10.1.2.3', 11)).toEqual([...Array(10).fill(401), 429]);
      // ...and not a second client behind the same proxy,
      expect(await statusesFrom(server.url, '203.0.113.6', 1)).toEqual([401]);
      // nor can the locked-out client escape by writing its own address left of what the proxy appended.
      expect(await statusesFrom(server.url, '198.51.100.77, 203.0.113.5', 1)).toEqual([429]);
    } finally {
      await server.close();
    }
  });

  it('ignores X-Forwarded-For when no proxy is listed: every claimed address counts as the peer', async () => {
    const server = await startWebServer({
      db: t.db,
      port: 0,
      config: validateConfig({}),
      limiter: new FailureLimiter(),
    });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 11; i++) statuses.push(...(await statusesFrom(server.url, `203.0.113.${i}`, 1)));
      expect(statuses).toEqual([...Array(10).fill(401), 429]);
    } finally {
      await server.close();
    }
  });

  it('refuses an entry that is not an address or block, naming it', () => {
    expect(() => validateConfig({ web: { trustProxy: ['10.0.0.0/33'] } })).toThrow(
      /web\.trustProxy\[0\]: .*prefix length/s,
    );
    expect(() => validateConfig({ web: { trustProxy: ['proxy.internal'] } })).toThrow(
      /web\.trustProxy\[0\]: .*not an IPv4 or IPv6 address/s,
    );
  });
});
