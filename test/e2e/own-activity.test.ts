/**
 * Activity is the reps' own: the alert tasks quota-tracker writes into the CRM are never read back as anyone's
 * activity (the next sync read them as Tasks and the managers' activity rose with every alert), and a group's
 * activity targets count the people who carry a quota in it on the as-of date (the org's used to count managers and
 * leavers too: targets for 13 people while its teams held 11).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { validateConfig } from '../../src/config/load.ts';
import { SalesforceTaskWriter } from '../../src/connectors/salesforce/tasks.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { runMetricsStep } from '../../src/metrics/engine/step.ts';
import { activityFromCounts } from '../../src/metrics/math/activity.ts';
import { buildReport } from '../../src/reports/report.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { runSync } from '../../src/sync/run.ts';
import { silentLogger } from '../../src/util/log.ts';
import { Dec } from '../../src/util/money.ts';
import { deliverAlertTasks } from '../../src/writeback/alert-tasks.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnector } from '../helpers/sandbox.ts';

const AS_OF = '2026-11-20';
const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
const config = validateConfig({ calendar: { timezone: 'UTC' }, forecast: { trials: 200 } });
let sb: SalesforceSandbox;
let t: TestDatabase;
let engine: MetricsEngine;

async function sync(stream?: string) {
  const connector = sandboxConnector(sb);
  for (const s of connector.streams()) {
    if (stream && s.name !== stream) continue;
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
}

type Counts = { call: number; meeting: number; email: number; task: number };
type Activities = { counts: Counts; score: string | null };

beforeAll(async () => {
  t = await createTestDatabase();
  sb = await startSalesforceSandbox({ seed: 6, size: 'small', anchorDate: AS_OF });
  engine = new MetricsEngine({ db: t.db, config });
  await sync();
  await runMetricsStep(engine, AS_OF);
}, 180_000);
afterAll(async () => {
  await sb?.close();
  await t?.drop();
});

describe('activity', () => {
  it('never counts the alert tasks quota-tracker created', async () => {
    const before = await buildReport(t.db, engine, { kind: 'org', asOf: AS_OF });
    const sink = new SalesforceTaskWriter(sandboxConnector(sb).client, silentLogger);
    const delivered = await deliverAlertTasks(t.db, {
      connectionId: 'sf',
      sink,
      calendar,
      today: AS_OF,
      maxTasksPerManagerPerDay: 1000,
      log: silentLogger,
    });
    expect(delivered.created).toBeGreaterThan(0);
    const ours = sb.store
      .all('Task')
      .filter((x) => x.Quota_Alert_Key__c !== null && x.Quota_Alert_Key__c !== undefined);
    expect(ours.length).toBe(delivered.created);
    sb.store.advance(60_000);
    await sync('tasks');
    const read = await t.db
      .selectFrom('activities')
      .select('external_id')
      .where(
        'external_id',
        'in',
        ours.map((x) => String(x.Id)),
      )
      .execute();
    expect(read).toEqual([]);
    await runMetricsStep(engine, AS_OF);
    const after = await buildReport(t.db, engine, { kind: 'org', asOf: AS_OF });
    expect((after.totals as { activities: Activities }).activities).toEqual(
      (before.totals as { activities: Activities }).activities,
    );
  }, 120_000);

  it("scores a group against the targets of the quota carriers in it, so the org's targets are its teams' together", async () => {
    const org = await buildReport(t.db, engine, { kind: 'org', asOf: AS_OF });
    const teams = org.teams as { subject: { name: string }; activities: Activities }[];
    const targets = engine.settings.activity;
    const scoreWith = (a: Activities, people: number) =>
      activityFromCounts({ ...a.counts, proposal: 0 } as never, AS_OF, {
        ...targets,
        targets: Object.fromEntries(
          Object.entries(targets.targets).map(([k, v]) => [k, new Dec(v ?? 0).times(people).toString()]),
        ),
      }).score;
    // Each team's score is its counts against N people's targets for exactly one N: its quota carriers.
    const carriersOf = async (team: string) => {
      const rows = await t.db
        .selectFrom('memberships as m')
        .innerJoin('org_units as u', 'u.id', 'm.org_unit_id')
        .innerJoin('persons as p', 'p.id', 'm.person_id')
        .select('p.id')
        .where('u.name', '=', team)
        .where('m.valid_from', '<=', AS_OF)
        .where((eb) => eb.or([eb('m.valid_to', 'is', null), eb('m.valid_to', '>', AS_OF)]))
        .where((eb) =>
          eb.or([
            eb('p.quota_carrying', '=', true),
            eb.and([
              eb('p.quota_carrying', 'is', null),
              eb.exists(
                eb
                  .selectFrom('reps as r')
                  .select('r.external_id')
                  .whereRef('r.person_id', '=', 'p.id')
                  .where('r.quota_carrying', '=', true),
              ),
            ]),
          ]),
        )
        .execute();
      return rows.length;
    };
    let total = 0;
    for (const team of teams) {
      const n = await carriersOf(team.subject.name);
      total += n;
      const got = team.activities.score === null ? null : new Dec(team.activities.score);
      const want = scoreWith(team.activities, Math.max(n, 1));
      expect(got?.toFixed(2), team.subject.name).toBe(want.value?.toFixed(2));
    }
    const orgActivities = (org.totals as { activities: Activities }).activities;
    expect(new Dec(orgActivities.score as string).toFixed(2)).toBe(scoreWith(orgActivities, total).value?.toFixed(2));
  }, 60_000);
});
