import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/db/index.ts';
import { createWebApp } from '../../src/web/app.ts';
import type { RouteDef } from '../../src/web/policy.ts';
import { startWebServer } from '../../src/web/server.ts';
import { createApiToken } from '../../src/web/tokens.ts';
import { createEmptyDatabase, createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let t: TestDatabase;
let admin: string;
let manager: string;
let rep: string;
let outsider: string;

beforeAll(async () => {
  t = await createTestDatabase();
  // Maria manages team East (under region North); Raj is a current member of East, Olga of West.
  const [maria, raj, olga] = await t.db
    .insertInto('persons')
    .values([{ email: 'maria@example.com' }, { email: 'raj@example.com' }, { email: 'olga@example.com' }])
    .returning('id')
    .execute();
  if (!maria || !raj || !olga) throw new Error('persons not created');
  const north = await t.db
    .insertInto('org_units')
    .values({ kind: 'region', name: 'North', source: 'file', manager_person_id: maria.id })
    .returning('id')
    .executeTakeFirstOrThrow();
  const [east, west] = await t.db
    .insertInto('org_units')
    .values([
      { kind: 'team', name: 'East', source: 'file', parent_id: north.id },
      { kind: 'team', name: 'West', source: 'file' },
    ])
    .returning('id')
    .execute();
  if (!east || !west) throw new Error('teams not created');
  await t.db
    .insertInto('memberships')
    .values([
      { person_id: raj.id, org_unit_id: east.id, valid_from: '2020-01-01', source: 'file' },
      { person_id: olga.id, org_unit_id: west.id, valid_from: '2020-01-01', source: 'file' },
    ])
    .execute();
  admin = (await createApiToken(t.db, { role: 'admin' })).token;
  manager = (await createApiToken(t.db, { role: 'manager', subject: 'maria@example.com' })).token;
  rep = (await createApiToken(t.db, { role: 'rep', subject: 'raj@example.com' })).token;
  outsider = (await createApiToken(t.db, { role: 'rep', subject: 'olga@example.com' })).token;
});
afterAll(() => t.drop());

const auth = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

/** A rep-scoped route about the person in the path, as the reports API will have. */
const repRoute: RouteDef = {
  method: 'GET',
  path: '/api/v1/people/:email',
  policy: 'rep',
  subject: (c) => c.req.param('email'),
  handler: (c) => c.json({ email: c.req.param('email') }),
};

describe('route registration', () => {
  it('fails app creation with ROUTE_WITHOUT_POLICY when a route has no access policy', () => {
    const noPolicy = { method: 'GET', path: '/api/v1/leak', handler: () => new Response('secret') };
    expect(() => createWebApp({ db: t.db, modules: [(r) => r.route(noPolicy as unknown as RouteDef)] })).toThrow(
      expect.objectContaining({ code: 'ROUTE_WITHOUT_POLICY', message: expect.stringContaining('GET /api/v1/leak') }),
    );
  });

  it('fails start-up (no port opened) for a misspelt policy or a signed webhook without a verifier', async () => {
    const misspelt = { ...repRoute, policy: 'pubic' } as unknown as RouteDef;
    await expect(startWebServer({ db: t.db, port: 0, modules: [(r) => r.route(misspelt)] })).rejects.toMatchObject({
      code: 'ROUTE_WITHOUT_POLICY',
    });
    const hook: RouteDef = {
      method: 'POST',
      path: '/webhooks/hubspot',
      policy: 'signed-webhook',
      handler: (c) => c.body(null),
    };
    expect(() => createWebApp({ db: t.db, modules: [(r) => r.route(hook)] })).toThrow(/no signature verifier/);
  });
});

describe('authentication and access', () => {
  let app: ReturnType<typeof createWebApp>['app'];
  beforeAll(() => {
    app = createWebApp({
      db: t.db,
      modules: [
        (r) => r.route(repRoute),
        (r) =>
          r.route({
            method: 'POST',
            path: '/webhooks/test',
            policy: 'signed-webhook',
            verify: (req, body) => req.headers.get('x-signature') === `sig:${body}`,
            handler: async (c) => c.json({ received: await c.req.json() }),
          }),
      ],
    }).app;
  });

  it('answers 401 with a JSON error without a token or with a bad one', async () => {
    const none = await app.request('/api/v1/whoami');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(await none.json()).toEqual({
      error: {
        code: 'AUTH_REQUIRED',
        message: 'send an API token as "Authorization: Bearer qt_..." or sign in at /login',
      },
    });
    const bad = await app.request(
      '/api/v1/whoami',
      auth('qt_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'),
    );
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('AUTH_REQUIRED');
  });

  it('tells each token who it is', async () => {
    const res = await app.request('/api/v1/whoami', auth(manager));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ role: 'manager', subject: 'maria@example.com' });
  });

  it('answers 403 to a rep on an admin route, and lists tokens (without hashes) to an admin', async () => {
    const denied = await app.request('/api/v1/admin/tokens', auth(rep));
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { error: { code: string } }).error.code).toBe('AUTH_FORBIDDEN');
    const ok = await app.request('/api/v1/admin/tokens', auth(admin));
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { tokens: Record<string, unknown>[] };
    expect(body.tokens).toHaveLength(4);
    expect(JSON.stringify(body)).not.toMatch(/hash/);
  });

  it('lets a rep see only themselves and a manager only their subtree', async () => {
    const status = async (token: string, email: string) =>
      (await app.request(`/api/v1/people/${email}`, auth(token))).status;
    expect(await status(rep, 'raj@example.com')).toBe(200);
    expect(await status(rep, 'RAJ@example.com')).toBe(200);
    expect(await status(rep, 'olga@example.com')).toBe(403);
    expect(await status(outsider, 'raj@example.com')).toBe(403);
    // Raj is in East, a team under the region Maria manages; Olga's team West is not.
    expect(await status(manager, 'raj@example.com')).toBe(200);
    expect(await status(manager, 'maria@example.com')).toBe(200);
    expect(await status(manager, 'olga@example.com')).toBe(403);
    expect(await status(admin, 'olga@example.com')).toBe(200);
  });

  it('admits a signed webhook only with a valid signature, and the handler still reads the body', async () => {
    const body = JSON.stringify({ objectId: 42 });
    const good = await app.request('/webhooks/test', {
      method: 'POST',
      body,
      headers: { 'x-signature': `sig:${body}` },
    });
    expect(good.status).toBe(200);
    expect(await good.json()).toEqual({ received: { objectId: 42 } });
    const forged = await app.request('/webhooks/test', { method: 'POST', body, headers: { 'x-signature': 'sig:{}' } });
    expect(forged.status).toBe(401);
  });

  it('answers an unknown path with a JSON 404', async () => {
    const res = await app.request('/api/v1/nothing', auth(admin));
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no route GET /api/v1/nothing' } });
  });
});

describe('health over HTTP', () => {
  it('/healthz answers 200 and /readyz 503 before migrations, 200 after', async () => {
    const fresh = await createTestDatabase({ migrate: false });
    const server = await startWebServer({ db: fresh.db, port: 0 });
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok' });

      const before = await fetch(`${server.url}/readyz`);
      expect(before.status).toBe(503);
      expect(await before.json()).toMatchObject({ status: 'unavailable', reason: 'schema_not_migrated' });

      const { migrateToLatest } = await import('../../src/db/migrate.ts');
      await migrateToLatest(fresh.db);
      const after = await fetch(`${server.url}/readyz`);
      expect(after.status).toBe(200);
      // Ready or not, without the schema version (admins read it at /api/v1/status).
      expect(await after.json()).toEqual({ status: 'ready' });
    } finally {
      await server.close();
      await fresh.drop();
    }
  });

  it('/readyz answers 503 database_unreachable when the database is gone', async () => {
    const doomed = await createEmptyDatabase();
    const db = await connect(doomed.url, 2);
    try {
      const { app } = createWebApp({ db });
      // Dropping the database (WITH FORCE) ends the pool's connections; reconnecting then fails.
      await doomed.drop();
      const res = await app.request('/readyz');
      expect(res.status).toBe(503);
      // The driver's text (naming the database) stays in the log.
      const body = await res.text();
      expect(JSON.parse(body)).toEqual({
        status: 'unavailable',
        reason: 'database_unreachable',
        message: 'the database cannot be reached',
      });
      expect(body).not.toContain(doomed.name);
    } finally {
      await db.destroy();
    }
  });
});
