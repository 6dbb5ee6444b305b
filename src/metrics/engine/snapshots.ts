/**
 * Storing snapshots: a subject-period's document is written only when its value hash differs from the stored one
 * (or the config hash does), so write-back and alert delivery see exactly the subjects whose numbers moved. Each
 * write also sets the day's row in the history table, which trends and the pace_deterioration rule read.
 */
import { type Kysely, type RawBuilder, sql } from 'kysely';
import { type Database, toJsonb } from '../../db/schema.ts';
import type { PlainDate } from '../../util/date.ts';
import { contentHash, stableStringify } from '../../util/hash.ts';
import type { Dec } from '../../util/money.ts';
import type { FiguresDocument } from '../document.ts';
import type { MetricChange, SubjectRef } from './types.ts';

export interface SnapshotWrite {
  subject: SubjectRef;
  periodId: string;
  doc: FiguresDocument;
  /**
   * The attainment at full precision (the document's is rounded to four places), stored beside it for ranks
   * (src/reports/current-period.ts); null without a quota. Left out, the row says it has none (`exact_stored`).
   */
  exact?: Dec | null;
}

/** Top-level fields whose values differ (nested objects compared whole, by their stable JSON). */
export function changedFields(before: Record<string, unknown> | null, after: object): string[] {
  const now = after as Record<string, unknown>;
  const keys = new Set([...Object.keys(now), ...Object.keys(before ?? {})]);
  const out: string[] = [];
  for (const k of keys)
    if (before === null || stableStringify(before[k] ?? null) !== stableStringify(now[k] ?? null)) out.push(k);
  return out.sort();
}

/** What a store did: the changes, and the `computed_at` of every snapshot it wrote (`stampOf`). */
export interface StoreResult {
  changes: MetricChange[];
  /** Writes not made: the stored snapshot was computed from reads that began later (see `inputsAt`). */
  superseded: SnapshotWrite[];
  computedAt: string;
}

/**
 * A timestamp as exact UTC text (microseconds): equal instants give equal strings whatever the session's time
 * zone, and the text casts back to the same `timestamptz`.
 */
export function stampOf(ts: RawBuilder<unknown>): RawBuilder<string> {
  return sql<string>`to_char(${ts} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

interface PreviousRow {
  subject_kind: string;
  subject_id: string;
  period_id: string;
  value_hash: string;
  config_hash: string;
  metrics: Record<string, unknown>;
  has_day: boolean;
}

/**
 * Writes the documents that changed and returns their changes, in one statement (atomic by itself, one round
 * trip whatever the count): it reads the stored rows, writes a snapshot where the value or config hash differs,
 * and a history row for the day where a snapshot was written or the day has none yet (the first recompute of a
 * day records every subject). Every part of the statement sees the rows as they were before it, so the changes
 * returned are exactly the writes made.
 */
export async function storeSnapshots(
  db: Kysely<Database>,
  writes: readonly SnapshotWrite[],
  asOf: PlainDate,
  configHash: string,
  inputsAt: string,
): Promise<StoreResult> {
  if (writes.length <= STORE_CHUNK) return storeChunk(db, writes, asOf, configHash, inputsAt);
  // A full recompute of a large org: bounded statements in one transaction (one `now()`, so one stamp); the
  // caller's own when it has one (a shard stores its snapshots with its done mark).
  const inOne = <T>(f: (trx: Kysely<Database>) => Promise<T>) =>
    db.isTransaction ? f(db) : db.transaction().execute(f);
  return inOne(async (trx) => {
    const changes: MetricChange[] = [];
    const superseded: SnapshotWrite[] = [];
    let computedAt = '';
    for (let i = 0; i < writes.length; i += STORE_CHUNK) {
      const r = await storeChunk(trx, writes.slice(i, i + STORE_CHUNK), asOf, configHash, inputsAt);
      changes.push(...r.changes);
      superseded.push(...r.superseded);
      computedAt = r.computedAt;
    }
    return { changes, superseded, computedAt };
  });
}

/** Documents per statement: keeps the parameters and the returned previous rows to a few megabytes. */
const STORE_CHUNK = 1000;

/**
 * `inputsAt` is when the reads behind these figures began (the database's clock at the recompute's claim). A
 * stored snapshot whose reads began later is newer than these figures, however late they arrive: such writes are
 * skipped, history included, and returned as superseded. Recomputes on several workers (the daily full run beside
 * a sync's incremental one) may finish in any order; the later read wins, not the later write.
 */
async function storeChunk(
  db: Kysely<Database>,
  writes: readonly SnapshotWrite[],
  asOf: PlainDate,
  configHash: string,
  inputsAt: string,
): Promise<StoreResult> {
  if (writes.length === 0) return { changes: [], superseded: [], computedAt: '' };
  const hashes = writes.map((w) => contentHash(w.doc));
  const r = await sql<{ at: string; previous: PreviousRow[]; written: string[] }>`
    with input as (
      select * from unnest(${writes.map((w) => w.subject.kind)}::text[], ${writes.map((w) => w.subject.id)}::text[],
        ${writes.map((w) => w.periodId)}::text[], ${writes.map((w) => toJsonb(w.doc))}::jsonb[], ${hashes}::text[],
        ${writes.map((w) => w.exact?.toString() ?? null)}::numeric[], ${writes.map((w) => w.exact !== undefined)}::boolean[])
        as i(kind, id, period, metrics, value_hash, exact_attainment, exact_stored)
    ),
    previous as (
      select s.subject_kind, s.subject_id, s.period_id, s.value_hash, s.config_hash, s.metrics,
             (s.exact_stored, s.exact_attainment) is distinct from (i.exact_stored, i.exact_attainment) as exact_moved,
             s.inputs_at > ${inputsAt}::timestamptz as newer,
             exists (select 1 from metric_snapshot_history h where h.subject_kind = s.subject_kind
                     and h.subject_id = s.subject_id and h.period_id = s.period_id and h.day = ${asOf}) as has_day
      from metric_snapshots s join input i on s.subject_kind = i.kind and s.subject_id = i.id and s.period_id = i.period
    ),
    decided as (
      select i.*, (p.subject_id is null or p.value_hash <> i.value_hash or p.config_hash <> ${configHash}) as changed,
             coalesce(p.exact_moved, false) as exact_moved,
             coalesce(p.has_day, false) as has_day, coalesce(p.newer, false) as newer
      from input i left join previous p on p.subject_kind = i.kind and p.subject_id = i.id and p.period_id = i.period
    ),
    snapshots as (
      insert into metric_snapshots (subject_kind, subject_id, period_id, as_of, metrics, value_hash, config_hash,
        inputs_at, exact_attainment, exact_stored)
      select kind, id, period, ${asOf}, metrics, value_hash, ${configHash}, ${inputsAt}::timestamptz,
        exact_attainment, exact_stored
      -- The document unchanged (attainment equal to four places) while the exact value moved: rewritten for the
      -- value alone, so ranks read from these rows stay those of today's figures; not a change (nothing printed
      -- moved: no history row, and the caller finds the same value hash).
      from decided where (changed or exact_moved) and not newer
      on conflict (subject_kind, subject_id, period_id) do update set as_of = excluded.as_of,
        metrics = excluded.metrics, value_hash = excluded.value_hash, config_hash = excluded.config_hash,
        inputs_at = excluded.inputs_at, exact_attainment = excluded.exact_attainment,
        exact_stored = excluded.exact_stored,
        -- An exact-only rewrite moves the stamp too: another worker's probe reloads a rep by it, and a group
        -- summed from that rep's old exact value would store a stale rank.
        computed_at = case when metric_snapshots.value_hash = excluded.value_hash
          and metric_snapshots.config_hash = excluded.config_hash
          and metric_snapshots.exact_stored = excluded.exact_stored
          and metric_snapshots.exact_attainment is not distinct from excluded.exact_attainment
          then metric_snapshots.computed_at
          else now() end -- wall-clock: commit-time stamps the change probes compare
        -- checked again on the row as it is now: a newer one may have committed since this statement began
        where metric_snapshots.inputs_at <= excluded.inputs_at
      returning subject_kind || ':' || subject_id || '@' || period_id as key
    ),
    history as (
      -- a day's history row is replaced by the newer computation of that day
      insert into metric_snapshot_history (subject_kind, subject_id, period_id, day, as_of, metrics, value_hash, config_hash)
      select kind, id, period, ${asOf}, ${asOf}, metrics, value_hash, ${configHash} from decided d
      where (d.changed and exists (select 1 from snapshots s where s.key = d.kind || ':' || d.id || '@' || d.period))
         or (not d.changed and not d.has_day and not d.newer)
      on conflict (subject_kind, subject_id, period_id, day) do update set as_of = excluded.as_of,
        metrics = excluded.metrics, value_hash = excluded.value_hash, config_hash = excluded.config_hash,
        computed_at = now() -- wall-clock: commit-time stamps the change probes compare
    )
    -- wall-clock: the same stamp, returned
    select ${stampOf(sql`now()`)} as at, coalesce((select json_agg(p) from previous p), '[]') as previous,
      coalesce((select json_agg(s.key) from snapshots s), '[]') as written`.execute(db);
  const row = r.rows[0] as { at: string; previous: PreviousRow[]; written: string[] };
  const byKey = new Map<string, PreviousRow>(
    row.previous.map((p) => [`${p.subject_kind}:${p.subject_id}@${p.period_id}`, p] as const),
  );
  const written = new Set(row.written);
  const changes: MetricChange[] = [];
  const superseded: SnapshotWrite[] = [];
  writes.forEach((w, i) => {
    const key = `${w.subject.kind}:${w.subject.id}@${w.periodId}`;
    const prev = byKey.get(key);
    if (prev && prev.value_hash === hashes[i] && prev.config_hash === configHash) return;
    if (!written.has(key)) {
      superseded.push(w);
      return;
    }
    changes.push({
      subject: w.subject,
      periodId: w.periodId,
      asOf,
      changedFields: changedFields(prev?.metrics ?? null, w.doc),
      metrics: w.doc,
      previous: prev?.metrics ?? null,
    });
  });
  return { changes, superseded, computedAt: row.at };
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
