/**
 * Quotas kept in RevOps' spreadsheet (`quotas: { source: file }`), which every sync used to ignore (every rep read
 * "no quota"): one org synced into two warehouses, one reading its quotas from ForecastingQuota and one reading
 * the same quotas from quotas.csv, gives the same `report team` JSON; editing one row recomputes only
 * that rep and the units above them; a malformed row fails the step naming file, line and column.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { validateConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { runMetricsStep } from '../../src/metrics/engine/step.ts';
import { loadPlanningFiles } from '../../src/planning/files.ts';
import { buildReport } from '../../src/reports/report.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { quotaFileText } from '../../src/sandbox/salesforce/profiles.ts';
import { runSync } from '../../src/sync/run.ts';
import { createWebApp } from '../../src/web/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { expectSameButQuotaSource } from '../helpers/quota-sources.ts';
import { sandboxConnector } from '../helpers/sandbox.ts';

const AS_OF = '2026-11-20';
const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
const base = {
  calendar: { type: 'calendar', fiscalYearStartMonth: 1, timezone: 'UTC', baseCurrency: 'USD' },
  forecast: { trials: 200 },
};

interface Run {
  sb: SalesforceSandbox;
  t: TestDatabase;
  config: Config;
  engine: MetricsEngine;
}

async function syncRun(sb: SalesforceSandbox, quotas: Record<string, unknown>): Promise<Run> {
  const t = await createTestDatabase();
  const connector = sandboxConnector(sb);
  for (const s of connector.streams()) {
    const r = await runSync({
      db: t.db,
      connector,
      connectionId: 'sf',
      stream: s.name,
      calendar,
      now: () => sb.store.now(),
    });
    expect(r.status, `${s.name}: ${r.errorMessage}`).toBe('succeeded');
  }
  const config = validateConfig({ ...base, quotas });
  const engine = new MetricsEngine({ db: t.db, config });
  await runMetricsStep(engine, AS_OF);
  return { sb, t, config, engine };
}

let crm: Run;
let file: Run;
let dir: string;
let path: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qt-quota-file-'));
  path = join(dir, 'quotas.csv');
  // One org, two warehouses: the deals are the same, only where the quotas come from differs.
  const sb = await startSalesforceSandbox({ seed: 4, size: 'small', anchorDate: AS_OF });
  crm = await syncRun(sb, { source: 'crm' });
  await writeFile(path, quotaFileText(sb.model!));
  file = await syncRun(sb, { source: 'file', path });
}, 300_000);
afterAll(async () => {
  await crm?.sb.close();
  for (const r of [crm, file]) await r?.t.drop();
});

async function teamNames(r: Run): Promise<string[]> {
  const org = await buildReport(r.t.db, r.engine, { kind: 'org', asOf: AS_OF });
  return (org.teams as { subject: { name: string } }[]).map((x) => x.subject.name).sort();
}

describe('quotas from a file', () => {
  it('give the same team reports as the same quotas in ForecastingQuota', async () => {
    const names = await teamNames(crm);
    expect(names.length).toBeGreaterThan(1);
    expect(await teamNames(file)).toEqual(names);
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

  it('editing one row recomputes only that rep, its team, region and the org', async () => {
    const text = quotaFileText(file.sb.model!);
    const lines = text.trimEnd().split('\n');
    const current = lines.findIndex((l) => l.includes(',FY2026-Q4,'));
    const [email, period, amount, currency] = (lines[current] as string).split(',');
    lines[current] = [email, period, String(Number(amount) + 1000), currency].join(',');
    await writeFile(path, `${lines.join('\n')}\n`);
    const step = await runMetricsStep(file.engine, AS_OF);
    expect(step.mode).toBe('incremental');
    const kinds = step.recomputed.map((k) => k.split(':')[0]).sort();
    expect(kinds).toEqual(['org', 'region', 'rep', 'team']);
    const rep = await buildReport(file.t.db, file.engine, { kind: 'rep', rep: email as string, asOf: AS_OF });
    expect(Number(rep.quota)).toBeGreaterThan(0);
  }, 120_000);

  it('a malformed row fails the step naming file, line and column, and the rows stay', async () => {
    await writeFile(path, 'email,period,amount,currency\nsomeone@example.com,FY2026-Q4,12x,USD\n');
    const err = await runMetricsStep(file.engine, AS_OF).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'QUOTA_FILE_INVALID', where: `${path}:2:31` });
    const rows = await file.t.db.selectFrom('quotas').select('id').where('source', '=', 'file').execute();
    expect(rows.length).toBeGreaterThan(10);
  }, 60_000);

  it('in a running service a file that turns bad keeps the last good rows and fails /readyz naming file and line', async () => {
    const before = await file.t.db.selectFrom('quotas').select(['id']).where('source', '=', 'file').execute();
    const step = await runMetricsStep(file.engine, AS_OF, undefined, { badPlanningFile: 'keep-last-good' });
    expect(step.recomputed).toBeDefined();
    const after = await file.t.db.selectFrom('quotas').select(['id']).where('source', '=', 'file').execute();
    expect(after).toEqual(before);
    const { app } = createWebApp({ db: file.t.db });
    const res = await app.request('/readyz');
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ reason: 'planning_file_invalid', where: `${path}:2:31` });
    // Fixed: ready again.
    await writeFile(path, quotaFileText(crm.sb.model!));
    await runMetricsStep(file.engine, AS_OF, undefined, { badPlanningFile: 'keep-last-good' });
    expect((await app.request('/readyz')).status).toBe(200);
  }, 60_000);

  it('rates from an FX file replace the CRM rates for their currency and recompute everything', async () => {
    const fxPath = join(dir, 'fx.csv');
    await writeFile(fxPath, 'currency,valid_from,rate\nEUR,2026-01-01,0.5\nEUR,2026-11-01,0.25\n');
    const config = validateConfig({ ...base, fx: { source: 'file', path: fxPath } });
    const engine = new MetricsEngine({ db: crm.t.db, config });
    const before = await buildReport(crm.t.db, crm.engine, { kind: 'org', asOf: AS_OF });
    const step = await runMetricsStep(engine, AS_OF);
    expect(step.why).toBe('rates_changed');
    const rows = await crm.t.db
      .selectFrom('fx_rates')
      .select(['currency', 'rate', 'valid_from', 'valid_to'])
      .where('source', '=', 'file')
      .orderBy('valid_from')
      .execute();
    expect(rows).toEqual([
      { currency: 'EUR', rate: '0.5', valid_from: '2026-01-01', valid_to: '2026-11-01' },
      { currency: 'EUR', rate: '0.25', valid_from: '2026-11-01', valid_to: null },
    ]);
    const after = await buildReport(crm.t.db, engine, { kind: 'org', asOf: AS_OF });
    // Halving EUR's rate doubles what each EUR deal is worth in USD: the org's bookings move.
    expect((after.totals as { actual: string }).actual).not.toBe((before.totals as { actual: string }).actual);
    // Unchanged file: nothing to load, no full recompute for rates.
    expect((await runMetricsStep(engine, AS_OF)).why).not.toBe('rates_changed');
  }, 60_000);

  it('lists rows naming an email no synced user has in one warning, and keeps them for when the user syncs', async () => {
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line).msg as string) });
    const text = quotaFileText(crm.sb.model!);
    await writeFile(path, `${text}nobody@example.com,FY2026-Q4,1000,USD\nghost@example.com,FY2026-Q4,2000,USD\n`);
    const config = validateConfig({ ...base, quotas: { source: 'file', path } });
    const r = await loadPlanningFiles(file.t.db, config, calendar, log);
    expect(r.unmatched).toEqual(['ghost@example.com', 'nobody@example.com']);
    expect(warnings.filter((w) => w.includes('no synced user has'))).toHaveLength(1);
    expect(warnings[0]).toContain('ghost@example.com, nobody@example.com');
    const kept = await file.t.db
      .selectFrom('quotas')
      .select('amount')
      .where('external_id', '=', 'ghost@example.com')
      .execute();
    expect(kept).toEqual([{ amount: '2000' }]);
  }, 60_000);
});
