/**
 * The dashboard in a real browser: Debian's Chromium (/usr/bin/chromium, headless) driven by playwright-core, on a
 * generated org of 150 reps in 15 teams and 3 regions (bench/web.bench.ts's generator), recomputed on its as-of
 * date so today's pages are read from the stored snapshots as in production. A rep and a manager sign in through
 * /login (the session cookie), an admin sends a Bearer token. Every page each may open is opened: its figures are
 * checked against the JSON API with the same token, axe-core (injected into the page) finds no serious or critical
 * violation, the browser logs no error (a CSP refusal of a script would show there), and a screenshot is saved
 * under test-artifacts/. The leaderboard is paged with htmx (its Next link swaps the board and pushes the URL) and
 * a table is sorted by a click; the filter bar asks for another date. `QT_TIMINGS=1` prints each page's load, axe and
 * screenshot times.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateLargeOrg } from '../../bench/web.bench.ts';
import { fixedClock, setClock } from '../../src/clock.ts';
import { validateConfig } from '../../src/config/load.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { money, pct } from '../../src/reports/format.ts';
import { type RunningWebServer, startWebServer } from '../../src/web/server.ts';
import { createApiToken } from '../../src/web/tokens.ts';
import { repeatPass } from '../helpers/ci-pass.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const CHROMIUM = '/usr/bin/chromium';
const AS_OF = '2026-06-12';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const config = validateConfig({ calendar: { timezone: 'America/New_York' }, forecast: { trials: 200 } });

type Role = 'rep' | 'manager' | 'admin';
const tokens: Record<Role, string> = { rep: '', manager: '', admin: '' };
/** rep7 is in Team 001, Region 01; the manager manages Region 01 (Teams 001-005). */
const REP = 'rep7@example.com';
const MANAGER = 'vp.one@example.com';

let t: TestDatabase;
let web: RunningWebServer;
let context: BrowserContext;
let profile: string;
const errors: string[] = [];
/** Set once the rep's session is ended on purpose: its htmx request's 401 is then expected. */
let sessionEnded = false;

beforeAll(async () => {
  setClock(fixedClock(`${AS_OF}T16:00:00Z`));
  mkdirSync(ARTIFACTS, { recursive: true });
  t = await createTestDatabase();
  await generateLargeOrg(t.db, { reps: 150, teamSize: 10, regions: 3 });
  const vp = await t.db
    .insertInto('persons')
    .values({ email: MANAGER, name: 'Vera One' })
    .returning('id')
    .executeTakeFirstOrThrow();
  await t.db.updateTable('org_units').set({ manager_person_id: vp.id }).where('name', '=', 'Region 01').execute();
  await sql`analyze`.execute(t.db);
  const t0 = performance.now();
  await new MetricsEngine({ db: t.db, config, workerId: 'test' }).recomputeAll(AS_OF);
  if (process.env.QT_TIMINGS) console.log(`recompute ${(performance.now() - t0).toFixed(0)} ms`);
  tokens.rep = (await createApiToken(t.db, { role: 'rep', subject: REP })).token;
  tokens.manager = (await createApiToken(t.db, { role: 'manager', subject: MANAGER })).token;
  tokens.admin = (await createApiToken(t.db, { role: 'admin' })).token;
  web = await startWebServer({ db: t.db, config, port: 0 });
  profile = mkdtempSync(join(tmpdir(), 'qt-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    viewport: { width: 1400, height: 900 },
  });
}, 180_000);

afterAll(async () => {
  await context?.close();
  await web?.close();
  await t?.drop();
  if (profile) rmSync(profile, { recursive: true, force: true });
  setClock(undefined);
});

/** The JSON API's document, asked with the same role's token. */
async function api(role: Role, path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${web.url}${path}`, { headers: { authorization: `Bearer ${tokens[role]}` } });
  expect(res.status, path).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

/** A fresh page for a role: a rep and a manager sign in with the form, an admin sends a Bearer token. */
async function open(role: Role): Promise<Page> {
  await context.clearCookies();
  const page = await context.newPage();
  page.on('console', (m) => {
    // A page refused on purpose (403) is logged by the browser as a failed load: that one is expected, and so is
    // the 401 of the htmx request made after the session was ended on purpose.
    const expected = sessionEnded ? /status of 40[13]/ : /status of 403/;
    if (m.type() === 'error' && !expected.test(m.text())) errors.push(`${role} ${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`${role} ${page.url()}: ${e.message}`));
  if (role === 'admin') {
    await page.setExtraHTTPHeaders({ authorization: `Bearer ${tokens.admin}` });
    return page;
  }
  await page.goto(`${web.url}/`);
  // Not signed in: the page sends the browser to the sign-in form, which comes back to it.
  expect(new URL(page.url()).pathname).toBe('/login');
  await page.fill('#token', tokens[role]);
  await page.click('button[type=submit]');
  await page.waitForLoadState('load');
  return page;
}

/** axe-core in the page: the serious and critical violations (none expected). */
async function axe(page: Page): Promise<string[]> {
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    // biome-ignore lint/suspicious/noExplicitAny: axe is injected above, untyped in the page
    const r = await (globalThis as any).axe.run({ resultTypes: ['violations'] });
    return r.violations.map((v: { id: string; impact: string; nodes: { target: string[] }[] }) => ({
      id: v.id,
      impact: v.impact,
      targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
    }));
  });
  return (result as { id: string; impact: string; targets: string[] }[])
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}) at ${v.targets.join(', ')}`);
}

/** Opens a page as the role: its status, no serious axe violation, a screenshot. */
async function visit(page: Page, role: Role, path: string, name: string, status = 200): Promise<void> {
  const t0 = performance.now();
  const res = await page.goto(`${web.url}${path}`);
  const t1 = performance.now();
  expect(res?.status(), `${role} ${path}`).toBe(status);
  expect(await axe(page), `${role} ${path}`).toEqual([]);
  const t2 = performance.now();
  await page.screenshot({ path: join(ARTIFACTS, `${role}-${name}.png`), fullPage: true });
  if (process.env.QT_TIMINGS)
    console.log(
      `${role} ${path}: load ${(t1 - t0).toFixed(0)} ms, axe ${(t2 - t1).toFixed(0)} ms, shot ${(performance.now() - t2).toFixed(0)} ms`,
    );
}

async function tile(page: Page, key: string): Promise<string> {
  return ((await page.textContent(`[data-figure="${key}"] .tile-value`)) ?? '').trim();
}

/** The tiles of a subject page against the API's document of the same subject. */
async function checkTiles(page: Page, doc: Record<string, unknown>): Promise<void> {
  expect(await tile(page, 'attainment')).toBe(pct(doc.attainment as string, doc.attainmentReason as string));
  expect(await tile(page, 'projectedAttainment')).toBe(
    pct(doc.projectedAttainment as string, doc.projectedAttainmentReason as string),
  );
  const sub = await page.textContent('[data-figure="attainment"] .tile-sub');
  expect(sub).toContain(money(doc.actual as string));
}

interface Entry {
  rank: number;
  subject: { name: string; email?: string };
  attainment?: string;
}

async function boardRows(page: Page): Promise<{ rank: string; name: string; attainment: string }[]> {
  return page.$$eval('#board tbody tr', (rows) =>
    rows.map((r) => ({
      rank: r.cells[0]?.textContent?.trim() ?? '',
      name: r.cells[1]?.textContent?.trim() ?? '',
      attainment: r.cells[3]?.textContent?.trim() ?? '',
    })),
  );
}

describe.skipIf(repeatPass)('the dashboard in Chromium', () => {
  it('shows a rep their scorecard, the leaderboard with their row pinned and paged by htmx, and refuses a team', async () => {
    const page = await open('rep');
    // `/` sent the rep on to their own scorecard.
    expect(decodeURIComponent(new URL(page.url()).pathname)).toBe(`/reps/${REP}`);
    await visit(page, 'rep', `/reps/${REP}`, 'scorecard');
    await checkTiles(page, await api('rep', `/api/v1/reports/rep?rep=${REP}`));
    expect(await page.locator('#s-pacing-burn-up svg').count()).toBe(1);

    await visit(page, 'rep', '/leaderboard', 'leaderboard');
    const lb = (await api('rep', '/api/v1/reports/leaderboard')) as unknown as { entries: Entry[] };
    const ranked = lb.entries.filter((e) => e.rank != null);
    expect(ranked.length).toBe(150);
    const first = await boardRows(page);
    expect(first.length).toBe(50);
    expect(first.map((r) => r.name)).toEqual(ranked.slice(0, 50).map((e) => e.subject.name));
    // Others' figures are not the rep's to see: names and ranks only, as the API answers.
    const mine = ranked.find((e) => e.subject.email === REP) as Entry;
    const pinned = page.locator('#board thead tr.pinned');
    expect(await pinned.count()).toBe(1);
    expect((await pinned.locator('td').nth(0).textContent())?.trim()).toBe(`#${mine.rank}`);
    expect((await pinned.locator('td').nth(3).textContent())?.trim()).toBe(pct(mine.attainment as string));
    await page.click('#board a[rel=next]');
    await page.waitForURL(/page=2/);
    await page.waitForFunction("document.querySelector('#board tbody tr td')?.textContent?.trim() === '#51'");
    const second = await boardRows(page);
    expect(second.map((r) => r.name)).toEqual(ranked.slice(50, 100).map((e) => e.subject.name));
    await page.screenshot({ path: join(ARTIFACTS, 'rep-leaderboard-page-2.png'), fullPage: true });

    // Ranked by another metric, chosen in the page: the board follows the API's order, the rep still pinned.
    await page.selectOption('select[name=metric]', 'pipeline-coverage');
    await page.click('form:has(select[name=metric]) button[type=submit]');
    await page.waitForURL(/metric=pipeline-coverage/);
    expect(await page.getAttribute('#board', 'data-metric')).toBe('pipeline-coverage');
    expect(await axe(page)).toEqual([]);
    const byCoverage = (await api('rep', '/api/v1/reports/leaderboard?metric=pipeline-coverage')) as unknown as {
      entries: Entry[];
    };
    expect((await boardRows(page)).map((r) => r.name)).toEqual(
      byCoverage.entries
        .filter((e) => e.rank != null)
        .slice(0, 50)
        .map((e) => e.subject.name),
    );
    expect(await page.locator('#board thead tr.pinned').count()).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, 'rep-leaderboard-coverage.png'), fullPage: true });

    await visit(page, 'rep', '/alerts', 'alerts');
    await visit(page, 'rep', '/teams/Team%20001', 'team-refused', 403);
    await visit(page, 'rep', '/operator', 'operator-refused', 403);

    // The session ends (expired or signed out elsewhere) while the board is open: the next htmx page turn sends
    // the browser to the sign-in form, coming back to that page, instead of silently doing nothing.
    await visit(page, 'rep', '/leaderboard', 'leaderboard-before-expiry');
    sessionEnded = true;
    await sql`delete from web_sessions`.execute(t.db);
    await page.click('#board a[rel=next]');
    await page.waitForURL(/\/login\?next=/);
    expect(new URL(page.url()).searchParams.get('next')).toBe('/leaderboard?page=2');
    await page.close();
  }, 120_000);

  it('shows a manager their region, a team dashboard sorted by a click, a scorecard, trends and alerts', async () => {
    const page = await open('manager');
    // After signing in, `/` is the region the manager manages.
    await visit(page, 'manager', '/', 'overview');
    expect(await page.textContent('h1')).toContain('Region 01');
    const region = (await api('manager', '/api/v1/reports/region?region=Region%2001')) as {
      totals: Record<string, unknown>;
      teams: unknown[];
      reps: { attainment: string | null }[];
    };
    await checkTiles(page, region.totals);
    const binned = await page.$$eval('#s-attainment-distribution tbody tr', (rows) =>
      rows.reduce((s, r) => s + Number(r.cells[1]?.textContent ?? 0), 0),
    );
    expect(binned).toBe(region.reps.filter((r) => r.attainment !== null).length);
    expect(await page.locator('#s-teams tbody tr').count()).toBe(region.teams.length);

    await visit(page, 'manager', '/teams/Team%20001', 'team');
    const team = (await api('manager', '/api/v1/reports/team?team=Team%20001')) as {
      totals: Record<string, unknown>;
      reps: { attainment: string | null }[];
    };
    await checkTiles(page, team.totals);
    expect(await page.locator('#s-pacing-burn-up svg').count()).toBe(1);
    for (const id of ['#s-reps', '#s-pipeline-coverage', '#s-activity-against-targets', '#s-gap-analysis'])
      expect(await page.locator(id).count()).toBe(1);
    await page.click('#s-reps thead th:nth-child(2) button');
    const sorted = await page.$$eval('#s-reps tbody tr', (rows) =>
      rows.map((r) => Number.parseFloat(r.cells[1]?.textContent ?? '')),
    );
    expect(sorted).toEqual([...sorted].sort((a, b) => a - b));
    expect(sorted.length).toBe(team.reps.filter((r) => r.attainment !== null).length);

    // The filter bar asks for another date on the same page (htmx swaps the page and pushes the URL).
    await page.fill('input[name=asOf]', '2026-05-29');
    await page.click('form.filters button[type=submit]');
    await page.waitForURL(/asOf=2026-05-29/);
    expect(decodeURIComponent(new URL(page.url()).pathname)).toBe('/teams/Team 001');
    await page.waitForFunction("document.querySelector('.context')?.textContent?.includes('as of 2026-05-29')");
    const earlier = (await api('manager', '/api/v1/reports/team?team=Team%20001&asOf=2026-05-29')) as {
      totals: Record<string, unknown>;
    };
    await checkTiles(page, earlier.totals);
    await visit(page, 'manager', '/reps/rep1@example.com', 'rep-scorecard');
    await checkTiles(page, await api('manager', '/api/v1/reports/rep?rep=rep1@example.com'));
    await visit(page, 'manager', '/trends?region=Region%2001&by=team', 'trends');
    const trends = (await api('manager', '/api/v1/reports/trends?region=Region%2001&by=team')) as {
      series: unknown[];
    };
    expect(await page.locator('#s-trend-chart svg polyline').count()).toBeGreaterThan(0);
    expect(trends.series.length).toBeGreaterThan(1);
    await visit(page, 'manager', '/alerts', 'alerts');
    await visit(page, 'manager', '/teams/Team%20010', 'team-refused', 403);
    await visit(page, 'manager', '/operator', 'operator-refused', 403);
    await page.close();
  }, 120_000);

  it('shows an admin (Bearer) the org overview, every page and the operator view', async () => {
    const page = await open('admin');
    await visit(page, 'admin', '/', 'overview');
    const org = (await api('admin', '/api/v1/reports/org')) as { totals: Record<string, unknown> };
    await checkTiles(page, org.totals);
    // The regions, from the org report's own `regions`: each row as that region's report says.
    const regionRows = await page.$$eval('#s-regions tbody tr', (rows) =>
      rows.map((r) => [r.cells[0]?.textContent?.trim() ?? '', r.cells[1]?.textContent?.trim() ?? '']),
    );
    expect(regionRows.length).toBe(3);
    for (const [name, attainment] of regionRows) {
      const region = (await api('admin', `/api/v1/reports/region?region=${encodeURIComponent(name as string)}`)) as {
        totals: Record<string, unknown>;
      };
      expect(attainment, name).toBe(pct(region.totals.attainment as string, region.totals.attainmentReason as string));
    }
    const alerts = (await api('admin', '/api/v1/reports/alerts')) as { alerts: unknown[] };
    const counted = (await page.textContent('#s-alert-counts tbody tr:last-child td:last-child'))?.trim();
    expect(counted).toBe(String(alerts.alerts.length));
    await visit(page, 'admin', '/teams/Team%20012', 'team');
    await visit(page, 'admin', '/reps/rep150@example.com?explain=true', 'rep-explained');
    expect(await page.locator('#s-working').count()).toBe(1);
    // One figure's working, from its tile's link: shown beside the tiles, that tile marked.
    await visit(page, 'admin', '/reps/rep150@example.com', 'rep-scorecard');
    await page.click('[data-figure="coverage"] a.tile-explain');
    await page.waitForURL(/explain=pipeline.coverage/);
    expect(await page.textContent('#explain h2')).toContain('pipeline.coverage');
    expect(await page.textContent('#explain')).toContain('pipeline.coverage = ');
    expect(await page.locator('[data-figure="coverage"].explained').count()).toBe(1);
    expect(await page.locator('#s-working').count()).toBe(0);
    expect(await axe(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'admin-rep-explain-coverage.png'), fullPage: true });
    await visit(page, 'admin', '/leaderboard?page=3', 'leaderboard-page-3');
    const board = (await api('admin', '/api/v1/reports/leaderboard')) as unknown as { entries: Entry[] };
    expect((await boardRows(page)).map((r) => r.name)).toEqual(
      board.entries.slice(100, 150).map((e) => e.subject.name),
    );
    await visit(page, 'admin', '/trends?by=region&periods=4', 'trends');
    await visit(page, 'admin', '/alerts', 'alerts');
    await visit(page, 'admin', '/operator', 'operator');
    await visit(page, 'admin', `/?period=FY2026-Q1&asOf=2026-03-31`, 'overview-past');
    expect(await page.textContent('.context')).toContain('FY2026-Q1 as of 2026-03-31');
    await page.close();
    expect(errors).toEqual([]);
  }, 120_000);
});
