/**
 * The write-back ledger: what was last pushed per CRM record and field (`writeback_ledger`), the newest value
 * waiting to be pushed per target (`writeback_pending`), and the diff between what the metrics say and what the
 * CRM was last given. Only a difference becomes an API call; a value that goes back to what the ledger holds
 * cancels its pending write.
 *
 * Everything here is CRM-neutral: a target is (connection, object, record id, field) and a value is the field's
 * text in its own units (see fields.ts).
 */
import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.ts';
import type { PlainDate } from '../util/date.ts';

/** The values one CRM record should hold: field API name -> ledger text (null clears the field). */
export interface DesiredRecord {
  targetObject: string;
  targetRecordId: string;
  fields: ReadonlyMap<string, string | null>;
  /** The rep this record belongs to, for messages. */
  label?: string;
}

/** One field whose desired value differs from what was last pushed. */
export interface FieldChange {
  targetObject: string;
  targetRecordId: string;
  field: string;
  /** What the ledger says the CRM holds (null: never pushed, or cleared). */
  before: string | null;
  after: string | null;
  /** Whether the ledger holds a value we pushed to this field (false: never pushed). */
  known: boolean;
  /**
   * Never pushed, yet a dead call of ours may have put a value there (the ledger row is uncertain and unwritten):
   * what the CRM held before this change is unknown, so a revert leaves the field alone.
   */
  beforeUnknown?: boolean;
}

export interface RecordChanges {
  targetObject: string;
  targetRecordId: string;
  label?: string;
  changes: FieldChange[];
}

type LedgerKey = string;
const keyOf = (object: string, record: string, field: string): LedgerKey => `${object}\u0000${record}\u0000${field}`;

/** The ledger of one connection as a map, limited to the given objects. */
export async function loadLedger(
  db: Kysely<Database>,
  connectionId: string,
  objects: readonly string[],
): Promise<Map<LedgerKey, string | null>> {
  const out = new Map<LedgerKey, string | null>();
  if (objects.length === 0) return out;
  const rows = await db
    .selectFrom('writeback_ledger')
    .select(['target_object', 'target_record_id', 'field', 'value'])
    .where('connection_id', '=', connectionId)
    .where('target_object', 'in', [...objects])
    // A row for a field only a dead call of ours may have written holds no value of ours (loadUncertain has it).
    .where('written', '=', true)
    .execute();
  for (const r of rows) out.set(keyOf(r.target_object, r.target_record_id, r.field), r.value);
  return out;
}

/** Ledger keys of the connection whose CRM value is in doubt (a run died with them in flight, lock.ts). */
export async function loadUncertain(db: Kysely<Database>, connectionId: string): Promise<Set<LedgerKey>> {
  const rows = await db
    .selectFrom('writeback_ledger')
    .select(['target_object', 'target_record_id', 'field'])
    .where('connection_id', '=', connectionId)
    .where('uncertain', '=', true)
    .execute();
  return new Set(rows.map((r) => keyOf(r.target_object, r.target_record_id, r.field)));
}

/**
 * Compares desired values with the ledger. A field never pushed counts as changed even when the desired value is
 * null only if the ledger has no row for it and the value is not null: clearing a field we never wrote is a no-op.
 * An uncertain field (the CRM may hold something else) always counts as changed.
 */
export async function diffAgainstLedger(
  db: Kysely<Database>,
  connectionId: string,
  desired: readonly DesiredRecord[],
): Promise<RecordChanges[]> {
  const objects = [...new Set(desired.map((d) => d.targetObject))];
  const ledger = await loadLedger(db, connectionId, objects);
  const uncertain = await loadUncertain(db, connectionId);
  const out: RecordChanges[] = [];
  for (const rec of desired) {
    const changes: FieldChange[] = [];
    for (const [field, after] of rec.fields) {
      const k = keyOf(rec.targetObject, rec.targetRecordId, field);
      const known = ledger.has(k);
      const before = ledger.get(k) ?? null;
      const doubt = uncertain.has(k);
      if (!doubt && (known ? before === after : after === null)) continue;
      changes.push({
        targetObject: rec.targetObject,
        targetRecordId: rec.targetRecordId,
        field,
        before,
        after,
        known,
        ...(doubt && !known ? { beforeUnknown: true } : {}),
      });
    }
    if (changes.length > 0) {
      out.push({
        targetObject: rec.targetObject,
        targetRecordId: rec.targetRecordId,
        ...(rec.label !== undefined ? { label: rec.label } : {}),
        changes,
      });
    }
  }
  return out;
}

/**
 * Puts fields in doubt after a CRM request of run `runId` that carried them may have been applied without our
 * knowing (its process died with the call out, or the call got no answer): the CRM holds the ledger's value or the
 * one sent, so the next run sends them whatever the metric says. A field we had never written keeps saying so
 * (`written` false, no value): the ledger must not claim we wrote it empty, which a revert would put back.
 */
export async function markUncertain(
  trx: Kysely<Database>,
  connectionId: string,
  runId: number,
  fields: ReadonlyArray<{ targetObject: string; targetRecordId: string; field: string }>,
): Promise<void> {
  for (let i = 0; i < fields.length; i += CHUNK) {
    const part = fields.slice(i, i + CHUNK);
    await sql`insert into writeback_ledger as l
        (connection_id, target_object, target_record_id, field, value, run_id, uncertain, written)
      select ${connectionId}, t.o, t.r, t.f, null, ${runId}, true, false
      from unnest(${part.map((f) => f.targetObject)}::text[], ${part.map((f) => f.targetRecordId)}::text[],
                  ${part.map((f) => f.field)}::text[]) as t(o, r, f)
      on conflict (connection_id, target_object, target_record_id, field) do update set uncertain = true`.execute(trx);
  }
}

export interface EnqueueSummary {
  /** Fields now waiting to be pushed. */
  pending: number;
  /** Records with at least one pending field. */
  records: number;
  /** Fields equal to what was last pushed (nothing to do). */
  unchanged: number;
}

const CHUNK = 1000;

/**
 * Queues the changed fields of `desired` for the next push. The pending table keeps one row per target, so a newer
 * value replaces an older one that was never pushed; a field that went back to what the ledger holds loses its
 * pending row.
 */
export async function enqueueWriteback(
  db: Kysely<Database>,
  connectionId: string,
  desired: readonly DesiredRecord[],
  asOf: PlainDate,
): Promise<EnqueueSummary> {
  const changed = await diffAgainstLedger(db, connectionId, desired);
  const changedKeys = new Set<LedgerKey>();
  const rows = changed.flatMap((r) =>
    r.changes.map((c) => {
      changedKeys.add(keyOf(c.targetObject, c.targetRecordId, c.field));
      return {
        connection_id: connectionId,
        target_object: c.targetObject,
        target_record_id: c.targetRecordId,
        field: c.field,
        value: c.after,
        as_of: asOf,
      };
    }),
  );
  const unchangedTargets: Array<{ object: string; record: string; field: string }> = [];
  let total = 0;
  for (const rec of desired) {
    for (const field of rec.fields.keys()) {
      total++;
      if (!changedKeys.has(keyOf(rec.targetObject, rec.targetRecordId, field))) {
        unchangedTargets.push({ object: rec.targetObject, record: rec.targetRecordId, field });
      }
    }
  }
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < rows.length; i += CHUNK) {
      await trx
        .insertInto('writeback_pending')
        .values(rows.slice(i, i + CHUNK))
        .onConflict((oc) =>
          oc.columns(['connection_id', 'target_object', 'target_record_id', 'field']).doUpdateSet((eb) => ({
            value: eb.ref('excluded.value'),
            as_of: eb.ref('excluded.as_of'),
            enqueued_at: new Date(), // wall-clock: an audit stamp
            attempts: 0,
            last_error: null,
          })),
        )
        .execute();
    }
    // A value that is back to what the CRM holds must not be pushed by an older pending row.
    for (let i = 0; i < unchangedTargets.length; i += CHUNK) {
      const part = unchangedTargets.slice(i, i + CHUNK);
      await sql`delete from writeback_pending p
        using unnest(${part.map((t) => t.object)}::text[], ${part.map((t) => t.record)}::text[],
                     ${part.map((t) => t.field)}::text[]) as t(o, r, f)
        where p.connection_id = ${connectionId} and p.target_object = t.o and p.target_record_id = t.r
          and p.field = t.f`.execute(trx);
    }
  });
  return { pending: rows.length, records: changed.length, unchanged: total - rows.length };
}

/** A pending row as read for a push. */
export interface PendingField {
  targetObject: string;
  targetRecordId: string;
  field: string;
  value: string | null;
  asOf: PlainDate | null;
  enqueuedAt: Date;
}

/** Everything waiting to be pushed for a connection, oldest first. */
export async function loadPending(db: Kysely<Database>, connectionId: string): Promise<PendingField[]> {
  const rows = await db
    .selectFrom('writeback_pending')
    .select(['target_object', 'target_record_id', 'field', 'value', 'as_of', 'enqueued_at'])
    .where('connection_id', '=', connectionId)
    .orderBy('enqueued_at')
    .orderBy('target_record_id')
    .orderBy('field')
    .execute();
  return rows.map((r) => ({
    targetObject: r.target_object,
    targetRecordId: r.target_record_id,
    field: r.field,
    value: r.value,
    asOf: r.as_of,
    enqueuedAt: r.enqueued_at,
  }));
}

export { keyOf as ledgerKey };
