/**
 * Quotas of a HubSpot org from its goal targets, or from RevOps' quotas.csv: one portal synced into two warehouses
 * (teams and managers from org.csv, as HubSpot has none), one taking the quotas from the goal targets and one from
 * the same quotas in a file, gives the same `report team` JSON, quotas converted with the portal's exchange rates
 * either way; with `quotas: { source: file }` the goal targets are synced but not counted.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { validateConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { HubSpotConnector } from '../../src/connectors/hubspot/connector.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { runMetricsStep } from '../../src/metrics/engine/step.ts';
import { buildReport } from '../../src/reports/report.ts';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { writeOrgCsv } from '../../src/sandbox/org/org-csv.ts';
import { quotaFileText } from '../../src/sandbox/salesforce/profiles.ts';
import { runSync } from '../../src/sync/run.ts';
import { silentLogger } from '../../src/util/log.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { expectSameButQuotaSource } from '../helpers/quota-sources.ts';

const AS_OF = '2026-11-20';
const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });

interface Run {
  t: TestDatabase;
  config: Config;
  engine: MetricsEngine;
}

let sb: HubSpotSandbox;
let crm: Run;
let file: Run;

async function syncRun(base: Record<string, unknown>, orgPath: string): Promise<Run> {
  const t = await createTestDatabase();
  const connector = new HubSpotConnector({
    config: { id: 'hs', accessToken: sb.credentials.accessToken, basePath: sb.url, sync: { lookbackMinutes: 10 } },
    log: silentLogger,
    defaultCurrency: 'USD',
  });
  // Stage history is left out in both: it moves no quota and is the longest read.
  for (const s of connector.streams().filter((x) => x.name !== 'deal_stage_history')) {
    const r = await runSync({
      db: t.db,
      connector,
      connectionId: 'hs',
      stream: s.name,
      calendar,
      now: () => sb.store.now(),
    });
    expect(r.status, `${s.name}: ${r.errorMessage}`).toBe('succeeded');
  }
  const config = validateConfig(base);
  const engine = new MetricsEngine({ db: t.db, config });
  await runMetricsStep(engine, AS_OF, orgPath);
  return { t, config, engine };
}

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'qt-hs-quota-file-'));
  sb = await startHubSpotSandbox({ seed: 4, size: 'small', anchorDate: AS_OF });
  const org = sb.org;
  if (!org) throw new Error('the sandbox serves no org model');
  const orgPath = join(dir, 'org.csv');
  const quotaPath = join(dir, 'quotas.csv');
  await writeOrgCsv(org, orgPath);
  await writeFile(quotaPath, quotaFileText(org));
  const base = {
    calendar: { type: 'calendar', fiscalYearStartMonth: 1, timezone: sb.store.timezone, baseCurrency: 'USD' },
    forecast: { trials: 200 },
    org: { file: orgPath },
  };
  crm = await syncRun({ ...base, quotas: { source: 'crm' } }, orgPath);
  file = await syncRun({ ...base, quotas: { source: 'file', path: quotaPath } }, orgPath);
}, 300_000);
afterAll(async () => {
  await sb?.close();
  for (const r of [crm, file]) await r?.t.drop();
});

describe('HubSpot quotas from goal targets or from quotas.csv', () => {
  it('give the same team reports', async () => {
    const org = await buildReport(crm.t.db, crm.engine, { kind: 'org', asOf: AS_OF });
    const names = (org.teams as { subject: { name: string } }[]).map((x) => x.subject.name).sort();
    expect(names.length).toBeGreaterThan(1);
    let withQuota = 0;
    for (const team of names) {
      const a = await buildReport(crm.t.db, crm.engine, { kind: 'team', team, asOf: AS_OF });
      const b = await buildReport(file.t.db, file.engine, { kind: 'team', team, asOf: AS_OF });
      const hasQuota = (a.totals as { quota: string | null }).quota !== null;
      expectSameButQuotaSource(b, a, team, hasQuota);
      if (hasQuota) withQuota++;
    }
    expect(withQuota).toBeGreaterThan(1);
  }, 300_000);
});
