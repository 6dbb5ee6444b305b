/**
 * `npm run bench -- scale --json` (this file's name matches `scale`): reports at size, as a user runs them: the
 * product's `quota-tracker report ... --format json` as a child process on generated warehouses (bench/warehouse.ts:
 * ten reps a team, ten teams a region, 200 deals and 300 activities a rep), each after a full recompute stored its
 * snapshots (what a running service has). Two sizes: `medium` (500 reps, 100,000 deals) and a mid size (2,000
 * reps, 400,000 deals) by default, so a run takes minutes; `medium` and `large` (5,000 reps, 1,000,000 deals) with
 * QT_BENCH_SIZE=large; QT_BENCH_SIZE=tiny (60 and 240 reps) to try the bench. Rows:
 *
 * - `teamReport`: seconds of `report team --format json` on the larger org (median of three), run as deployed: the
 *   built copy (`npm run build`, QUOTA_TRACKER_USE_DIST=1, what the Docker image runs; the bench builds it first).
 *   Goal < 1. From the snapshots it reads that team's members' rows and the stored exact attainments (ranks), not
 *   the org's deals. The same report through tsx (`npx quota-tracker` without a build, which compiles the sources
 *   at every start) is the figure `teamReportTsx`, beside it in the summary.
 * - `orgReport`: seconds of `report org --format json` on the larger org. Goal < 30.
 * - `orgReportGrowth`: the org report's CPU seconds at the larger size over its CPU seconds at `medium` (the wall
 *   time's ratio is the machine's load as much as the report's), beside the ratio of the rep counts (`minimum`).
 *   Goal: at most 1.25x the rep ratio (linear in reps, with room for noise).
 * - `sameBytes`: 1 when every report printed the same bytes from the snapshots as computed, else 0 and the run
 *   fails (`ok: false`): a faster report that says something else is no result.
 * - `changeFeedBound`: see bench/change-feed-week.ts (its own part of this file's run).
 *
 * Each report is also timed with the snapshots not current (a dirty mark waiting), which makes it compute from the
 * warehouse, and the two outputs are compared byte for byte (`sameJson`). Every figure comes with the child's CPU
 * seconds and peak RSS (GNU time) and the load average: the machine is shared.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sql } from 'kysely';
import { stringify } from 'yaml';
import { validateConfig } from '../src/config/load.ts';
import { connect } from '../src/db/index.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { MetricsEngine } from '../src/metrics/engine/engine.ts';
import { admin } from './admin.ts';
import { changeFeedWeek } from './change-feed-week.ts';
import type { BenchResult, BenchRow } from './index.ts';
import { incomplete, median, row } from './rows.ts';
import { generateWarehouse, WAREHOUSE_AS_OF, type WarehouseSize } from './warehouse.ts';

const BIN = resolve(import.meta.dirname, '../bin/quota-tracker.js');

const round = (x: number, d = 2) => Number(x.toFixed(d));
const load1 = () => round(loadavg()[0] ?? 0);

function sized(reps: number): WarehouseSize {
  return { reps, deals: reps * 200, activities: reps * 300, teams: reps / 10 };
}

export interface Timed {
  s: number;
  cpuS: number;
  rssMb: number;
  bytes: number;
  sha: string;
  load: number;
}

/** One `quota-tracker` child under GNU time: wall, CPU and peak RSS; stdout hashed, not kept. */
async function timedCli(args: string[], cfg: string, built = false): Promise<Timed> {
  const times = join(tmpdir(), `qt_reports_${randomBytes(4).toString('hex')}.time`);
  const loadBefore = load1();
  const t0 = performance.now();
  const hash = createHash('sha256');
  let bytes = 0;
  let err = '';
  const code = await new Promise<number>((done) => {
    const child = spawn(
      '/usr/bin/time',
      ['-f', '%U %S %M', '-o', times, process.execPath, BIN, ...args, '--config', cfg],
      {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          QUOTA_TRACKER_NOW: `${WAREHOUSE_AS_OF}T15:00:00Z`,
          ...(built ? { QUOTA_TRACKER_USE_DIST: '1' } : {}),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout.on('data', (d: Buffer) => {
      bytes += d.length;
      hash.update(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    child.on('close', (c) => done(c ?? 1));
  });
  const s = (performance.now() - t0) / 1000;
  const [user, sys, kb] = (await readFile(times, 'utf8')).trim().split('\n').pop()?.split(' ').map(Number) ?? [];
  await rm(times, { force: true });
  // Progress on stderr: a run takes minutes, and --json keeps stdout for the one document.
  process.stderr.write(`scale-reports: ${args.slice(0, 2).join(' ')} ${((performance.now() - t0) / 1000) | 0} s\n`);
  if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`);
  return {
    s: round(s),
    cpuS: round((user ?? 0) + (sys ?? 0)),
    rssMb: Math.round((kb ?? 0) / 1024),
    bytes,
    sha: hash.digest('hex').slice(0, 16),
    load: round((loadBefore + load1()) / 2),
  };
}

/** Builds dist/ (`npm run build`) so that the team report can run as deployed; a failed build fails the bench. */
async function buildDist(): Promise<void> {
  const tsc = resolve(import.meta.dirname, '../node_modules/typescript/bin/tsc');
  const code = await new Promise<number>((done) => {
    const child = spawn(process.execPath, [tsc, '-p', resolve(import.meta.dirname, '../tsconfig.build.json')], {
      // tsc prints its errors on stdout; stdout is the bench's JSON, so they go to stderr.
      stdio: ['ignore', 2, 2],
    });
    child.on('close', (c) => done(c ?? 1));
  });
  if (code !== 0) throw new Error(`npm run build exited ${code}`);
}

export interface SizeFigures {
  reps: number;
  deals: number;
  generateS: number;
  recomputeS: number;
  org: Timed;
  orgComputed: Timed;
  orgSameJson: boolean;
  team?: Timed[];
  /** The same team report through tsx (no build). */
  teamTsx?: Timed[];
  teamComputed?: Timed;
  teamSameJson?: boolean;
}

/** A fresh database of `size`, recomputed, then its reports timed from the snapshots and computed. */
async function measureSize(server: string, size: WarehouseSize, withTeam: boolean): Promise<SizeFigures> {
  const name = `h22r_reports_${randomBytes(4).toString('hex')}`;
  await admin(server, `create database ${name}`);
  const u = new URL(server);
  u.pathname = `/${name}`;
  const db = await connect(u.toString(), 4);
  const cfg = join(tmpdir(), `${name}.yaml`);
  const raw = {
    database: { url: u.toString() },
    logLevel: 'warn',
    calendar: { timezone: 'America/New_York' },
    forecast: { backtest: { enabled: false } },
  };
  try {
    await migrateToLatest(db);
    let t = performance.now();
    await generateWarehouse(db, size);
    const generateS = (performance.now() - t) / 1000;
    await writeFile(cfg, stringify(raw));
    t = performance.now();
    await new MetricsEngine({ db, config: validateConfig(raw), workerId: 'bench' }).recomputeAll(WAREHOUSE_AS_OF);
    const recomputeS = (performance.now() - t) / 1000;

    const org = ['report', 'org', '--format', 'json'];
    const team = ['report', 'team', '--team', `Team ${'1'.padStart(Math.max(2, String(size.teams).length), '0')}`];
    const teamJson = [...team, '--format', 'json'];
    const fromSnapshots = await timedCli(org, cfg);
    const teams = withTeam
      ? [await timedCli(teamJson, cfg, true), await timedCli(teamJson, cfg, true), await timedCli(teamJson, cfg, true)]
      : [];
    const teamsTsx = withTeam
      ? [await timedCli(teamJson, cfg), await timedCli(teamJson, cfg), await timedCli(teamJson, cfg)]
      : [];
    // A mark waiting for a recompute: the snapshots are not current, and the report is computed.
    await sql`insert into dirty_keys (subject_kind, subject_key, period_id, reason) values ('rep', 'sf:nobody', 'FY1999-Q1', 'bench')`.execute(
      db,
    );
    const computed = await timedCli(org, cfg);
    const teamComputed = withTeam ? await timedCli(teamJson, cfg) : undefined;
    await sql`delete from dirty_keys where reason = 'bench'`.execute(db);
    return {
      reps: size.reps,
      deals: size.deals,
      generateS: round(generateS),
      recomputeS: round(recomputeS),
      org: fromSnapshots,
      orgComputed: computed,
      orgSameJson: fromSnapshots.sha === computed.sha,
      ...(withTeam
        ? {
            team: teams,
            teamTsx: teamsTsx,
            teamComputed,
            teamSameJson: [...teams, ...teamsTsx].every((x) => x.sha === teamComputed?.sha),
          }
        : {}),
    };
  } finally {
    await db.destroy();
    await admin(server, `drop database if exists ${name} with (force)`).catch(() => undefined);
    await rm(cfg, { force: true });
  }
}

/** The report rows of two sizes' figures (`a` the smaller). */
export function reportRows(a: SizeFigures, b: SizeFigures): Record<string, BenchRow> {
  const repRatio = b.reps / a.reps;
  const same = a.orgSameJson && b.orgSameJson && a.teamSameJson !== false && b.teamSameJson !== false;
  return {
    teamReport: row(median((b.team ?? []).map((x) => x.s)), 's', '< 1'),
    orgReport: row(b.org.s, 's', '< 30'),
    orgReportGrowth: row(b.org.cpuS / a.org.cpuS, 'ratio', `<= ${round(repRatio * 1.25)}`, repRatio),
    sameBytes: row(same ? 1 : 0, 'boolean', '>= 1'),
  };
}

export async function run(): Promise<BenchResult> {
  const which = process.env.QT_BENCH_SIZE;
  const small = which === 'tiny' ? sized(60) : sized(500);
  const big =
    which === 'tiny' ? sized(240) : which === 'large' || process.env.QT_HEAVY === '1' ? sized(5000) : sized(2000);
  const server = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const loadBefore = loadavg();
  const stages: string[] = [];
  try {
    await buildDist();
    const a = await measureSize(server, small, false);
    const b = await measureSize(server, big, true);
    const feed = await changeFeedWeek(server, which === 'tiny');
    const teamS = median((b.team ?? []).map((x) => x.s));
    const teamTsxS = median((b.teamTsx ?? []).map((x) => x.s));
    const repRatio = b.reps / a.reps;
    const growth = b.org.cpuS / a.org.cpuS;
    const rows: Record<string, BenchRow> = { ...reportRows(a, b), ...feed.rows };
    const loadAfter = loadavg();
    const figures = {
      sizes: { small: a, big: b },
      teamReportTsx: teamTsxS,
      orgReportWallGrowth: round(b.org.s / a.org.s),
      orgReportComputedGrowth: round(b.orgComputed.s / a.orgComputed.s),
      orgReportComputedCpuGrowth: round(b.orgComputed.cpuS / a.orgComputed.cpuS),
      repRatio,
      changeFeed: feed.figures,
      cores: cpus().length,
      loadAverageBefore: loadBefore.map((x) => round(x)),
      loadAverageAfter: loadAfter.map((x) => round(x)),
    };
    const missed = Object.entries(rows).filter(([, r]) => !r.met);
    return {
      name: `scale-reports (${a.reps} and ${b.reps} reps)`,
      ok: rows.sameBytes?.met === true,
      summary: `team report ${teamS} s built (${median((b.team ?? []).map((x) => x.cpuS))} CPU s, ${median((b.team ?? []).map((x) => x.rssMb))} MB), ${teamTsxS} s through tsx (${median((b.teamTsx ?? []).map((x) => x.cpuS))} CPU s) at ${b.reps} reps (computed ${b.teamComputed?.s} s); org report ${a.org.s} s at ${a.reps} reps, ${b.org.s} s at ${b.reps} (${round(growth)}x CPU for ${repRatio}x the reps; computed ${a.orgComputed.s} / ${b.orgComputed.s} s); JSON from snapshots and computed the same: ${a.orgSameJson && b.orgSameJson && b.teamSameJson}; ${feed.summary}; load ${round(loadBefore[0] ?? 0, 1)} -> ${round(loadAfter[0] ?? 0, 1)} on ${cpus().length} cores; ${missed.length === 0 ? 'every goal met' : `missed: ${missed.map(([k]) => k).join(', ')}`}`,
      metrics: Object.fromEntries(Object.entries(rows).map(([k, r]) => [k, r.value])),
      rows,
      figures,
    };
  } catch (e) {
    stages.push((e as Error).message);
    return incomplete('scale-reports', stages.join('; '), { stages });
  }
}
