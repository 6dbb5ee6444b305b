/**
 * The reporting API at 5,000 reps (`npm run bench -- web`): a generated org of 5,000 reps in 500 teams and 25
 * regions with few deals each (10 a rep, 50,000 in all, plus activities and 8 quarters of quotas), written straight
 * into a fresh database, snapshotted by a full recompute, then served by the real web server over HTTP.
 *
 * On the warm server (each URL asked once first), it measures p50 and p95 over HTTP of the current period's team
 * report (20 teams in turn), the org leaderboard (all 5,000 reps ranked) and the org report (every team and rep),
 * and prints the cold first build of each (timed in the server's read model while warming). Then the same for the
 * dashboard's pages (HTML): the org overview, two region overviews, 20 team dashboards, 20 rep scorecards, 20
 * leaderboard pages, the trends by region and the alerts (`page_*` figures). The client is a process
 * of its own (bench/http-client.ts) that accepts gzip and inflates, as a browser does. Target: p95 under 300 ms for
 * each, current period.
 *
 * Then the first answer after a change: one won deal of a Team 001 rep (Team 002 for the last) grows, its dirty key is recomputed by a
 * worker's engine, and the team and org reports are asked for once each (a new change before each): over HTTP from
 * the server (today's figures from the stored snapshots, `cold_after_change_*_http_ms`), and in process from the
 * server's read model and from one that computes today's reports from the warehouse as before (`..._snapshots_ms`,
 * `..._warehouse_ms`: the before and after of one run). Goal for the first answer over HTTP: under 1 s (printed
 * beside the figure; the run passes or fails on the warm p95).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { type Kysely, sql } from 'kysely';
import { fixedClock, setClock } from '../src/clock.ts';
import { validateConfig } from '../src/config/load.ts';
import { connect } from '../src/db/index.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import type { Database } from '../src/db/schema.ts';
import { markDirty } from '../src/dirty/queue.ts';
import { MetricsEngine } from '../src/metrics/engine/engine.ts';
import { ReportReader } from '../src/reports/read-model.ts';
import type { ReportRequest } from '../src/reports/report.ts';
import { startWebServer } from '../src/web/server.ts';
import { createApiToken } from '../src/web/tokens.ts';
import { admin } from './admin.ts';

const AS_OF = '2026-06-12';
const REPS = 5_000;
const TEAM_SIZE = 10;
const TEAMS = REPS / TEAM_SIZE;
const REGIONS = 25;
const DEALS_PER_REP = 10;
const ROUNDS = 3;
const TARGET_P95_MS = 300;
const TARGET_COLD_MS = 1000;
const runTs = fileURLToPath(new URL('../bin/run-ts.js', import.meta.url));
const httpClient = fileURLToPath(new URL('./http-client.ts', import.meta.url));

/**
 * 5,000 reps with few deals each, deterministic (PostgreSQL's setseed); a smaller org of the same shape with `size`
 * (the dashboard's browser test pages a leaderboard of 150). `teams / regions` must be whole.
 */
export async function generateLargeOrg(
  db: Kysely<Database>,
  size: { reps: number; teamSize: number; regions: number } = { reps: REPS, teamSize: TEAM_SIZE, regions: REGIONS },
): Promise<void> {
  const { reps: REPS, teamSize: TEAM_SIZE, regions: REGIONS } = size;
  const TEAMS = REPS / TEAM_SIZE;
  const s = (q: string) => sql.raw(q).execute(db);
  const deals = REPS * DEALS_PER_REP;
  await s('select setseed(0.19)');
  await s(`insert into connections (id, kind) values ('sf', 'salesforce')`);
  await s(`insert into persons (id, email, name) select i, 'rep' || i || '@example.com', 'Rep ' || lpad(i::text, 4, '0')
           from generate_series(1, ${REPS}) i`);
  await s(`select setval(pg_get_serial_sequence('persons', 'id'), ${REPS})`);
  await s(`insert into reps (connection_id, external_id, content_hash, person_id, name, email, is_active, start_date, quota_carrying)
           select 'sf', '005R' || lpad(i::text, 5, '0'), 'h', i, 'Rep ' || lpad(i::text, 4, '0'), 'rep' || i || '@example.com', true,
                  date '2020-01-06' + (i % 1500), true from generate_series(1, ${REPS}) i`);
  await s(`insert into org_units (id, kind, name, parent_id, source) values (1, 'org', 'Large Org', null, 'file')`);
  await s(`insert into org_units (id, kind, name, parent_id, source)
           select 1 + r, 'region', 'Region ' || lpad(r::text, 2, '0'), 1, 'file' from generate_series(1, ${REGIONS}) r`);
  await s(`insert into org_units (id, kind, name, parent_id, source)
           select ${1 + REGIONS} + t, 'team', 'Team ' || lpad(t::text, 3, '0'), 2 + (t - 1) / ${TEAMS / REGIONS}, 'file'
           from generate_series(1, ${TEAMS}) t`);
  await s(`select setval(pg_get_serial_sequence('org_units', 'id'), ${1 + REGIONS + TEAMS})`);
  await s(`insert into memberships (person_id, org_unit_id, valid_from, valid_to, source)
           select i, ${2 + REGIONS} + (i - 1) / ${TEAM_SIZE}, date '2020-01-01', null, 'file' from generate_series(1, ${REPS}) i`);
  await s(`insert into quotas (source, connection_id, external_id, owner_external_id, period_start, period_end, amount, currency, content_hash)
           select 'crm', 'sf', 'Q' || i || '-' || q, '005R' || lpad(i::text, 5, '0'), (date '2025-01-01' + make_interval(months => 3 * q))::date,
                  (date '2025-01-01' + make_interval(months => 3 * q + 3) - interval '1 day')::date, 300000, 'USD', 'h'
           from generate_series(1, ${REPS}) i, generate_series(0, 7) q`);
  await s(`insert into deals (connection_id, external_id, content_hash, name, owner_external_id, amount, currency, stage, stage_category,
                              probability, close_date, created_date)
           select 'sf', '006D' || lpad(n::text, 7, '0'), 'h', 'Deal ' || n, '005R' || lpad((1 + (n * 7919) % ${REPS})::text, 5, '0'),
                  round((5000 + random() * 145000)::numeric, 2), 'USD',
                  case when c < date '${AS_OF}' then (case when r < 0.35 then 'Closed Won' when r < 0.92 then 'Closed Lost' else 'Proposal' end)
                       else (case when r < 0.5 then 'Qualification' else 'Negotiation' end) end,
                  case when c < date '${AS_OF}' then (case when r < 0.35 then 'won' when r < 0.92 then 'lost' else 'open' end) else 'open' end,
                  case when c < date '${AS_OF}' then (case when r < 0.35 then 1 when r < 0.92 then 0 else 0.4 end) else (case when r < 0.5 then 0.2 else 0.6 end) end,
                  c, c - (30 + (random() * 90)::int)
           from (select n, random() as r, date '2025-10-01' + (random() * 360)::int as c from generate_series(1, ${deals}) n) g`);
  await s(`insert into activities (connection_id, external_id, content_hash, kind, owner_external_id, activity_type, activity_date)
           select 'sf', '00T' || n, 'h', 'task', '005R' || lpad((1 + n % ${REPS})::text, 5, '0'),
                  (array['call', 'call', 'email', 'email', 'meeting', 'task'])[1 + (random() * 5)::int], date '${AS_OF}' - (random() * 59)::int
           from generate_series(1, ${REPS * 5}) n`);
  await s('analyze');
}

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
}

export async function run(): Promise<{ name: string; ok: boolean; summary: string; metrics: Record<string, number> }> {
  // The bench lives on its as-of date, so "today" is the current period the read model serves from snapshots.
  setClock(fixedClock(`${AS_OF}T16:00:00Z`));
  const dbServer = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const name = `qt_bench_${randomBytes(4).toString('hex')}`;
  await admin(dbServer, `create database ${name}`);
  const u = new URL(dbServer);
  u.pathname = `/${name}`;
  const db = await connect(u.toString(), 8);
  try {
    await migrateToLatest(db);
    let t = performance.now();
    await generateLargeOrg(db);
    const generateMs = performance.now() - t;
    const config = validateConfig({ calendar: { timezone: 'America/New_York' }, forecast: { trials: 1000 } });
    t = performance.now();
    // The worker's engine, kept (warm) for the recomputes after each change below.
    const worker = new MetricsEngine({ db, config, workerId: 'bench' });
    const recompute = await worker.recomputeAll(AS_OF);
    const recomputeMs = performance.now() - t;
    const { token } = await createApiToken(db, { role: 'admin' });
    const reports = new ReportReader({ db, config });
    const web = await startWebServer({ db, config, port: 0, reports });
    try {
      // The client runs in a process of its own (bench/http-client.ts), as real clients do.
      const client = async (requests: { key: string; path: string }[]) => {
        const child = spawn(process.execPath, [runTs, httpClient], { stdio: ['pipe', 'pipe', 'inherit'] });
        child.stdin.end(JSON.stringify({ url: web.url, token, requests }));
        let out = '';
        for await (const chunk of child.stdout) out += chunk;
        const code = await new Promise<number | null>((r) => child.once('close', r));
        if (code !== 0) throw new Error(`the HTTP client exited ${code}`);
        return JSON.parse(out) as {
          results: { key: string; ms: number; bytes: number; source: string }[];
          resets: number;
        };
      };
      const teams = Array.from({ length: 20 }, (_, i) => `Team ${String(1 + i * 25).padStart(3, '0')}`);
      const kinds: Record<string, { path: string; req: ReportRequest }[]> = {
        team: teams.map((team) => ({
          path: `/api/v1/reports/team?team=${encodeURIComponent(team)}`,
          req: { kind: 'team', team },
        })),
        leaderboard: [{ path: '/api/v1/reports/leaderboard', req: { kind: 'leaderboard' } }],
        org: [{ path: '/api/v1/reports/org', req: { kind: 'org' } }],
      };
      // Warming: each document's first build, in the server's own read model (a cold org build takes minutes on
      // a loaded machine, longer than an HTTP client waits for headers), timed apart from the warm requests.
      const cold: Record<string, number> = {};
      const bytes: Record<string, number> = {};
      for (const [kind, list] of Object.entries(kinds)) {
        let worst = 0;
        for (const k of list) {
          const started = performance.now();
          const answer = await reports.read(k.req);
          worst = Math.max(worst, performance.now() - started);
          bytes[kind] = Math.max(bytes[kind] ?? 0, Buffer.byteLength(answer.json));
        }
        cold[kind] = worst;
      }
      // Each URL asked once over HTTP before the timed rounds.
      await client(Object.entries(kinds).flatMap(([key, list]) => list.map((k) => ({ key, path: k.path }))));
      const requests: { key: string; path: string }[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        for (const k of kinds.team ?? []) requests.push({ key: 'team', path: k.path });
        for (let i = 0; i < 10; i++)
          requests.push({ key: 'leaderboard', path: kinds.leaderboard?.[0]?.path as string });
        for (let i = 0; i < 10; i++) requests.push({ key: 'org', path: kinds.org?.[0]?.path as string });
      }
      const measured = await client(requests);
      const samples: Record<string, number[]> = { team: [], leaderboard: [], org: [] };
      for (const r of measured.results) samples[r.key]?.push(r.ms);
      let resets = measured.resets;

      // The dashboard's pages (src/web/routes/pages.ts) on the same warm server: their documents are built first in
      // the read model (the org overview reads the org, whose regions it lists, and the alerts; the region pages their region), then each URL once over HTTP.
      const pageReps = Array.from({ length: 20 }, (_, i) => `rep${1 + i * 250}@example.com`);
      const regionNames = Array.from({ length: REGIONS }, (_, i) => `Region ${String(1 + i).padStart(2, '0')}`);
      const warmDocs: ReportRequest[] = [
        { kind: 'alerts' },
        { kind: 'trends', trendBy: 'region' },
        ...regionNames.map((region): ReportRequest => ({ kind: 'region', region })),
        ...pageReps.map((rep): ReportRequest => ({ kind: 'rep', rep })),
      ];
      const pageWarmStarted = performance.now();
      for (const req of warmDocs) await reports.read(req);
      const pageWarmMs = performance.now() - pageWarmStarted;
      const pageKinds: Record<string, string[]> = {
        page_overview: ['/'],
        page_region: ['/?region=Region%2001', '/?region=Region%2013'],
        page_team: teams.map((team) => `/teams/${encodeURIComponent(team)}`),
        page_rep: pageReps.map((rep) => `/reps/${encodeURIComponent(rep)}`),
        page_leaderboard: Array.from({ length: 20 }, (_, i) => `/leaderboard?page=${1 + i * 5}`),
        page_trends: ['/trends?by=region'],
        page_alerts: ['/alerts'],
      };
      await client(Object.entries(pageKinds).flatMap(([key, paths]) => paths.map((path) => ({ key, path }))));
      const pageRequests: { key: string; path: string }[] = [];
      for (let round = 0; round < ROUNDS; round++)
        for (const [key, paths] of Object.entries(pageKinds))
          for (let i = 0; i < Math.max(10, paths.length); i++)
            pageRequests.push({ key, path: paths[i % paths.length] as string });
      const pageMeasured = await client(pageRequests);
      resets += pageMeasured.resets;
      for (const key of Object.keys(pageKinds)) samples[key] = [];
      for (const r of pageMeasured.results) samples[r.key]?.push(r.ms);

      // The first answer after a one-deal change and its recompute.
      const computing = new ReportReader({ db, config, today: 'warehouse' });
      let changes = 0;
      const change = async (): Promise<void> => {
        const d = await sql<{ external_id: string; owner_external_id: string }>`
          select external_id, owner_external_id from deals
          where stage_category = 'won' and close_date >= date '2026-04-01' and owner_external_id <= '005R00020'
          order by owner_external_id, external_id limit 1 offset ${changes++}`.execute(db);
        const deal = d.rows[0] as { external_id: string; owner_external_id: string };
        await sql`update deals set amount = amount + 1000 where connection_id = 'sf' and external_id = ${deal.external_id}`.execute(
          db,
        );
        await markDirty(db, [{ subjectKey: `sf:${deal.owner_external_id}`, periodId: 'FY2026-Q2', reason: 'changed' }]);
        const r = await worker.runDirty(AS_OF);
        if (r.changes.length === 0) throw new Error('the change moved no snapshot');
      };
      const afterChange: Record<string, number> = {};
      const coldKinds = [
        ['team', kinds.team?.[0]],
        ['org', kinds.org?.[0]],
      ] as const;
      for (const [kind, k] of coldKinds) {
        if (!k) continue;
        await change();
        const started = performance.now();
        const fromSnapshots = await reports.read(k.req);
        afterChange[`${kind}_snapshots_ms`] = performance.now() - started;
        if (fromSnapshots.source !== 'snapshots') throw new Error(`today's ${kind} report was not from the snapshots`);
        await change();
        const [http] = (await client([{ key: kind, path: k.path }])).results;
        if (http?.source !== 'snapshots')
          throw new Error(`today's ${kind} report over HTTP was not from the snapshots`);
        afterChange[`${kind}_http_ms`] = http.ms;
      }
      // The computed ones last: their warehouse models (gigabytes at 5,000 reps) would slow the garbage collection
      // of everything measured after them in this process.
      for (const [kind, k] of coldKinds) {
        if (!k) continue;
        await change();
        const started = performance.now();
        await computing.read(k.req);
        afterChange[`${kind}_warehouse_ms`] = performance.now() - started;
      }

      const metrics: Record<string, number> = {
        reps: REPS,
        teams: TEAMS,
        deals: REPS * DEALS_PER_REP,
        generate_ms: generateMs,
        recompute_all_ms: recomputeMs,
        snapshots: recompute.recomputed.length,
        connection_resets_retried: resets,
      };
      let ok = true;
      const parts: string[] = [];
      for (const kind of ['team', 'leaderboard', 'org']) {
        const xs = samples[kind] as number[];
        const p50 = percentile(xs, 50);
        const p95 = percentile(xs, 95);
        metrics[`${kind}_p50_ms`] = p50;
        metrics[`${kind}_p95_ms`] = p95;
        metrics[`${kind}_p95_ratio_to_target`] = p95 / TARGET_P95_MS;
        metrics[`${kind}_cold_first_build_ms`] = cold[kind] as number;
        metrics[`${kind}_bytes`] = bytes[kind] as number;
        if (p95 >= TARGET_P95_MS) ok = false;
        parts.push(`${kind} p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms (${xs.length} requests)`);
      }
      for (const kind of Object.keys(pageKinds)) {
        const xs = samples[kind] as number[];
        const p50 = percentile(xs, 50);
        const p95 = percentile(xs, 95);
        metrics[`${kind}_p50_ms`] = p50;
        metrics[`${kind}_p95_ms`] = p95;
        metrics[`${kind}_p95_ratio_to_target`] = p95 / TARGET_P95_MS;
        if (p95 >= TARGET_P95_MS) ok = false;
        parts.push(`${kind} p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms (${xs.length} requests)`);
      }
      metrics.page_documents_first_build_ms = pageWarmMs;
      for (const kind of ['team', 'org']) {
        const http = afterChange[`${kind}_http_ms`] as number;
        const snap = afterChange[`${kind}_snapshots_ms`] as number;
        const wh = afterChange[`${kind}_warehouse_ms`] as number;
        metrics[`cold_after_change_${kind}_http_ms`] = http;
        metrics[`cold_after_change_${kind}_snapshots_ms`] = snap;
        metrics[`cold_after_change_${kind}_warehouse_ms`] = wh;
        metrics[`cold_after_change_${kind}_speedup`] = wh / snap;
        // Reported beside its goal, not failing the run: the goal is the warm p95.
        parts.push(
          `${kind} after a one-deal change: ${http.toFixed(0)} ms over HTTP (${http < TARGET_COLD_MS ? 'under' : 'OVER'} ${TARGET_COLD_MS} ms) (read model ${snap.toFixed(0)} ms from snapshots, ${wh.toFixed(0)} ms computed from the warehouse)`,
        );
      }
      metrics.load_average_1m = loadavg()[0] as number;
      return {
        name: `web: reports and dashboard pages over HTTP at ${REPS.toLocaleString('en-US')} reps, current period, warm server`,
        ok,
        summary: `${parts.join('; ')}; target p95 < ${TARGET_P95_MS} ms each`,
        metrics,
      };
    } finally {
      await web.close();
    }
  } finally {
    await db.destroy();
    await admin(dbServer, `drop database if exists ${name} with (force)`);
  }
}
