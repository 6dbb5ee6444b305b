/**
 * `npm run bench -- scale --json` (this file's name matches `scale`): the metrics engine at size, on the generated
 * warehouse (bench/warehouse.ts, with splits, orphan owners and stage history): `medium` by default (500 reps,
 * 100,000 deals, 150,000 activities), QT_BENCH_SIZE=tiny (60 reps) or large (5,000 reps, 1,000,000 deals,
 * 5,000,000 activities). QT_BENCH_SLOPE=1 also measures the full recompute's RSS on a 2,000-rep, 400,000-deal
 * warehouse, for the slope. Rows:
 * - `oneChangeWarm`: ms from a deal's amount edited and its rep-period marked dirty to the rep's, team's, region's
 *   and org's snapshots committed, by an engine with its model cached (median of 5). Goal < 100.
 * - `oneChangeWarmSpeedup`: the full recompute's time over that. Goal >= 100.
 * - `oneChangeCold`: s for the same by an engine with nothing cached (a fresh `sync` or worker; median of 5, each a
 *   new engine in this process, so module loading is not counted). Goal < 2.
 * - `recomputeRss`: MB, the peak RSS (VmHWM) of `quota-tracker recompute` (a full recompute in its own process).
 *   Goal < 512 (at `large`).
 * Figures: client CPU seconds beside every time (the machine is shared: compare CPU, not only wall time), where
 * the cold path spends its time (`lastTimings`), and the load average before and after.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sql } from 'kysely';
import { stringify } from 'yaml';
import { validateConfig } from '../src/config/load.ts';
import { connect } from '../src/db/index.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { MetricsEngine, markDirty } from '../src/metrics/engine/engine.ts';
import { admin } from './admin.ts';
import type { BenchResult } from './index.ts';
import { incomplete, median, row } from './rows.ts';
import { addSplitsOrphansAndHistory, generateWarehouse, WAREHOUSE_AS_OF } from './warehouse.ts';

const AS_OF = WAREHOUSE_AS_OF;
const PERIOD = 'FY2026-Q2';
const RUNS = 5;

type Size = { reps: number; deals: number; activities: number };
const SIZES: Record<string, Size> = {
  tiny: { reps: 60, deals: 6_000, activities: 9_000 },
  medium: { reps: 500, deals: 100_000, activities: 150_000 },
  slope: { reps: 2_000, deals: 400_000, activities: 600_000 },
  large: { reps: 5_000, deals: 1_000_000, activities: 5_000_000 },
};

const round = (x: number, d = 2) => Number(x.toFixed(d));
const cpuS = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

/** A fresh database with a generated warehouse; `done` drops it. */
async function warehouse(server: string, size: Size) {
  const name = `h22c_engine_${randomBytes(4).toString('hex')}`;
  await admin(server, `create database ${name}`);
  const u = new URL(server);
  u.pathname = `/${name}`;
  const url = u.toString();
  const db = await connect(url, 4);
  const done = async () => {
    await db.destroy();
    await admin(server, `drop database if exists ${name} with (force)`).catch(() => undefined);
  };
  const t = performance.now();
  try {
    await migrateToLatest(db);
    await generateWarehouse(db, size);
    await addSplitsOrphansAndHistory(db, size.reps);
  } catch (e) {
    await done();
    throw e;
  }
  return { db, url, generateS: (performance.now() - t) / 1000, done };
}

/** `quota-tracker recompute` in its own process: wall s, CPU s and peak RSS (MB) read from /proc while it ran. */
async function recomputeInChild(url: string): Promise<{ s: number; cpuS: number; rssMb: number }> {
  const cfg = join(tmpdir(), `h22c-engine-${randomBytes(4).toString('hex')}.yaml`);
  await writeFile(
    cfg,
    stringify({
      database: { url },
      logLevel: 'warn',
      calendar: { timezone: 'America/New_York' },
      forecast: { backtest: { enabled: false } },
    }),
  );
  const bin = resolve(import.meta.dirname, '../bin/quota-tracker.js');
  const t = performance.now();
  const child = spawn(process.execPath, [bin, 'recompute', '--config', cfg], {
    env: { ...process.env, QUOTA_TRACKER_NOW: `${AS_OF}T15:00:00Z` },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-2000);
  });
  let rssKb = 0;
  let ticks = 0;
  const tick = Number(process.env.CLK_TCK ?? 100);
  const poll = setInterval(async () => {
    try {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      rssKb = Math.max(rssKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
      const stat = (await readFile(`/proc/${child.pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
      ticks = Number(stat[11]) + Number(stat[12]);
    } catch {
      // The process has exited between two polls.
    }
  }, 50);
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  clearInterval(poll);
  await rm(cfg, { force: true });
  if (code !== 0) throw new Error(`recompute exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`);
  return { s: (performance.now() - t) / 1000, cpuS: ticks / tick, rssMb: rssKb / 1024 };
}

export async function run(): Promise<BenchResult> {
  const sizeName = process.env.QT_BENCH_SIZE && SIZES[process.env.QT_BENCH_SIZE] ? process.env.QT_BENCH_SIZE : 'medium';
  const size = SIZES[sizeName] as Size;
  const server = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const loadBefore = loadavg();
  const w = await warehouse(server, size);
  const { db } = w;
  try {
    const config = validateConfig({
      calendar: { timezone: 'America/New_York' },
      forecast: { backtest: { enabled: false } },
    });
    // The full recompute in its own process (its peak RSS), then once here for the warm engine.
    const child = await recomputeInChild(w.url);
    const t = performance.now();
    const c = process.cpuUsage();
    // `coldStart: 'full'`: its first change loads the whole model and keeps it (the full recompute, shard by shard,
    // leaves nothing cached); that change primes it and is not counted.
    const warm = new MetricsEngine({ db, config, workerId: 'bench-warm', coldStart: 'full' });
    await warm.recomputeAll(AS_OF);
    const fullS = (performance.now() - t) / 1000;
    const fullCpuS = cpuS(process.cpuUsage(c));
    const fullTimingsMs = Object.fromEntries(Object.entries(warm.lastTimings).map(([k, v]) => [k, round(v, 0)]));

    const deals = await sql<{ external_id: string; owner_external_id: string }>`
      select external_id, owner_external_id from deals where stage_category = 'won' and close_date between '2026-04-01' and ${AS_OF}
      order by external_id limit ${2 * RUNS + 4}`.execute(db);
    const change = async (engine: MetricsEngine, i: number) => {
      const d = deals.rows[i];
      if (!d) throw new Error('too few won deals this quarter');
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      await sql`update deals set amount = amount + 1000 where connection_id = 'sf' and external_id = ${d.external_id}`.execute(
        db,
      );
      await markDirty(db, [{ subjectKey: `sf:${d.owner_external_id}`, periodId: PERIOD, reason: 'bench' }]);
      const r = await engine.runDirty(AS_OF);
      if (r.recomputed.length < 4) throw new Error(`one change recomputed ${r.recomputed.join(', ')}`);
      return {
        ms: performance.now() - t0,
        cpuS: cpuS(process.cpuUsage(c0)),
        subjects: r.recomputed.length,
        timings: { ...engine.lastTimings },
      };
    };
    await change(warm, 2 * RUNS + 3);
    const warmRuns = [];
    for (let i = 0; i < RUNS; i++) warmRuns.push(await change(warm, i));
    const coldRuns = [];
    for (let i = 0; i < RUNS; i++)
      coldRuns.push(await change(new MetricsEngine({ db, config, workerId: `bench-cold-${i}` }), RUNS + i));
    // The same with the whole model loaded (`coldStart: 'full'`, what every cold start did before cold.ts).
    const fullLoadRuns = [];
    for (let i = 0; i < 3; i++)
      fullLoadRuns.push(
        await change(new MetricsEngine({ db, config, workerId: `bench-full-${i}`, coldStart: 'full' }), 2 * RUNS + i),
      );
    const warmMs = median(warmRuns.map((r) => r.ms));
    const coldMs = median(coldRuns.map((r) => r.ms));
    const coldMedian = coldRuns.find((r) => r.ms === coldMs);

    let slope: Record<string, number> | null = null as Record<string, number> | null;
    if (process.env.QT_BENCH_SLOPE === '1' && sizeName !== 'slope') {
      const big = await warehouse(server, SIZES.slope as Size).catch((e: Error) => {
        slope = { failed: 1 };
        console.error(`the slope's warehouse: ${e.message}`);
        return null;
      });
      if (big)
        try {
          const r = await recomputeInChild(big.url);
          slope = {
            reps: (SIZES.slope as Size).reps,
            deals: (SIZES.slope as Size).deals,
            rssMb: round(r.rssMb, 0),
            s: round(r.s),
            cpuS: round(r.cpuS),
            mbPer100kDeals: round(((r.rssMb - child.rssMb) / ((SIZES.slope as Size).deals - size.deals)) * 100_000, 1),
          };
        } finally {
          await big.done();
        }
    }
    const loadAfter = loadavg();
    const rows = {
      oneChangeWarm: row(warmMs, 'ms', '< 100'),
      oneChangeWarmSpeedup: row((fullS * 1000) / warmMs, 'ratio', '>= 100'),
      oneChangeCold: row(coldMs / 1000, 's', '< 2'),
      recomputeRss: row(child.rssMb, 'MB', '< 512'),
    };
    const figures = {
      size: sizeName,
      ...size,
      generateS: round(w.generateS),
      fullRecomputeS: round(fullS),
      fullRecomputeCpuS: round(fullCpuS),
      fullRecomputeTimingsMs: fullTimingsMs,
      fullRecomputeChild: { s: round(child.s), cpuS: round(child.cpuS), rssMb: round(child.rssMb, 0) },
      warmRunsMs: warmRuns.map((r) => round(r.ms, 1)),
      warmCpuS: round(median(warmRuns.map((r) => r.cpuS)), 3),
      coldRunsMs: coldRuns.map((r) => round(r.ms, 0)),
      coldCpuS: round(median(coldRuns.map((r) => r.cpuS)), 3),
      coldFromStoredState: coldRuns.every((r) => 'cold' in r.timings),
      coldFullLoadRunsMs: fullLoadRuns.map((r) => round(r.ms, 0)),
      coldFullLoadCpuS: round(median(fullLoadRuns.map((r) => r.cpuS)), 3),
      coldTimingsMs: Object.fromEntries(Object.entries(coldMedian?.timings ?? {}).map(([k, v]) => [k, round(v, 1)])),
      subjectsOneChange: coldMedian?.subjects ?? 0,
      ...(slope ? { rssSlope: slope } : {}),
      cores: cpus().length,
      loadAverageBefore: loadBefore.map((x) => round(x)),
      loadAverageAfter: loadAfter.map((x) => round(x)),
    };
    const missed = Object.entries(rows).filter(([, r]) => !r.met);
    return {
      name: `scale-engine (${sizeName})`,
      ok: true,
      summary: `one change ${warmMs.toFixed(1)} ms warm, ${(coldMs / 1000).toFixed(2)} s cold; full recompute ${fullS.toFixed(1)} s, ${child.rssMb.toFixed(0)} MB peak RSS in its own process; load ${loadBefore[0]?.toFixed(1)} -> ${loadAfter[0]?.toFixed(1)} on ${cpus().length} cores; ${missed.length === 0 ? 'every goal met' : `missed: ${missed.map(([k]) => k).join(', ')}`}`,
      metrics: Object.fromEntries(Object.entries(rows).map(([k, r]) => [k, r.value])),
      rows,
      figures,
    };
  } catch (e) {
    return incomplete('scale-engine', (e as Error).message);
  } finally {
    await w.done();
  }
}
