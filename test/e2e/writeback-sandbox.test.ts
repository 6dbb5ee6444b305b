/**
 * Write-back against the Salesforce sandbox over real HTTP: 401 reps with snapshots in the warehouse, written to
 * their User records through the real connector. Counts the composite calls in the sandbox's request log and reads
 * the values back through the API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { type Config, configSchema } from '../../src/config/schema.ts';
import { SalesforceConnector } from '../../src/connectors/salesforce/connector.ts';
import { defaultLayout } from '../../src/connectors/salesforce/write-fields.ts';
import { toJsonb } from '../../src/db/schema.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { today } from '../../src/util/date.ts';
import { silentLogger } from '../../src/util/log.ts';
import { unitsByField } from '../../src/writeback/fields.ts';
import { revertRun } from '../../src/writeback/push.ts';
import { runWriteback, type WritebackContext } from '../../src/writeback/run.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sampleFigures } from '../helpers/figures.ts';
import { sandboxConnectionEntry } from '../helpers/sandbox.ts';

const N = 401;
let sb: SalesforceSandbox;
let fresh: TestDatabase;
let config: Config;
let ctx: WritebackContext;
let connector: SalesforceConnector;
const userIds: string[] = [];
let periodId: string;

/** A rep's metrics: attainment i/400 so every rep differs and ranks are distinct (highest i ranks first). */
/** A whole stored document (write-back reads it through its type) with these figures; no quota, as before. */
function metricsFor(i: number, over: Record<string, unknown> = {}) {
  const attainment = (i / 400).toFixed(4);
  const doc = sampleFigures();
  return {
    ...doc,
    quota: null,
    quotaReason: 'no_quota',
    attainment,
    paceIndex: ((i + 5) / 400).toFixed(4),
    projectedAttainment: ((i + 20) / 400).toFixed(4),
    status: i < 280 ? 'major_gap' : 'on_track',
    pipeline: { ...doc.pipeline, coverage: (i / 100).toFixed(4) },
    ...over,
  };
}

function compositeCalls() {
  return sb.log.entries().filter((e) => e.path.includes('/composite/sobjects'));
}

async function readBack(ids: readonly string[]) {
  const list = ids.map((id) => `'${id}'`).join(',');
  const res = await connector.client.query<Record<string, unknown>>(
    `SELECT Id, Quota_Attainment__c, Quota_Pace__c, Projected_Attainment__c, Quota_Status__c, Pipeline_Coverage__c, Quota_Rank__c, Quota_Metrics_As_Of__c FROM User WHERE Id IN (${list})`,
  );
  return new Map(res.records.map((r) => [r.Id as string, r]));
}

beforeAll(async () => {
  sb = await startSalesforceSandbox({ seed: 7, size: 'small', populate: false });
  const manager = sb.store.insert('User', {
    Username: 'mgr@acme.test',
    Email: 'mgr@acme.test',
    LastName: 'Manager',
    IsActive: true,
  });
  for (let i = 0; i < N; i++) {
    const u = sb.store.insert('User', {
      Username: `rep${i}@acme.test`,
      Email: `rep${i}@acme.test`,
      FirstName: 'Rep',
      LastName: String(i),
      IsActive: true,
      ManagerId: manager.Id,
    });
    userIds.push(String(u.Id));
  }
  config = configSchema.parse({
    calendar: { timezone: 'UTC' },
    connections: [sandboxConnectionEntry(sb)],
  });
  const conn = config.connections[0];
  if (conn?.type !== 'salesforce') throw new Error('expected a salesforce connection');
  connector = new SalesforceConnector({ config: conn, log: silentLogger });
  fresh = await createTestDatabase();
  await fresh.db.insertInto('connections').values({ id: 'sf', kind: 'salesforce' }).execute();
  periodId = createFiscalCalendar(config.calendar).periodContaining(today('UTC'), 'quarter').id;
  await fresh.db
    .insertInto('reps')
    .values(
      userIds.map((id, i) => ({
        connection_id: 'sf',
        external_id: id,
        content_hash: 'h',
        name: `Rep ${i}`,
        is_active: true,
      })),
    )
    .execute();
  await fresh.db
    .insertInto('metric_snapshots')
    .values(
      userIds.map((id, i) => ({
        subject_kind: 'rep' as const,
        subject_id: `sf:${id}`,
        period_id: periodId,
        as_of: today('UTC'),
        metrics: toJsonb(metricsFor(i)),
        value_hash: `v${i}`,
        config_hash: 'c',
      })),
    )
    .execute();
  ctx = { db: fresh.db, config, log: silentLogger, connector: async () => connector };
}, 60_000);

afterAll(async () => {
  await sb?.close();
  await fresh?.drop();
});

describe('write-back to the Salesforce sandbox', () => {
  let firstRunId = 0;

  it('writes 401 changed reps in exactly 3 composite calls, and the values read back are the reports in field units', async () => {
    const before = compositeCalls().length;
    const out = await runWriteback(ctx, { connectionId: 'sf' });
    expect(out.status).toBe('done');
    if (out.status !== 'done') return;
    firstRunId = out.push.runId;
    const calls = compositeCalls().slice(before);
    expect(calls.map((c) => [c.method, c.status])).toEqual([
      ['PATCH', 200],
      ['PATCH', 200],
      ['PATCH', 200],
    ]);
    expect(out.push).toMatchObject({ recordsWritten: N, recordsFailed: 0, apiCalls: 3 });
    const back = await readBack([userIds[0] as string, userIds[123] as string, userIds[400] as string]);
    // rep 123: attainment 123/400 = 0.3075 -> Percent 30.75; coverage 1.23 (Number); rank: 400 - 123 + 1 = 278
    expect(back.get(userIds[123] as string)).toMatchObject({
      Quota_Attainment__c: 30.75,
      Quota_Pace__c: 32,
      Projected_Attainment__c: 35.75,
      Quota_Status__c: 'major_gap',
      Pipeline_Coverage__c: 1.23,
      Quota_Rank__c: 278,
      Quota_Metrics_As_Of__c: today('UTC'),
    });
    expect(back.get(userIds[400] as string)).toMatchObject({ Quota_Attainment__c: 100, Quota_Rank__c: 1 });
    expect(back.get(userIds[0] as string)).toMatchObject({ Quota_Attainment__c: 0, Quota_Rank__c: 401 });
  });

  it('makes no call when nothing changed', async () => {
    const before = compositeCalls().length;
    const out = await runWriteback(ctx, { connectionId: 'sf' });
    expect(out.status === 'done' && out.push.plan).toEqual([]);
    expect(compositeCalls().length).toBe(before);
  });

  it('after one deal changes one rep (its rank unchanged), makes exactly one call carrying only that rep and its changed fields', async () => {
    const id = userIds[10] as string;
    await fresh.db
      .updateTable('metric_snapshots')
      .set({ metrics: toJsonb(metricsFor(10, { attainment: '0.0260', projectedAttainment: '0.0800' })) })
      .where('subject_id', '=', `sf:${id}`)
      .execute();
    const plan = await runWriteback(ctx, { connectionId: 'sf', mode: 'dry-run' });
    expect(
      plan.status === 'done' &&
        plan.push.plan.map((r) => [r.targetRecordId, r.changes.map((c) => [c.field, c.before, c.after])]),
    ).toEqual([
      [
        id,
        [
          ['Projected_Attainment__c', '7.5', '8'],
          ['Quota_Attainment__c', '2.5', '2.6'],
        ],
      ],
    ]);
    const before = compositeCalls().length;
    const beforeEntries = sb.log.entries().length;
    const out = await runWriteback(ctx, { connectionId: 'sf' });
    const calls = compositeCalls().slice(before);
    expect(calls).toHaveLength(1);
    expect(sb.log.entries().length - beforeEntries).toBe(1);
    expect(out.status === 'done' && out.push.plan[0]?.changes.map((c) => c.field)).toEqual([
      'Projected_Attainment__c',
      'Quota_Attainment__c',
    ]);
    const back = await readBack([id]);
    expect(back.get(id)).toMatchObject({ Quota_Attainment__c: 2.6, Projected_Attainment__c: 8, Quota_Rank__c: 391 });
  });

  it('our own writes are attributed to the integration user, so the users sync can tell them apart', () => {
    const u = sb.store.get('User', userIds[10] as string);
    expect(u?.LastModifiedById).toBe(sb.integrationUserId);
  });

  it('honours the kill switches: enabled false writes nothing, a past as-of only with --deliver', async () => {
    const before = compositeCalls().length;
    const off = await runWriteback(
      { ...ctx, config: { ...config, writeback: { enabled: false, mode: 'live' } } },
      { connectionId: 'sf' },
    );
    expect(off).toMatchObject({ status: 'disabled' });
    const past = await runWriteback(ctx, { connectionId: 'sf', asOf: '2026-01-15' });
    expect(past).toMatchObject({ status: 'past_as_of' });
    expect(compositeCalls().length).toBe(before);
    const dry = await runWriteback(
      { ...ctx, config: { ...config, writeback: { enabled: true, mode: 'dry-run' } } },
      { connectionId: 'sf' },
    );
    expect(dry.status === 'done' && dry.push.mode).toBe('dry-run');
    expect(compositeCalls().length).toBe(before);
  });

  it('revert restores the values a run replaced (the first run: fields empty again)', async () => {
    const layout = defaultLayout();
    const writerCtx = (await import('../../src/connectors/salesforce/write.ts')).SalesforceWriter;
    const sink = new writerCtx(connector.client, {
      target: { kind: 'user_fields', object: 'User', externalIdField: 'Id' },
      log: silentLogger,
    });
    const r = await revertRun(fresh.db, firstRunId, { units: unitsByField(layout), sink, log: silentLogger });
    expect(r.recordsWritten).toBe(N);
    const back = await readBack([userIds[123] as string]);
    expect(back.get(userIds[123] as string)).toMatchObject({
      Quota_Attainment__c: null,
      Quota_Rank__c: null,
      Quota_Metrics_As_Of__c: null,
    });
  });
});
