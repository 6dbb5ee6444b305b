/**
 * Group reports show their reps' alerts: a team report lists its reps' open alerts, each naming its rep (it printed
 * "ALERTS none" while its reps had open at_risk_rep alerts); region and org reports count them by rule and by
 * severity and list the critical ones; the text prints them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { validateConfig } from '../../src/config/load.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { runMetricsStep } from '../../src/metrics/engine/step.ts';
import { buildReport } from '../../src/reports/report.ts';
import { reportText } from '../../src/reports/text.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { runSync } from '../../src/sync/run.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnector } from '../helpers/sandbox.ts';

const AS_OF = '2026-11-20';
const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
let sb: SalesforceSandbox;
let t: TestDatabase;
let engine: MetricsEngine;

beforeAll(async () => {
  t = await createTestDatabase();
  sb = await startSalesforceSandbox({ seed: 1, size: 'small', anchorDate: AS_OF });
  const connector = sandboxConnector(sb);
  for (const s of connector.streams())
    await runSync({ db: t.db, connector, connectionId: 'sf', stream: s.name, calendar, now: () => sb.store.now() });
  engine = new MetricsEngine({
    db: t.db,
    config: validateConfig({ calendar: { timezone: 'UTC' }, forecast: { trials: 200 } }),
  });
  await runMetricsStep(engine, AS_OF);
}, 180_000);
afterAll(async () => {
  await sb?.close();
  await t?.drop();
});

type RepAlert = { rule: string; severity: string; rep: { id: string; name: string } };

describe('alerts in group reports', () => {
  it("a team lists its reps' alerts naming the rep; region and org count them and list the critical ones", async () => {
    const open = await t.db
      .selectFrom('alerts')
      .select(['subject_id', 'rule', 'severity'])
      .where('subject_kind', '=', 'rep')
      .where('status', '<>', 'resolved')
      .where('period_id', '=', calendar.periodContaining(AS_OF, 'quarter').id)
      .execute();
    expect(open.length).toBeGreaterThan(0);
    const org = await buildReport(t.db, engine, { kind: 'org', asOf: AS_OF });
    const teams = (org.teams as { subject: { name: string } }[]).map((x) => x.subject.name);
    let listed = 0;
    for (const team of teams) {
      const doc = await buildReport(t.db, engine, { kind: 'team', team, asOf: AS_OF });
      const members = new Set(
        (doc.reps as { subject: { id: string }; leftOn?: string }[]).filter((r) => !r.leftOn).map((r) => r.subject.id),
      );
      const alerts = doc.alerts as RepAlert[];
      expect(alerts.map((a) => a.rep.id).sort()).toEqual(
        open
          .filter((a) => members.has(a.subject_id))
          .map((a) => a.subject_id)
          .sort(),
      );
      listed += alerts.length;
      if (alerts.length > 0) {
        const text = reportText('team', doc);
        expect(text).not.toMatch(/ALERTS\s+none/i);
        expect(text).toContain(alerts[0]!.rep.name);
      }
    }
    expect(listed).toBeGreaterThan(0);
    const counts = org.alertCounts as { byRule: Record<string, number>; bySeverity: Record<string, number> };
    const inOrg = open.length;
    expect(Object.values(counts.bySeverity).reduce((a, b) => a + b, 0)).toBe(inOrg);
    expect(Object.values(counts.byRule).reduce((a, b) => a + b, 0)).toBe(inOrg);
    expect((org.criticalAlerts as RepAlert[]).length).toBe(counts.bySeverity.critical);
    expect((org.criticalAlerts as RepAlert[]).every((a) => a.severity === 'critical')).toBe(true);
  }, 120_000);
});
