/**
 * Each current snapshot records when the warehouse reads behind it began (`inputs_at`), so a recompute that read
 * earlier cannot overwrite one that read later: the daily full recompute of a large org takes half a minute, and
 * the incremental recompute of a sync landing meanwhile used to lose its figures to the full run's older ones.
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, [`ALTER TABLE metric_snapshots ADD COLUMN inputs_at timestamptz NOT NULL DEFAULT '-infinity'`]);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, ['ALTER TABLE metric_snapshots DROP COLUMN inputs_at']);
}
