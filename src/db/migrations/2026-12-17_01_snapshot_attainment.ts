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
    // Stored snapshots have no exact values yet: raise the flag that makes the next recompute a full one (the one
    // an exchange-rate change raises: until it has run, no reader calls the snapshots current), so reports read
    // from snapshots again within minutes of the upgrade instead of after the next daily full recompute.
    `INSERT INTO config_state (key, hash, value) SELECT 'fx_rates_changed', 'raised', null
      WHERE EXISTS (SELECT 1 FROM metric_snapshots)
      ON CONFLICT (key) DO UPDATE SET hash = 'raised', applied_at = now()`, // wall-clock: an audit stamp
  ]);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, [
    'ALTER TABLE metric_snapshots DROP COLUMN IF EXISTS exact_stored',
    'ALTER TABLE metric_snapshots DROP COLUMN IF EXISTS exact_attainment',
  ]);
}
