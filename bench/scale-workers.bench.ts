/**
 * `npm run bench -- scale --json` (this file's name matches `scale`): a full recompute split into rep shards
 * (`queue.recomputeShards`, QT_BENCH_SHARDS or 6) on Redis, timed with 1 and with 3 real `quota-tracker worker`
 * processes, on the recompute bench's `medium` warehouse (500 reps, 100,000 deals, 150,000 activities, generated
 * straight into a fresh database; QT_BENCH_SIZE=tiny: 60 reps, 6,000 deals). Kept apart from scale.bench.ts, whose
 * stages are the sync's on the sandbox; the sharded recompute needs a warehouse, not a CRM.
 *
 * Each measure: a `daily-recompute` job queued, to the run's merge committed (its `recompute_runs` row done), the
 * median of three runs on the same worker processes (the first warms them, as a running service's are). Rows:
 * - `recomputeFull1Worker`: seconds with one worker. Goal < 60.
 * - `recomputeFull3Workers`: seconds with three. Goal: at most the one-worker time / 1.6.
 * - `recomputeWorkersSpeedup`: the ratio of the two. Goal >= 1.6.
 * Figures: the same recompute in this one process (`recomputeAll`, no shards, no queue); each run's CPU seconds
 * (workers and the PostgreSQL backends of the database) and what they bound: `coresBusy1Worker` (one worker's CPU
 * over its wall time) and `speedupCeiling` (the cores over that: the most more workers could gain here); the
 * machine's cores and load average before and after (other processes on the machine slow both measures alike; the
 * ratio is the row).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { stringify } from 'yaml';
import { validateConfig } from '../src/config/load.ts';
import { connect } from '../src/db/index.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { createQueueBackend } from '../src/jobs/backend.ts';
import { QUEUE_NAME } from '../src/jobs/runtime.ts';
import { MetricsEngine } from '../src/metrics/engine/engine.ts';
import { admin } from './admin.ts';
import type { BenchResult } from './index.ts';
import { incomplete, median, row } from './rows.ts';
import { generateWarehouse } from './warehouse.ts';

const BIN = resolve(import.meta.dirname, '../bin/quota-tracker.js');
const AS_OF = '2026-06-12';
const RUNS = 3;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat (clock ticks of 1/100 s); 0 once gone. */
function cpuSecondsOf(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces, hence from the last ')'): utime is the 12th, stime 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/** A `quota-tracker worker`; resolves once it takes jobs. */
function startWorker(cfg: string, dir: string): Promise<ChildProcess> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, 'worker', '--config', cfg], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', QUOTA_TRACKER_NOW: `${AS_OF}T15:00:00Z` },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
      if (err.includes('quota-tracker worker is running')) done(child);
    });
    child.on('exit', (code) =>
      fail(new Error(`a worker exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`)),
    );
  });
}

async function stop(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((r) => {
          if (c.exitCode !== null) return r();
          c.removeAllListeners('exit');
          c.once('exit', () => r());
          c.kill('SIGTERM');
        }),
    ),
  );
}

export async function run(): Promise<BenchResult> {
  const tiny = process.env.QT_BENCH_SIZE === 'tiny';
  const size = tiny
    ? { reps: 60, deals: 6_000, activities: 9_000 }
    : { reps: 500, deals: 100_000, activities: 150_000 };
  const shards = Number(process.env.QT_BENCH_SHARDS) > 0 ? Number(process.env.QT_BENCH_SHARDS) : 6;
  const server = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  const prefix = `qt_bench_${randomBytes(4).toString('hex')}`;
  const name = `qt_workers_${randomBytes(4).toString('hex')}`;
  await admin(server, `create database ${name}`);
  const u = new URL(server);
  u.pathname = `/${name}`;
  const dbUrl = u.toString();
  const db = await connect(dbUrl, 4);
  const dir = resolve(import.meta.dirname, '..');
  const cfg = join(tmpdir(), `${prefix}.yaml`);
  const raw = {
    database: { url: dbUrl },
    logLevel: 'warn',
    queue: { redisUrl, prefix, recomputeShards: shards },
    calendar: { timezone: 'America/New_York' },
    forecast: { backtest: { enabled: false } },
  };
  const backend = createQueueBackend({ redisUrl, databaseUrl: dbUrl, prefix });
  const children: ChildProcess[] = [];
  const loadBefore = loadavg();
  const stages: string[] = [];
  try {
    await migrateToLatest(db);
    await generateWarehouse(db, size);
    await writeFile(cfg, stringify(raw));
    const config = validateConfig(raw);

    // The same recompute in one process, no queue (and the config applied, so the workers' step is not a first one).
    const t = performance.now();
    await new MetricsEngine({ db, config, workerId: 'bench' }).recomputeAll(AS_OF);
    const inProcessS = (performance.now() - t) / 1000;

    const queue = backend.queue(QUEUE_NAME);
    /**
     * The CPU seconds each of the workers and of the PostgreSQL backends serving this database (this process's own
     * polling left out) has used, read into `seen` (the most seen per process: a backend that closes keeps what it
     * used until its last reading). What a run costs whatever else the machine runs, unlike its wall time. Read
     * from this machine's /proc: a PostgreSQL elsewhere (or in a container) gives no readings, and the figures then
     * count the workers only.
     */
    const readCpu = async (workers: ChildProcess[], seen: Map<number, number>): Promise<void> => {
      const backends = await sql<{ pid: number }>`select pid from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid()`.execute(db);
      for (const pid of [...workers.map((w) => w.pid ?? 0), ...backends.rows.map((b) => b.pid)]) {
        const c = cpuSecondsOf(pid);
        if (c > 0) seen.set(pid, Math.max(seen.get(pid) ?? 0, c));
      }
    };
    /** `run`'s result and the CPU seconds used while it ran: each process's last reading less its first (0 if new). */
    const cpuOf = async <T>(workers: ChildProcess[], run: () => Promise<T>): Promise<{ value: T; cpu: number }> => {
      const base = new Map<number, number>();
      await readCpu(workers, base);
      const seen = new Map(base);
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          await readCpu(workers, seen);
          await sleep(200);
        }
      })();
      let value: T;
      try {
        value = await run();
      } finally {
        sampling = false;
        await sampler;
      }
      await readCpu(workers, seen);
      let cpu = 0;
      for (const [pid, c] of seen) cpu += c - (base.get(pid) ?? 0);
      return { value, cpu };
    };
    /** Seconds from a daily-recompute queued to its sharded run merged. */
    const measure = async (): Promise<number> => {
      const before = await db
        .selectFrom('recompute_runs')
        .select((eb) => eb.fn.max('id').as('id'))
        .executeTakeFirst();
      const after = Number(before?.id ?? 0);
      const t0 = performance.now();
      await queue.add('daily-recompute', { v: 1 });
      for (;;) {
        const r = await db
          .selectFrom('recompute_runs')
          .select(['status'])
          .where('id', '>', after)
          .where('status', '<>', 'running')
          .executeTakeFirst();
        if (r?.status === 'done') return (performance.now() - t0) / 1000;
        if (r?.status === 'abandoned') throw new Error('the sharded run was abandoned');
        if (performance.now() - t0 > 600_000) throw new Error('the sharded run did not finish in 10 minutes');
        await sleep(50);
      }
    };
    const timed: Record<number, number[]> = { 1: [], 3: [] };
    const cpu: Record<number, number[]> = { 1: [], 3: [] };
    for (const n of [1, 3]) {
      const started = await Promise.all(Array.from({ length: n }, () => startWorker(cfg, dir)));
      children.push(...started);
      for (let i = 0; i < RUNS; i++) {
        const r = await cpuOf(started, measure);
        timed[n]?.push(r.value);
        cpu[n]?.push(r.cpu);
      }
      await stop(started);
    }
    const one = median(timed[1] ?? []);
    const three = median(timed[3] ?? []);
    // The most any number of workers could gain here: the machine's cores over the cores one worker's run kept busy
    // (its CPU seconds, worker and PostgreSQL, over its wall time). Measured on a quiet machine, it says whether the
    // 1.6x goal can be met on it at all; under load the wall times stretch and the figure only bounds from below.
    const cpu1 = median(cpu[1] ?? []);
    const busy1 = cpu1 / one;
    const loadAfter = loadavg();
    const rows = {
      recomputeFull1Worker: row(one, 's', '< 60'),
      recomputeFull3Workers: row(three, 's', `<= ${(one / 1.6).toFixed(3)}`),
      recomputeWorkersSpeedup: row(one / three, 'ratio', '>= 1.6'),
    };
    const figures = {
      size: tiny ? 'tiny' : 'medium',
      ...size,
      shards,
      runs1Worker: (timed[1] ?? []).map((x) => Number(x.toFixed(2))),
      runs3Workers: (timed[3] ?? []).map((x) => Number(x.toFixed(2))),
      inProcessRecomputeAllS: Number(inProcessS.toFixed(2)),
      cpuSeconds1Worker: (cpu[1] ?? []).map((x) => Number(x.toFixed(2))),
      cpuSeconds3Workers: (cpu[3] ?? []).map((x) => Number(x.toFixed(2))),
      coresBusy1Worker: Number(busy1.toFixed(2)),
      speedupCeiling: Number((cpus().length / busy1).toFixed(2)),
      cores: cpus().length,
      loadAverageBefore: loadBefore.map((x) => Number(x.toFixed(2))),
      loadAverageAfter: loadAfter.map((x) => Number(x.toFixed(2))),
    };
    const missed = Object.entries(rows).filter(([, r]) => !r.met);
    return {
      name: `scale-workers (${figures.size}, ${shards} shards)`,
      ok: true,
      summary: `full recompute ${one.toFixed(1)} s with 1 worker, ${three.toFixed(1)} s with 3 (${(one / three).toFixed(2)}x; one worker kept ${busy1.toFixed(2)} of ${cpus().length} cores busy, so at most ${(cpus().length / busy1).toFixed(2)}x here); in one process without shards ${inProcessS.toFixed(1)} s; load ${loadBefore[0]?.toFixed(1)} -> ${loadAfter[0]?.toFixed(1)} on ${cpus().length} cores; ${missed.length === 0 ? 'every goal met' : `missed: ${missed.map(([k]) => k).join(', ')}`}`,
      metrics: Object.fromEntries(Object.entries(rows).map(([k, r]) => [k, r.value])),
      rows,
      figures,
    };
  } catch (e) {
    stages.push((e as Error).message);
    return incomplete('scale-workers', stages.join('; '), { stages });
  } finally {
    await stop(children);
    await backend.close();
    const r = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
    await r.connect().catch(() => undefined);
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
    r.disconnect();
    await db.destroy();
    await admin(server, `drop database if exists ${name} with (force)`).catch(() => undefined);
    await rm(cfg, { force: true });
  }
}
