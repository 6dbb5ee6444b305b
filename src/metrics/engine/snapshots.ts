/**
 * Storing snapshots: a subject-period's document is written only when its value hash differs from the stored one
 * (or the config hash does), so write-back and alert delivery see exactly the subjects whose numbers moved. Each
 * write also sets the day's row in the history table, which trends and the pace_deterioration rule read.
 */
import { type Insertable, type Kysely, type OnConflictBuilder, sql } from 'kysely';
import { type Database, toJsonb } from '../../db/schema.ts';
import type { JsonObject } from '../../reports/document.ts';
import type { PlainDate } from '../../util/date.ts';
import { contentHash } from '../../util/hash.ts';
import type { MetricChange, SubjectRef } from './types.ts';

export interface SnapshotWrite {
  subject: SubjectRef;
  periodId: string;
  doc: JsonObject;
}

/** Top-level fields whose values differ (nested objects compared whole). */
export function changedFields(before: Record<string, unknown> | null, after: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(after), ...Object.keys(before ?? {})]);
  const out: string[] = [];
  for (const k of keys)
    if (before === null || contentHash(before[k] ?? null) !== contentHash(after[k] ?? null)) out.push(k);
  return out.sort();
}

type SnapshotRow = Insertable<Database['metric_snapshots']>;
type HistoryRow = Insertable<Database['metric_snapshot_history']>;

function upsertSnapshots(db: Kysely<Database>, rows: SnapshotRow[]) {
  return db
    .insertInto('metric_snapshots')
    .values(rows)
    .onConflict((oc) =>
      oc.columns(['subject_kind', 'subject_id', 'period_id']).doUpdateSet((eb) => ({
        as_of: eb.ref('excluded.as_of'),
        metrics: eb.ref('excluded.metrics'),
        value_hash: eb.ref('excluded.value_hash'),
        config_hash: eb.ref('excluded.config_hash'),
        computed_at: sql`now()`,
      })),
    );
}

function upsertHistory(db: Kysely<Database>, rows: HistoryRow[]) {
  return db.insertInto('metric_snapshot_history').values(rows).onConflict(historyConflict);
}

/** A day's history row is replaced by the newer computation of that day. */
function historyConflict(oc: OnConflictBuilder<Database, 'metric_snapshot_history'>) {
  return oc.columns(['subject_kind', 'subject_id', 'period_id', 'day']).doUpdateSet((eb) => ({
    as_of: eb.ref('excluded.as_of'),
    metrics: eb.ref('excluded.metrics'),
    value_hash: eb.ref('excluded.value_hash'),
    config_hash: eb.ref('excluded.config_hash'),
    computed_at: sql`now()`,
  }));
}

/**
 * Writes the documents that changed, atomically (one statement, or one transaction for many), and returns their changes. Unchanged documents still
 * get a history row for the day when they have none yet (the first recompute of a day records every subject).
 */
export async function storeSnapshots(
  db: Kysely<Database>,
  writes: readonly SnapshotWrite[],
  asOf: PlainDate,
  configHash: string,
): Promise<MetricChange[]> {
  if (writes.length === 0) return [];
  const changes: MetricChange[] = [];
  const kinds = writes.map((w) => w.subject.kind);
  const ids = writes.map((w) => w.subject.id);
  const periods = writes.map((w) => w.periodId);
  const existing = await sql<{
    subject_kind: string;
    subject_id: string;
    period_id: string;
    value_hash: string;
    config_hash: string;
    metrics: Record<string, unknown>;
    has_day: boolean;
  }>`
    select s.subject_kind, s.subject_id, s.period_id, s.value_hash, s.config_hash, s.metrics,
           exists (select 1 from metric_snapshot_history h where h.subject_kind = s.subject_kind
                   and h.subject_id = s.subject_id and h.period_id = s.period_id and h.day = ${asOf}) as has_day
    from metric_snapshots s
    join unnest(${kinds}::text[], ${ids}::text[], ${periods}::text[]) as k(kind, id, period)
      on s.subject_kind = k.kind and s.subject_id = k.id and s.period_id = k.period`.execute(db);
  const byKey = new Map(existing.rows.map((r) => [`${r.subject_kind}:${r.subject_id}@${r.period_id}`, r] as const));
  const snapshotRows: SnapshotRow[] = [];
  const historyRows: HistoryRow[] = [];
  for (const w of writes) {
    const hash = contentHash(w.doc);
    const prev = byKey.get(`${w.subject.kind}:${w.subject.id}@${w.periodId}`);
    const row = {
      subject_kind: w.subject.kind,
      subject_id: w.subject.id,
      period_id: w.periodId,
      as_of: asOf,
      metrics: toJsonb(w.doc),
      value_hash: hash,
      config_hash: configHash,
    };
    const changed = !prev || prev.value_hash !== hash || prev.config_hash !== configHash;
    if (changed) {
      snapshotRows.push(row);
      changes.push({
        subject: w.subject,
        periodId: w.periodId,
        asOf,
        changedFields: changedFields(prev?.metrics ?? null, w.doc),
        metrics: w.doc,
        previous: prev?.metrics ?? null,
      });
    }
    if (changed || !prev?.has_day) historyRows.push({ ...row, day: asOf });
  }
  if (snapshotRows.length === 0 && historyRows.length === 0) return changes;
  if (snapshotRows.length <= 500 && historyRows.length <= 500) {
    // A few rows (one change's subjects): one statement, atomic by itself, one round trip.
    if (snapshotRows.length === 0) await upsertHistory(db, historyRows).execute();
    else if (historyRows.length === 0) await upsertSnapshots(db, snapshotRows).execute();
    else
      await db
        .with('written', () => upsertSnapshots(db, snapshotRows))
        .insertInto('metric_snapshot_history')
        .values(historyRows)
        .onConflict(historyConflict)
        .execute();
    return changes;
  }
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < snapshotRows.length; i += 500)
      await upsertSnapshots(trx, snapshotRows.slice(i, i + 500)).execute();
    for (let i = 0; i < historyRows.length; i += 500) await upsertHistory(trx, historyRows.slice(i, i + 500)).execute();
  });
  return changes;
}

/** The history document of a subject-period on the latest day on or before `day`, or null. */
export async function historyOnOrBefore(
  db: Kysely<Database>,
  subject: SubjectRef,
  periodId: string,
  day: PlainDate,
): Promise<Record<string, unknown> | null> {
  const row = await db
    .selectFrom('metric_snapshot_history')
    .select('metrics')
    .where('subject_kind', '=', subject.kind)
    .where('subject_id', '=', subject.id)
    .where('period_id', '=', periodId)
    .where('day', '<=', day)
    .orderBy('day', 'desc')
    .limit(1)
    .executeTakeFirst();
  return (row?.metrics as Record<string, unknown> | undefined) ?? null;
}

/** Pace indexes on the latest history day on or before `day`, for many rep subjects at once. */
export async function paceIndexesOnOrBefore(
  db: Kysely<Database>,
  subjectIds: readonly string[],
  periodId: string,
  day: PlainDate,
): Promise<Map<string, string | null>> {
  if (subjectIds.length === 0) return new Map();
  const rows = await sql<{ subject_id: string; pace: string | null }>`
    select distinct on (subject_id) subject_id, metrics->>'paceIndex' as pace
    from metric_snapshot_history
    where subject_kind = 'rep' and period_id = ${periodId} and day <= ${day} and subject_id = any(${subjectIds}::text[])
    order by subject_id, day desc`.execute(db);
  return new Map(rows.rows.map((r) => [r.subject_id, r.pace] as const));
}
