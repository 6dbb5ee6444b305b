/**
 * Reports of a HubSpot org equal the sandbox's figures oracle to the cent: a small portal synced through the CLI
 * (`sync --no-writeback`, the `type: hubspot` connection and the org.csv `quota-tracker sandbox --crm hubspot`
 * prints), then `report rep|team|region|org --format json` for every quota-carrying rep, team and region and the
 * org, compared with `hubspotFigures` (computed from the sandbox's store, not through the connector or the
 * warehouse): quotas from the portal's goal targets, and again from a quotas.csv holding the same quotas. Every
 * figure, to the cent (money as the report's strings, ratios to the places the report prints), the forecast's
 * P10/P50/P90 and chance included: the engine runs on the CRM's stage probabilities (calibration turned off by its
 * `minWins`), which is the basis the oracle models, and the oracle keys the seeded draws by HubSpot's deal ids as
 * the warehouse does. The org has a rep who moved team and one who left (owner archived) this quarter, and quotas
 * and won deals in GBP and EUR converted with the portal's exchange rates.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspotSandboxConnection } from '../../src/cli/commands/sandbox.ts';
import type { Figures } from '../../src/sandbox/figures.ts';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { hubspotFigures } from '../../src/sandbox/hubspot/oracle.ts';
import type { OrgModel } from '../../src/sandbox/org/index.ts';
import { orgCsv, writeOrgCsv } from '../../src/sandbox/org/org-csv.ts';
import { quotaFileText } from '../../src/sandbox/salesforce/profiles.ts';
import { repeatPass } from '../helpers/ci-pass.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { differences, orgOn } from './oracle-paths.ts';
import { orgCalendar, runCliCaptured, writeConfig } from './run-cli.ts';

const AS_OF = '2026-11-20';
const NOW = '2026-11-20T15:00:00Z';
const TRIALS = 200;

let hs: HubSpotSandbox;
let org: OrgModel;
let oracle: Figures;
let dir: string;

interface Warehouse {
  t: TestDatabase;
  name: string;
  quotas: Record<string, unknown>;
}

async function cli(
  w: Warehouse,
  args: string[],
  o: { now?: string; orgFile?: string } = {},
): Promise<{ code: number; out: string; err: string }> {
  const configPath = join(dir, `${w.name}.yaml`);
  await writeConfig(configPath, {
    database: { url: w.t.url },
    logLevel: 'warn',
    calendar: orgCalendar(org),
    // The oracle draws with the CRM's stage probabilities: keep the engine from calibrating them on history.
    forecast: { trials: TRIALS, calibration: { minWins: 1_000_000 }, backtest: { enabled: false } },
    connections: [hubspotSandboxConnection(hs, 'hs')],
    org: { file: o.orgFile ?? join(dir, 'org.csv') },
    quotas: w.quotas,
  });
  return runCliCaptured(['--config', configPath, ...args], { now: o.now ?? NOW, databaseUrl: w.t.url });
}

/**
 * org.csv has no dates: the warehouse dates a move by the day it first sees the file say so. RevOps edits the file
 * on the day of each move this quarter, and the service recomputes that day; so the warehouse is synced with the
 * file as it stood at the quarter's start, then recomputed on each move's day with the file of that day.
 */
async function warehouse(name: string, quotas: Record<string, unknown>): Promise<Warehouse> {
  const w: Warehouse = { t: await createTestDatabase({ poolSize: 4 }), name, quotas };
  const file = async (date: string): Promise<string> => {
    const path = join(dir, `org-${date}.csv`);
    await writeFile(path, orgCsv(orgOn(org, date)));
    return path;
  };
  const r = await cli(w, ['sync', '--no-writeback'], { orgFile: await file(oracle.period.start) });
  expect(r.code, r.err).toBe(0);
  for (const day of moveDays) {
    const m = await cli(w, ['recompute'], { now: `${day}T15:00:00Z`, orgFile: await file(day) });
    expect(m.code, m.err).toBe(0);
  }
  const last = await cli(w, ['recompute']);
  expect(last.code, last.err).toBe(0);
  return w;
}

let moveDays: string[];
let crm: Warehouse;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qt-hs-reports-'));
  hs = await startHubSpotSandbox({
    seed: 3,
    size: 'small',
    anchorDate: AS_OF,
    rateLimits: { tenSecondly: 100_000, searchPerSecond: 10_000 },
  });
  if (!hs.org) throw new Error('the sandbox serves no org model');
  org = hs.org;
  oracle = hubspotFigures(hs.store, org, { asOf: AS_OF, forecastTrials: TRIALS, dealIds: 'crm' });
  await writeOrgCsv(org, join(dir, 'org.csv'));
  await writeFile(join(dir, 'quotas.csv'), quotaFileText(org));
  // A move is a stint after another that begins this quarter.
  moveDays = [
    ...new Set(
      org.people.flatMap((p) =>
        p.teamHistory.slice(1).flatMap((s) => (s.from > oracle.period.start && s.from <= AS_OF ? [s.from] : [])),
      ),
    ),
  ].sort();
  crm = await warehouse('crm', { source: 'crm' });
}, 120_000);

afterAll(async () => {
  await hs?.close();
  await crm?.t.drop();
});

async function repDifferences(w: Warehouse): Promise<Record<string, Record<string, unknown>>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [email, expected] of Object.entries(oracle.reps)) {
    const r = await cli(w, ['report', 'rep', '--rep', email, '--format', 'json']);
    expect(r.code, r.err).toBe(0);
    const d = differences(expected, JSON.parse(r.out));
    if (Object.keys(d).length) out[email] = d;
  }
  return out;
}

async function teamDifferences(w: Warehouse): Promise<Record<string, Record<string, unknown>>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const team of org.teams) {
    const r = await cli(w, ['report', 'team', '--team', team.name, '--format', 'json']);
    expect(r.code, r.err).toBe(0);
    const d = differences(oracle.teams[team.key] ?? {}, (JSON.parse(r.out) as { totals: unknown }).totals);
    if (Object.keys(d).length) out[team.name] = d;
  }
  return out;
}

async function regionAndOrgDifferences(w: Warehouse): Promise<Record<string, Record<string, unknown>>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const region of org.regions) {
    const r = await cli(w, ['report', 'region', '--region', region.name, '--format', 'json']);
    expect(r.code, r.err).toBe(0);
    const d = differences(oracle.regions[region.key] ?? {}, (JSON.parse(r.out) as { totals: unknown }).totals);
    if (Object.keys(d).length) out[`region ${region.name}`] = d;
  }
  const r = await cli(w, ['report', 'org', '--format', 'json']);
  expect(r.code, r.err).toBe(0);
  const d = differences(oracle.org, (JSON.parse(r.out) as { totals: unknown }).totals);
  if (Object.keys(d).length) out.org = d;
  return out;
}

describe.skipIf(repeatPass)('HubSpot reports equal the figures oracle to the cent', () => {
  it('the org has what makes it hard: quotas and deals in other currencies, a move and a leaver this quarter', () => {
    const reps = org.people.filter((p) => p.role === 'rep' && oracle.reps[p.email.toLowerCase()]);
    expect(reps.length).toBeGreaterThan(10);
    expect(
      reps.some((p) => p.currency !== org.corporateCurrency && oracle.reps[p.email.toLowerCase()]?.actual !== '0.00'),
    ).toBe(true);
    expect(moveDays.length).toBeGreaterThan(0);
    expect(reps.some((p) => p.endDate !== null && p.endDate >= oracle.period.start)).toBe(true);
    expect(org.teams.length).toBeGreaterThan(1);
  });

  it('every rep, team and region and the org, quotas from the goal targets', async () => {
    expect(await repDifferences(crm)).toEqual({});
    expect(await teamDifferences(crm)).toEqual({});
    expect(await regionAndOrgDifferences(crm)).toEqual({});
  }, 90_000);

  it('every rep, team and region and the org, quotas from quotas.csv (the goal targets synced but not counted)', async () => {
    crm.quotas = { source: 'file', path: join(dir, 'quotas.csv') };
    const r = await cli(crm, ['recompute']);
    expect(r.code, r.err).toBe(0);
    expect(await repDifferences(crm)).toEqual({});
    expect(await teamDifferences(crm)).toEqual({});
    expect(await regionAndOrgDifferences(crm)).toEqual({});
  }, 90_000);
});
