import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../../src/sandbox/salesforce/index.ts';
import { admin, connect, fixture, keys, rejection } from './helpers.ts';

const queryDoc = fixture<{ body: Record<string, unknown>; unpagedBody: Record<string, unknown> }>(
  'query-response.json',
);
const deletedDoc = fixture<{ body: Record<string, unknown> }>('getdeleted-response.json');
const updatedDoc = fixture<{ body: Record<string, unknown> }>('getupdated-response.json');
type DocResult = { id?: string; success: boolean; errors: unknown[]; created?: boolean };
const createDoc = fixture<{ body: DocResult[]; partialFailure: DocResult[]; allOrNoneFailure: DocResult[] }>(
  'collections-create-response.json',
);
const upsertDoc = fixture<{ body: DocResult[]; partialFailure: DocResult[]; allOrNoneFailure: DocResult[] }>(
  'collections-upsert-response.json',
);
const describeDoc = fixture<{
  body: { fields: Array<Record<string, unknown>>; childRelationships: Array<Record<string, unknown>> } & Record<
    string,
    unknown
  >;
}>('describe-response.json');
const limitsDoc = fixture<{ body: Record<string, Record<string, unknown>> }>('limits-response.json');
const errorsDoc = fixture<{
  malformedQuery: Array<{ message: string; errorCode: string }>;
  resourceDoesNotExist: unknown;
  limitHeader: string;
}>('errors.json');

let sb: SalesforceSandbox;
let conn: ReturnType<typeof connect>;
let repId: string;

beforeAll(async () => {
  sb = await startSalesforceSandbox({ seed: 21, size: 'small', populate: false, anchorDate: '2026-03-10' });
  const s = sb.store;
  const mgr = s.insert('User', {
    Username: 'mgr@acme.test',
    Email: 'mgr@acme.test',
    LastName: 'Manager',
    IsActive: true,
  });
  const rep = s.insert('User', {
    Username: 'rep@acme.test',
    Email: 'rep@acme.test',
    LastName: 'Rep',
    IsActive: true,
    ManagerId: mgr.Id,
  });
  repId = String(rep.Id);
  // 450 Tasks one second apart, from 2026-03-09T00:00Z.
  for (let i = 0; i < 450; i++) {
    s.insert(
      'Task',
      { Subject: `t${i}`, Status: 'Completed', Priority: 'Normal', OwnerId: repId },
      {
        stamp: new Date(Date.UTC(2026, 2, 9, 0, 0, i)),
      },
    );
  }
  conn = connect(sb);
});
afterAll(async () => sb.close());

describe('query, query-more and queryAll through jsforce', () => {
  it('pages with nextRecordsUrl at the Sforce-Query-Options batch size, totalSize counting every page', async () => {
    const headers = { 'Sforce-Query-Options': 'batchSize=200' };
    const first = await conn.query('SELECT Id, Subject, Owner.Email FROM Task ORDER BY SystemModstamp, Id', {
      autoFetch: false,
      headers,
    } as never);
    expect(keys(first)).toEqual(keys(queryDoc.body));
    expect(first).toMatchObject({ totalSize: 450, done: false });
    expect(first.records).toHaveLength(200);
    // jsforce makes the locator absolute; the wire body carries Salesforce's relative form.
    expect(first.nextRecordsUrl).toMatch(/\/services\/data\/v62\.0\/query\/01g[0-9A-Za-z]{15}-200$/);
    const raw = await fetch(`${sb.url}/services/data/v62.0/query?q=${encodeURIComponent('SELECT Id FROM Task')}`, {
      headers: { authorization: `Bearer ${conn.accessToken}`, 'Sforce-Query-Options': 'batchSize=200' },
    });
    const rawBody = (await raw.json()) as { nextRecordsUrl: string };
    expect(rawBody.nextRecordsUrl).toMatch(/^\/services\/data\/v62\.0\/query\/01g[0-9A-Za-z]{15}-200$/);
    expect(first.records[0]).toEqual({
      attributes: { type: 'Task', url: expect.stringMatching(/^\/services\/data\/v62\.0\/sobjects\/Task\/00T/) },
      Id: expect.any(String),
      Subject: 't0',
      Owner: {
        attributes: { type: 'User', url: `/services/data/v62.0/sobjects/User/${repId}` },
        Email: 'rep@acme.test',
      },
    });
    const second = await conn.queryMore(first.nextRecordsUrl!);
    expect(second.records.map((r) => r.Subject)).toEqual(Array.from({ length: 200 }, (_, i) => `t${200 + i}`));
    const third = await conn.queryMore(second.nextRecordsUrl!);
    expect(third).toMatchObject({ totalSize: 450, done: true });
    expect(third.nextRecordsUrl).toBeUndefined();
    expect(third.records.map((r) => r.Subject)).toEqual(Array.from({ length: 50 }, (_, i) => `t${400 + i}`));
  });

  it('clamps the batch size to 200..2000 and stops at LIMIT across pages', async () => {
    const small = await conn.query('SELECT Id FROM Task LIMIT 300', {
      autoFetch: false,
      headers: { 'Sforce-Query-Options': 'batchSize=50' },
    } as never);
    expect(small).toMatchObject({ totalSize: 300, done: false });
    expect(small.records).toHaveLength(200);
    const rest = await conn.queryMore(small.nextRecordsUrl!);
    expect(rest).toMatchObject({ done: true });
    expect(rest.records).toHaveLength(100);
    const all = await conn.query('SELECT Id FROM Task', { autoFetch: false } as never);
    expect(all).toMatchObject({ totalSize: 450, done: true });
    // A last (or only) page has no nextRecordsUrl, as in the documented single-page example.
    expect(keys(all)).toEqual(keys(queryDoc.unpagedBody));
  });

  it('keeps at most 10 cursors open: an 11th drops the oldest, whose locator then fails', async () => {
    const opts = { autoFetch: false, headers: { 'Sforce-Query-Options': 'batchSize=200' } } as never;
    const firsts = [];
    for (let i = 0; i < 11; i++) firsts.push(await conn.query('SELECT Id FROM Task', opts));
    const err = await rejection(conn.queryMore(firsts[0]!.nextRecordsUrl!));
    expect(err.errorCode).toBe('INVALID_QUERY_LOCATOR');
    const second = await conn.queryMore(firsts[1]!.nextRecordsUrl!);
    expect(second.records).toHaveLength(200);
  });

  it('queryAll (scanAll) returns rows in the recycle bin, query does not', async () => {
    const lead = sb.store.insert('Lead', { LastName: 'Gone', Company: 'X', Status: 'Open - Not Contacted' });
    sb.store.softDelete('Lead', String(lead.Id));
    const q = await conn.query("SELECT Id, IsDeleted FROM Lead WHERE LastName = 'Gone'");
    expect(q.totalSize).toBe(0);
    const qa = await conn.query("SELECT Id, IsDeleted FROM Lead WHERE LastName = 'Gone'", { scanAll: true } as never);
    expect(qa.records).toEqual([expect.objectContaining({ Id: lead.Id, IsDeleted: true })]);
    expect(sb.log.entries().at(-1)?.path).toBe('/services/data/v62.0/queryAll');
  });

  it('answers 400 with Salesforce error codes for malformed queries and unknown names', async () => {
    const bad = await rejection(conn.query('SELECT Id FROM'));
    expect(bad.errorCode).toBe('MALFORMED_QUERY');
    expect(bad.message).toBe(errorsDoc.malformedQuery[0]!.message);
    expect((await rejection(conn.query('SELECT Id, Bogus__c FROM Task'))).errorCode).toBe('INVALID_FIELD');
    expect((await rejection(conn.query('SELECT Id FROM Bogus__c'))).errorCode).toBe('INVALID_TYPE');
    const last = sb.log.entries().at(-1)!;
    expect(last).toMatchObject({ status: 400, errorCode: 'INVALID_TYPE', soql: 'SELECT Id FROM Bogus__c' });
    const missing = await fetch(`${sb.url}/services/data/v62.0/sobjects/Bogus__c/describe`, {
      headers: { authorization: `Bearer ${conn.accessToken}` },
    });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual(errorsDoc.resourceDoesNotExist);
  });

  it('COUNT() answers totalSize with no records', async () => {
    const r = await conn.query('SELECT COUNT() FROM Task WHERE SystemModstamp >= 2026-03-09T00:07:00Z');
    expect(r).toMatchObject({ totalSize: 30, done: true, records: [] });
  });
});

describe('describe', () => {
  it('answers every key the documented example shows, at each level', async () => {
    const res = await fetch(`${sb.url}/services/data/v62.0/sobjects/User/describe`, {
      headers: { authorization: `Bearer ${conn.accessToken}` },
    });
    const d = (await res.json()) as typeof describeDoc.body & { urls: Record<string, string> };
    const doc = describeDoc.body;
    expect(Object.keys(d)).toEqual(expect.arrayContaining(Object.keys(doc)));
    expect(Object.keys(d.fields[0]!)).toEqual(expect.arrayContaining(Object.keys(doc.fields[0]!)));
    expect(Object.keys(d.childRelationships[0]!)).toEqual(
      expect.arrayContaining(Object.keys(doc.childRelationships[0]!)),
    );
    expect(d.urls).toMatchObject({
      sobject: '/services/data/v62.0/sobjects/User',
      uiEditTemplate: `${sb.url}/{ID}/e`,
      uiDetailTemplate: `${sb.url}/{ID}`,
    });
    expect(d.fields[0]).toMatchObject({ name: 'Id', type: 'id', length: 18, updateable: false });
    expect(d).toMatchObject({ custom: false, customSetting: false, keyPrefix: '005' });
  });

  it('reports field types, updateability, external ids and formula fields', async () => {
    const user = await conn.sobject('User').describe();
    const f = (d: typeof user, n: string) => d.fields.find((x) => x.name === n)!;
    expect(user).toMatchObject({ name: 'User', keyPrefix: '005', queryable: true, replicateable: true });
    expect(f(user, 'Quota_Attainment__c')).toMatchObject({ type: 'percent', updateable: true, custom: true });
    expect(f(user, 'Quota_Metrics_As_Of__c')).toMatchObject({ type: 'date', updateable: true });
    expect(f(user, 'Pipeline_Coverage__c')).toMatchObject({ type: 'double' });
    expect(f(user, 'ManagerId')).toMatchObject({
      type: 'reference',
      referenceTo: ['User'],
      relationshipName: 'Manager',
    });
    expect(f(user, 'SystemModstamp')).toMatchObject({ type: 'datetime', updateable: false, createable: false });
    const task = await conn.sobject('Task').describe();
    expect(f(task, 'Quota_Alert_Key__c')).toMatchObject({ externalId: true, unique: true, idLookup: true });
    const opp = await conn.sobject('Opportunity').describe();
    expect(f(opp, 'Expected_Revenue_Formula__c')).toMatchObject({ calculated: true, updateable: false });
    const score = await conn.sobject('Quota_Scorecard__c').describe();
    expect(score.custom).toBe(true);
    expect(f(score, 'Scorecard_Key__c')).toMatchObject({ externalId: true });
  });
});

describe('getDeleted and getUpdated', () => {
  it('lists soft and hard deletes in the window with the documented body', async () => {
    const s = sb.store;
    const a = s.insert('Lead', { LastName: 'A', Company: 'A', Status: 'Open - Not Contacted' });
    const b = s.insert('Lead', { LastName: 'B', Company: 'B', Status: 'Open - Not Contacted' });
    s.setNow(new Date('2026-03-10T13:00:30Z'));
    s.softDelete('Lead', String(a.Id));
    s.hardDelete('Lead', String(b.Id));
    s.setNow(new Date('2026-03-10T14:00:00Z'));
    const res = await conn.sobject('Lead').deleted('2026-03-10T13:00:00Z', '2026-03-10T13:30:00Z');
    expect(keys(res)).toEqual(keys(deletedDoc.body));
    expect(res.deletedRecords).toEqual([
      { id: a.Id, deletedDate: '2026-03-10T13:00:30.000+0000' },
      { id: b.Id, deletedDate: '2026-03-10T13:00:30.000+0000' },
    ]);
    expect(res.latestDateCovered).toBe('2026-03-10T13:30:00.000+0000');
    expect(res.earliestDateAvailable).toBe('2026-02-23T14:00:00.000+0000');
    const err = await rejection(conn.sobject('Lead').deleted('2026-02-20T00:00:00Z', '2026-03-10T00:00:00Z'));
    expect(err.errorCode).toBe('INVALID_REPLICATION_DATE');
  });

  it('lists ids written in the window (30 days back at most)', async () => {
    const res = await conn.sobject('Task').updated('2026-03-09T00:01:00Z', '2026-03-09T00:02:00Z');
    expect(keys(res)).toEqual(keys(updatedDoc.body));
    expect(res.ids).toHaveLength(60);
    expect(res.latestDateCovered).toBe('2026-03-09T00:02:00.000+0000');
    expect(
      (await rejection(conn.sobject('Task').updated('2026-02-01T00:00:00Z', '2026-03-01T00:00:00Z'))).errorCode,
    ).toBe('INVALID_REPLICATION_DATE');
  });
});

describe('sObject Collections writes', () => {
  it('creates, updates and upserts up to 200 records, attributing writes to the integration user', async () => {
    sb.store.setNow(new Date('2026-03-10T15:00:00Z'));
    const created = await conn.sobject('Task').create([
      { Subject: 'alert 1', OwnerId: repId, Quota_Alert_Key__c: 'rep:2026-Q1:at_risk' },
      { Subject: 'alert 2', OwnerId: repId, Quota_Alert_Key__c: 'rep:2026-Q1:pace' },
    ]);
    expect(created.map(keys)).toEqual(createDoc.body.map(keys));
    expect(created.every((r) => r.success)).toBe(true);
    sb.store.advance(60_000);
    const updated = await conn
      .sobject('User')
      .update([{ Id: repId, Quota_Attainment__c: 87, Quota_Metrics_As_Of__c: '2026-03-10' }]);
    expect(updated).toEqual([{ id: repId, success: true, errors: [] }]);
    const rep = sb.store.get('User', repId)!;
    expect(rep).toMatchObject({
      Quota_Attainment__c: 87,
      LastModifiedById: sb.integrationUserId,
      SystemModstamp: '2026-03-10T15:01:00.000+0000',
    });
    const upserted = await conn.sobject('Task').upsert(
      [
        { Quota_Alert_Key__c: 'rep:2026-Q1:at_risk', Subject: 'alert 1 (again)' },
        { Quota_Alert_Key__c: 'rep:2026-Q1:new', Subject: 'alert 3', OwnerId: repId },
      ],
      'Quota_Alert_Key__c',
    );
    expect(upserted.map(keys)).toEqual(upsertDoc.body.map(keys));
    expect(upserted).toEqual([
      { id: created[0]!.id, success: true, errors: [], created: false },
      { id: expect.stringMatching(/^00T/), success: true, errors: [], created: true },
    ]);
    expect(sb.store.get('Task', String(created[0]!.id))!.Subject).toBe('alert 1 (again)');
  });

  it('reports per-record errors, and with allOrNone rolls everything back', async () => {
    const mixed = await conn
      .sobject('Lead')
      .create([
        { LastName: 'Ok', Company: 'C' },
        { Company: 'No last name' },
        { LastName: 'Typed', Company: 'C', IsConverted: true },
      ]);
    expect(mixed[0]).toMatchObject({ success: true });
    expect(mixed[1]).toEqual({
      success: false,
      errors: [
        {
          statusCode: 'REQUIRED_FIELD_MISSING',
          message: 'Required fields are missing: [LastName]',
          fields: ['LastName'],
        },
      ],
    });
    expect(mixed[2]).toMatchObject({
      success: false,
      errors: [{ statusCode: 'INVALID_FIELD_FOR_INSERT_UPDATE', fields: ['IsConverted'] }],
    });
    const badType = await conn.sobject('User').update([{ Id: repId, Quota_Rank__c: 'first' }]);
    expect(badType[0]).toMatchObject({ success: false, errors: [{ statusCode: 'INVALID_TYPE_ON_FIELD_IN_RECORD' }] });
    const dup = await conn.sobject('Task').create([{ Subject: 'dup', Quota_Alert_Key__c: 'rep:2026-Q1:pace' }]);
    expect(dup[0]).toMatchObject({
      success: false,
      errors: [{ statusCode: 'DUPLICATE_VALUE', fields: ['Quota_Alert_Key__c'] }],
    });

    // A failed item has no id, as in the documented partial-failure example.
    expect(keys(mixed[1])).toEqual(keys(createDoc.partialFailure[0]));
    expect(keys(mixed[0])).toEqual(keys(createDoc.partialFailure[1]));

    // Same order as the documented allOrNone example: the invalid record first, then one rolled back.
    const before = sb.store.count('Lead');
    const all = await conn
      .sobject('Lead')
      .create([{ Company: 'Broken' }, { LastName: 'Fine', Company: 'C' }], { allOrNone: true });
    expect(all.map(keys)).toEqual(createDoc.allOrNoneFailure.map(keys));
    expect(all[0]).toMatchObject({ success: false, errors: [{ statusCode: 'REQUIRED_FIELD_MISSING' }] });
    expect(all[1]).toEqual(createDoc.allOrNoneFailure[1]);
    expect(sb.store.count('Lead')).toBe(before);
  });

  it('upsert failures carry no created flag, and an allOrNone rollback keeps the existing record id', async () => {
    const [kept] = await conn.sobject('Task').create([{ Subject: 'kept', Quota_Alert_Key__c: 'rep:2026-Q1:kept' }]);
    const keptId = String(kept!.id);
    const partial = await conn.sobject('Task').upsert(
      [
        { Quota_Alert_Key__c: 'rep:2026-Q1:kept', Subject: 'kept 2' },
        { Quota_Alert_Key__c: 'rep:2026-Q1:bad', ActivityDate: 'soon' },
      ],
      'Quota_Alert_Key__c',
    );
    expect(partial[0]).toEqual({ id: keptId, success: true, errors: [], created: false });
    expect(keys(partial[1])).toEqual(keys(upsertDoc.partialFailure[1]));
    expect(partial[1]).toMatchObject({ errors: [{ statusCode: 'INVALID_TYPE_ON_FIELD_IN_RECORD' }] });
    const all = await conn.sobject('Task').upsert(
      [
        { Quota_Alert_Key__c: 'rep:2026-Q1:kept', Subject: 'kept 3' },
        { Quota_Alert_Key__c: 'rep:2026-Q1:bad', ActivityDate: 'soon' },
      ],
      'Quota_Alert_Key__c',
      { allOrNone: true },
    );
    expect(all.map(keys)).toEqual(upsertDoc.allOrNoneFailure.map(keys));
    expect(all[0]).toEqual({ ...upsertDoc.allOrNoneFailure[0], id: keptId });
    expect(sb.store.get('Task', keptId)!.Subject).toBe('kept 2');
  });

  it('fails the whole call for an unknown field and for more than 200 records', async () => {
    expect((await rejection(conn.sobject('Task').create([{ Subject: 'x', Nope__c: 1 }]))).errorCode).toBe(
      'INVALID_FIELD',
    );
    const many = Array.from({ length: 201 }, (_, i) => ({ LastName: `L${i}`, Company: 'C' }));
    const res = await fetch(`${sb.url}/services/data/v62.0/composite/sobjects`, {
      method: 'POST',
      headers: { authorization: `Bearer ${conn.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ records: many.map((r) => ({ attributes: { type: 'Lead' }, ...r })) }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as Array<{ errorCode: string }>)[0]?.errorCode).toBe('EXCEEDED_ID_LIMIT');
  });
});

describe('single-record upsert and collection delete', () => {
  it('upserts one scorecard by its external id: 201 created, then 200 updated', async () => {
    const first = await conn
      .sobject('Quota_Scorecard__c')
      .upsert({ Scorecard_Key__c: 'rep:FY2026-Q1', Rep__c: repId, Quota_Attainment__c: 40 }, 'Scorecard_Key__c');
    expect(first).toMatchObject({ success: true, created: true, id: expect.stringMatching(/^a00/) });
    expect(sb.log.entries().at(-1)).toMatchObject({ method: 'PATCH', status: 201 });
    const again = await conn
      .sobject('Quota_Scorecard__c')
      .upsert({ Scorecard_Key__c: 'rep:FY2026-Q1', Quota_Attainment__c: 55 }, 'Scorecard_Key__c');
    expect(again).toMatchObject({ success: true, created: false, id: (first as { id: string }).id });
    expect(sb.store.findBy('Quota_Scorecard__c', 'Scorecard_Key__c', 'rep:FY2026-Q1')?.Quota_Attainment__c).toBe(55);
  });

  it('deletes through DELETE composite/sobjects, per record', async () => {
    const lead = sb.store.insert('Lead', { LastName: 'Del', Company: 'D', Status: 'Open - Not Contacted' });
    const res = await conn.sobject('Lead').destroy([String(lead.Id), '00Q000000000000AAA']);
    expect(res).toEqual([
      { id: lead.Id, success: true, errors: [] },
      {
        id: '00Q000000000000AAA',
        success: false,
        errors: [{ statusCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }],
      },
    ]);
    expect(sb.store.get('Lead', String(lead.Id), { includeDeleted: true })?.IsDeleted).toBe(true);
  });
});

describe('limits and Sforce-Limit-Info', () => {
  it('counts API calls in /limits and in the header jsforce parses', async () => {
    const lim = (await conn.request('/limits')) as Record<string, { Max: number; Remaining: number }>;
    // A subset of the documented entries, each with the documented { Max, Remaining } shape.
    expect(Object.keys(lim).sort()).toEqual(['DailyApiRequests', 'DailyBulkApiBatches', 'DailyBulkV2QueryJobs']);
    for (const [name, entry] of Object.entries(lim)) expect(keys(entry)).toEqual(keys(limitsDoc.body[name]));
    expect(lim.DailyBulkApiBatches).toEqual(limitsDoc.body.DailyBulkApiBatches);
    expect(lim.DailyBulkV2QueryJobs).toEqual(limitsDoc.body.DailyBulkV2QueryJobs);
    expect(lim.DailyApiRequests!.Max).toBe(100_000);
    expect(lim.DailyApiRequests!.Remaining).toBe(100_000 - sb.server.apiUsed);
    const used = sb.server.apiUsed;
    await conn.query('SELECT Id FROM Organization');
    expect(conn.limitInfo.apiUsage).toEqual({ used: used + 1, limit: 100_000 });
  });

  it('sends the header in the documented form on every REST call but the Versions URI', async () => {
    const shape = (h: string | null) => h?.replace(/\d+/g, 'N');
    const auth = { authorization: `Bearer ${conn.accessToken}` };
    const data = await fetch(`${sb.url}/services/data/v62.0/limits`, { headers: auth });
    expect(shape(data.headers.get('sforce-limit-info'))).toBe(shape(errorsDoc.limitHeader));
    const failed = await fetch(`${sb.url}/services/data/v62.0/sobjects/Bogus__c/describe`, { headers: auth });
    expect(shape(failed.headers.get('sforce-limit-info'))).toBe(shape(errorsDoc.limitHeader));
    const versions = await fetch(`${sb.url}/services/data`, { headers: auth });
    expect(versions.status).toBe(200);
    expect(versions.headers.get('sforce-limit-info')).toBeNull();
  });
});

describe('test API', () => {
  it('refuses calls without the admin token and applies one change with a stamp in the past', async () => {
    expect((await fetch(`${sb.url}/__sandbox/log`)).status).toBe(401);
    const res = await admin(sb, 'POST', 'change', {
      op: 'insert',
      type: 'opportunity',
      fields: { Name: 'Late', StageName: 'Prospecting', CloseDate: '2026-03-31' },
      stamp: '2026-03-01T00:00:00Z',
    });
    const rec = (await res.json()) as { Id: string; SystemModstamp: string };
    expect(rec.SystemModstamp).toBe('2026-03-01T00:00:00.000+0000');
    const clock = await admin(sb, 'POST', 'clock', { advanceMs: 3_600_000 });
    expect(((await clock.json()) as { now: string }).now).toBe(new Date(sb.store.now()).toISOString());
    const log = (await (await admin(sb, 'GET', 'log')).json()) as Array<{ path: string }>;
    expect(log.some((e) => e.path.startsWith('/__sandbox'))).toBe(false);
  });
});
