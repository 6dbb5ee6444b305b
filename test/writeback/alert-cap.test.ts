/**
 * The daily task cap decides which alerts a manager hears about first: by severity, then rule priority
 * (`at_risk_rep` first), never by which alert happened to open first. With the cap at 2 and five alerts for one
 * manager, the at-risk task goes out; the other three are held back, listed by `report alerts` with the day they go
 * out, and go out on the next days' budgets. (Before, the two oldest alerts took the budget: activity_drop and
 * accelerator_opportunity, and the at-risk rep's task waited.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { validateConfig } from '../../src/config/load.ts';
import { SalesforceConnector } from '../../src/connectors/salesforce/connector.ts';
import { SalesforceTaskWriter } from '../../src/connectors/salesforce/tasks.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { applyTaskCap } from '../../src/metrics/math/alerts.ts';
import { buildReport } from '../../src/reports/report.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { addDays } from '../../src/util/date.ts';
import { silentLogger } from '../../src/util/log.ts';
import { deliverAlertTasks } from '../../src/writeback/alert-tasks.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnectionEntry } from '../helpers/sandbox.ts';

const DAY = '2026-11-20';
const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
const periodId = calendar.periodContaining(DAY, 'quarter').id;
// Oldest first: the rule that matters most opened last.
const ALERTS = [
  { rule: 'activity_drop', severity: 'warning', rep: 0 },
  { rule: 'accelerator_opportunity', severity: 'info', rep: 1 },
  { rule: 'coverage_gap', severity: 'warning', rep: 2 },
  { rule: 'velocity_slowdown', severity: 'warning', rep: 3 },
  { rule: 'at_risk_rep', severity: 'warning', rep: 4 },
] as const;

describe('applyTaskCap', () => {
  it('orders by severity, then rule priority, then age', () => {
    const c = (id: number, severity: 'info' | 'warning' | 'critical', rule: string, openedAt: string) => ({
      id,
      severity,
      rule,
      openedAt,
      manager: 'm',
    });
    const { send, held } = applyTaskCap(
      [
        c(1, 'warning', 'activity_drop', '2026-01-01'),
        c(2, 'info', 'accelerator_opportunity', '2026-01-01'),
        c(3, 'warning', 'at_risk_rep', '2026-01-05'),
        c(4, 'critical', 'coverage_gap', '2026-01-09'),
        c(5, 'warning', 'at_risk_rep', '2026-01-02'),
      ],
      new Map([['m', 1]]),
      3,
    );
    expect(send.map((s) => s.id)).toEqual([4, 5]);
    expect(held.map((s) => s.id)).toEqual([3, 1, 2]);
  });
});

let sb: SalesforceSandbox;
let fresh: TestDatabase;
let connector: SalesforceConnector;
let managerId: string;
const reps: string[] = [];

beforeAll(async () => {
  sb = await startSalesforceSandbox({ seed: 12, size: 'small', populate: false, anchorDate: DAY });
  managerId = String(
    sb.store.insert('User', { Username: 'm@x.test', Email: 'm@x.test', LastName: 'Boss', IsActive: true }).Id,
  );
  for (let i = 0; i < 5; i++) {
    const u = { Username: `r${i}@x.test`, Email: `r${i}@x.test`, LastName: `Rep${i}`, IsActive: true };
    reps.push(String(sb.store.insert('User', { ...u, ManagerId: managerId }).Id));
  }
  const config = validateConfig({ connections: [sandboxConnectionEntry(sb)] });
  const conn = config.connections[0];
  if (conn?.type !== 'salesforce') throw new Error('salesforce connection expected');
  connector = new SalesforceConnector({ config: conn, log: silentLogger });
  fresh = await createTestDatabase();
  await fresh.db.insertInto('connections').values({ id: 'sf', kind: 'salesforce' }).execute();
  await fresh.db
    .insertInto('reps')
    .values([
      { connection_id: 'sf', external_id: managerId, content_hash: 'h', name: 'Boss', is_active: true },
      ...reps.map((id, i) => ({
        connection_id: 'sf',
        external_id: id,
        content_hash: 'h',
        name: `Rep${i}`,
        is_active: true,
        manager_external_id: managerId,
      })),
    ])
    .execute();
  for (const [i, a] of ALERTS.entries()) {
    await fresh.db
      .insertInto('alerts')
      .values({
        rule: a.rule,
        subject_kind: 'rep',
        subject_id: `sf:${reps[a.rep]}`,
        period_id: periodId,
        dedupe_key: `${a.rule}:sf:${reps[a.rep]}:${periodId}`,
        severity: a.severity,
        message: `${a.rule} fired`,
        value: null,
        opened_at: new Date(Date.UTC(2026, 10, 10 + i)),
      })
      .execute();
  }
}, 60_000);

afterAll(async () => {
  await sb?.close();
  await fresh?.drop();
});

const opts = (today: string) => ({
  connectionId: 'sf',
  sink: new SalesforceTaskWriter(connector.client, silentLogger),
  calendar,
  today,
  maxTasksPerManagerPerDay: 2,
  log: silentLogger,
});
const sentRules = () =>
  sb.store
    .all('Task')
    .map((t) => String(t.Quota_Alert_Key__c).split(':')[0])
    .sort();

describe('the cap at 2 with five alerts for one manager', () => {
  it('sends the at-risk task among the two and lists the rest as held back until tomorrow', async () => {
    const r = await deliverAlertTasks(fresh.db, opts(DAY));
    expect(r).toMatchObject({ created: 2, capped: 3, failed: 0 });
    expect(sentRules()).toEqual(['at_risk_rep', 'coverage_gap']);
    const engine = new MetricsEngine({ db: fresh.db, config: validateConfig({ calendar: { timezone: 'UTC' } }) });
    const report = await buildReport(fresh.db, engine, { kind: 'alerts', asOf: DAY });
    const held = (report.alerts as { rule: string; heldBack: boolean; taskGoesOutOn: string | null }[])
      .filter((a) => a.heldBack)
      .map((a) => [a.rule, a.taskGoesOutOn])
      .sort();
    expect(held).toEqual([
      ['accelerator_opportunity', addDays(DAY, 1)],
      ['activity_drop', addDays(DAY, 1)],
      ['velocity_slowdown', addDays(DAY, 1)],
    ]);
  });

  it("sends what was held back on the next days' budgets, most important first", async () => {
    expect(await deliverAlertTasks(fresh.db, opts(addDays(DAY, 1)))).toMatchObject({ created: 2, capped: 1 });
    expect(sentRules()).toEqual(['activity_drop', 'at_risk_rep', 'coverage_gap', 'velocity_slowdown']);
    expect(await deliverAlertTasks(fresh.db, opts(addDays(DAY, 2)))).toMatchObject({ created: 1, capped: 0 });
    const left = await fresh.db.selectFrom('alerts').select('id').where('task_goes_out_on', 'is not', null).execute();
    expect(left).toEqual([]);
  });
});
