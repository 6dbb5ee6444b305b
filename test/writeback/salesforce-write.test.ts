import { afterEach, describe, expect, it } from 'vitest';
import { SalesforceClient, type SalesforceSession } from '../../src/connectors/salesforce/client.ts';
import { SalesforceTaskWriter } from '../../src/connectors/salesforce/tasks.ts';
import { layoutFromDescribe, SalesforceWriter, writeTargetFor } from '../../src/connectors/salesforce/write.ts';
import { defaultLayout } from '../../src/connectors/salesforce/write-fields.ts';
import { isAppError } from '../../src/errors.ts';
import { silentLogger } from '../../src/util/log.ts';
import { type StubHandler, type StubServer, startStub } from './stub-server.ts';

const BASE = '/services/data/v62.0';
let stub: StubServer | undefined;

async function client(handler: StubHandler) {
  stub = await startStub(handler);
  const url = stub.url;
  const session = {
    current: async (): Promise<SalesforceSession> => ({ accessToken: 'tok', instanceUrl: url }),
    refresh: async (): Promise<SalesforceSession> => ({ accessToken: 'tok', instanceUrl: url }),
  };
  return new SalesforceClient({
    apiVersion: '62.0',
    session,
    log: silentLogger,
    retry: { random: () => 0 },
    sleep: async () => {},
  });
}

afterEach(async () => {
  await stub?.close();
  stub = undefined;
});

// biome-ignore lint/suspicious/noExplicitAny: request bodies are checked field by field
type Body = any;

const ids = (n: number) => Array.from({ length: n }, (_, i) => `005${String(i).padStart(12, '0')}`);

describe('SalesforceWriter (User fields)', () => {
  it('writes 401 records in 3 composite calls of at most 200, allOrNone=false, results in input order', async () => {
    const c = await client((req) => {
      const b = req.body as Body;
      return { json: b.records.map((r: Body) => ({ id: r.Id, success: true, errors: [] })) };
    });
    const w = new SalesforceWriter(c, { target: writeTargetFor({ target: 'user_fields' }), log: silentLogger });
    const intents = ids(401).map((id) => ({
      targetObject: 'User',
      targetRecordId: id,
      fields: { Quota_Attainment__c: 87 },
    }));
    const results = await w.write(intents);
    const reqs = stub?.requests ?? [];
    expect(reqs.map((r) => [r.method, r.path, (r.body as Body).records.length, (r.body as Body).allOrNone])).toEqual([
      ['PATCH', `${BASE}/composite/sobjects`, 200, false],
      ['PATCH', `${BASE}/composite/sobjects`, 200, false],
      ['PATCH', `${BASE}/composite/sobjects`, 1, false],
    ]);
    expect((reqs[0]?.body as Body | undefined)?.records[0]).toEqual({
      attributes: { type: 'User' },
      Id: '005000000000000',
      Quota_Attainment__c: 87,
    });
    expect(c.apiCalls()).toBe(3);
    expect(results).toHaveLength(401);
    expect(results.every((r, i) => r.ok && r.targetRecordId === intents[i]?.targetRecordId)).toBe(true);
  });

  it('re-sends only the records that failed with a retryable error, and reports the others per record', async () => {
    let round = 0;
    const c = await client((req) => {
      round++;
      return {
        json: (req.body as Body).records.map((r: Body) => {
          if (r.Id === '005B' && round === 1) {
            return { success: false, errors: [{ statusCode: 'UNABLE_TO_LOCK_ROW', message: 'unable to obtain lock' }] };
          }
          if (r.Id === '005C') {
            return { success: false, errors: [{ statusCode: 'INVALID_CROSS_REFERENCE_KEY', message: 'no such user' }] };
          }
          return { id: r.Id, success: true, errors: [] };
        }),
      };
    });
    const w = new SalesforceWriter(c, {
      target: writeTargetFor({ target: 'user_fields' }),
      log: silentLogger,
      retryDelayMs: 1,
    });
    const results = await w.write(
      ['005A', '005B', '005C'].map((id) => ({
        targetObject: 'User',
        targetRecordId: id,
        fields: { Quota_Rank__c: 1 },
      })),
    );
    expect(stub?.requests.map((r) => (r.body as Body).records.map((x: Body) => x.Id))).toEqual([
      ['005A', '005B', '005C'],
      ['005B'],
    ]);
    expect(results.map((r) => [r.targetRecordId, r.ok, r.errorCode ?? null])).toEqual([
      ['005A', true, null],
      ['005B', true, null],
      ['005C', false, 'INVALID_CROSS_REFERENCE_KEY'],
    ]);
  });

  it('retries a 503 of the whole call under the retry policy', async () => {
    let n = 0;
    const c = await client((req) => {
      n++;
      if (n === 1) return { status: 503, json: [{ errorCode: 'SERVER_UNAVAILABLE', message: 'down' }] };
      return { json: (req.body as Body).records.map((r: Body) => ({ id: r.Id, success: true })) };
    });
    const w = new SalesforceWriter(c, { target: writeTargetFor({ target: 'user_fields' }), log: silentLogger });
    const [r] = await w.write([{ targetObject: 'User', targetRecordId: '005A', fields: { Quota_Rank__c: 2 } }]);
    expect(r?.ok).toBe(true);
    expect(stub?.requests).toHaveLength(2);
  });

  it('upserts scorecards on their external id with the rep as owner', async () => {
    const c = await client(() => ({ json: [{ id: 'a00000000000001', success: true, created: true, errors: [] }] }));
    const w = new SalesforceWriter(c, {
      target: writeTargetFor({ target: 'custom_object' }),
      log: silentLogger,
      scorecardIdentity: (key) => ({
        repUserId: key.split(':')[0] as string,
        periodId: 'FY2026-Q4',
        periodStart: '2026-10-01',
        periodEnd: '2026-12-31',
      }),
    });
    const [r] = await w.write([
      { targetObject: 'Quota_Scorecard__c', targetRecordId: '005A:FY2026-Q4', fields: { Quota_Attainment__c: 87 } },
    ]);
    expect(r).toMatchObject({ ok: true, created: true });
    expect(stub?.requests[0]?.path).toBe(`${BASE}/composite/sobjects/Quota_Scorecard__c/Scorecard_Key__c`);
    expect(stub?.requests[0]?.body).toEqual({
      allOrNone: false,
      records: [
        {
          attributes: { type: 'Quota_Scorecard__c' },
          Scorecard_Key__c: '005A:FY2026-Q4',
          Name: 'FY2026-Q4 scorecard',
          OwnerId: '005A',
          Rep__c: '005A',
          Period__c: 'FY2026-Q4',
          Period_Start__c: '2026-10-01',
          Period_End__c: '2026-12-31',
          Quota_Attainment__c: 87,
        },
      ],
    });
  });
});

describe('layoutFromDescribe', () => {
  const fields = [
    { name: 'Quota_Attainment__c', type: 'double', updateable: true, scale: 4 },
    { name: 'Quota_Pace__c', type: 'percent', updateable: true, scale: 2 },
    { name: 'Projected_Attainment__c', type: 'percent', updateable: true, scale: 2 },
    { name: 'Quota_Status__c', type: 'picklist', updateable: true },
    { name: 'Pipeline_Coverage__c', type: 'double', updateable: true, scale: 2 },
    { name: 'Quota_Rank__c', type: 'double', updateable: true, scale: 0 },
    { name: 'Quota_Metrics_As_Of__c', type: 'date', updateable: true },
  ];

  it('takes units and scales from the org: a ratio mapped to a Number field is written as 0.87', () => {
    const layout = layoutFromDescribe({ name: 'User', fields }, defaultLayout(), 'sf');
    expect(layout.attainment).toEqual({ name: 'Quota_Attainment__c', unit: 'number', scale: 4 });
    expect(layout.pace).toEqual({ name: 'Quota_Pace__c', unit: 'percent', scale: 2 });
    expect(layout.coverage.scale).toBe(2);
  });

  it('names the missing field and the config key, and a read-only one as a permission problem', () => {
    const missing = fields.filter((f) => f.name !== 'Quota_Rank__c');
    try {
      layoutFromDescribe({ name: 'User', fields: missing }, defaultLayout(), 'sf');
      expect.unreachable();
    } catch (e) {
      expect(isAppError(e, 'CRM_FIELD_MISSING')).toBe(true);
      expect((e as Error).message).toContain('User.Quota_Rank__c does not exist');
      expect((e as { where: string }).where).toBe('connections.sf.writeback.fields.rank');
    }
    const readOnly = fields.map((f) => (f.name === 'Quota_Pace__c' ? { ...f, updateable: false } : f));
    expect(() => layoutFromDescribe({ name: 'User', fields: readOnly }, defaultLayout(), 'sf')).toThrow(
      'User.Quota_Pace__c is not writable by the integration user',
    );
  });
});

describe('SalesforceTaskWriter', () => {
  it('upserts tasks on Quota_Alert_Key__c and closes them by Id', async () => {
    const c = await client((req) =>
      req.path.endsWith('/Task/Quota_Alert_Key__c')
        ? { json: [{ id: '00T000000000001', success: true, created: true, errors: [] }] }
        : { json: [{ success: false, errors: [{ statusCode: 'ENTITY_IS_DELETED', message: 'deleted' }] }] },
    );
    const w = new SalesforceTaskWriter(c, silentLogger);
    const [created] = await w.upsertTasks([
      {
        externalKey: 'at_risk_rep:person:7:FY2026-Q4:warning',
        ownerExternalId: '005M',
        subject: 'At risk: Ana Ruiz projected at 62.0% of quota',
        description: 'why',
        dueDate: '2026-11-23',
        relatedToExternalId: '006X',
      },
    ]);
    expect(created).toMatchObject({ ok: true, created: true, crmTaskId: '00T000000000001' });
    expect(stub?.requests[0]?.body).toMatchObject({
      allOrNone: false,
      records: [
        {
          attributes: { type: 'Task' },
          Quota_Alert_Key__c: 'at_risk_rep:person:7:FY2026-Q4:warning',
          OwnerId: '005M',
          WhatId: '006X',
          Status: 'Not Started',
          ActivityDate: '2026-11-23',
        },
      ],
    });
    const [closed] = await w.closeTasks([{ externalKey: 'k', crmTaskId: '00T000000000001' }]);
    expect(stub?.requests[1]?.path).toBe(`${BASE}/composite/sobjects`);
    expect(stub?.requests[1]?.body).toEqual({
      allOrNone: false,
      records: [{ attributes: { type: 'Task' }, Id: '00T000000000001', Status: 'Completed' }],
    });
    expect(closed).toMatchObject({ externalKey: 'k', ok: true });
  });
});
