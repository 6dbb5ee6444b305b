/**
 * Who gets scores written: active users who carry quota (a quota this period, or the quota-carrying flag). A VP or
 * an integration user with a snapshot but no quota gets nothing; a rep we wrote before who no longer carries quota
 * gets the fields cleared.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { defaultLayout } from '../../src/connectors/salesforce/write-fields.ts';
import { toJsonb } from '../../src/db/schema.ts';
import { desiredFromSnapshots } from '../../src/writeback/values.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sampleFigures } from '../helpers/figures.ts';

let t: TestDatabase;
const period = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 }).periodById('FY2026-Q4');

beforeAll(async () => {
  t = await createTestDatabase();
  await t.db.insertInto('connections').values({ id: 'sf', kind: 'salesforce' }).execute();
  const rep = (id: string, quotaCarrying: boolean) => ({
    connection_id: 'sf',
    external_id: id,
    content_hash: 'h',
    name: id,
    is_active: true,
    quota_carrying: quotaCarrying,
  });
  await t.db
    .insertInto('reps')
    .values([rep('005SELLER', true), rep('005NEWHIRE', true), rep('005VP', false), rep('005FORMER', false)])
    .execute();
  const snapshot = (id: string, quota: string | null) => ({
    subject_kind: 'rep' as const,
    subject_id: `sf:${id}`,
    period_id: period.id,
    as_of: '2026-11-26',
    // A whole stored document (write-back reads it through its type) with these figures.
    metrics: toJsonb({
      ...sampleFigures(),
      quota,
      ...(quota === null ? { quotaReason: 'no_quota' } : {}),
      attainment: quota === null ? null : '0.5000',
      ...(quota === null ? { attainmentReason: 'no_quota' } : {}),
      paceIndex: null,
      paceIndexReason: 'no_quota',
      projectedAttainment: null,
      projectedAttainmentReason: 'no_quota',
      status: null,
      statusReason: 'no_quota',
      pipeline: { ...sampleFigures().pipeline, coverage: null, coverageReason: 'no_quota' },
    }),
    value_hash: id,
    config_hash: 'c',
  });
  await t.db
    .insertInto('metric_snapshots')
    .values([
      snapshot('005SELLER', '100000.00'),
      snapshot('005NEWHIRE', null),
      snapshot('005VP', null),
      snapshot('005FORMER', null),
    ])
    .execute();
  await t.db
    .insertInto('writeback_ledger')
    .values({
      connection_id: 'sf',
      target_object: 'User',
      target_record_id: '005FORMER',
      field: 'Quota_Attainment__c',
      value: '42',
    })
    .execute();
});
afterAll(() => t.drop());

it('writes to reps with a quota or the quota-carrying flag, clears a former one, and skips the VP', async () => {
  const desired = await desiredFromSnapshots(t.db, {
    connectionId: 'sf',
    period,
    target: { kind: 'user_fields', object: 'User' },
    layout: defaultLayout(),
  });
  expect(desired.records.map((r) => r.targetRecordId)).toEqual(['005FORMER', '005NEWHIRE', '005SELLER']);
  const former = desired.records.find((r) => r.targetRecordId === '005FORMER');
  expect(former?.fields.get('Quota_Attainment__c')).toBeNull();
});
