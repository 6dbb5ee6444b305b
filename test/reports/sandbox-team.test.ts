/**
 * Against a synced Salesforce sandbox org: every number `report team --format text` prints equals the JSON.
 * The sandbox (real HTTP, the real jsforce connector and sync runner) is `small` by default; the check is
 * on `medium` (500 reps, 100,000 deals), which takes about 15 minutes on this shared 2-core machine (sync ~8,
 * report ~7): run it with QT_SANDBOX_SIZE=medium (passed with seed 1 on 2026-11-25; QT_SANDBOX_SEED picks another).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { validateConfig } from '../../src/config/load.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { syncOrgModel } from '../../src/metrics/engine/org-model.ts';
import { buildReport } from '../../src/reports/report.ts';
import { reportText } from '../../src/reports/text.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { runSync } from '../../src/sync/run.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnector } from '../helpers/sandbox.ts';
import { jsonNumbers, textNumbers } from './numbers.ts';

const SIZE = process.env.QT_SANDBOX_SIZE === 'medium' ? 'medium' : 'small';
const AS_OF = '2026-11-20';
let sb: SalesforceSandbox;
let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase();
  sb = await startSalesforceSandbox({ seed: Number(process.env.QT_SANDBOX_SEED ?? 1), size: SIZE, anchorDate: AS_OF });
  const connector = sandboxConnector(sb);
  const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
  for (const s of connector.streams())
    await runSync({ db: t.db, connector, connectionId: 'sf', stream: s.name, calendar, now: () => sb.store.now() });
  await syncOrgModel(t.db, { orgFile: null, asOf: AS_OF, periodId: 'FY2026-Q4' });
}, 1_200_000);
afterAll(async () => {
  await sb?.close();
  await t?.drop();
});

describe(`report team on the ${SIZE} sandbox org`, () => {
  it('prints only numbers that are in the JSON', async () => {
    const config = validateConfig({ calendar: { timezone: 'UTC' }, forecast: { trials: 1000 } });
    const engine = new MetricsEngine({ db: t.db, config });
    const full = await engine.recomputeAll(AS_OF);
    expect(full.recomputed.length).toBeGreaterThan(3);
    const org = await buildReport(t.db, engine, { kind: 'org', asOf: AS_OF });
    const teams = (org.teams as { subject: { name: string }; actual: string }[]).filter((x) => x.actual !== '0.00');
    expect(teams.length).toBeGreaterThan(0);
    const team = (teams[0] as { subject: { name: string } }).subject.name;
    const json = await buildReport(t.db, engine, { kind: 'team', team, asOf: AS_OF });
    const text = reportText('team', json);
    const figures = textNumbers(text);
    expect(figures.length).toBeGreaterThan(40);
    const allowed = jsonNumbers(json);
    expect(figures.filter((n) => !allowed.has(n))).toEqual([]);
  }, 1_200_000);
});
