import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { countCall } from '../../src/connectors/call-count.ts';
import { defaultLayout } from '../../src/connectors/salesforce/write-fields.ts';
import type { SinkResult, WritebackSink, WriteIntent } from '../../src/connectors/types.ts';
import { silentLogger } from '../../src/util/log.ts';
import { metricFieldValues, type RepMetricValues, unitsByField } from '../../src/writeback/fields.ts';
import { type DesiredRecord, enqueueWriteback } from '../../src/writeback/ledger.ts';
import { pushPending, revertRun } from '../../src/writeback/push.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

/** A CRM double: holds field values per record, counts calls, can fail chosen records. */
class MemoryCrm implements WritebackSink {
  records = new Map<string, Record<string, unknown>>();
  calls = 0;
  sent: WriteIntent[][] = [];
  failIds = new Set<string>();
  beforeReturn: (() => Promise<void>) | undefined;
  async write(intents: readonly WriteIntent[]): Promise<SinkResult[]> {
    this.calls++;
    // One CRM call, reported as a real client reports its calls (a run counts its own, src/connectors/call-count.ts).
    countCall();
    this.sent.push([...intents]);
    const out: SinkResult[] = [];
    for (const i of intents) {
      if (this.failIds.has(i.targetRecordId)) {
        out.push({ targetRecordId: i.targetRecordId, ok: false, errorCode: 'UNABLE_TO_LOCK_ROW', message: 'locked' });
        continue;
      }
      this.records.set(i.targetRecordId, { ...(this.records.get(i.targetRecordId) ?? {}), ...i.fields });
      out.push({ targetRecordId: i.targetRecordId, ok: true, response: { id: i.targetRecordId, success: true } });
    }
    await this.beforeReturn?.();
    return out;
  }
  apiCalls() {
    return this.calls;
  }
}

const layout = defaultLayout();
const units = unitsByField(layout);

function rep(id: string, v: Partial<RepMetricValues> = {}): DesiredRecord {
  const values: RepMetricValues = {
    attainment: '0.8700',
    pace: '0.0845',
    projectedAttainment: '1.0860',
    status: 'on_track',
    coverage: '2.5000',
    rank: 3,
    ...v,
  };
  return { targetObject: 'User', targetRecordId: id, fields: metricFieldValues(values, layout, id) };
}

let fresh: TestDatabase;
let crm: MemoryCrm;
const push = (mode: 'live' | 'dry-run' = 'live', asOf = '2026-11-20') =>
  pushPending(fresh.db, {
    connectionId: 'sf',
    mode,
    asOfField: layout.asOf.name,
    units,
    sink: crm,
    log: silentLogger,
    asOf,
  });

beforeAll(async () => {
  fresh = await createTestDatabase();
  await fresh.db.insertInto('connections').values({ id: 'sf', kind: 'salesforce' }).execute();
});
afterAll(async () => fresh?.drop());
beforeEach(async () => {
  crm = new MemoryCrm();
  await sql`TRUNCATE writeback_pending, writeback_ledger`.execute(fresh.db);
});

describe('write-back ledger and push', () => {
  it('sends every field of new records once, in the fields units, with the as-of date', async () => {
    const q = await enqueueWriteback(
      fresh.db,
      'sf',
      [rep('005A'), rep('005B', { attainment: '0.4312', rank: 7 })],
      '2026-11-20',
    );
    expect(q).toEqual({ pending: 12, records: 2, unchanged: 0 });
    const r = await push();
    expect(r.recordsWritten).toBe(2);
    expect(crm.calls).toBe(1);
    expect(crm.records.get('005B')).toEqual({
      Quota_Attainment__c: 43.12,
      Quota_Pace__c: 8.45,
      Projected_Attainment__c: 108.6,
      Quota_Status__c: 'on_track',
      Pipeline_Coverage__c: 2.5,
      Quota_Rank__c: 7,
      Quota_Metrics_As_Of__c: '2026-11-20',
    });
    const pending = await fresh.db.selectFrom('writeback_pending').selectAll().execute();
    expect(pending).toEqual([]);
    const ledger = await fresh.db
      .selectFrom('writeback_ledger')
      .select(['field', 'value'])
      .where('target_record_id', '=', '005B')
      .orderBy('field')
      .execute();
    expect(ledger.map((l) => `${l.field}=${l.value}`)).toEqual([
      'Pipeline_Coverage__c=2.5',
      'Projected_Attainment__c=108.6',
      'Quota_Attainment__c=43.12',
      'Quota_Metrics_As_Of__c=2026-11-20',
      'Quota_Pace__c=8.45',
      'Quota_Rank__c=7',
      'Quota_Status__c=on_track',
    ]);
    const audit = await fresh.db.selectFrom('writeback_audit').selectAll().where('run_id', '=', r.runId).execute();
    expect(audit).toHaveLength(14);
    expect(audit.every((a) => a.ok && a.value_before === null)).toBe(true);
  });

  it('sends nothing the second time, and only the changed field of one rep after a change', async () => {
    await enqueueWriteback(fresh.db, 'sf', [rep('005A'), rep('005B')], '2026-11-20');
    await push();
    expect(crm.calls).toBe(1);

    const again = await enqueueWriteback(fresh.db, 'sf', [rep('005A'), rep('005B')], '2026-11-21');
    expect(again).toEqual({ pending: 0, records: 0, unchanged: 12 });
    const second = await push('live', '2026-11-21');
    expect(second.plan).toEqual([]);
    expect(crm.calls).toBe(1);

    await enqueueWriteback(fresh.db, 'sf', [rep('005A'), rep('005B', { attainment: '0.9125' })], '2026-11-22');
    const third = await push('live', '2026-11-22');
    expect(crm.calls).toBe(2);
    expect(crm.sent[1]).toEqual([
      {
        targetObject: 'User',
        targetRecordId: '005B',
        fields: { Quota_Attainment__c: 91.25, Quota_Metrics_As_Of__c: '2026-11-22' },
      },
    ]);
    const audit = await fresh.db
      .selectFrom('writeback_audit')
      .select(['field', 'value_before', 'value_after'])
      .where('run_id', '=', third.runId)
      .orderBy('field')
      .execute();
    expect(audit).toEqual([
      { field: 'Quota_Attainment__c', value_before: '87', value_after: '91.25' },
      { field: 'Quota_Metrics_As_Of__c', value_before: '2026-11-20', value_after: '2026-11-22' },
    ]);
  });

  it('keeps only the newest pending value, and cancels one that went back to the pushed value', async () => {
    await enqueueWriteback(fresh.db, 'sf', [rep('005A')], '2026-11-20');
    await push();
    await enqueueWriteback(fresh.db, 'sf', [rep('005A', { attainment: '0.9000' })], '2026-11-21');
    await enqueueWriteback(fresh.db, 'sf', [rep('005A', { attainment: '0.9500' })], '2026-11-22');
    const rows = await fresh.db.selectFrom('writeback_pending').select(['field', 'value']).execute();
    expect(rows).toEqual([{ field: 'Quota_Attainment__c', value: '95' }]);
    await enqueueWriteback(fresh.db, 'sf', [rep('005A')], '2026-11-23');
    expect(await fresh.db.selectFrom('writeback_pending').selectAll().execute()).toEqual([]);
  });

  it('dry-run mode plans the diff and writes nothing, leaving it pending', async () => {
    await enqueueWriteback(fresh.db, 'sf', [rep('005A')], '2026-11-20');
    await push();
    await enqueueWriteback(fresh.db, 'sf', [rep('005A', { status: 'at_risk' })], '2026-11-21');
    const dry = await push('dry-run', '2026-11-21');
    expect(crm.calls).toBe(1);
    expect(dry.plan).toEqual([
      {
        targetObject: 'User',
        targetRecordId: '005A',
        changes: [
          expect.objectContaining({ field: 'Quota_Status__c', before: 'on_track', after: 'at_risk' }),
          expect.objectContaining({ field: 'Quota_Metrics_As_Of__c', before: '2026-11-20', after: '2026-11-21' }),
        ],
      },
    ]);
    expect(await fresh.db.selectFrom('writeback_pending').select('field').execute()).toEqual([
      { field: 'Quota_Status__c' },
    ]);
    expect(crm.records.get('005A')?.Quota_Status__c).toBe('on_track');
  });

  it('revert restores the values a run replaced', async () => {
    await enqueueWriteback(fresh.db, 'sf', [rep('005A')], '2026-11-20');
    await push();
    await enqueueWriteback(fresh.db, 'sf', [rep('005A', { attainment: '0.9900', rank: 1 })], '2026-11-21');
    const changed = await push('live', '2026-11-21');
    expect(crm.records.get('005A')).toMatchObject({ Quota_Attainment__c: 99, Quota_Rank__c: 1 });
    const reverted = await revertRun(fresh.db, changed.runId, { units, sink: crm, log: silentLogger });
    expect(reverted.recordsWritten).toBe(1);
    expect(crm.records.get('005A')).toMatchObject({
      Quota_Attainment__c: 87,
      Quota_Rank__c: 3,
      Quota_Metrics_As_Of__c: '2026-11-20',
    });
    const run = await fresh.db
      .selectFrom('writeback_runs')
      .selectAll()
      .where('id', '=', reverted.runId)
      .executeTakeFirstOrThrow();
    expect(run).toMatchObject({ kind: 'revert', reverts_run_id: changed.runId, status: 'succeeded' });
    // the ledger follows the revert, so the next push sends the metrics again
    await enqueueWriteback(fresh.db, 'sf', [rep('005A', { attainment: '0.9900', rank: 1 })], '2026-11-22');
    expect((await push('live', '2026-11-22')).recordsWritten).toBe(1);
    await expect(revertRun(fresh.db, 99999, { units, sink: crm, log: silentLogger })).rejects.toThrow(
      'there is no write-back run 99999',
    );
  });

  it('keeps failed records pending with the error, and a value enqueued during the write for the next run', async () => {
    crm.failIds.add('005B');
    await enqueueWriteback(fresh.db, 'sf', [rep('005A'), rep('005B')], '2026-11-20');
    crm.beforeReturn = async () => {
      crm.beforeReturn = undefined;
      await enqueueWriteback(fresh.db, 'sf', [rep('005A', { rank: 9 }), rep('005B')], '2026-11-20');
    };
    const r = await push();
    expect(r).toMatchObject({ recordsWritten: 1, recordsFailed: 1 });
    const pending = await fresh.db
      .selectFrom('writeback_pending')
      .select(['target_record_id', 'field', 'value', 'attempts', 'last_error'])
      .orderBy('target_record_id')
      .orderBy('field')
      .execute();
    expect(pending.filter((p) => p.target_record_id === '005A' && p.field === 'Quota_Rank__c')).toEqual([
      { target_record_id: '005A', field: 'Quota_Rank__c', value: '9', attempts: 0, last_error: null },
    ]);
    expect(pending.filter((p) => p.target_record_id === '005B')).toHaveLength(6);
    expect(pending.find((p) => p.target_record_id === '005B')).toMatchObject({ attempts: 1, last_error: 'locked' });
    const run = await fresh.db
      .selectFrom('writeback_runs')
      .selectAll()
      .where('id', '=', r.runId)
      .executeTakeFirstOrThrow();
    expect(run).toMatchObject({ status: 'partial', records_written: 1, records_failed: 1, api_calls: 1 });
    await expect(sql`DELETE FROM writeback_audit`.execute(fresh.db)).rejects.toThrow(/append-only/);

    crm.failIds.clear();
    await push();
    expect(crm.sent[1]).toEqual([
      {
        targetObject: 'User',
        targetRecordId: '005A',
        // same day as the last push: the as-of date already says so
        fields: { Quota_Rank__c: 9 },
      },
      expect.objectContaining({ targetRecordId: '005B' }),
    ]);
    expect(Object.keys(crm.sent[1]?.[1]?.fields ?? {})).toHaveLength(7);
  });
});
