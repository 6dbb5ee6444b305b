/**
 * One write-back run: drain the pending values of a connection, send only what differs from the ledger (plus the
 * as-of date of each record that changed), record every field written in the append-only audit with its value
 * before and after and the CRM's response, and move the ledger forward for what the CRM accepted.
 *
 * Crash safety: pending rows are deleted only after the CRM accepted the write and the ledger says so, in one
 * transaction; a worker killed mid-run leaves them pending, and the next run sends the same values again (writes
 * of field values are idempotent). A pending row replaced by a newer value while the run was in flight survives.
 *
 * A run is fenced (lock.ts): it holds the connection's write-back lock, records each CRM call's fields and deadline
 * before sending, books nothing once a newer run marked it abandoned, and waits out the deadline of a dead run's
 * call before sending a different value to a field that call carried.
 */
import { type Insertable, type Kysely, type Selectable, sql } from 'kysely';
import { type CallCounter, countingCalls } from '../connectors/call-count.ts';
import type { FieldUnit, SinkResult, WritebackSink, WriteCallGuard, WriteIntent } from '../connectors/types.ts';
import { type Database, toJsonb, type WritebackAuditTable, type WritebackRunsTable } from '../db/schema.ts';
import { AppError, isAppError } from '../errors.ts';
import type { PlainDate } from '../util/date.ts';
import type { Logger } from '../util/log.ts';
import { abortableSleep } from '../util/sleep.ts';
import { toWireValue } from './fields.ts';
import {
  type FieldChange,
  ledgerKey,
  loadLedger,
  loadPending,
  loadUncertain,
  markUncertain,
  type PendingField,
  type RecordChanges,
} from './ledger.ts';
import { withWritebackLock } from './lock.ts';

/**
 * How long a CRM write call may be out when the sink does not say (the Salesforce client's request timeout): a
 * call sent by a process that then died may land at the CRM until then.
 */
export const DEFAULT_CALL_TIMEOUT_MS = 180_000;

export interface PushOptions {
  connectionId: string;
  mode: 'live' | 'dry-run';
  /** The as-of field's API name (sent with every record that has a changed value); null for none. */
  asOfField: string | null;
  /** Unit per field API name; fields not listed are text. */
  units: ReadonlyMap<string, FieldUnit>;
  sink: WritebackSink;
  log: Logger;
  /** The as-of date of the values, when pending rows carry none. */
  asOf: PlainDate;
  /** Ends a wait for a dead run's call (lock.ts) with the signal's reason. */
  signal?: AbortSignal;
  /**
   * What to do when an earlier run's unanswered call may still land on a field this run sends another value to:
   * `wait` it out here (the CLI: a foreground command the user is watching, the wait bounded by the call timeout
   * plus a renewal, ended by SIGTERM), or `defer`: fail at once with WRITEBACK_DEFERRED and when to come back (a
   * job, which must not hold a worker slot for minutes).
   */
  lateWrite?: 'wait' | 'defer';
  /** The pause of that wait; injected by tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface PushResult {
  runId: number;
  mode: 'live' | 'dry-run';
  /** Records with changed fields (what was, or in dry-run would be, sent). */
  plan: RecordChanges[];
  recordsWritten: number;
  recordsFailed: number;
  apiCalls: number;
  failures: Array<{ targetRecordId: string; errorCode?: string; message?: string }>;
}

function unitOf(units: ReadonlyMap<string, FieldUnit>, field: string): FieldUnit {
  return units.get(field) ?? 'text';
}

/** Intents for the changed records: their changed fields in wire form (and the as-of date when configured). */
export function toIntents(plan: readonly RecordChanges[], units: ReadonlyMap<string, FieldUnit>): WriteIntent[] {
  return plan.map((r) => {
    const fields: WriteIntent['fields'] = {};
    for (const c of r.changes) fields[c.field] = toWireValue(c.after, unitOf(units, c.field));
    return { targetObject: r.targetObject, targetRecordId: r.targetRecordId, fields };
  });
}

/** A field we never wrote that a dead call of ours may have written: its value before is nobody's guess. */
function unknownBefore(uncertain: ReadonlySet<string>, k: string, known: boolean): { beforeUnknown?: true } {
  return uncertain.has(k) && !known ? { beforeUnknown: true } : {};
}

/** Groups pending fields that differ from the ledger into per-record changes, adding the as-of field. */
export function planFromPending(
  pending: readonly PendingField[],
  ledger: ReadonlyMap<string, string | null>,
  asOfField: string | null,
  fallbackAsOf: PlainDate,
  uncertain: ReadonlySet<string> = new Set(),
): { plan: RecordChanges[]; stale: PendingField[] } {
  const byRecord = new Map<string, { rec: RecordChanges; asOf: PlainDate | null }>();
  const stale: PendingField[] = [];
  for (const p of pending) {
    if (p.field === asOfField) continue;
    const k = ledgerKey(p.targetObject, p.targetRecordId, p.field);
    const known = ledger.has(k);
    const before = ledger.get(k) ?? null;
    if (!uncertain.has(k) && (known ? before === p.value : p.value === null)) {
      stale.push(p);
      continue;
    }
    const rk = `${p.targetObject}\u0000${p.targetRecordId}`;
    let entry = byRecord.get(rk);
    if (!entry) {
      entry = { rec: { targetObject: p.targetObject, targetRecordId: p.targetRecordId, changes: [] }, asOf: null };
      byRecord.set(rk, entry);
    }
    entry.rec.changes.push({ ...p, before, after: p.value, known, ...unknownBefore(uncertain, k, known) });
    if (p.asOf !== null && (entry.asOf === null || p.asOf > entry.asOf)) entry.asOf = p.asOf;
  }
  const plan: RecordChanges[] = [];
  for (const { rec, asOf } of byRecord.values()) {
    rec.changes.sort((a, b) => (a.field < b.field ? -1 : a.field > b.field ? 1 : 0));
    if (asOfField !== null) {
      // The as-of date says when the values were computed, so it goes only with a value that changed.
      const k = ledgerKey(rec.targetObject, rec.targetRecordId, asOfField);
      const after = asOf ?? fallbackAsOf;
      // Same day as the last push: the field already says so.
      if (!uncertain.has(k) && ledger.has(k) && ledger.get(k) === after) {
        plan.push(rec);
        continue;
      }
      rec.changes.push({
        targetObject: rec.targetObject,
        targetRecordId: rec.targetRecordId,
        field: asOfField,
        before: ledger.get(k) ?? null,
        after,
        known: ledger.has(k),
        ...unknownBefore(uncertain, k, ledger.has(k)),
      });
    }
    plan.push(rec);
  }
  plan.sort((a, b) => (a.targetRecordId < b.targetRecordId ? -1 : a.targetRecordId > b.targetRecordId ? 1 : 0));
  return { plan, stale };
}

async function startRun(
  db: Kysely<Database>,
  connectionId: string,
  mode: 'live' | 'dry-run',
  asOf: PlainDate | null,
  revertsRunId: number | null = null,
): Promise<number> {
  const row = await db
    .insertInto('writeback_runs')
    .values({
      connection_id: connectionId,
      mode,
      as_of: asOf,
      kind: revertsRunId === null ? 'push' : 'revert',
      reverts_run_id: revertsRunId,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** The run lost its lock: a newer run marked it abandoned, and what it sent must not be booked over the newer. */
function fenced(runId: number): AppError {
  return new AppError(
    'WRITEBACK_ABANDONED',
    `write-back run #${runId} lost its lock and was marked abandoned by a newer run; what it sent is not booked, the newer run sends its own values`,
    { where: `write-back run #${runId}` },
  );
}

type InFlight = Array<[string, string, string, string | null]>;

function inFlightOf(plan: readonly RecordChanges[]): InFlight {
  return plan.flatMap((r) =>
    r.changes.map((c): InFlight[number] => [c.targetObject, c.targetRecordId, c.field, c.after]),
  );
}

/**
 * The lease of a run's CRM write: what it carries and until when a request of it can still land at the CRM
 * (`in_flight`, `write_deadline`). A write is many requests (batches, retries), so the sink calls the lease around
 * each of them (WriteCallGuard): before each, the deadline moves to now + the call timeout under the condition
 * that the run is still `running`, and a renewal that updates no row (a newer run marked it abandoned) stops the
 * write before that request goes out. A timer keeps the deadline ahead while a request is out; a process that dies
 * stops renewing it. Whatever a run sent after its last renewal can land until the deadline that renewal set, and
 * the run that abandoned it waits that deadline out (lateWriteFence).
 */
class CallLease implements WriteCallGuard {
  private timer: NodeJS.Timeout | undefined;
  private readonly deadline;
  private readonly every: number;
  private lost = false;
  /** Requests that ended without an answer: they may have been applied, or may still be. */
  unanswered = 0;
  /** Requests the CRM answered with a 2xx: some of their records were applied. */
  accepted = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly runId: number,
    timeoutMs: number,
  ) {
    // Renewed every `every` ms, so a request sent just before the last renewal can land until timeout + every.
    this.every = Math.max(100, Math.min(30_000, Math.round(timeoutMs / 3)));
    this.deadline = sql<Date>`now() + ${timeoutMs + this.every} * interval '1 millisecond'`; // wall-clock: a lease
  }

  /** Records the fields the write carries; fails with WRITEBACK_ABANDONED when the run lost its lock. */
  async start(plan: readonly RecordChanges[]): Promise<void> {
    const marked = await this.db
      .updateTable('writeback_runs')
      .set({ in_flight: toJsonb(inFlightOf(plan)), write_deadline: this.deadline })
      .where('id', '=', this.runId)
      .where('status', '=', 'running')
      .returning('id')
      .executeTakeFirst();
    if (!marked) throw fenced(this.runId);
    this.timer = setInterval(() => {
      this.renew().catch(() => {});
    }, this.every);
    this.timer.unref();
  }

  private async renew(): Promise<boolean> {
    if (this.lost) return false;
    const row = await this.db
      .updateTable('writeback_runs')
      .set({ write_deadline: this.deadline })
      .where('id', '=', this.runId)
      .where('status', '=', 'running')
      .returning('id')
      .executeTakeFirst();
    if (!row) this.lost = true;
    return row !== undefined;
  }

  async beforeCall(): Promise<void> {
    if (!(await this.renew())) throw fenced(this.runId);
  }

  afterCall(status: number | null): void {
    if (status === null) this.unanswered++;
    else if (status >= 200 && status < 300) this.accepted++;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * Waits until no request of an earlier run that carried a different value for a field of `plan` can still land at
 * the CRM (a run abandoned with its call out, or one whose request went unanswered): sending first would let that
 * request overwrite the newer value. Same values go out at once. With `lateWrite: 'defer'` (a job: a wait of up to
 * the call timeout must not hold a worker slot) it fails at once with WRITEBACK_DEFERRED, whose retryAfterSeconds
 * says when to come back; the caller has not started a run yet, so nothing is left behind.
 */
async function lateWriteFence(
  db: Kysely<Database>,
  plan: readonly RecordChanges[],
  opts: Pick<PushOptions, 'connectionId' | 'log' | 'signal' | 'sleep' | 'lateWrite'>,
  what: string,
): Promise<void> {
  if (plan.length === 0) return;
  const dead = await sql<{ id: string; status: string; in_flight: InFlight; wait_ms: number }>`
    select id, status, in_flight, ceil(extract(epoch from (write_deadline - now())) * 1000)::int as wait_ms -- wall-clock: a lease
    from writeback_runs
    where connection_id = ${opts.connectionId} and status <> 'running' and in_flight is not null
      and write_deadline > now() -- wall-clock: a lease
      `.execute(db);
  if (dead.rows.length === 0) return;
  const next = new Map<string, string | null>();
  for (const rec of plan)
    for (const c of rec.changes) next.set(ledgerKey(c.targetObject, c.targetRecordId, c.field), c.after);
  let waitMs = 0;
  const runs: string[] = [];
  for (const d of dead.rows) {
    const clash = d.in_flight.some(([o, r, f, v]) => {
      const k = ledgerKey(o, r, f);
      return next.has(k) && next.get(k) !== v;
    });
    if (clash && d.wait_ms > 0) {
      waitMs = Math.max(waitMs, d.wait_ms);
      runs.push(`${d.status} run #${d.id}`);
    }
  }
  if (waitMs === 0) return;
  const why = `the CRM call of ${runs.join(', ')} carried other values for the same fields and may still land until then`;
  if (opts.lateWrite === 'defer') {
    throw new AppError('WRITEBACK_DEFERRED', `${what} comes back in ${Math.ceil(waitMs / 1000)} s: ${why}`, {
      where: `connection ${opts.connectionId}`,
      retryAfterSeconds: Math.ceil(waitMs / 1000),
    });
  }
  opts.log.warn(
    { connection: opts.connectionId, waitMs, runs },
    `${what} waits ${Math.ceil(waitMs / 1000)} s before writing: ${why}`,
  );
  await (opts.sleep ?? abortableSleep)(waitMs, opts.signal);
}

/** Sends a plan and books the outcome (ledger, audit, pending). Shared by push and revert. */
async function sendPlan(
  db: Kysely<Database>,
  runId: number,
  plan: readonly RecordChanges[],
  opts: Pick<PushOptions, 'connectionId' | 'units' | 'sink' | 'log'>,
  pendingSeen: ReadonlyMap<string, PendingField> | null,
): Promise<Pick<PushResult, 'recordsWritten' | 'recordsFailed' | 'apiCalls' | 'failures'>> {
  // This run's calls only: the sink's client may be syncing streams at the same time (call-count.ts).
  const counter: CallCounter = { calls: 0 };
  const lease = new CallLease(db, runId, opts.sink.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS);
  let results: SinkResult[];
  try {
    if (plan.length === 0) results = [];
    else {
      await lease.start(plan);
      try {
        results = await countingCalls(counter, () => opts.sink.write(toIntents(plan, opts.units), lease));
      } finally {
        lease.stop();
      }
    }
  } catch (e) {
    // The newer run that abandoned this one put its fields in doubt already.
    if (isAppError(e, 'WRITEBACK_ABANDONED')) throw e;
    const apiCalls = counter.calls;
    const code = e instanceof AppError ? e.code : 'INTERNAL';
    // A request that got no answer may have been applied, or may still be; one answered 2xx was, at least in
    // part, though the failure lost its per-record results. Then the CRM holds the plan's values or the ledger's,
    // so the fields stay in doubt and are sent again whatever the metric says next; and a request without an
    // answer keeps the run's deadline, which the next run sending other values waits out (lateWriteFence).
    const doubt = lease.unanswered + lease.accepted > 0;
    await db.transaction().execute(async (trx) => {
      const failed = await trx
        .updateTable('writeback_runs')
        .set({
          finished_at: new Date(), // wall-clock: an audit stamp
          status: code === 'CRM_BUDGET_EXHAUSTED' ? 'stopped_budget' : 'failed',
          api_calls: apiCalls,
          error_code: code,
          error_message: e instanceof Error ? e.message : String(e),
          ...(lease.unanswered > 0 ? {} : { in_flight: null }),
        })
        .where('id', '=', runId)
        .where('status', '=', 'running')
        .returning('id')
        .executeTakeFirst();
      if (failed && doubt)
        await markUncertain(
          trx,
          opts.connectionId,
          runId,
          plan.flatMap((r) => r.changes),
        );
    });
    if (doubt) {
      opts.log.warn(
        { connection: opts.connectionId, runId, unanswered: lease.unanswered, accepted: lease.accepted },
        `write-back run #${runId} failed after the CRM ${lease.unanswered > 0 ? `left ${lease.unanswered} request(s) unanswered` : `applied part of the write`}: its ${plan.reduce((n, r) => n + r.changes.length, 0)} field(s) may hold the new values or the old ones, so they are sent again`,
      );
    }
    throw e;
  }
  const byRecord = new Map<string, SinkResult>();
  for (const r of results) byRecord.set(r.targetRecordId, r);
  const failures: PushResult['failures'] = [];
  let written = 0;
  await db.transaction().execute(async (trx) => {
    // Under the run row's lock, which marking it abandoned takes too: a run that lost its lock books nothing.
    const run = await trx
      .selectFrom('writeback_runs')
      .select('status')
      .where('id', '=', runId)
      .forUpdate()
      .executeTakeFirst();
    if (run?.status !== 'running') throw fenced(runId);
    // A request that got no answer before a retry was answered may still land: its deadline stays for the next run.
    if (lease.unanswered === 0)
      await trx.updateTable('writeback_runs').set({ in_flight: null }).where('id', '=', runId).execute();
    const audit: Insertable<WritebackAuditTable>[] = [];
    const succeeded: FieldChange[] = [];
    const notSucceeded: FieldChange[] = [];
    for (const rec of plan) {
      const result = byRecord.get(rec.targetRecordId) ?? {
        targetRecordId: rec.targetRecordId,
        ok: false,
        errorCode: 'NO_RESULT',
        message: 'the CRM returned no result for this record',
      };
      if (result.ok) written++;
      else
        failures.push({
          targetRecordId: rec.targetRecordId,
          ...(result.errorCode !== undefined ? { errorCode: result.errorCode } : {}),
          ...(result.message !== undefined ? { message: result.message } : {}),
        });
      const response = toJsonb(
        result.response ?? { ok: result.ok, errorCode: result.errorCode ?? null, message: result.message ?? null },
      );
      for (const c of rec.changes) {
        audit.push({
          run_id: runId,
          connection_id: opts.connectionId,
          target_object: c.targetObject,
          target_record_id: c.targetRecordId,
          field: c.field,
          value_before: c.before,
          before_unknown: c.beforeUnknown === true,
          value_after: c.after,
          ok: result.ok,
          error_code: result.ok ? null : (result.errorCode ?? 'UNKNOWN'),
          response,
        });
      }
      if (result.ok) succeeded.push(...rec.changes);
      else {
        notSucceeded.push(...rec.changes);
        if (pendingSeen) await bookFailure(trx, opts.connectionId, rec.changes, result.message ?? result.errorCode);
      }
    }
    // A request that got no answer may have been applied (a composite batch that timed out, then its retry answered
    // UNABLE_TO_LOCK_ROW or no result for a record): we do not know which records it carried, so every record that
    // did not succeed may hold the value sent or the ledger's, and is sent again whatever the metric says next.
    if (lease.unanswered > 0 && notSucceeded.length > 0)
      await markUncertain(trx, opts.connectionId, runId, notSucceeded);
    await bookSuccess(trx, runId, opts.connectionId, succeeded, pendingSeen !== null);
    for (let i = 0; i < audit.length; i += 1000) {
      await trx
        .insertInto('writeback_audit')
        .values(audit.slice(i, i + 1000))
        .execute();
    }
  });
  return {
    recordsWritten: written,
    recordsFailed: failures.length,
    apiCalls: counter.calls,
    failures,
  };
}

async function bookSuccess(
  trx: Kysely<Database>,
  runId: number,
  connectionId: string,
  changes: readonly FieldChange[],
  clearPending: boolean,
): Promise<void> {
  const now = new Date(); // wall-clock: when the value was pushed, an audit stamp
  for (let i = 0; i < changes.length; i += 1000) {
    const part = changes.slice(i, i + 1000);
    await trx
      .insertInto('writeback_ledger')
      .values(
        part.map((c) => ({
          connection_id: connectionId,
          target_object: c.targetObject,
          target_record_id: c.targetRecordId,
          field: c.field,
          value: c.after,
          pushed_at: now,
          run_id: runId,
        })),
      )
      .onConflict((oc) =>
        oc.columns(['connection_id', 'target_object', 'target_record_id', 'field']).doUpdateSet((eb) => ({
          value: eb.ref('excluded.value'),
          pushed_at: eb.ref('excluded.pushed_at'),
          run_id: eb.ref('excluded.run_id'),
          uncertain: false,
          written: true,
        })),
      )
      .execute();
    if (clearPending) await deletePendingIfValue(trx, connectionId, part);
  }
}

/**
 * Deletes pending rows only where they still hold the value given: a different value enqueued while a write was in
 * flight stays for the next run. (Compared by value: enqueued_at has microseconds, which a JS Date cannot carry.)
 */
async function deletePendingIfValue(
  trx: Kysely<Database>,
  connectionId: string,
  rows: ReadonlyArray<{ targetObject: string; targetRecordId: string; field: string; after: string | null }>,
): Promise<void> {
  if (rows.length === 0) return;
  await sql`delete from writeback_pending p
    using unnest(${rows.map((r) => r.targetObject)}::text[], ${rows.map((r) => r.targetRecordId)}::text[],
                 ${rows.map((r) => r.field)}::text[], ${rows.map((r) => r.after)}::text[]) as t(o, r, f, v)
    where p.connection_id = ${connectionId} and p.target_object = t.o and p.target_record_id = t.r
      and p.field = t.f and p.value is not distinct from t.v`.execute(trx);
}

async function bookFailure(
  trx: Kysely<Database>,
  connectionId: string,
  changes: readonly FieldChange[],
  error: string | undefined,
): Promise<void> {
  const rec = changes[0];
  if (!rec) return;
  await trx
    .updateTable('writeback_pending')
    .set((eb) => ({ attempts: eb('attempts', '+', 1), last_error: error ?? 'write failed' }))
    .where('connection_id', '=', connectionId)
    .where('target_object', '=', rec.targetObject)
    .where('target_record_id', '=', rec.targetRecordId)
    .execute();
}

async function finishRun(
  db: Kysely<Database>,
  runId: number,
  r: Pick<PushResult, 'recordsWritten' | 'recordsFailed' | 'apiCalls'>,
  unchanged: number,
): Promise<void> {
  const status = r.recordsFailed === 0 ? 'succeeded' : r.recordsWritten === 0 ? 'failed' : 'partial';
  await db
    .updateTable('writeback_runs')
    .set({
      finished_at: new Date(), // wall-clock: an audit stamp
      status,
      api_calls: r.apiCalls,
      records_written: r.recordsWritten,
      records_failed: r.recordsFailed,
      records_unchanged: unchanged,
    })
    .where('id', '=', runId)
    .where('status', '=', 'running')
    .execute();
}

/**
 * Pushes what is pending for a connection. In dry-run mode the plan is computed, logged and returned, a run is
 * recorded, and nothing is sent or changed: the pending values stay for when the mode goes live.
 */
export async function pushPending(db: Kysely<Database>, opts: PushOptions): Promise<PushResult> {
  const pending = await loadPending(db, opts.connectionId);
  const objects = [...new Set(pending.map((p) => p.targetObject))];
  const ledger = await loadLedger(db, opts.connectionId, objects);
  const uncertain = await loadUncertain(db, opts.connectionId);
  const { plan, stale } = planFromPending(pending, ledger, opts.asOfField, opts.asOf, uncertain);
  // Before the run starts: a deferred write leaves no run behind, only its pending values.
  if (opts.mode === 'live') await lateWriteFence(db, plan, opts, `the write-back of ${opts.connectionId}`);
  const runId = await startRun(db, opts.connectionId, opts.mode, opts.asOf);
  if (opts.mode === 'dry-run') {
    for (const rec of plan) {
      opts.log.info(
        { runId, record: rec.targetRecordId, changes: rec.changes.map((c) => [c.field, c.before, c.after]) },
        'write-back dry run: would write',
      );
    }
    const none = { recordsWritten: 0, recordsFailed: 0, apiCalls: 0 };
    await finishRun(db, runId, none, stale.length);
    return { runId, mode: 'dry-run', plan, ...none, failures: [] };
  }
  if (stale.length > 0) {
    // Pending values that equal the ledger (the metric went back) have nothing to send.
    await deletePendingIfValue(
      db,
      opts.connectionId,
      stale.map((p) => ({ ...p, after: p.value })),
    );
  }
  const seen = new Map<string, PendingField>();
  for (const p of pending) seen.set(ledgerKey(p.targetObject, p.targetRecordId, p.field), p);
  const sent = await sendPlan(db, runId, plan, opts, seen);
  await finishRun(db, runId, sent, stale.length);
  for (const f of sent.failures) {
    opts.log.warn({ runId, record: f.targetRecordId, code: f.errorCode }, `write-back failed: ${f.message ?? ''}`);
  }
  return { runId, mode: 'live', plan, ...sent };
}

/**
 * Restores the values a run replaced: every field the run wrote successfully goes back to its value before, as a
 * new run of kind `revert` with its own audit. The ledger follows, so the next push sends the metrics again unless
 * write-back is switched off.
 */
export async function revertRun(
  db: Kysely<Database>,
  runId: number,
  opts: Pick<PushOptions, 'units' | 'sink' | 'log' | 'signal' | 'sleep' | 'lateWrite'> & { mode?: 'live' | 'dry-run' },
): Promise<PushResult> {
  const run = await db.selectFrom('writeback_runs').selectAll().where('id', '=', runId).executeTakeFirst();
  if (!run) throw new AppError('NOT_FOUND', `there is no write-back run ${runId}`, { where: `--run ${runId}` });
  return withWritebackLock(db, run.connection_id, opts.log, () => revertLocked(db, run, opts), {
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
}

async function revertLocked(
  db: Kysely<Database>,
  run: Selectable<WritebackRunsTable>,
  opts: Pick<PushOptions, 'units' | 'sink' | 'log' | 'signal' | 'sleep' | 'lateWrite'> & { mode?: 'live' | 'dry-run' },
): Promise<PushResult> {
  const runId = Number(run.id);
  if (run.mode !== 'live') {
    throw new AppError('USAGE', `write-back run ${runId} was a dry run and wrote nothing to revert`, {
      where: `--run ${runId}`,
    });
  }
  const rows = await db
    .selectFrom('writeback_audit')
    .select(['target_object', 'target_record_id', 'field', 'value_before', 'value_after', 'before_unknown'])
    .where('run_id', '=', runId)
    .where('ok', '=', true)
    .orderBy('id')
    .execute();
  const byRecord = new Map<string, RecordChanges>();
  const leftAlone: string[] = [];
  for (const r of rows) {
    // Never written by us before the run, and a dead call of ours may or may not have put a value there: there is
    // no value of ours to restore, and clearing it could erase what someone else keeps in the field.
    if (r.before_unknown) {
      leftAlone.push(`${r.target_record_id}.${r.field}`);
      continue;
    }
    const k = `${r.target_object}\u0000${r.target_record_id}`;
    let rec = byRecord.get(k);
    if (!rec) {
      rec = { targetObject: r.target_object, targetRecordId: r.target_record_id, changes: [] };
      byRecord.set(k, rec);
    }
    rec.changes.push({
      targetObject: r.target_object,
      targetRecordId: r.target_record_id,
      field: r.field,
      before: r.value_after,
      after: r.value_before,
      known: true,
    });
  }
  if (leftAlone.length > 0) {
    opts.log.warn(
      { connection: run.connection_id, run: runId, leftAlone },
      `the revert of write-back run #${runId} leaves ${leftAlone.length} field(s) as they are: quota-tracker had never written them before that run, so it has no earlier value of its own to put back (${leftAlone.slice(0, 5).join(', ')}${leftAlone.length > 5 ? ', ...' : ''})`,
    );
  }
  const plan = [...byRecord.values()];
  const mode = opts.mode ?? 'live';
  const connOpts = { ...opts, connectionId: run.connection_id };
  // A dead run's call may still land on the fields a revert puts back, as on those a push sends.
  if (mode === 'live') await lateWriteFence(db, plan, connOpts, `the revert of write-back run #${runId}`);
  const revertId = await startRun(db, run.connection_id, mode, run.as_of, runId);
  if (mode === 'dry-run') {
    const none = { recordsWritten: 0, recordsFailed: 0, apiCalls: 0 };
    await finishRun(db, revertId, none, 0);
    return { runId: revertId, mode, plan, ...none, failures: [] };
  }
  const sent = await sendPlan(db, revertId, plan, connOpts, null);
  await finishRun(db, revertId, sent, 0);
  return { runId: revertId, mode, plan, ...sent };
}
