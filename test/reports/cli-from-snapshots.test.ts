/**
 * `report team|org --format json` reads today's figures from the stored snapshots when they are current (the web
 * API's read model, no warehouse computed), and computes them when they are not (a dirty mark waiting, an
 * exchange-rate change waiting or being recomputed, a sharded run open, a document it cannot read): the real CLI
 * prints the same bytes either way, and the same as the builder computing from the warehouse. A stored figure
 * altered in the database shows which path the CLI process took.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock, setClock } from '../../src/clock.ts';
import { validateConfig } from '../../src/config/load.ts';
import { raiseRatesChanged, settleRatesChanged, takeRatesChanged } from '../../src/dirty/queue.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { renderReport } from '../../src/reports/render.ts';
import { buildReport, type ReportRequest } from '../../src/reports/report.ts';
import { goldenWarehouse } from '../fixtures/warehouse/load.ts';
import { repeatPass } from '../helpers/ci-pass.ts';
import type { TestDatabase } from '../helpers/db.ts';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/quota-tracker.js', import.meta.url));
const TODAY = '2026-06-12';
const NOW = `${TODAY}T16:00:00Z`;
const config = validateConfig({ calendar: { timezone: 'America/New_York' }, forecast: { trials: 2000 } });
let t: TestDatabase;
let configPath: string;

beforeAll(async () => {
  setClock(fixedClock(NOW));
  t = await goldenWarehouse();
  await new MetricsEngine({ db: t.db, config }).recomputeAll(TODAY);
  configPath = join(tmpdir(), `qt-report-snapshots-${process.pid}.yaml`);
  await writeFile(configPath, 'calendar: { timezone: America/New_York }\nforecast: { trials: 2000 }\n');
});
afterAll(async () => {
  setClock(undefined);
  await t.drop();
});

async function cli(...args: string[]): Promise<string> {
  return (await cliRun(...args)).stdout;
}

async function cliRun(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [bin, '--config', configPath, ...args, '--format', 'json'], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      DATABASE_URL: t.url,
      QUOTA_TRACKER_NOW: NOW,
      LOG_LEVEL: 'info',
    },
    maxBuffer: 10_000_000,
  });
}

const CASES: { args: string[]; req: ReportRequest }[] = [
  { args: ['report', 'team', '--team', 'West Enterprise'], req: { kind: 'team', team: 'West Enterprise' } },
  { args: ['report', 'org'], req: { kind: 'org' } },
];

async function computed(req: ReportRequest): Promise<string> {
  return `${renderReport('json', req.kind, await buildReport(t.db, new MetricsEngine({ db: t.db, config }), req))}\n`;
}

/** A figure no computation gives, written over the org snapshot's open pipeline (a figure only). */
const ALTERED = '987654.32';

// CLI processes on a pinned clock: the same day in every pass, so the first pass only.
describe.skipIf(repeatPass)('report team|org --format json', () => {
  it('prints the same bytes from the stored snapshots as computed from the warehouse', async () => {
    const fromSnapshots: string[] = [];
    for (const c of CASES) fromSnapshots.push(await cli(...c.args));
    // A mark waiting for a recompute: the snapshots are not current, so the CLI computes.
    await sql`insert into dirty_keys (subject_kind, subject_key, period_id, reason)
      values ('rep', 'sf:nobody', 'FY2026-Q2', 'test')`.execute(t.db);
    try {
      for (const [i, c] of CASES.entries()) {
        const printed = await cli(...c.args);
        expect(printed, c.req.kind).toBe(fromSnapshots[i]);
        expect(printed, c.req.kind).toBe(await computed(c.req));
        expect(JSON.parse(printed).subject.type, c.req.kind).toBe(c.req.kind);
      }
    } finally {
      await sql`delete from dirty_keys where reason = 'test'`.execute(t.db);
    }
  }, 120_000);

  it('reads the stored figure while the snapshots are current, and computes while anything waits', async () => {
    const org = await sql<{ m: string }>`select metrics::text as m from metric_snapshots
      where subject_kind = 'org' and period_id = 'FY2026-Q2'`.execute(t.db);
    const stored = org.rows[0]?.m as string;
    const open = /"open": ?"([0-9.]+)"/.exec(stored)?.[1] as string;
    expect(open).toBeDefined();
    const truth = await computed({ kind: 'org' });
    expect(truth).toContain(`"open": "${open}"`);
    await sql`update metric_snapshots set metrics = ${stored.replace(`"${open}"`, `"${ALTERED}"`)}::jsonb
      where subject_kind = 'org' and period_id = 'FY2026-Q2'`.execute(t.db);
    try {
      // Current: the CLI printed what the snapshot holds, so it read it.
      const fromSnapshot = await cliRun('report', 'org');
      expect(fromSnapshot.stdout).toContain(`"open": "${ALTERED}"`);
      expect(fromSnapshot.stderr).not.toContain('computed from the warehouse');
      const waiting: [string, () => Promise<unknown>, () => Promise<unknown>][] = [
        [
          'a dirty mark',
          () =>
            sql`insert into dirty_keys (subject_kind, subject_key, period_id, reason)
              values ('rep', 'sf:nobody', 'FY2026-Q2', 'test')`.execute(t.db),
          () => sql`delete from dirty_keys where reason = 'test'`.execute(t.db),
        ],
        // A rate change raises the flag and marks no key (src/dirty/queue.ts); a recompute that took it has not
        // stored its snapshots yet while the flag is still in place, taken.
        ['the rates flag', () => raiseRatesChanged(t.db), () => settle(t.db)],
        [
          'the rates flag taken',
          async () => {
            await raiseRatesChanged(t.db);
            expect(await takeRatesChanged(t.db)).toBe(true);
          },
          () => settle(t.db),
        ],
        [
          'a sharded run open',
          () =>
            sql`insert into recompute_runs (as_of, period_ids, config_hash, shards, pending, inputs_at, reason)
              values (${TODAY}, '{FY2026-Q2}', 'x', 2, 2, now(), 'test')`.execute(t.db), // wall-clock: a test row
          () => sql`delete from recompute_runs where reason = 'test'`.execute(t.db),
        ],
      ];
      for (const [what, raise, lower] of waiting) {
        await raise();
        try {
          const printed = await cliRun('report', 'org');
          expect(printed.stdout, what).toBe(truth);
          expect(printed.stderr, what).toContain('computed from the warehouse');
        } finally {
          await lower();
        }
      }
      // A document this version cannot read: computed, with the fallback's log line, not an error.
      await sql`update metric_snapshots set metrics = '{"subject": 1}'::jsonb
        where subject_kind = 'org' and period_id = 'FY2026-Q2'`.execute(t.db);
      const unreadable = await cliRun('report', 'org');
      expect(unreadable.stdout).toBe(truth);
      expect(unreadable.stderr).toContain('computed from the warehouse');
    } finally {
      await sql`update metric_snapshots set metrics = ${stored}::jsonb
        where subject_kind = 'org' and period_id = 'FY2026-Q2'`.execute(t.db);
    }
  }, 180_000);
});

async function settle(db: TestDatabase['db']): Promise<void> {
  await takeRatesChanged(db);
  await settleRatesChanged(db);
}
