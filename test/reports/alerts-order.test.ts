import { afterAll, beforeAll, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { buildReport } from '../../src/reports/report.ts';
import { goldenWarehouse } from '../fixtures/warehouse/load.ts';
import type { TestDatabase } from '../helpers/db.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await goldenWarehouse();
  const alert = (rule: string, severity: 'info' | 'warning' | 'critical') => ({
    rule,
    subject_kind: 'rep' as const,
    subject_id: 'person:1',
    period_id: 'FY2026-Q2',
    dedupe_key: `${rule}:person:1:FY2026-Q2`,
    severity,
    message: `${rule} fired`,
    details: null,
    value: null,
  });
  await t.db
    .insertInto('alerts')
    .values([
      alert('accelerator_opportunity', 'info'),
      alert('activity_drop', 'warning'),
      alert('at_risk_rep', 'critical'),
      alert('coverage_gap', 'warning'),
    ])
    .execute();
});
afterAll(() => t.drop());

it('lists critical alerts first, then warnings, then information, by rule within a severity', async () => {
  const engine = new MetricsEngine({
    db: t.db,
    config: validateConfig({ calendar: { timezone: 'America/New_York' } }),
  });
  const report = await buildReport(t.db, engine, { kind: 'alerts', period: 'FY2026-Q2', asOf: '2026-06-12' });
  const alerts = report.alerts as { rule: string; severity: string }[];
  expect(alerts.map((a) => `${a.severity} ${a.rule}`)).toEqual([
    'critical at_risk_rep',
    'warning activity_drop',
    'warning coverage_gap',
    'info accelerator_opportunity',
  ]);
  const email = (await t.db.selectFrom('persons').select('email').where('id', '=', 1).executeTakeFirstOrThrow()).email;
  const rep = await buildReport(t.db, engine, { kind: 'rep', rep: email, period: 'FY2026-Q2', asOf: '2026-06-12' });
  expect((rep.alerts as { rule: string }[]).map((a) => a.rule)).toEqual([
    'at_risk_rep',
    'activity_drop',
    'coverage_gap',
    'accelerator_opportunity',
  ]);
}, 60_000);
