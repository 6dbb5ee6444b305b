/**
 * What each rep's CRM record should hold: the metric snapshots of the current fiscal quarter, read per rep of a
 * connection, turned into field values in the target's units. The rank is the rep's competition rank by
 * attainment among every rep with a snapshot of the period (the org rank of `report rep`), ties sharing a rank.
 */
import { type Kysely, sql } from 'kysely';
import type { FiscalPeriod } from '../config/calendar.ts';
import type { FieldLayout, WriteTarget } from '../connectors/types.ts';
import { carriesQuota } from '../db/quota-carrying.ts';
import type { Database } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { type FiguresDocument, parseFiguresDocument } from '../metrics/document.ts';
import { recomputeRunning } from '../metrics/engine/run-marker.ts';
import { rankSubjects } from '../metrics/math/ranking.ts';
import { Dec } from '../util/money.ts';
import { metricFieldValues, type RepMetricValues } from './fields.ts';
import type { DesiredRecord } from './ledger.ts';

/** When a write-back job deferred by a full recompute under way comes back. */
const RECOMPUTE_RETRY_SECONDS = 60;

/** Where the values go (the connector's write target). */
export type WritebackTargetShape = WriteTarget;

/** The snapshot subject id of a rep (same rule as the metrics engine's `repKeyOf`). */
export function repSubjectId(personId: number | null, connectionId: string, externalId: string): string {
  return personId === null ? `${connectionId}:${externalId}` : `person:${personId}`;
}

/** The write-back metrics out of a snapshot's figures. */
export function valuesFromSnapshot(metrics: FiguresDocument, rank: number | null): RepMetricValues {
  return {
    attainment: metrics.attainment,
    pace: metrics.paceIndex,
    projectedAttainment: metrics.projectedAttainment,
    status: metrics.status,
    coverage: metrics.pipeline.coverage,
    rank,
  };
}

export interface DesiredValues {
  records: DesiredRecord[];
  /** Rep external id -> scorecard identity, for custom-object targets. */
  reps: Array<{ externalId: string; subjectId: string; name: string }>;
}

/**
 * Desired field values for every active, quota-carrying rep of a connection that has a snapshot for the period. A
 * rep without a snapshot (no deals, no quota) gets nothing written.
 */
export async function desiredFromSnapshots(
  db: Kysely<Database>,
  opts: { connectionId: string; period: FiscalPeriod; target: WritebackTargetShape; layout: FieldLayout },
): Promise<DesiredValues> {
  // A full recompute under way has stored some reps' new figures and not yet the others' (it commits shard by
  // shard): ranks over that mix would be written to the CRM. Plan nothing; the job comes back later (the run's own
  // write-back follows it anyway).
  if (await recomputeRunning(db))
    throw new AppError('WRITEBACK_DEFERRED', 'write-back waits: a full recompute is storing new snapshots', {
      where: `connection ${opts.connectionId}`,
      retryAfterSeconds: RECOMPUTE_RETRY_SECONDS,
    });
  const snapshots = await db
    .selectFrom('metric_snapshots')
    .select(['subject_id', 'metrics'])
    .where('subject_kind', '=', 'rep')
    .where('period_id', '=', opts.period.id)
    .execute();
  const bySubject = new Map(
    snapshots.map((s) => [s.subject_id, parseFiguresDocument(s.metrics, `rep ${s.subject_id} in ${opts.period.id}`)]),
  );
  // Ranked among the people still here: someone who left is never ranked (nor written back).
  const active = await db
    .selectFrom('reps')
    .select(['person_id', 'connection_id', 'external_id'])
    .where('is_active', '=', true)
    .where('is_deleted', '=', false)
    .execute();
  const activeIds = new Set(active.map((r) => repSubjectId(r.person_id, r.connection_id, r.external_id)));
  const ranks = new Map(
    rankSubjects(
      snapshots
        .filter((s) => activeIds.has(s.subject_id))
        .map((s) => {
          const a = bySubject.get(s.subject_id)?.attainment ?? null;
          return { id: s.subject_id, value: a === null ? null : new Dec(a) };
        }),
    ).map((r) => [r.id, r.rank]),
  );
  // Scores go to people who sell: a quota this period, or carrying quota (db/quota-carrying.ts: the org file's flag
  // wins over the CRM's). A VP or an integration user gets no empty fields; someone who stopped carrying quota gets the fields we
  // once wrote cleared, once.
  const reps = await db
    .selectFrom('reps as r')
    .leftJoin('persons as p', 'p.id', 'r.person_id')
    .select([
      'r.external_id',
      'r.person_id',
      'r.name',
      carriesQuota('r', 'p').as('carrying'),
      sql<boolean>`exists (select 1 from writeback_ledger l where l.connection_id = r.connection_id
        and l.target_object = ${opts.target.object}
        and l.target_record_id in (r.external_id, r.external_id || ':' || ${opts.period.id}) and l.value is not null)`.as(
        'written',
      ),
    ])
    .where('r.connection_id', '=', opts.connectionId)
    .where('r.is_deleted', '=', false)
    .where('r.is_active', '=', true)
    .orderBy('r.external_id')
    .execute();
  const out: DesiredValues = { records: [], reps: [] };
  for (const r of reps) {
    const subjectId = repSubjectId(r.person_id, opts.connectionId, r.external_id);
    const metrics = bySubject.get(subjectId);
    if (!metrics) continue;
    if (metrics.quota == null && !r.carrying && !r.written) continue;
    const values = valuesFromSnapshot(metrics, ranks.get(subjectId) ?? null);
    const recordId = opts.target.kind === 'user_fields' ? r.external_id : `${r.external_id}:${opts.period.id}`;
    out.records.push({
      targetObject: opts.target.object,
      targetRecordId: recordId,
      fields: metricFieldValues(values, opts.layout, `rep ${r.external_id}`),
      label: r.name,
    });
    out.reps.push({ externalId: r.external_id, subjectId, name: r.name });
  }
  return out;
}
