/**
 * What a worker killed mid-delivery leaves behind, and what the next run makes of it, against the Salesforce
 * sandbox: the CRM accepted a write but the process died before recording it. Simulated at that exact point (the
 * sink performs the real CRM call, then throws as if the process had died), so the database is left as a kill
 * would leave it. Also: the per-manager daily cap and closing tasks when alerts resolve.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { configSchema } from '../../src/config/schema.ts';
import { SalesforceConnector } from '../../src/connectors/salesforce/connector.ts';
import { SalesforceTaskWriter } from '../../src/connectors/salesforce/tasks.ts';
import { SalesforceWriter, writeTargetFor } from '../../src/connectors/salesforce/write.ts';
import { defaultLayout } from '../../src/connectors/salesforce/write-fields.ts';
import type { TaskSink, WritebackSink } from '../../src/connectors/types.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { addDays, today } from '../../src/util/date.ts';
import { silentLogger } from '../../src/util/log.ts';
import { deliverAlertTasks } from '../../src/writeback/alert-tasks.ts';
import { metricFieldValues, unitsByField } from '../../src/writeback/fields.ts';
import { enqueueWriteback } from '../../src/writeback/ledger.ts';
import { pushPending } from '../../src/writeback/push.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnectionEntry } from '../helpers/sandbox.ts';

let sb: SalesforceSandbox;
let fresh: TestDatabase;
let connector: SalesforceConnector;
let managerId: string;
const reps: string[] = [];
const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
const day = today('UTC');
const periodId = calendar.periodContaining(day, 'quarter').id;

class Killed extends Error {}

beforeAll(async () => {
  sb = await startSalesforceSandbox({ seed: 11, size: 'small', populate: false });
  managerId = String(
    sb.store.insert('User', { Username: 'm@x.test', Email: 'm@x.test', LastName: 'Boss', IsActive: true }).Id,
  );
  for (let i = 0; i < 7; i++) {
    reps.push(
      String(
        sb.store.insert('User', {
          Username: `r${i}@x.test`,
          Email: `r${i}@x.test`,
          LastName: `Rep${i}`,
          IsActive: true,
          ManagerId: managerId,
        }).Id,
      ),
    );
  }
  const config = configSchema.parse({
    connections: [sandboxConnectionEntry(sb)],
  });
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
  await fresh.db
    .insertInto('alerts')
    .values(
      reps.map((id, i) => ({
        rule: 'at_risk_rep',
        subject_kind: 'rep' as const,
        subject_id: `sf:${id}`,
        period_id: periodId,
        dedupe_key: `at_risk_rep:sf:${id}:${periodId}`,
        severity: 'warning' as const,
        message: `Projected attainment is 6${i}.0%, under 70.0%`,
        value: `0.6${i}`,
      })),
    )
    .execute();
}, 60_000);

afterAll(async () => {
  await sb?.close();
  await fresh?.drop();
});

const tasksInCrm = () =>
  sb.store.all('Task').filter((t) => String(t.Quota_Alert_Key__c ?? '').startsWith('at_risk_rep:'));

describe('a worker killed between the CRM call and its bookkeeping', () => {
  it('re-sends alert tasks by key: no duplicate, and the cap holds (5 of 7 for one manager today)', async () => {
    const real = new SalesforceTaskWriter(connector.client, silentLogger);
    const dying: TaskSink = {
      upsertTasks: async (tasks) => {
        await real.upsertTasks(tasks);
        throw new Killed('killed after Salesforce created the tasks');
      },
      closeTasks: (t) => real.closeTasks(t),
      findTasks: (k) => real.findTasks(k),
    };
    const opts = {
      connectionId: 'sf',
      calendar,
      today: day,
      maxTasksPerManagerPerDay: 5,
      log: silentLogger,
    };
    await expect(deliverAlertTasks(fresh.db, { ...opts, sink: dying })).rejects.toThrow(Killed);
    expect(tasksInCrm()).toHaveLength(5);
    const pending = await fresh.db.selectFrom('alert_tasks').selectAll().where('crm_task_id', 'is', null).execute();
    expect(pending).toHaveLength(5);

    const again = await deliverAlertTasks(fresh.db, { ...opts, sink: real });
    expect(again).toMatchObject({ created: 0, resent: 5, capped: 2, failed: 0 });
    expect(tasksInCrm()).toHaveLength(5);
    expect(new Set(tasksInCrm().map((t) => t.Quota_Alert_Key__c)).size).toBe(5);
    expect(tasksInCrm().every((t) => t.OwnerId === managerId && t.Status === 'Not Started')).toBe(true);

    // A third run (a restart) changes nothing.
    expect(await deliverAlertTasks(fresh.db, { ...opts, sink: real })).toMatchObject({
      created: 0,
      resent: 0,
      capped: 2,
    });
    expect(tasksInCrm()).toHaveLength(5);
  });

  it('closes the task when its alert resolves', async () => {
    const real = new SalesforceTaskWriter(connector.client, silentLogger);
    const first = await fresh.db.selectFrom('alert_tasks').selectAll().orderBy('alert_id').executeTakeFirstOrThrow();
    await fresh.db
      .updateTable('alerts')
      .set({ status: 'resolved', resolved_at: new Date() })
      .where('id', '=', first.alert_id)
      .execute();
    const r = await deliverAlertTasks(fresh.db, {
      connectionId: 'sf',
      sink: real,
      calendar,
      today: day,
      maxTasksPerManagerPerDay: 5,
      log: silentLogger,
    });
    expect(r.closed).toBe(1);
    expect(sb.store.get('Task', first.crm_task_id as string)?.Status).toBe('Completed');
  });

  it('counts the cap by the business day: the next day the two held back go out', async () => {
    const real = new SalesforceTaskWriter(connector.client, silentLogger);
    const r = await deliverAlertTasks(fresh.db, {
      connectionId: 'sf',
      sink: real,
      calendar,
      today: addDays(day, 1),
      maxTasksPerManagerPerDay: 5,
      log: silentLogger,
    });
    expect(r).toMatchObject({ created: 2, capped: 0, failed: 0 });
    expect(tasksInCrm()).toHaveLength(7);
    const days = await fresh.db.selectFrom('alert_tasks').select('sent_on').orderBy('alert_id').execute();
    expect(days.map((d) => String(d.sent_on))).toEqual([...Array(5).fill(day), addDays(day, 1), addDays(day, 1)]);
  });

  it('a task claimed before a crash whose alert resolves meanwhile: found in the CRM and closed, or never made', async () => {
    const real = new SalesforceTaskWriter(connector.client, silentLogger);
    const later = addDays(day, 2);
    const opts = { connectionId: 'sf', calendar, today: later, maxTasksPerManagerPerDay: 5, log: silentLogger };
    const [made, never] = await fresh.db
      .insertInto('alerts')
      .values(
        [0, 1].map((i) => ({
          rule: 'pace_deterioration',
          subject_kind: 'rep' as const,
          subject_id: `sf:${reps[i]}`,
          period_id: periodId,
          dedupe_key: `pace_deterioration:sf:${reps[i]}:${periodId}`,
          severity: 'warning' as const,
          message: `Pace index fell to 0.8${i}`,
          value: `0.8${i}`,
        })),
      )
      .returning('id')
      .execute();
    if (!made || !never) throw new Error('two alerts expected');
    // The first delivery dies: after Salesforce made the first alert's task, before the second's call left.
    const dying: TaskSink = {
      upsertTasks: async (tasks) => {
        const first = tasks.filter((t) => t.externalKey.startsWith(`pace_deterioration:sf:${reps[0]}`));
        await real.upsertTasks(first);
        throw new Killed('killed after the first task was made');
      },
      closeTasks: (t) => real.closeTasks(t),
      findTasks: (k) => real.findTasks(k),
    };
    await expect(deliverAlertTasks(fresh.db, { ...opts, sink: dying })).rejects.toThrow(Killed);
    const keyOf = (id: number) => `pace_deterioration:sf:${reps[id === made.id ? 0 : 1]}:${periodId}:warning`;
    const inCrm = (id: number) => sb.store.all('Task').filter((t) => t.Quota_Alert_Key__c === keyOf(id));
    expect(inCrm(made.id)).toHaveLength(1);
    expect(inCrm(never.id)).toHaveLength(0);
    // Both alerts clear before the restart: neither task is sent again.
    await fresh.db
      .updateTable('alerts')
      .set({ status: 'resolved', resolved_at: new Date() })
      .where('id', 'in', [made.id, never.id])
      .execute();
    const r = await deliverAlertTasks(fresh.db, { ...opts, sink: real });
    expect(r).toMatchObject({ created: 0, resent: 0, closed: 1, failed: 0 });
    expect(inCrm(made.id).map((t) => t.Status)).toEqual(['Completed']);
    expect(inCrm(never.id)).toHaveLength(0);
    const rows = await fresh.db
      .selectFrom('alert_tasks')
      .select(['alert_id', 'crm_task_id', 'closed_at', 'last_error'])
      .where('alert_id', 'in', [made.id, never.id])
      .orderBy('alert_id')
      .execute();
    expect(rows.map((x) => [x.crm_task_id !== null, x.closed_at !== null, x.last_error])).toEqual([
      [true, true, null],
      [false, true, 'its alert resolved before the task was confirmed, and the CRM has no such task'],
    ]);
    // Nothing is left pending, so a later run has nothing to do.
    expect(await deliverAlertTasks(fresh.db, { ...opts, sink: real })).toMatchObject({
      created: 0,
      resent: 0,
      closed: 0,
    });
  });

  it('re-sends field values the CRM accepted but the ledger never recorded: nothing lost, same values', async () => {
    const layout = defaultLayout();
    const real = new SalesforceWriter(connector.client, {
      target: writeTargetFor({ target: 'user_fields' }),
      log: silentLogger,
    });
    let calls = 0;
    const dying: WritebackSink = {
      write: async (intents) => {
        calls++;
        await real.write(intents);
        throw new Killed('killed after Salesforce applied the update');
      },
      apiCalls: () => real.apiCalls(),
    };
    const desired = reps.map((id, i) => ({
      targetObject: 'User',
      targetRecordId: id,
      fields: metricFieldValues(
        {
          attainment: `0.5${i}00`,
          pace: '0.9000',
          projectedAttainment: '0.6000',
          status: 'major_gap',
          coverage: '1.2000',
          rank: i + 1,
        },
        layout,
        id,
      ),
    }));
    await enqueueWriteback(fresh.db, 'sf', desired, day);
    const push = (sink: WritebackSink) =>
      pushPending(fresh.db, {
        connectionId: 'sf',
        mode: 'live',
        asOfField: layout.asOf.name,
        units: unitsByField(layout),
        sink,
        log: silentLogger,
        asOf: day,
      });
    await expect(push(dying)).rejects.toThrow(Killed);
    expect(calls).toBe(1);
    const stillPending = await fresh.db.selectFrom('writeback_pending').selectAll().execute();
    expect(stillPending).toHaveLength(7 * 6);
    const run = await fresh.db.selectFrom('writeback_runs').selectAll().orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect(run.status).toBe('failed');

    const again = await push(real);
    expect(again).toMatchObject({ recordsWritten: 7, recordsFailed: 0 });
    expect(await fresh.db.selectFrom('writeback_pending').selectAll().execute()).toEqual([]);
    const u = sb.store.get('User', reps[3] as string);
    expect(u).toMatchObject({ Quota_Attainment__c: 53, Quota_Rank__c: 4, Quota_Metrics_As_Of__c: day });
    // And a further run has nothing to send.
    expect((await push(real)).plan).toEqual([]);
  });
});
