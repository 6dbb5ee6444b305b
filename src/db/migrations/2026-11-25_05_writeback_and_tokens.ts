/**
 * Write-back bookkeeping (runs, what was last pushed per CRM field, the newest pending value per field, and an
 * append-only audit of every write) and the web API's tokens.
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

const TARGET_KEY = `
      connection_id text NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
      target_object text NOT NULL,
      target_record_id text NOT NULL,
      field text NOT NULL`;

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, [
    `CREATE TABLE writeback_runs (
      id bigserial PRIMARY KEY,
      connection_id text NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
      kind text NOT NULL DEFAULT 'push' CHECK (kind IN ('push', 'revert')),
      reverts_run_id bigint REFERENCES writeback_runs(id),
      mode text NOT NULL CHECK (mode IN ('live', 'dry-run')),
      as_of date,
      started_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      finished_at timestamptz,
      status text NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'stopped_budget')),
      api_calls integer NOT NULL DEFAULT 0,
      records_written integer NOT NULL DEFAULT 0,
      records_unchanged integer NOT NULL DEFAULT 0,
      records_failed integer NOT NULL DEFAULT 0,
      error_code text,
      error_message text,
      CHECK ((kind = 'revert') = (reverts_run_id IS NOT NULL))
    )`,
    'CREATE INDEX writeback_runs_connection_idx ON writeback_runs (connection_id, started_at DESC)',
    `CREATE TABLE writeback_ledger (${TARGET_KEY},
      value text,
      pushed_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      run_id bigint REFERENCES writeback_runs(id) ON DELETE SET NULL,
      PRIMARY KEY (connection_id, target_object, target_record_id, field)
    )`,
    // The primary key keeps only the newest pending value per target: enqueue is an upsert.
    `CREATE TABLE writeback_pending (${TARGET_KEY},
      value text,
      as_of date,
      attempts integer NOT NULL DEFAULT 0,
      last_error text,
      enqueued_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      PRIMARY KEY (connection_id, target_object, target_record_id, field)
    )`,
    'CREATE INDEX writeback_pending_enqueued_idx ON writeback_pending (connection_id, enqueued_at)',
    `CREATE TABLE writeback_audit (
      id bigserial PRIMARY KEY,
      run_id bigint NOT NULL REFERENCES writeback_runs(id),
      -- no cascade: deleting a connection must not silently erase the evidence of what was written to it
      connection_id text NOT NULL REFERENCES connections(id),
      target_object text NOT NULL,
      target_record_id text NOT NULL,
      field text NOT NULL,
      value_before text,
      value_after text,
      ok boolean NOT NULL,
      error_code text,
      response jsonb,
      at timestamptz NOT NULL DEFAULT now() -- wall-clock: when the row was written
    )`,
    'CREATE INDEX writeback_audit_run_idx ON writeback_audit (run_id)',
    `CREATE INDEX writeback_audit_target_idx ON writeback_audit
      (connection_id, target_object, target_record_id, field, at)`,
    // The audit is evidence of what we did to a customer's CRM, so the database itself refuses to rewrite it.
    `CREATE FUNCTION writeback_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'writeback_audit is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
    END
    $$`,
    `CREATE TRIGGER writeback_audit_no_update_delete BEFORE UPDATE OR DELETE ON writeback_audit
      FOR EACH ROW EXECUTE FUNCTION writeback_audit_append_only()`,
    `CREATE TRIGGER writeback_audit_no_truncate BEFORE TRUNCATE ON writeback_audit
      FOR EACH STATEMENT EXECUTE FUNCTION writeback_audit_append_only()`,
    `CREATE TABLE api_tokens (
      id text PRIMARY KEY,
      token_hash text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
      role text NOT NULL CHECK (role IN ('admin', 'manager', 'rep')),
      subject_email text,
      created_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      revoked_at timestamptz,
      last_used_at timestamptz,
      CHECK (role = 'admin' OR subject_email IS NOT NULL)
    )`,
  ]);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, [
    'DROP TABLE api_tokens',
    'DROP TABLE writeback_audit',
    'DROP FUNCTION writeback_audit_append_only()',
    'DROP TABLE writeback_pending',
    'DROP TABLE writeback_ledger',
    'DROP TABLE writeback_runs',
  ]);
}
