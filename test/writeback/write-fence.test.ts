/**
 * A write-back write is many CRM requests (composite calls of 200 records, their retries), and the fence holds for
 * each of them: a run whose lease a newer run took stops before its next request; a request the CRM never
 * answered leaves its fields in doubt (sent again) and its deadline standing (a different value waits it out, or a
 * job comes back later); a field we never wrote that such a request carried stays "never written" in the ledger,
 * so a revert leaves it alone; a revert waits out an earlier run's call as a push does. A record whose retry failed
 * after an unanswered attempt of its batch is in doubt too (that attempt may have landed).
 *
 * The Salesforce side is the real SalesforceWriter and client over HTTP against a stub CRM.
 */
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { SalesforceClient, type SalesforceSession } from '../../src/connectors/salesforce/client.ts';
import { SalesforceWriter, writeTargetFor } from '../../src/connectors/salesforce/write.ts';
import { defaultLayout } from '../../src/connectors/salesforce/write-fields.ts';
import type { SinkResult, WritebackSink, WriteIntent } from '../../src/connectors/types.ts';
import type { Database } from '../../src/db/schema.ts';
import { type AppError, isAppError } from '../../src/errors.ts';
import { silentLogger } from '../../src/util/log.ts';
import { metricFieldValues, type RepMetricValues, unitsByField } from '../../src/writeback/fields.ts';
import { type DesiredRecord, enqueueWriteback } from '../../src/writeback/ledger.ts';
import { markWritebackAbandoned } from '../../src/writeback/lock.ts';
import { type PushOptions, pushPending, revertRun } from '../../src/writeback/push.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { type StubHandler, type StubServer, startStub } from './stub-server.ts';

const layout = defaultLayout();
const units = unitsByField(layout);
const ASOF = '2026-11-20';
const ATT = layout.attainment.name;

let t: TestDatabase;
let db: Kysely<Database>;
let stub: StubServer | undefined;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  await db
    .insertInto('connections')
    .values(['c1', 'c2', 'c3', 'c4', 'c5'].map((id) => ({ id, kind: 'salesforce' })))
    .execute();
});
afterAll(async () => {
  await t?.drop();
});
afterEach(async () => {
  await stub?.close();
  stub = undefined;
});

const ids = (n: number) => Array.from({ length: n }, (_, i) => `005${String(i).padStart(12, '0')}`);

function rep(id: string, attainment: string): DesiredRecord {
  const values: RepMetricValues = {
    attainment,
    pace: '0.0845',
    projectedAttainment: '1.0860',
    status: 'on_track',
    coverage: '2.5000',
    rank: 3,
  };
  return { targetObject: 'User', targetRecordId: id, fields: metricFieldValues(values, layout, id) };
}

/** The real Salesforce write sink against a stub CRM; each attempt times out after `timeoutMs`. */
async function salesforceSink(handler: StubHandler, timeoutMs = 5_000, recordRetries?: number): Promise<WritebackSink> {
  await stub?.close();
  stub = await startStub(handler);
  const url = stub.url;
  const session = {
    current: async (): Promise<SalesforceSession> => ({ accessToken: 'tok', instanceUrl: url }),
    refresh: async (): Promise<SalesforceSession> => ({ accessToken: 'tok', instanceUrl: url }),
  };
  const client = new SalesforceClient({
    apiVersion: '62.0',
    session,
    log: silentLogger,
    retry: { random: () => 0, maxAttempts: 2 },
    sleep: async () => {},
    requestTimeoutMs: timeoutMs,
  });
  const writer = new SalesforceWriter(client, {
    target: writeTargetFor({ target: 'user_fields' }),
    log: silentLogger,
    ...(recordRetries !== undefined ? { recordRetries } : {}),
  });
  return {
    write: (intents, guard) => writer.write(intents, guard),
    apiCalls: () => client.apiCalls(),
    callTimeoutMs: timeoutMs,
  };
}

// biome-ignore lint/suspicious/noExplicitAny: composite bodies are read record by record
type Body = any;
const allOk = (b: Body) => ({ json: b.records.map((r: Body) => ({ id: r.Id, success: true, errors: [] })) });

/** The CRM's state of the stub: record id -> field -> value, from every request it answered or not. */
function applyTo(crm: Map<string, Record<string, unknown>>, b: Body): void {
  for (const r of b.records) crm.set(r.Id, { ...(crm.get(r.Id) ?? {}), ...r });
}

function capturingLogger() {
  const lines: Array<{ msg: string }> = [];
  const log = pino({ level: 'warn' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  return { log, lines };
}

function push(connectionId: string, sink: WritebackSink, more: Partial<PushOptions> = {}) {
  return pushPending(db, {
    connectionId,
    mode: 'live',
    asOfField: layout.asOf.name,
    units,
    sink,
    log: silentLogger,
    asOf: ASOF,
    ...more,
  });
}

const runs = (connectionId: string) =>
  db
    .selectFrom('writeback_runs')
    .select(['id', 'status', 'in_flight', 'write_deadline', 'error_code'])
    .where('connection_id', '=', connectionId)
    .orderBy('id')
    .execute();

const ledgerOf = (connectionId: string, record: string, field = ATT) =>
  db
    .selectFrom('writeback_ledger')
    .select(['value', 'uncertain', 'written'])
    .where('connection_id', '=', connectionId)
    .where('target_record_id', '=', record)
    .where('field', '=', field)
    .executeTakeFirst();

it('a run whose lease a newer run took between two CRM calls sends none of its remaining calls, retries included', async () => {
  const reps = ids(450);
  await enqueueWriteback(
    db,
    'c1',
    reps.map((id) => rep(id, '0.7000')),
    ASOF,
  );
  let n = 0;
  const sink = await salesforceSink(async (req) => {
    n++;
    // While the CRM works on the second batch, the run's process loses its database session and the next run
    // takes the connection over (what withWritebackLock does on taking the lock); the CRM then answers 503.
    if (n === 2) {
      await markWritebackAbandoned(db, 'c1', silentLogger);
      return { status: 503, json: [{ errorCode: 'SERVER_UNAVAILABLE', message: 'busy' }] };
    }
    return allOk(req.body);
  });
  const e = await push('c1', sink).catch((x: unknown) => x);
  expect(isAppError(e, 'WRITEBACK_ABANDONED')).toBe(true);
  // Batch 1, batch 2 (answered 503); neither the retry of batch 2 nor batch 3 went out.
  expect(stub?.requests.map((r) => (r.body as Body).records.length)).toEqual([200, 200]);
  const [run] = await runs('c1');
  expect(run?.status).toBe('abandoned');
  // Every field of the write is in doubt for the next run (its call carried them all).
  expect(await ledgerOf('c1', reps[449] as string)).toEqual({ value: null, uncertain: true, written: false });
});

it('a write whose request got no answer keeps its fields in doubt and its deadline; one answered with errors does not', async () => {
  // The ledger holds 50% for 005A, and nothing for 005B.
  const crm = new Map<string, Record<string, unknown>>();
  let hold = false;
  let heldAt = 0;
  const sink = await salesforceSink((req) => {
    applyTo(crm, req.body);
    // The CRM takes the request and never answers (a reset or a cut body looks the same to us).
    if (hold) {
      heldAt = Date.now(); // wall-clock: compared with the lease the run stored
      return null;
    }
    return allOk(req.body);
  }, 300);
  await enqueueWriteback(db, 'c2', [rep('005A', '0.5000')], ASOF);
  await push('c2', sink);
  hold = true;
  await enqueueWriteback(db, 'c2', [rep('005A', '0.7000'), rep('005B', '0.9000')], ASOF);
  const e = await push('c2', sink).catch((x: unknown) => x);
  expect(isAppError(e)).toBe(true);
  // The CRM applied the unanswered request: it holds 70%, the ledger 50%.
  expect(crm.get('005A')?.[ATT]).toBe(70);
  const failed = (await runs('c2'))[1];
  expect(failed).toMatchObject({ status: 'failed', error_code: 'CRM_UNAVAILABLE' });
  expect(failed?.in_flight).toContainEqual(['User', '005A', ATT, '70']);
  // The lease outlives the unanswered request: it was renewed while the request was out. (Not compared with the
  // clock now: on a loaded machine the 100 ms the lease has left after the last timeout can pass before this line.)
  expect(heldAt).toBeGreaterThan(0);
  expect(failed?.write_deadline?.getTime()).toBeGreaterThan(heldAt);
  expect(await ledgerOf('c2', '005A')).toEqual({ value: '50', uncertain: true, written: true });
  // Never written by us: in doubt, and still not "we wrote it empty".
  expect(await ledgerOf('c2', '005B')).toEqual({ value: null, uncertain: true, written: false });

  // The metric goes back to 50%, the ledger's value: sent all the same (the CRM may hold 70%), but not while the
  // unanswered request may still land. A job comes back later, leaving no run behind and the values pending.
  hold = false;
  await enqueueWriteback(db, 'c2', [rep('005A', '0.5000'), rep('005B', '0.9000')], ASOF);
  const deferred = (await push('c2', sink, { lateWrite: 'defer' }).catch((x: unknown) => x)) as AppError;
  expect(isAppError(deferred, 'WRITEBACK_DEFERRED')).toBe(true);
  expect(deferred.retryAfterSeconds).toBeGreaterThan(0);
  expect(deferred.message).toMatch(
    new RegExp(
      `^the write-back of c2 comes back in \\d+ s: the CRM call of failed run #${failed?.id} carried other values`,
    ),
  );
  expect(await runs('c2')).toHaveLength(2);
  // The CLI waits it out, then sends.
  const waits: number[] = [];
  const sent = await push('c2', sink, {
    sleep: async (ms) => {
      waits.push(ms);
    },
  });
  expect(waits).toHaveLength(1);
  expect(waits[0]).toBeGreaterThan(0);
  expect(sent.recordsWritten).toBe(2);
  expect(crm.get('005A')?.[ATT]).toBe(50);
  expect(await ledgerOf('c2', '005A')).toEqual({ value: '50', uncertain: false, written: true });

  // Every attempt answered 500 and nothing was applied: no doubt, no deadline left standing.
  const answered = await salesforceSink(() => ({ status: 500, json: [{ errorCode: 'UNKNOWN_EXCEPTION' }] }));
  await enqueueWriteback(db, 'c2', [rep('005A', '0.6000')], ASOF);
  await expect(push('c2', answered)).rejects.toThrow();
  const last = (await runs('c2')).at(-1);
  expect(last).toMatchObject({ status: 'failed', in_flight: null });
  expect(await ledgerOf('c2', '005A')).toEqual({ value: '50', uncertain: false, written: true });
});

it('a record that failed after an unanswered attempt of its batch stays in doubt, so the metric going back is sent', async () => {
  // The ledger and the CRM hold 50% for 005X and 005Y.
  const crm = new Map<string, Record<string, unknown>>();
  let mode: 'ok' | 'hold' | 'lockX' = 'ok';
  const sink = await salesforceSink(
    (req) => {
      if (mode === 'hold') {
        // The CRM applies the batch and the answer never comes; the client's retry of it is answered below.
        applyTo(crm, req.body);
        mode = 'lockX';
        return null;
      }
      if (mode === 'lockX') {
        mode = 'ok';
        const locked = (req.body as Body).records.filter((r: Body) => r.Id === '005X');
        applyTo(crm, { records: (req.body as Body).records.filter((r: Body) => r.Id !== '005X') });
        return {
          json: (req.body as Body).records.map((r: Body) =>
            locked.includes(r)
              ? {
                  success: false,
                  errors: [{ statusCode: 'UNABLE_TO_LOCK_ROW', message: 'unable to obtain exclusive access' }],
                }
              : { id: r.Id, success: true, errors: [] },
          ),
        };
      }
      applyTo(crm, req.body);
      return allOk(req.body);
    },
    300,
    0,
  );
  await enqueueWriteback(db, 'c5', [rep('005X', '0.5000'), rep('005Y', '0.5000')], ASOF);
  await push('c5', sink);
  mode = 'hold';
  await enqueueWriteback(db, 'c5', [rep('005X', '0.7000'), rep('005Y', '0.7000')], ASOF);
  const r = await push('c5', sink);
  expect(r).toMatchObject({
    recordsWritten: 1,
    recordsFailed: 1,
    failures: [{ targetRecordId: '005X', errorCode: 'UNABLE_TO_LOCK_ROW' }],
  });
  // The timed-out attempt landed: the CRM holds 70% for 005X although its retry failed.
  expect(crm.get('005X')?.[ATT]).toBe(70);
  expect(await ledgerOf('c5', '005X')).toEqual({ value: '50', uncertain: true, written: true });
  expect(await ledgerOf('c5', '005Y')).toEqual({ value: '70', uncertain: false, written: true });

  // The metric of 005X goes back to 50%, the ledger's value: it is sent all the same (once the unanswered attempt
  // can no longer land), and the CRM follows.
  await enqueueWriteback(db, 'c5', [rep('005X', '0.5000'), rep('005Y', '0.7000')], ASOF);
  const waits: number[] = [];
  const again = await push('c5', sink, {
    sleep: async (ms) => {
      waits.push(ms);
    },
  });
  expect(waits).toHaveLength(1);
  expect(again.plan.map((p) => p.targetRecordId)).toEqual(['005X']);
  expect(crm.get('005X')?.[ATT]).toBe(50);
  expect(await ledgerOf('c5', '005X')).toEqual({ value: '50', uncertain: false, written: true });
});

/** A CRM double for the revert cases: holds values, applies every write. */
function memorySink() {
  const records = new Map<string, Record<string, unknown>>();
  const sink: WritebackSink & { records: typeof records; sent: WriteIntent[][] } = {
    records,
    sent: [],
    async write(intents: readonly WriteIntent[], guard) {
      await guard.beforeCall();
      sink.sent.push([...intents]);
      const out: SinkResult[] = intents.map((i) => {
        records.set(i.targetRecordId, { ...(records.get(i.targetRecordId) ?? {}), ...i.fields });
        return { targetRecordId: i.targetRecordId, ok: true };
      });
      guard.afterCall(200);
      return out;
    },
    apiCalls: () => sink.sent.length,
    callTimeoutMs: 1_000,
  };
  return sink;
}

it("a revert leaves alone a field we had never written that a dead call put in doubt, and restores the others'", async () => {
  const crm = memorySink();
  await enqueueWriteback(db, 'c3', [rep('005A', '0.5000')], ASOF);
  await push('c3', crm);
  // A run died with 005A (written before) and 005B (never written) in flight.
  await db
    .insertInto('writeback_runs')
    .values({
      connection_id: 'c3',
      mode: 'live',
      as_of: ASOF,
      in_flight: JSON.stringify([
        ['User', '005A', ATT, '70'],
        ['User', '005B', ATT, '80'],
      ]),
      write_deadline: sql<Date>`now() - interval '1 second'`,
    })
    .execute();
  await markWritebackAbandoned(db, 'c3', silentLogger);
  expect(await ledgerOf('c3', '005B')).toEqual({ value: null, uncertain: true, written: false });
  await enqueueWriteback(db, 'c3', [rep('005A', '0.6000'), rep('005B', '0.9000')], ASOF);
  const b = await push('c3', crm);
  const audit = await db
    .selectFrom('writeback_audit')
    .select(['target_record_id', 'value_before', 'before_unknown'])
    .where('run_id', '=', b.runId)
    .where('field', '=', ATT)
    .orderBy('target_record_id')
    .execute();
  expect(audit).toEqual([
    { target_record_id: '005A', value_before: '50', before_unknown: false },
    { target_record_id: '005B', value_before: null, before_unknown: true },
  ]);
  const { log, lines } = capturingLogger();
  const reverted = await revertRun(db, b.runId, { units, sink: crm, log });
  // 005A goes back to 50%; 005B keeps 90%: there is no value of ours to put back, and clearing it could erase one.
  expect(crm.records.get('005A')?.[ATT]).toBe(50);
  expect(crm.records.get('005B')?.[ATT]).toBe(90);
  expect(reverted.plan.flatMap((r) => r.changes.map((c) => `${c.targetRecordId}.${c.field}`))).not.toContain(
    `005B.${ATT}`,
  );
  expect(lines.map((l) => l.msg)).toContainEqual(
    expect.stringMatching(new RegExp(`^the revert of write-back run #${b.runId} leaves \\d+ field\\(s\\) as they are`)),
  );
});

it('a revert waits out an earlier run call that may still land on the fields it puts back, or comes back later', async () => {
  const crm = memorySink();
  await enqueueWriteback(db, 'c4', [rep('005A', '0.5000')], ASOF);
  await push('c4', crm);
  await enqueueWriteback(db, 'c4', [rep('005A', '0.6000')], ASOF);
  const second = await push('c4', crm);
  // A later run died with 65% in flight for 005A, its deadline 1 h ahead.
  const dead = await db
    .insertInto('writeback_runs')
    .values({
      connection_id: 'c4',
      mode: 'live',
      as_of: ASOF,
      in_flight: JSON.stringify([['User', '005A', ATT, '65']]),
      write_deadline: sql<Date>`now() + interval '1 hour'`,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  // As a job: no wait, no revert run left behind, when to come back.
  const deferred = (await revertRun(db, second.runId, {
    units,
    sink: crm,
    log: silentLogger,
    lateWrite: 'defer',
  }).catch((x: unknown) => x)) as AppError;
  expect(isAppError(deferred, 'WRITEBACK_DEFERRED')).toBe(true);
  expect(deferred.retryAfterSeconds).toBeGreaterThan(3_500);
  expect(deferred.message).toContain(`abandoned run #${dead.id}`);
  expect((await runs('c4')).filter((r) => r.status === 'running')).toEqual([]);
  expect(crm.sent).toHaveLength(2);
  // From the CLI: waits the hour out (here a sleep that returns), then sends; the send comes after the wait.
  const order: string[] = [];
  const inner = crm.write.bind(crm);
  crm.write = async (intents, guard) => {
    order.push('send');
    return inner(intents, guard);
  };
  const { log, lines } = capturingLogger();
  await revertRun(db, second.runId, {
    units,
    sink: crm,
    log,
    sleep: async (ms) => {
      order.push(`wait ${Math.round(ms / 60_000)} min`);
    },
  });
  expect(order).toEqual(['wait 60 min', 'send']);
  expect(lines.map((l) => l.msg)).toContainEqual(
    expect.stringMatching(
      /^the revert of write-back run #\d+ waits \d+ s before writing: the CRM call of abandoned run/,
    ),
  );
  expect(crm.records.get('005A')?.[ATT]).toBe(50);
});
