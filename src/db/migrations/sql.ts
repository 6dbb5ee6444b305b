/**
 * Helpers shared by the migration files. Migrations are written in plain SQL: partial indexes, exclusion
 * constraints and triggers read more clearly there than through a schema builder, and the SQL is what a DBA
 * reviewing the warehouse will want to see.
 */
import { type Kysely, sql } from 'kysely';

/** Runs each statement in order, so that a failure names the statement at fault. */
export async function run(db: Kysely<unknown>, statements: readonly string[]): Promise<void> {
  for (const statement of statements) {
    try {
      await sql.raw(statement).execute(db);
    } catch (e) {
      const first = statement.trim().split('\n')[0] ?? statement;
      throw new Error(`migration statement failed: ${first}: ${(e as Error).message}`, { cause: e });
    }
  }
}

/**
 * The columns every row copied from a CRM carries: its key in the CRM, when the CRM last changed it, the hash of
 * the normalized record (a write happens only when it changes), a soft-delete flag (synced rows are never
 * physically deleted, so history and audits keep their references), and the run that last saw it (a full scan
 * marks rows it did not see as deleted).
 */
export const SYNCED_COLUMNS = `
  connection_id text NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  external_id text NOT NULL,
  source_modified_at timestamptz,
  content_hash text NOT NULL,
  is_deleted boolean NOT NULL DEFAULT false,
  deleted_at timestamptz,
  last_seen_run_id bigint,
  synced_at timestamptz NOT NULL DEFAULT now()`; // wall-clock: when the row was written, an audit stamp
