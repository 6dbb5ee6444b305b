/**
 * The per-record change log (`change_feed`, one row per record added, changed or deleted, with three indexes) was
 * written by every sync page and read by nothing: the metrics engine consumes the dirty rep-periods each page
 * marks, and each run's counts are on its `sync_runs` row. On the medium org it was 38% of the database after one
 * sync and never pruned, and its inserts were a share of every page's transaction. Dropped; `down` recreates it
 * empty.
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, ['DROP TABLE IF EXISTS change_feed']);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, [
    `CREATE TABLE change_feed (
      id bigserial PRIMARY KEY,
      connection_id text NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
      stream text NOT NULL,
      external_id text NOT NULL,
      change text NOT NULL CHECK (change IN ('added', 'changed', 'deleted')),
      sync_run_id bigint REFERENCES sync_runs(id) ON DELETE SET NULL,
      at timestamptz NOT NULL DEFAULT now() -- wall-clock: when the row was written
    )`,
    'CREATE INDEX change_feed_run_idx ON change_feed (sync_run_id)',
    'CREATE INDEX change_feed_record_idx ON change_feed (connection_id, stream, external_id, id)',
  ]);
}
