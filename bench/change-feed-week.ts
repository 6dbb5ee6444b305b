/**
 * A simulated week of hourly incremental syncs, for the `changeFeedBound` row of scale-reports.bench.ts: the
 * Salesforce sandbox with its life clock moved by hand (four 15-minute ticks of changes an hour), and the product's
 * `sync --no-writeback` run as a child process each simulated hour with QUOTA_TRACKER_NOW at the sandbox's clock
 * (each sync then runs the metrics step, which consumes the dirty marks the sync left). After day 1 and day 7:
 * the rows and bytes of every table that is not synced CRM data, so what grows per sync shows.
 *
 * The `small` sandbox with a sync every four hours by default (a run of minutes); the `medium` sandbox (500 reps)
 * hourly with QT_BENCH_SIZE=large or QT_HEAVY=1; tiny: every twelve hours; QT_BENCH_FEED_HOURS sets the spacing.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { sandboxLogin } from '../src/cli/commands/sandbox.ts';
import { startSalesforceSandbox } from '../src/sandbox/salesforce/index.ts';
import { createLifeClock } from '../src/sandbox/salesforce/life.ts';
import { admin } from './admin.ts';
import type { BenchRow } from './index.ts';

const BIN = resolve(import.meta.dirname, '../bin/quota-tracker.js');
/** Synced CRM data and the people tables: they grow with the org, not with the number of syncs. */
const DATA = new Set([
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
  'persons',
  'person_bindings',
  'org_units',
  'memberships',
  'fx_rates',
]);

interface TableSize {
  rows: number;
  kb: number;
}

async function sizes(url: string): Promise<Record<string, TableSize>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('analyze');
    const r = await c.query<{ t: string; rows: string; kb: string }>(
      `select relname as t, n_live_tup as rows, pg_total_relation_size(relid) / 1024 as kb from pg_stat_user_tables order by relname`,
    );
    const out: Record<string, TableSize> = {};
    for (const x of r.rows) if (!DATA.has(x.t)) out[x.t] = { rows: Number(x.rows), kb: Number(x.kb) };
    return out;
  } finally {
    await c.end();
  }
}

function sync(cfg: string, at: Date): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, 'sync', '--no-writeback', '--config', cfg], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', QUOTA_TRACKER_NOW: at.toISOString() },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    child.on('close', (code) =>
      code === 0
        ? done()
        : fail(
            new Error(`sync at ${at.toISOString()} exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`),
          ),
    );
  });
}

export async function changeFeedWeek(
  server: string,
  tiny: boolean,
): Promise<{ rows: Record<string, BenchRow>; figures: Record<string, unknown>; summary: string }> {
  const heavy = process.env.QT_BENCH_SIZE === 'large' || process.env.QT_HEAVY === '1';
  const size = heavy ? 'medium' : 'small';
  // A sync takes 5-10 s on this shared machine: a week hourly is half an hour, so only with heavy (or asked for).
  const everyHours = Number(process.env.QT_BENCH_FEED_HOURS) || (heavy ? 1 : tiny ? 12 : 4);
  const name = `h22r_feed_${randomBytes(4).toString('hex')}`;
  await admin(server, `create database ${name}`);
  const u = new URL(server);
  u.pathname = `/${name}`;
  const sb = await startSalesforceSandbox({ seed: 22, size, anchorDate: '2026-06-08' });
  const cfg = join(tmpdir(), `${name}.yaml`);
  const t0 = performance.now();
  const load0 = loadavg()[0] ?? 0;
  try {
    await writeFile(
      cfg,
      stringify({
        database: { url: u.toString() },
        connections: [sandboxLogin(sb, 'sf')],
        calendar: { timezone: 'America/New_York' },
        forecast: { backtest: { enabled: false } },
        logLevel: 'warn',
      }),
    );
    const life = createLifeClock(sb.store, { seed: 22, advanceMs: 15 * 60_000 });
    await sync(cfg, sb.store.now());
    const initial = await sizes(u.toString());
    const syncS: number[] = [];
    let day1: Record<string, TableSize> | null = null;
    for (let hour = everyHours; hour <= 7 * 24; hour += everyHours) {
      for (let i = 0; i < 4 * everyHours; i++) life.tick();
      const t = performance.now();
      await sync(cfg, sb.store.now());
      syncS.push((performance.now() - t) / 1000);
      if (day1 === null && hour >= 24) day1 = await sizes(u.toString());
    }
    const day7 = await sizes(u.toString());
    const grew: Record<string, { initial: TableSize; day1: TableSize; day7: TableSize; rowsPerDay: number }> = {};
    for (const [t, s7] of Object.entries(day7)) {
      const s1 = day1?.[t] ?? { rows: 0, kb: 0 };
      if (s7.rows === s1.rows && s7.kb === s1.kb && (initial[t]?.rows ?? 0) === s7.rows) continue;
      grew[t] = {
        initial: initial[t] ?? { rows: 0, kb: 0 },
        day1: s1,
        day7: s7,
        rowsPerDay: Math.round((s7.rows - s1.rows) / 6),
      };
    }
    const left = day7.dirty_keys?.rows ?? 0;
    const rows: Record<string, BenchRow> = {
      // What the syncs left for the metrics step to consume after a week: every mark consumed and deleted.
      changeFeedBound: { value: left, unit: 'dirty marks', goal: '<= 0', met: left <= 0 },
    };
    const syncs = syncS.length;
    const figures = {
      sandbox: size,
      syncs,
      everyHours,
      medianSyncS: Number((syncS.sort((a, b) => a - b)[Math.floor(syncs / 2)] ?? 0).toFixed(2)),
      wallS: Number(((performance.now() - t0) / 1000).toFixed(1)),
      loadAverage: [Number(load0.toFixed(2)), Number((loadavg()[0] ?? 0).toFixed(2))],
      tablesThatMoved: grew,
    };
    const perDay = Object.entries(grew)
      .filter(([, g]) => g.rowsPerDay > 0)
      .map(([t, g]) => `${t} +${g.rowsPerDay}/day`)
      .join(', ');
    return {
      rows,
      figures,
      summary: `a week of ${syncs} syncs (${size} sandbox): ${left} dirty marks left; growing: ${perDay || 'nothing'}`,
    };
  } finally {
    await sb.close();
    await admin(server, `drop database if exists ${name} with (force)`).catch(() => undefined);
    await rm(cfg, { force: true });
  }
}
