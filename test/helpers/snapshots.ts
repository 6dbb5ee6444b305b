import type { Kysely } from 'kysely';
import type { Database } from '../../src/db/schema.ts';

/** Every stored snapshot's value hash by `kind:id@period`: two recomputes agree when these maps are equal. */
export async function snapshotHashes(db: Kysely<Database>): Promise<Map<string, string>> {
  const rows = await db
    .selectFrom('metric_snapshots')
    .select(['subject_kind', 'subject_id', 'period_id', 'value_hash'])
    .execute();
  return new Map(rows.map((r) => [`${r.subject_kind}:${r.subject_id}@${r.period_id}`, r.value_hash]));
}
