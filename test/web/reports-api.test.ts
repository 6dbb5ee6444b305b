/**
 * `/api/v1/reports/<kind>` answers exactly what `report <kind> --format json` prints (the real CLI, against the
 * golden warehouse), for every kind; the read model keeps a document until a snapshot moves; `/api/v1/openapi.json`
 * describes every registered route.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { createWebApp } from '../../src/web/app.ts';
import { createApiToken } from '../../src/web/tokens.ts';
import { goldenWarehouse } from '../fixtures/warehouse/load.ts';
import type { TestDatabase } from '../helpers/db.ts';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/quota-tracker.js', import.meta.url));
const config = validateConfig({ calendar: { timezone: 'America/New_York' }, forecast: { trials: 2000 } });
const WHEN = { period: 'FY2026-Q2', asOf: '2026-06-12' };

let t: TestDatabase;
let configPath: string;
let admin: string;
let web: ReturnType<typeof createWebApp>;

beforeAll(async () => {
  t = await goldenWarehouse();
  await new MetricsEngine({ db: t.db, config }).recomputeAll(WHEN.asOf);
  configPath = join(tmpdir(), `qt-reports-api-${process.pid}.yaml`);
  await writeFile(configPath, 'calendar: { timezone: America/New_York }\nforecast: { trials: 2000 }\n');
  admin = (await createApiToken(t.db, { role: 'admin' })).token;
  web = createWebApp({ db: t.db, config });
});
afterAll(() => t.drop());

async function cli(args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [bin, '--config', configPath, 'report', ...args], {
    env: { ...process.env, DATABASE_URL: t.url },
    maxBuffer: 10_000_000,
  });
  return stdout;
}

async function api(path: string, token = admin): Promise<Response> {
  return web.app.request(path, { headers: { authorization: `Bearer ${token}` } });
}

const CASES: { kind: string; query: Record<string, string>; args: string[] }[] = [
  { kind: 'rep', query: { rep: 'sarah.chen@example.com' }, args: ['--rep', 'sarah.chen@example.com'] },
  { kind: 'team', query: { team: 'West Enterprise' }, args: ['--team', 'West Enterprise'] },
  { kind: 'region', query: { region: 'West' }, args: ['--region', 'West'] },
  { kind: 'org', query: {}, args: [] },
  { kind: 'leaderboard', query: { team: 'West Mid' }, args: ['--team', 'West Mid'] },
  { kind: 'trends', query: { region: 'West' }, args: ['--region', 'West'] },
  {
    kind: 'trends',
    query: { by: 'team', periods: '2' },
    args: ['--by', 'team', '--periods', '2'],
  },
  {
    kind: 'trends',
    query: { region: 'West', by: 'segment', periods: '3' },
    args: ['--region', 'West', '--by', 'segment', '--periods', '3'],
  },
  { kind: 'alerts', query: {}, args: [] },
  { kind: 'leaderboard', query: { metric: 'pipeline-coverage' }, args: ['--metric', 'pipeline-coverage'] },
  { kind: 'leaderboard', query: { metric: 'activities' }, args: ['--metric', 'activities'] },
];

describe('GET /api/v1/reports/<kind>', () => {
  it('answers byte for byte what `report <kind> --format json` prints, for every kind', async () => {
    const printed = await Promise.all(
      CASES.map((k) => cli([k.kind, ...k.args, '--period', WHEN.period, '--as-of', WHEN.asOf, '--format', 'json'])),
    );
    for (const [i, k] of CASES.entries()) {
      const res = await api(`/api/v1/reports/${k.kind}?${new URLSearchParams({ ...k.query, ...WHEN })}`);
      expect(res.status, k.kind).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(`${await res.text()}\n`, k.kind).toBe(printed[i]);
    }
    // Trends by team show each team of the org beside it, two periods each.
    const byTeam = JSON.parse(printed[6] as string);
    expect(byTeam.by).toBe('team');
    expect(byTeam.series.length).toBeGreaterThan(2);
    for (const s of byTeam.series) expect(s.periods.length).toBeLessThanOrEqual(2);
    // The figures are real: Sarah's actual of the hand-worked golden example.
    expect(JSON.parse(printed[0] as string).actual).toBe('522000.00');
    // Another metric: ranked by it, highest first, each entry showing it; those it cannot rank last, unranked.
    for (const [at, field] of [
      [9, 'coverage'],
      [10, 'activities'],
    ] as const) {
      const board = JSON.parse(printed[at] as string) as { by: string; entries: Record<string, unknown>[] };
      expect(board.by).toBe(CASES[at]?.query.metric);
      const ranked = board.entries.filter((e) => e.rank !== null);
      expect(ranked.length, field).toBeGreaterThan(1);
      const values = ranked.map((e) => Number(e[field]));
      expect(values, field).toEqual([...values].sort((a, b) => b - a));
      expect(new Set(values).size, field).toBeGreaterThan(1);
      for (const e of board.entries.filter((x) => x.rank === null)) expect(e[field] ?? null, field).toBeNull();
    }
  }, 120_000);

  it('takes --explain as explain=true, with the working the CLI prints', async () => {
    const printed = await cli([
      'rep',
      '--rep',
      'sarah.chen@example.com',
      '--period',
      WHEN.period,
      '--as-of',
      WHEN.asOf,
      '--format',
      'json',
      '--explain',
    ]);
    const q = new URLSearchParams({ rep: 'sarah.chen@example.com', explain: 'true', ...WHEN });
    const res = await api(`/api/v1/reports/rep?${q}`);
    expect(`${await res.text()}\n`).toBe(printed);
    expect(JSON.parse(printed).explain).toBeDefined();
  }, 60_000);

  it('names a bad query parameter with 400, an unknown team with 404 and an unknown period with 400', async () => {
    const typo = await api('/api/v1/reports/team?teem=West%20Mid');
    expect(typo.status).toBe(400);
    expect(await typo.json()).toMatchObject({ error: { code: 'USAGE', message: expect.stringContaining('"teem"') } });
    const date = await api('/api/v1/reports/org?asOf=2026-02-30');
    expect(date.status).toBe(400);
    expect(((await date.json()) as { error: { message: string } }).error.message).toContain('asOf');
    const team = await api(`/api/v1/reports/team?team=Nowhere&${new URLSearchParams(WHEN)}`);
    expect(team.status).toBe(404);
    expect(((await team.json()) as { error: { message: string } }).error.message).toContain('West Enterprise');
    const period = await api('/api/v1/reports/org?period=FY2026-Q9');
    expect(period.status).toBe(400);
    const noRep = await api('/api/v1/reports/rep');
    expect(noRep.status).toBe(400);
    // Trends' own parameters: a bad value, or on another kind, is a 400 naming it.
    for (const [path, says] of [
      ['/api/v1/reports/trends?periods=0', 'periods must be a whole number from 1 to 20'],
      ['/api/v1/reports/trends?by=country', 'by must be one of region, team, segment, product-line'],
      ['/api/v1/reports/org?by=region', '"by" goes with trends only'],
      ['/api/v1/reports/trends?team=West%20Mid&by=region', '--by region breaks down the org'],
      [
        '/api/v1/reports/leaderboard?metric=bogus',
        'metric must be one of attainment, projected-attainment, actual, pipeline-coverage, activity-score, activities',
      ],
      ['/api/v1/reports/org?metric=actual', '"metric" goes with leaderboard only'],
    ] as const) {
      const res = await api(`${path}&${new URLSearchParams(WHEN)}`);
      expect(res.status, path).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message, path).toContain(says);
    }
  });

  it('serves a repeated request from memory until a snapshot moves, then builds again', async () => {
    const reader = web.reports;
    if (!reader) throw new Error('no read model');
    const path = `/api/v1/reports/team?${new URLSearchParams({ team: 'West Mid', ...WHEN })}`;
    const first = await (await api(path)).text();
    const builds = reader.stats.builds;
    const loads = reader.stats.modelLoads;
    expect(await (await api(path)).text()).toBe(first);
    expect(reader.stats.builds).toBe(builds);
    // Another kind of the same date and period shares the loaded model.
    await api(`/api/v1/reports/region?${new URLSearchParams({ region: 'West', ...WHEN })}`);
    expect(reader.stats.modelLoads).toBe(loads);
    // The engine stored a snapshot (a figure moved): the next request builds again.
    await sql`update metric_snapshots set computed_at = computed_at + interval '1 second'`.execute(t.db);
    expect(await (await api(path)).text()).toBe(first);
    expect(reader.stats.builds).toBe(builds + 1);
    expect(await (await api(path)).text()).toBe(first);
    expect(reader.stats.builds).toBe(builds + 1);
    // An open alert changed, even with its timestamps untouched: built again.
    const open = await sql`update alerts set message = message where status <> 'resolved' returning 1 as n`.execute(
      t.db,
    );
    expect(open.rows.length).toBeGreaterThan(0);
    await api(path);
    expect(reader.stats.builds).toBe(builds + 2);
    // A sync run that changed nothing: kept.
    await sql`insert into sync_runs (connection_id, stream, trigger, status, finished_at)
      values ('sf', 'opportunities', 'schedule', 'succeeded', now())`.execute(t.db);
    await api(path);
    expect(reader.stats.builds).toBe(builds + 2);
    // A synced change marked its rep-period dirty, not yet recomputed: built again.
    await sql`insert into dirty_keys (subject_kind, subject_key, period_id, reason)
      values ('rep', 'sf:005000000000001', 'FY2026-Q2', 'changed')`.execute(t.db);
    await api(path);
    expect(reader.stats.builds).toBe(builds + 3);
    await sql`delete from dirty_keys`.execute(t.db);
    // A membership changed (a day earlier start): built again.
    await sql`update memberships set valid_from = valid_from - 1 where id = (select min(id) from memberships)`.execute(
      t.db,
    );
    await api(path);
    expect(reader.stats.builds).toBe(builds + 4);
  });
});

describe('compression', () => {
  it('gzips a kept document for a client that accepts gzip, to the same bytes', async () => {
    const path = `/api/v1/reports/org?${new URLSearchParams(WHEN)}`;
    const plain = await api(path);
    const text = await plain.text();
    const zipped = await web.app.request(path, {
      headers: { authorization: `Bearer ${admin}`, 'accept-encoding': 'gzip, deflate' },
    });
    expect(zipped.headers.get('content-encoding')).toBe('gzip');
    expect(zipped.headers.get('vary')).toBe('Accept-Encoding');
    expect(gunzipSync(Buffer.from(await zipped.arrayBuffer())).toString('utf8')).toBe(text);
  });
});

describe('GET /api/v1/openapi.json', () => {
  it('describes every registered route with its method, policy and query parameters', async () => {
    const res = await web.app.request('/api/v1/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<string, Record<string, { 'x-access-policy': string; parameters?: { name: string }[] }>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    const described = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    expect(described.sort()).toEqual(web.routes.map((r) => `${r.method} ${r.path}`).sort());
    const team = doc.paths['/api/v1/reports/team']?.get;
    expect(team?.['x-access-policy']).toBe('rep');
    expect(team?.parameters?.map((p) => p.name)).toEqual(['rep', 'team', 'region', 'period', 'asOf', 'explain']);
  });
});
