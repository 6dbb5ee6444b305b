/**
 * The manager a report names is the person who receives the rep's tasks, and an org file wins over the CRM's
 * `ManagerId` (docs/metrics.md, "Teams and managers"). Here Salesforce says Rep reports to Boss, and RevOps' org
 * file puts Rep in Coach's team: the rep report names Coach and the at-risk task is Coach's. Without an org file
 * the task goes to Boss, whom both ManagerId and the hierarchy rule name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { validateConfig } from '../../src/config/load.ts';
import { parseOrgFile } from '../../src/config/org-file.ts';
import { SalesforceConnector } from '../../src/connectors/salesforce/connector.ts';
import { SalesforceTaskWriter } from '../../src/connectors/salesforce/tasks.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { syncOrgModel } from '../../src/metrics/engine/org-model.ts';
import { buildReport } from '../../src/reports/report.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { silentLogger } from '../../src/util/log.ts';
import { deliverAlertTasks } from '../../src/writeback/alert-tasks.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnectionEntry } from '../helpers/sandbox.ts';

const DAY = '2026-11-20';
const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
const periodId = calendar.periodContaining(DAY, 'quarter').id;

let sb: SalesforceSandbox;
let t: TestDatabase;
let connector: SalesforceConnector;
const ids: Record<'boss' | 'coach' | 'rep', string> = { boss: '', coach: '', rep: '' };

beforeAll(async () => {
  sb = await startSalesforceSandbox({ seed: 5, size: 'small', populate: false, anchorDate: DAY });
  const user = (email: string, last: string, manager?: string) =>
    String(
      sb.store.insert('User', {
        Username: email,
        Email: email,
        LastName: last,
        IsActive: true,
        ...(manager ? { ManagerId: manager } : {}),
      }).Id,
    );
  ids.boss = user('boss@x.test', 'Boss');
  ids.coach = user('coach@x.test', 'Coach');
  ids.rep = user('rep@x.test', 'Rep', ids.boss);
  const config = validateConfig({ connections: [sandboxConnectionEntry(sb)] });
  const conn = config.connections[0];
  if (conn?.type !== 'salesforce') throw new Error('salesforce connection expected');
  connector = new SalesforceConnector({ config: conn, log: silentLogger });
  t = await createTestDatabase();
  await t.db.insertInto('connections').values({ id: 'sf', kind: 'salesforce' }).execute();
  await t.db
    .insertInto('reps')
    .values(
      (['boss', 'coach', 'rep'] as const).map((k) => ({
        connection_id: 'sf',
        external_id: ids[k],
        content_hash: 'h',
        name: k,
        email: `${k}@x.test`,
        is_active: true,
        quota_carrying: k === 'rep',
        manager_external_id: k === 'rep' ? ids.boss : null,
      })),
    )
    .execute();
}, 60_000);

afterAll(async () => {
  await sb?.close();
  await t?.drop();
});

async function openAlert(tag: string): Promise<void> {
  await t.db.deleteFrom('alert_tasks').execute();
  await t.db.deleteFrom('alerts').execute();
  const person = await t.db.selectFrom('persons').select('id').where('email', '=', 'rep@x.test').executeTakeFirst();
  const subject = person ? `person:${person.id}` : `sf:${ids.rep}`;
  await t.db
    .insertInto('alerts')
    .values({
      rule: 'at_risk_rep',
      subject_kind: 'rep',
      subject_id: subject,
      period_id: periodId,
      dedupe_key: `at_risk_rep:${subject}:${periodId}:${tag}`,
      severity: 'warning',
      message: 'at risk',
      value: null,
      opened_at: new Date(Date.UTC(2026, 10, 18)),
    })
    .execute();
}

const deliver = () =>
  deliverAlertTasks(t.db, {
    connectionId: 'sf',
    sink: new SalesforceTaskWriter(connector.client, silentLogger),
    calendar,
    today: DAY,
    maxTasksPerManagerPerDay: 5,
    log: silentLogger,
  });
/** The manager the rep report names. */
async function reportedManager(): Promise<unknown> {
  const engine = new MetricsEngine({ db: t.db, config: validateConfig({ calendar: { timezone: 'UTC' } }) });
  const report = await buildReport(t.db, engine, { kind: 'rep', rep: 'rep@x.test', asOf: DAY });
  return (report.subject as { manager: unknown }).manager;
}
const taskOwners = () => sb.store.all('Task').map((task) => String(task.OwnerId));

describe('who receives a rep task', () => {
  it("is the CRM's manager when the hierarchy derives the team from ManagerId", async () => {
    await syncOrgModel(t.db, { orgFile: null, asOf: DAY, periodId });
    await openAlert('crm');
    expect(await deliver()).toMatchObject({ created: 1, failed: 0 });
    expect(taskOwners()).toEqual([ids.boss]);
    expect(await reportedManager()).toBe('boss');
  });

  it('is the team manager an org file names, even when ManagerId names someone else', async () => {
    const file = parseOrgFile(
      [
        'email,name,team,region,manager_email,role',
        'coach@x.test,Coach,Coached,EMEA,,manager',
        'boss@x.test,Boss,Bossed,EMEA,,manager',
        'rep@x.test,Rep,Coached,EMEA,coach@x.test,rep',
      ].join('\n'),
      'org.csv',
    );
    await syncOrgModel(t.db, { orgFile: file, asOf: DAY, periodId });
    const team = await t.db
      .selectFrom('memberships as ms')
      .innerJoin('org_units as ou', 'ou.id', 'ms.org_unit_id')
      .innerJoin('persons as p', 'p.id', 'ms.person_id')
      .leftJoin('persons as m', 'm.id', 'ou.manager_person_id')
      .select(['ou.name as team', 'm.email as manager'])
      .where('p.email', '=', 'rep@x.test')
      .where('ms.valid_to', 'is', null)
      .executeTakeFirstOrThrow();
    // What the reports name: the team's manager.
    expect(team).toEqual({ team: 'Coached', manager: 'coach@x.test' });
    const before = sb.store.all('Task').length;
    await openAlert('file');
    expect(await deliver()).toMatchObject({ created: 1, failed: 0 });
    expect(taskOwners().slice(before)).toEqual([ids.coach]);
    expect(await reportedManager()).toBe('Coach');
  });
});
