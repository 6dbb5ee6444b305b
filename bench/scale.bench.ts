/**
 * `npm run bench -- scale [--json]`: the Salesforce read at scale, as a user runs it. The `large` sandbox (lazy:
 * 5,000 reps, 1,000,000 opportunities with stage history, 5,000,000 activities) with QT_HEAVY=1 or
 * QT_BENCH_SIZE=large; otherwise the same lazy org at a twentieth (250 reps, 50,000 opportunities, 250,000
 * activities), so that an ordinary run takes minutes. The product's own `sync --no-writeback` runs as a child
 * process against it, then an incremental `sync --stream deals` after 2,000 deals changed. Rows:
 *
 * - `syncVsCopy`: records per second of the initial sync (from its sync_runs rows: records over the span from the
 *   first stream's start to the last one's end) against `COPY` of the same rows (psql `\copy`) into tables made
 *   `LIKE` the warehouse's (keys, checks and indexes included), in the same database. Goal >= 0.25.
 * - `apiCallsPer1000Bulk` / `apiCallsPer1000Rest`: CRM calls per 1,000 records of the initial (bulk) sync and of
 *   the incremental (REST) one, each beside its minimum (one call per bulk result set of BULK_MAX_RECORDS or REST
 *   page of 2,000 of each stream). Goals: bulk at most REST's own minimum, 0.5 per 1,000; REST incremental at most 2x its minimum.
 * - `syncRss`: peak resident memory of the sync child while its streams were syncing (sampled from
 *   /proc/<pid>/status every 200 ms; the metrics recompute `sync` runs afterwards is reported apart). Goal < 512 MB.
 *
 * On DATABASE_URL when set, else an embedded PostgreSQL under .quota-tracker/bench-pg. A stage that does not
 * complete (a child exiting non-zero) makes the bench fail; a goal missed is a row with `met: false`.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { sandboxLogin } from '../src/cli/commands/sandbox.ts';
import { BULK_MAX_RECORDS } from '../src/connectors/salesforce/read.ts';
import { startEmbeddedServer } from '../src/db/embedded.ts';
import { startSalesforceSandbox } from '../src/sandbox/salesforce/index.ts';
import type { BenchResult } from './index.ts';
import { incomplete, row } from './rows.ts';

const BIN = resolve(import.meta.dirname, '../bin/quota-tracker.js');
const CHANGED = 2_000;
const SYNCED_TABLES = [
  'reps',
  'crm_roles',
  'deals',
  'deal_stage_history',
  'deal_line_items',
  'deal_splits',
  'activities',
  'leads',
  'quotas',
  'crm_fiscal_periods',
];

async function query<T>(url: string, text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text)).rows as T[];
  } finally {
    await c.end();
  }
}

function psql(url: string, command: string): Promise<void> {
  return new Promise((done, fail) => {
    execFile('psql', [url, '-v', 'ON_ERROR_STOP=1', '-q', '-c', command], { maxBuffer: 1 << 20 }, (e, _o, err) =>
      e ? fail(new Error(`psql ${command.slice(0, 60)}: ${err || e.message}`)) : done(),
    );
  });
}

/** CPU seconds (user + system) of a process so far, from /proc/<pid>/stat; -1 once it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return -1;
  }
}

interface ChildRun {
  code: number;
  stderr: string;
  /**
   * [ms since start, RSS bytes, child CPU s, PostgreSQL backends' CPU s, this process's CPU s] every 200 ms. This
   * process is the sandbox the child reads from (and the sampling, a small part).
   */
  samples: Array<[number, number, number, number, number]>;
  peakRss: number;
  startedAt: number;
}

/**
 * Runs the real bin and samples its resident memory (VmRSS, and VmHWM for the peak) until it exits, with its CPU
 * time and that of the PostgreSQL backends serving `dbName` (when the server runs on this machine; the machine is
 * shared, so CPU seconds compare runs where wall time cannot).
 */
function runBin(args: string[], cwd: string, server?: string, dbName?: string): Promise<ChildRun> {
  return new Promise((done) => {
    const backends = new Map<number, number>();
    let monitor: pg.Client | undefined;
    if (server && dbName) {
      monitor = new pg.Client({ connectionString: server });
      monitor.connect().catch(() => {
        monitor = undefined;
      });
    }
    let polling = false;
    const pollBackends = () => {
      if (!monitor || polling) return;
      polling = true;
      monitor
        .query('select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [dbName])
        .then((r) => {
          for (const { pid } of r.rows as Array<{ pid: number }>) {
            const c = cpuSeconds(pid);
            if (c >= 0) backends.set(pid, Math.max(backends.get(pid) ?? 0, c));
          }
        })
        .catch(() => undefined)
        .finally(() => {
          polling = false;
        });
    };
    const startedAt = Date.now(); // wall-clock: sample times are matched with sync_runs stamps
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const samples: ChildRun['samples'] = [];
    let peakRss = 0;
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const sample = () => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
        const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
        pollBackends();
        const pgCpu = [...backends.values()].reduce((a, b) => a + b, 0);
        const own = process.cpuUsage();
        samples.push([Date.now(), rss, cpuSeconds(child.pid ?? 0), pgCpu, (own.user + own.system) / 1e6]); // wall-clock: see startedAt
        peakRss = Math.max(peakRss, hwm);
      } catch {
        // the child has exited between two samples
      }
    };
    const timer = setInterval(sample, 200);
    child.on('exit', (code) => {
      clearInterval(timer);
      monitor?.end().catch(() => undefined);
      done({ code: code ?? 1, stderr, samples, peakRss, startedAt });
    });
  });
}

export async function run(): Promise<BenchResult> {
  const heavy = process.env.QT_HEAVY === '1' || process.env.QT_BENCH_SIZE === 'large';
  // QT_BENCH_SIZE=tiny: a smoke run of every stage in seconds.
  const tiny = process.env.QT_BENCH_SIZE === 'tiny';
  const counts = heavy
    ? undefined
    : tiny
      ? { reps: 20, deals: 2_000, activities: 10_000 }
      : { reps: 250, deals: 50_000, activities: 250_000 };
  // Above the threshold: the opportunities, their history and the activities (bulk, as at full size).
  const bulkThreshold = heavy ? 100_000 : tiny ? 1_000 : 10_000;
  const anchorDate = new Date().toISOString().slice(0, 10); // wall-clock: the sandbox lives on today's date
  const stages: string[] = [];

  let embedded: Awaited<ReturnType<typeof startEmbeddedServer>> | undefined;
  let server = process.env.DATABASE_URL;
  if (!server) {
    embedded = await startEmbeddedServer({ dataDir: '.quota-tracker/bench-pg' });
    server = embedded.adminUrl;
  }
  const name = `qt_scale_${randomBytes(4).toString('hex')}`;
  await query(server, `create database ${name}`);
  const u = new URL(server);
  u.pathname = `/${name}`;
  const dbUrl = u.toString();
  const dir = await mkdtemp(join(tmpdir(), 'qt-scale-'));

  const t0 = performance.now();
  const sb = await startSalesforceSandbox({
    seed: 21,
    size: 'large',
    anchorDate,
    ...(counts ? { largeCounts: counts } : {}),
  });
  const sandboxS = (performance.now() - t0) / 1000;
  try {
    const config = join(dir, 'quota-tracker.yaml');
    await writeFile(
      config,
      stringify({
        database: { url: dbUrl },
        connections: [{ ...sandboxLogin(sb, 'sf'), bulkThreshold }],
        logLevel: 'warn',
      }),
    );

    // --- initial sync, every stream ---
    const initial = await runBin(['sync', '--no-writeback', '--config', config], dir, server, name);
    if (initial.code !== 0) {
      stages.push(`initial sync exited ${initial.code}: ${initial.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      throw new Error(stages.join('; '));
    }
    const [runs] = await query<{ read: string; calls: string; first: Date; last: Date }>(
      dbUrl,
      `select sum(records_read + records_quarantined) as read, sum(api_calls) as calls,
         min(started_at) as first, max(finished_at) as last from sync_runs where status = 'succeeded'`,
    );
    const perStream = await query<{
      stream: string;
      read: string;
      calls: string;
      started_at: Date;
      finished_at: Date | null;
    }>(
      dbUrl,
      `select stream, records_read + records_quarantined as read, api_calls as calls, started_at, finished_at
         from sync_runs order by id`,
    );
    const records = Number(runs!.read);
    const syncS = (runs!.last.getTime() - runs!.first.getTime()) / 1000;
    const syncRate = records / syncS;
    const syncEnd = runs!.last.getTime();
    const rssDuringSync = Math.max(0, ...initial.samples.filter(([t]) => t <= syncEnd).map(([, r]) => r));
    // CPU seconds over the sync's span (the samples nearest its first start and last end).
    const during = initial.samples.filter(([t]) => t >= runs!.first.getTime() && t <= syncEnd);
    const cpuSpan = (k: 2 | 3 | 4) =>
      during.length > 1 ? Number(((during.at(-1)![k] as number) - (during[0]![k] as number)).toFixed(1)) : null;
    const bulkStreams = new Set(['opportunities', 'opportunity_history', 'tasks', 'events']);
    const minimumInitial = perStream.reduce(
      (n, s) => n + Math.max(1, Math.ceil(Number(s.read) / (bulkStreams.has(s.stream) ? BULK_MAX_RECORDS : 2_000))),
      0,
    );
    const initialCalls = Number(runs!.calls);

    // --- incremental sync of the deals after CHANGED changes (REST) ---
    sb.store.advance(60 * 60_000);
    const ids = await query<{ external_id: string }>(
      dbUrl,
      `select external_id from deals where not is_deleted order by external_id limit ${CHANGED}`,
    );
    for (const { external_id: id } of ids) sb.store.update('Opportunity', id, { Name: `changed ${id}` });
    sb.store.advance(60_000);
    const before = await query<{ id: string }>(dbUrl, 'select max(id) as id from sync_runs');
    const inc = await runBin(['sync', '--no-writeback', '--stream', 'deals', '--config', config], dir);
    if (inc.code !== 0) {
      stages.push(`incremental sync exited ${inc.code}: ${inc.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      throw new Error(stages.join('; '));
    }
    const [incRun] = await query<{ read: string; calls: string }>(
      dbUrl,
      `select records_read + records_quarantined as read, api_calls as calls from sync_runs where id > ${before[0]!.id}`,
    );
    const incRead = Number(incRun!.read);
    const incCalls = Number(incRun!.calls);
    const incMinimum = Math.ceil(incRead / 2_000);

    // --- COPY of the same rows into keyed tables like the warehouse's ---
    let copyRows = 0;
    let copyS = 0;
    for (const table of SYNCED_TABLES) {
      const file = join(dir, `${table}.copy`);
      await psql(dbUrl, `\\copy (select * from ${table}) to '${file}'`);
      await psql(dbUrl, `create table anchor_${table} (like ${table} including all)`);
      const [{ n }] = (await query<{ n: string }>(dbUrl, `select count(*) as n from ${table}`)) as [{ n: string }];
      const c0 = performance.now();
      await psql(dbUrl, `\\copy anchor_${table} from '${file}'`);
      copyS += (performance.now() - c0) / 1000;
      copyRows += Number(n);
      await rm(file);
    }
    const copyRate = copyRows / copyS;

    const rows = {
      syncVsCopy: row(syncRate / copyRate, 'ratio', '>= 0.25'),
      apiCallsPer1000Bulk: {
        ...row((initialCalls / records) * 1000, 'calls per 1,000 records', '<= 0.5'),
        minimum: Number(((minimumInitial / records) * 1000).toFixed(3)),
      },
      apiCallsPer1000Rest: {
        ...row(
          (incCalls / incRead) * 1000,
          'calls per 1,000 records',
          `<= ${((2 * incMinimum * 1000) / incRead).toFixed(3)}`,
        ),
        minimum: Number(((incMinimum / incRead) * 1000).toFixed(3)),
      },
      syncRss: row(rssDuringSync / 1e6, 'MB', '< 512'),
    };
    const figures = {
      size: heavy ? 'large' : tiny ? 'tiny' : 'large/20',
      bulkThreshold,
      sandboxStartS: Number(sandboxS.toFixed(1)),
      records,
      syncS: Number(syncS.toFixed(1)),
      syncRecordsPerS: Math.round(syncRate),
      copyRows,
      copyS: Number(copyS.toFixed(1)),
      copyRecordsPerS: Math.round(copyRate),
      initialApiCalls: initialCalls,
      initialMinimumCalls: minimumInitial,
      incrementalRead: incRead,
      incrementalApiCalls: incCalls,
      peakRssWholeProcessMb: Math.round(initial.peakRss / 1e6),
      syncCpuClientS: cpuSpan(2),
      syncCpuPostgresS: cpuSpan(3),
      // The bench's own process over the same span: the sandbox serving the sync's calls.
      syncCpuSandboxS: cpuSpan(4),
      loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
      // Seconds from the first stream's start: where each stream sits in the span, and which one ends it.
      perStream: Object.fromEntries(
        perStream.map((s) => [
          s.stream,
          {
            read: Number(s.read),
            calls: Number(s.calls),
            startS: Number(((s.started_at.getTime() - runs!.first.getTime()) / 1000).toFixed(2)),
            endS: s.finished_at ? Number(((s.finished_at.getTime() - runs!.first.getTime()) / 1000).toFixed(2)) : null,
            seconds: s.finished_at
              ? Number(((s.finished_at.getTime() - s.started_at.getTime()) / 1000).toFixed(2))
              : null,
          },
        ]),
      ),
    };
    const missed = Object.entries(rows).filter(([, r]) => !r.met);
    return {
      name: `scale (${figures.size})`,
      ok: true,
      summary: `${records} records synced in ${figures.syncS} s (${figures.syncRecordsPerS}/s) vs COPY ${figures.copyRecordsPerS}/s; ${initialCalls} calls initial (minimum ${minimumInitial}); incremental ${incRead} read in ${incCalls} calls; peak RSS while syncing ${Math.round(rssDuringSync / 1e6)} MB (whole process ${figures.peakRssWholeProcessMb} MB); ${missed.length === 0 ? 'every goal met' : `missed: ${missed.map(([k]) => k).join(', ')}`}`,
      metrics: Object.fromEntries(Object.entries(rows).map(([k, r]) => [k, r.value])),
      rows,
      figures,
    };
  } catch (e) {
    return incomplete('scale', (e as Error).message, { stages });
  } finally {
    await sb.close();
    await query(server, `drop database if exists ${name} with (force)`).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    await embedded?.stop();
  }
}
