/**
 * The role-by-route matrix, generated from the route registry: every registered route must have a row here (a new
 * route without one fails the first test), and each row is asked by every kind of caller (no token, a malformed
 * one, a revoked one, an admin, two managers with different subtrees, two reps), including query parameters that
 * name another rep or team. The org is the golden warehouse: Dana manages the region West and its teams; Mia
 * manages only the team West Mid (Emily; Tom left it for West Enterprise on 2026-05-15); Sarah is in West
 * Enterprise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.ts';
import type { Json } from '../../src/metrics/document.ts';
import { escapeHtml } from '../../src/reports/html.ts';
import { figureWorking, subjectDoc } from '../../src/reports/layout.ts';
import { createWebApp } from '../../src/web/app.ts';
import { FailureLimiter } from '../../src/web/rate-limit.ts';
import { createApiToken, revokeApiToken } from '../../src/web/tokens.ts';
import { goldenWarehouse } from '../fixtures/warehouse/load.ts';
import type { TestDatabase } from '../helpers/db.ts';

const config = validateConfig({ calendar: { timezone: 'America/New_York' }, forecast: { trials: 200 } });
const WHEN = 'period=FY2026-Q2&asOf=2026-06-12';

const CALLERS = ['none', 'malformed', 'revoked', 'admin', 'dana', 'mia', 'sarah', 'emily'] as const;
type Caller = (typeof CALLERS)[number];
type Expect = Partial<Record<Caller, number>>;

const ANON = { none: 401, malformed: 401, revoked: 401 } as const;
const all = (status: number): Expect => Object.fromEntries(CALLERS.map((c) => [c, status]));
const tokens = (e: Omit<Expect, keyof typeof ANON>): Expect => ({ ...ANON, ...e });
const ONLY_ADMIN = tokens({ admin: 200, dana: 403, mia: 403, sarah: 403, emily: 403 });
const ANY_TOKEN = tokens({ admin: 200, dana: 200, mia: 200, sarah: 200, emily: 200 });
const DANA = tokens({ admin: 200, dana: 200, mia: 403, sarah: 403, emily: 403 });
const DANA_MIA = tokens({ admin: 200, dana: 200, mia: 200, sarah: 403, emily: 403 });

/** Every route of the registry, by `METHOD path`: the queries asked and the status each caller gets. */
const MATRIX: Record<string, { query: string; expect: Expect }[]> = {
  'GET /healthz': [{ query: '', expect: all(200) }],
  'GET /readyz': [{ query: '', expect: all(200) }],
  'GET /api/v1/openapi.json': [{ query: '', expect: all(200) }],
  'GET /login': [{ query: '', expect: all(200) }],
  // Without the form's CSRF cookie and field, whoever asks.
  'POST /login': [{ query: '', expect: all(403) }],
  'POST /logout': [{ query: '', expect: tokens({ admin: 303, dana: 303, mia: 303, sarah: 303, emily: 303 }) }],
  'GET /api/v1/whoami': [{ query: '', expect: ANY_TOKEN }],
  'GET /api/v1/admin/tokens': [{ query: '', expect: ONLY_ADMIN }],
  'GET /api/v1/reports/rep': [
    {
      query: 'rep=sarah.chen@example.com',
      expect: tokens({ admin: 200, dana: 200, mia: 403, sarah: 200, emily: 403 }),
    },
    {
      query: 'rep=EMILY.WHITE@example.com',
      expect: tokens({ admin: 200, dana: 200, mia: 200, sarah: 403, emily: 200 }),
    },
    { query: 'rep=dana.manager@example.com', expect: DANA },
    // No such rep: 404 to an admin, and to anyone else the same 403 as someone out of reach (no probing).
    { query: 'rep=nobody@example.com', expect: tokens({ admin: 404, dana: 403, mia: 403, sarah: 403, emily: 403 }) },
  ],
  'GET /api/v1/reports/team': [
    { query: 'team=West Enterprise', expect: DANA },
    { query: 'team=west mid', expect: DANA_MIA },
    { query: 'team=Nowhere', expect: tokens({ admin: 404, dana: 403, mia: 403, sarah: 403, emily: 403 }) },
  ],
  'GET /api/v1/reports/region': [{ query: 'region=West', expect: DANA }],
  'GET /api/v1/reports/org': [{ query: '', expect: ONLY_ADMIN }],
  'GET /api/v1/reports/leaderboard': [
    { query: '', expect: ANY_TOKEN },
    { query: 'team=West Enterprise', expect: ANY_TOKEN },
    { query: 'metric=activity-score', expect: ANY_TOKEN },
  ],
  'GET /api/v1/reports/trends': [
    { query: 'team=West Mid', expect: DANA_MIA },
    { query: 'region=West', expect: DANA },
    { query: '', expect: ONLY_ADMIN },
  ],
  'GET /api/v1/reports/alerts': [{ query: '', expect: ANY_TOKEN }],
  // No delivery in this warehouse (the path's own `:name` is asked): 404 past the policy; the per-file scopes are
  // test/reports/deliveries.test.ts's.
  'GET /deliveries/:deliveryId/:slot/:name': [
    { query: '', expect: tokens({ admin: 404, dana: 404, mia: 404, sarah: 404, emily: 404 }) },
  ],
  // A signed webhook: no token of any kind stands for the CRM's signature (test/e2e/hubspot-webhooks.test.ts).
  'POST /webhooks/hubspot': [{ query: '', expect: all(401) }],
  'GET /metrics': [{ query: '', expect: ONLY_ADMIN }],
  'GET /api/v1/status': [{ query: '', expect: ONLY_ADMIN }],
  // No queue in this app: an admin is told where Bull Board runs (404); test/web/operator.test.ts serves it.
  'GET /admin/queues': [{ query: '', expect: { ...ONLY_ADMIN, admin: 404 } }],
  'GET /admin/queues/*': [{ query: '', expect: { ...ONLY_ADMIN, admin: 404 } }],
  // MCP without a message: 401 before anything is read; with a token the transport refuses the request itself
  // (406: it accepts neither JSON nor an event stream). The tools' scopes are the matrix of test/web/mcp.test.ts.
  'POST /mcp': [{ query: '', expect: tokens({ admin: 406, dana: 406, mia: 406, sarah: 406, emily: 406 }) }],
  'GET /mcp': [{ query: '', expect: tokens({ admin: 405, dana: 405, mia: 405, sarah: 405, emily: 405 }) }],
  // The dashboard pages ask the same reports as the API, so they answer the same 403s (an HTML page saying so).
  'GET /assets/htmx.min.js': [{ query: '', expect: all(200) }],
  'GET /assets/dashboard.js': [{ query: '', expect: all(200) }],
  'GET /assets/dashboard.css': [{ query: '', expect: all(200) }],
  // The org for an admin and for Dana (she manages the org's only region, West, whose page it is); Mia manages one
  // team (303 to it); a rep goes to their scorecard (303).
  'GET /': [
    { query: '', expect: tokens({ admin: 200, dana: 200, mia: 303, sarah: 303, emily: 303 }) },
    { query: 'region=West', expect: DANA },
  ],
  'GET /teams/:team': [
    { query: 'path=West Enterprise', expect: DANA },
    { query: 'path=West Mid', expect: DANA_MIA },
    { query: 'path=Nowhere', expect: tokens({ admin: 404, dana: 403, mia: 403, sarah: 403, emily: 403 }) },
  ],
  'GET /reps/:rep': [
    {
      query: 'path=sarah.chen@example.com',
      expect: tokens({ admin: 200, dana: 200, mia: 403, sarah: 200, emily: 403 }),
    },
    {
      query: 'path=emily.white@example.com',
      expect: tokens({ admin: 200, dana: 200, mia: 200, sarah: 403, emily: 200 }),
    },
  ],
  'GET /leaderboard': [
    { query: '', expect: ANY_TOKEN },
    { query: 'page=2', expect: ANY_TOKEN },
    { query: 'metric=pipeline-coverage', expect: ANY_TOKEN },
    // An unknown metric is a 400 page naming the metrics, to whoever may see the leaderboard.
    { query: 'metric=bogus', expect: tokens({ admin: 400, dana: 400, mia: 400, sarah: 400, emily: 400 }) },
  ],
  'GET /trends': [
    { query: 'team=West Mid', expect: DANA_MIA },
    { query: '', expect: ONLY_ADMIN },
  ],
  'GET /alerts': [{ query: '', expect: ANY_TOKEN }],
  'GET /operator': [{ query: '', expect: ONLY_ADMIN }],
  'DELETE /mcp': [{ query: '', expect: tokens({ admin: 405, dana: 405, mia: 405, sarah: 405, emily: 405 }) }],
};

/** The dashboard's pages: dated like the reports, and their 403 is a page (HTML), not the API's JSON. */
const PAGES = new Set(['/', '/teams/:team', '/reps/:rep', '/leaderboard', '/trends', '/alerts', '/operator']);

let t: TestDatabase;
let web: ReturnType<typeof createWebApp>;
const header: Partial<Record<Caller, string>> = {};

beforeAll(async () => {
  t = await goldenWarehouse();
  const mia = await t.db
    .insertInto('persons')
    .values({ email: 'mia.mid@example.com', name: 'Mia Ortiz' })
    .returning('id')
    .executeTakeFirstOrThrow();
  await t.db.updateTable('org_units').set({ manager_person_id: mia.id }).where('name', '=', 'West Mid').execute();
  const bearer = async (o: Parameters<typeof createApiToken>[1]) => `Bearer ${(await createApiToken(t.db, o)).token}`;
  header.admin = await bearer({ role: 'admin' });
  header.dana = await bearer({ role: 'manager', subject: 'dana.manager@example.com' });
  header.mia = await bearer({ role: 'manager', subject: 'mia.mid@example.com' });
  header.sarah = await bearer({ role: 'rep', subject: 'sarah.chen@example.com' });
  header.emily = await bearer({ role: 'rep', subject: 'emily.white@example.com' });
  header.malformed = 'Bearer qt_not-a-token';
  const revoked = await createApiToken(t.db, { role: 'admin' });
  await revokeApiToken(t.db, revoked.id);
  header.revoked = `Bearer ${revoked.token}`;
  // Every caller shares one address here (no socket): the limit on bad tokens is tested in sessions.test.ts.
  web = createWebApp({ db: t.db, config, limiter: new FailureLimiter({ limit: Number.MAX_SAFE_INTEGER }) });
}, 60_000);
afterAll(() => t.drop());

async function ask(caller: Caller, path: string, method = 'GET'): Promise<Response> {
  const h = header[caller];
  return web.app.request(path, { method, ...(h ? { headers: { authorization: h } } : {}) });
}

describe('the role-by-route matrix', () => {
  it('has a row for every registered route and no row for a route that is not registered', () => {
    expect(Object.keys(MATRIX).sort()).toEqual(web.routes.map((r) => `${r.method} ${r.path}`).sort());
  });

  it('gives every caller the status of its row, on every route', async () => {
    const wrong: string[] = [];
    for (const route of web.routes) {
      for (const row of MATRIX[`${route.method} ${route.path}`] ?? []) {
        // A page's `:param` is given as `path=...`; the reports and pages are asked on the fixture's date.
        const param = /^path=(.*)$/.exec(row.query)?.[1];
        const dated = route.path.startsWith('/api/v1/reports/') || PAGES.has(route.path);
        const query = [param === undefined ? row.query : '', dated ? WHEN : '']
          .filter(Boolean)
          .join('&')
          .replace(/ /g, '%20');
        const base = param === undefined ? route.path : route.path.replace(/:[a-z]+$/, encodeURIComponent(param));
        const path = query ? `${base}?${query}` : base;
        for (const caller of CALLERS) {
          const want = row.expect[caller];
          if (want === undefined) continue;
          const res = await ask(caller, path, route.method);
          if (res.status !== want) wrong.push(`${caller} ${route.method} ${path}: ${res.status}, expected ${want}`);
          if ((res.status === 401 || res.status === 403) && PAGES.has(route.path) && res.status === 403) {
            expect(res.headers.get('content-type')).toMatch(/text\/html/);
            await res.arrayBuffer();
          } else if ((res.status === 401 || res.status === 403) && route.path !== '/login') {
            const body = (await res.json()) as { error: { code: string } };
            expect(body.error.code).toBe(res.status === 401 ? 'AUTH_REQUIRED' : 'AUTH_FORBIDDEN');
          } else await res.arrayBuffer();
        }
      }
    }
    expect(wrong).toEqual([]);
  }, 120_000);
});

describe('what each caller sees of a shared report', () => {
  it('shows a rep the leaderboard with names and ranks only, their own entry whole', async () => {
    const res = await ask('sarah', `/api/v1/reports/leaderboard?${WHEN}`);
    const doc = (await res.json()) as { entries: { rank: number; subject: { name: string }; actual?: string }[] };
    const sarah = doc.entries.find((e) => e.subject.name === 'Sarah Chen');
    const others = doc.entries.filter((e) => e.subject.name !== 'Sarah Chen');
    expect(sarah?.actual).toBe('522000.00');
    expect(others.length).toBeGreaterThan(0);
    for (const e of others) expect(Object.keys(e).sort()).toEqual(['rank', 'subject']);
    expect(JSON.stringify(others)).not.toMatch(/@example\.com|actual|quota|pipeline/);
  });

  it("shows a manager their subtree's leaderboard entries whole and the rest as names and ranks", async () => {
    const res = await ask('mia', `/api/v1/reports/leaderboard?${WHEN}`);
    const doc = (await res.json()) as { entries: { subject: { name: string }; actual?: string }[] };
    const whole = doc.entries.filter((e) => e.actual !== undefined).map((e) => e.subject.name);
    expect(whole).toEqual(['Emily White']);
  });

  it("pins the viewer's own leaderboard row whatever the case of their token's email, for any metric", async () => {
    // A token whose subject is written in another case than the CRM's address (Sarah Chen's).
    const made = await createApiToken(t.db, { role: 'rep', subject: 'sarah.chen@example.com' });
    await t.db
      .updateTable('api_tokens')
      .set({ subject_email: 'Sarah.Chen@Example.COM' })
      .where('id', '=', made.id)
      .execute();
    for (const metric of ['attainment', 'pipeline-coverage', 'activities']) {
      const res = await web.app.request(`/leaderboard?metric=${metric}&${WHEN}`, {
        headers: { authorization: `Bearer ${made.token}` },
      });
      expect(res.status, metric).toBe(200);
      const html = await res.text();
      const pinned = /<tr class="pinned"[^>]*>(.*?)<\/tr>/s.exec(html)?.[1] ?? '';
      expect(pinned, metric).toContain('Sarah Chen</a> (you)');
      // Her own figures, as the JSON gives them to her: her actual is in her row.
      expect(pinned, metric).toContain('522,000.00');
    }
    const bad = await web.app.request(`/leaderboard?metric=bogus&${WHEN}`, {
      headers: { authorization: `Bearer ${made.token}` },
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain(
      'metric must be one of attainment, projected-attainment, actual, pipeline-coverage, activity-score, activities',
    );
  });

  it("explains each scorecard figure from its tile, with the lines the CLI's --explain prints", async () => {
    const scorecard = await (await ask('sarah', `/reps/sarah.chen@example.com?${WHEN}`)).text();
    for (const figure of ['attainment', 'projectedAttainment', 'pipeline.coverage'])
      expect(scorecard).toMatch(new RegExp(`\\?explain=${encodeURIComponent(figure)}&amp;[^"]*#explain"`));
    const json = subjectDoc(
      (await (
        await ask('sarah', `/api/v1/reports/rep?rep=sarah.chen@example.com&explain=true&${WHEN}`)
      ).json()) as Json,
    );
    for (const figure of ['attainment', 'pipeline.coverage']) {
      const res = await ask('sarah', `/reps/sarah.chen@example.com?explain=${figure}&${WHEN}`);
      expect(res.status, figure).toBe(200);
      const html = await res.text();
      const section = /<section class="card wide" id="explain".*?<\/section>/s.exec(html)?.[0] ?? '';
      const lines = (figureWorking(json, figure) ?? []).map((b) => (b.type === 'paragraph' ? b.text : ''));
      expect(lines[0], figure).toMatch(new RegExp(`^${figure.replace('.', '\\.')} = `));
      for (const line of lines) expect(section, figure).toContain(escapeHtml(line));
      // Only that figure's: not the whole Working section.
      expect(html).not.toContain('id="s-working"');
    }
    const bad = await ask('sarah', `/reps/sarah.chen@example.com?explain=bogus&${WHEN}`);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('explain must be true or one of the scorecard&#39;s figures: ');
  });

  it('answers a manager the same document as an admin inside their subtree', async () => {
    const path = `/api/v1/reports/team?team=West%20Mid&${WHEN}`;
    expect(await (await ask('mia', path)).text()).toBe(await (await ask('admin', path)).text());
  });
});
