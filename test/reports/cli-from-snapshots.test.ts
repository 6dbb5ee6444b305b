/**
 * `report team|org --format json` reads today's figures from the stored snapshots when they are current (the web
 * API's read model, no warehouse computed), and computes them when they are not (a dirty mark waiting): the real
 * CLI prints the same bytes either way, and the same as the builder computing from the warehouse.
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
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { ReportReader } from '../../src/reports/read-model.ts';
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
  const { stdout } = await run(process.execPath, [bin, '--config', configPath, ...args, '--format', 'json'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: t.url, QUOTA_TRACKER_NOW: NOW },
    maxBuffer: 10_000_000,
  });
  return stdout;
}

const CASES: { args: string[]; req: ReportRequest }[] = [
  { args: ['report', 'team', '--team', 'West Enterprise'], req: { kind: 'team', team: 'West Enterprise' } },
  { args: ['report', 'org'], req: { kind: 'org' } },
];

/** Where the read model the CLI uses takes the document from, in this state of the database. */
async function source(req: ReportRequest): Promise<string> {
  return (await new ReportReader({ db: t.db, config }).read(req)).source;
}

async function computed(req: ReportRequest): Promise<string> {
  return `${renderReport('json', req.kind, await buildReport(t.db, new MetricsEngine({ db: t.db, config }), req))}\n`;
}

// Four CLI processes on a pinned clock: the same day in every pass, so the first pass only.
describe.skipIf(repeatPass)('report team|org --format json', () => {
  it('prints the same bytes from the stored snapshots as computed from the warehouse', async () => {
    const fromSnapshots: string[] = [];
    for (const c of CASES) {
      expect(await source(c.req), c.req.kind).toBe('snapshots');
      fromSnapshots.push(await cli(...c.args));
    }
    // A mark waiting for a recompute: the snapshots are not current, so the CLI computes.
    await sql`insert into dirty_keys (subject_kind, subject_key, period_id, reason)
      values ('rep', 'sf:nobody', 'FY2026-Q2', 'test')`.execute(t.db);
    try {
      for (const [i, c] of CASES.entries()) {
        expect(await source(c.req), c.req.kind).toBe('warehouse');
        const printed = await cli(...c.args);
        expect(printed, c.req.kind).toBe(fromSnapshots[i]);
        expect(printed, c.req.kind).toBe(await computed(c.req));
        expect(JSON.parse(printed).subject.type, c.req.kind).toBe(c.req.kind);
      }
    } finally {
      await sql`delete from dirty_keys where reason = 'test'`.execute(t.db);
    }
  }, 120_000);
});
