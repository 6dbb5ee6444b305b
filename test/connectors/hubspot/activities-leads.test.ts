/**
 * HubSpot engagements, line items and leads as warehouse rows, hand-worked: the activity kind and type of each
 * engagement object, dates in the portal's zone, the deal of several links, what is quarantined and why, and when a
 * lead counts as converted.
 */
import { describe, expect, it } from 'vitest';
import { normalizeEngagement } from '../../../src/connectors/hubspot/activities.ts';
import { byNumericId } from '../../../src/connectors/hubspot/associations.ts';
import { normalizeLead } from '../../../src/connectors/hubspot/leads.ts';
import { normalizeLineItem } from '../../../src/connectors/hubspot/line-items.ts';
import { type HsObject, Unnormalizable } from '../../../src/connectors/hubspot/normalize.ts';

const TZ = 'America/New_York';
const obj = (properties: HsObject['properties'], extra: Partial<HsObject> = {}): HsObject => ({
  id: '101',
  properties,
  ...extra,
});

function reason(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof Unnormalizable) return e.reasonCode;
    throw e;
  }
  return undefined;
}

describe('engagements as activities', () => {
  // 02:30 UTC on Nov 3 is still Nov 2 in New York.
  const at = '2026-11-03T02:30:00.000Z';

  it('maps each engagement object to its kind and type, dated by hs_timestamp in the portal zone', () => {
    const row = (type: 'calls' | 'emails' | 'meetings' | 'tasks', p: HsObject['properties'] = {}) =>
      normalizeEngagement(type, obj({ hs_timestamp: at, hubspot_owner_id: '7', ...p }), undefined, TZ);
    expect(row('calls')).toEqual({
      kind: 'task',
      owner_external_id: '7',
      activity_type: 'call',
      subtype: 'calls',
      activity_date: '2026-11-02',
      is_completed: true,
      deal_external_id: null,
    });
    expect(row('emails')).toMatchObject({ kind: 'task', activity_type: 'email', is_completed: true });
    expect(row('meetings')).toMatchObject({ kind: 'event', activity_type: 'meeting', is_completed: null });
    expect(row('tasks', { hs_task_status: 'NOT_STARTED' })).toMatchObject({
      activity_type: 'task',
      is_completed: false,
    });
    expect(row('tasks', { activity_kind: 'proposal', hs_task_status: 'COMPLETED' })).toMatchObject({
      activity_type: 'proposal',
      is_completed: true,
    });
  });

  it('a call or meeting not held (scheduled, canceled, no-show) is not completed; a call made unanswered is', () => {
    const done = (type: 'calls' | 'meetings', p: HsObject['properties']) =>
      normalizeEngagement(type, obj({ hs_timestamp: at, ...p }), undefined, TZ).is_completed;
    expect(done('calls', { hs_call_status: 'COMPLETED' })).toBe(true);
    expect(done('calls', { hs_call_status: 'NO_ANSWER' })).toBe(true);
    expect(done('calls', { hs_call_status: 'CANCELED' })).toBe(false);
    expect(done('calls', { hs_call_status: 'QUEUED' })).toBe(false);
    expect(done('meetings', { hs_meeting_outcome: 'COMPLETED' })).toBe(true);
    expect(done('meetings', { hs_meeting_outcome: 'SCHEDULED' })).toBe(false);
    expect(done('meetings', { hs_meeting_outcome: 'CANCELED' })).toBe(false);
    expect(done('meetings', { hs_meeting_outcome: 'NO_SHOW' })).toBe(false);
  });

  it('falls back to the creation date, keeps the first of several deals, and quarantines a timestamp that is no instant', () => {
    const r = normalizeEngagement('calls', obj({ hs_createdate: at }), ['9', '12'], TZ);
    expect(r).toMatchObject({ activity_date: '2026-11-02', deal_external_id: '9', owner_external_id: null });
    expect(reason(() => normalizeEngagement('calls', obj({ hs_timestamp: 'yesterday' }), undefined, TZ))).toBe(
      'BAD_DATE',
    );
    expect(reason(() => normalizeEngagement('calls', obj({}), undefined, TZ))).toBe('MISSING_ACTIVITY_DATE');
  });

  it('orders HubSpot ids as numbers, so the lowest deal id comes first', () => {
    expect(['100', '9', '12', '99'].sort(byNumericId)).toEqual(['9', '12', '99', '100']);
  });
});

describe('line items', () => {
  it('belong to their deal; one on no deal is quarantined', () => {
    expect(
      normalizeLineItem(obj({ name: 'Platform', quantity: '3', amount: '2999.70', product_family: 'Core' }), ['5']),
    ).toEqual({
      deal_external_id: '5',
      product_name: 'Platform',
      product_family: 'Core',
      quantity: '3',
      amount: '2999.7',
    });
    expect(reason(() => normalizeLineItem(obj({ name: 'x' }), undefined))).toBe('MISSING_PARENT');
    expect(reason(() => normalizeLineItem(obj({ amount: 'a lot' }), ['5']))).toBe('BAD_NUMBER');
  });
});

describe('leads', () => {
  const labels = new Map([
    ['new-stage-id', 'New'],
    ['qualified-stage-id', 'Qualified'],
  ]);
  const history = (...entries: [string, string][]) => ({
    propertiesWithHistory: { hs_pipeline_stage: entries.map(([value, timestamp]) => ({ value, timestamp })) },
  });

  it('a lead is converted on the date it last entered the qualified stage, and stays so when moved on', () => {
    const qualified = normalizeLead(
      obj(
        { hs_createdate: '2026-09-01T14:00:00Z', hs_pipeline_stage: 'qualified-stage-id', hubspot_owner_id: '7' },
        history(['qualified-stage-id', '2026-10-05T03:00:00Z'], ['new-stage-id', '2026-09-01T14:00:00Z']),
      ),
      ['44'],
      TZ,
      labels,
    );
    expect(qualified).toEqual({
      owner_external_id: '7',
      created_date: '2026-09-01',
      status: 'Qualified',
      is_converted: true,
      converted_date: '2026-10-04',
      converted_deal_external_id: '44',
    });
    const movedOn = normalizeLead(
      obj(
        { hs_createdate: '2026-09-01T14:00:00Z', hs_pipeline_stage: 'unqualified-stage-id' },
        history(['unqualified-stage-id', '2026-10-09T15:00:00Z'], ['qualified-stage-id', '2026-10-05T15:00:00Z']),
      ),
      undefined,
      TZ,
      labels,
    );
    expect(movedOn).toMatchObject({ status: 'unqualified-stage-id', is_converted: true, converted_date: '2026-10-05' });
    const open = normalizeLead(
      obj({ hs_createdate: '2026-09-01T14:00:00Z', hs_pipeline_stage: 'new-stage-id' }),
      [],
      TZ,
      labels,
    );
    expect(open).toMatchObject({ status: 'New', is_converted: false, converted_date: null });
    expect(reason(() => normalizeLead(obj({}), undefined, TZ, labels))).toBe('MISSING_CREATED_DATE');
  });
});
