/**
 * Each current snapshot's attainment at full precision beside its document (which holds it rounded to four
 * places, where subjects can tie that do not): ranks among a region's or the org's reps, and among the org's teams,
 * are then read from the period's snapshot rows, so a report on one team loads that team's rows only
 * (src/reports/current-period.ts). `exact_stored` is false on rows written before this column existed (and on any
 * writer that does not set it): a report that needs such a row's rank computes instead.
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, [
    'ALTER TABLE metric_snapshots ADD COLUMN exact_attainment numeric',
    'ALTER TABLE metric_snapshots ADD COLUMN exact_stored boolean NOT NULL DEFAULT false',
  ]);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, [
    'ALTER TABLE metric_snapshots DROP COLUMN IF EXISTS exact_stored',
    'ALTER TABLE metric_snapshots DROP COLUMN IF EXISTS exact_attainment',
  ]);
}
