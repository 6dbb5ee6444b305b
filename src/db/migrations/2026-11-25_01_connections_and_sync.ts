/**
 * Connections, their encrypted credentials, sync bookkeeping (cursors, runs, API usage, quarantine) and the
 * queues between sync and metrics (dirty keys, change feed).
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, [
    `CREATE TABLE connections (
      id text PRIMARY KEY,
      kind text NOT NULL CHECK (kind IN ('salesforce', 'hubspot')),
      crm_org_id text,
      instance_url text,
      corporate_currency text,
      bound_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      updated_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      CHECK ((crm_org_id IS NULL) = (bound_at IS NULL))
    )`,
    `CREATE TABLE crm_credentials (
      connection_id text NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
      kind text NOT NULL,
      key_id text NOT NULL,
      ciphertext bytea NOT NULL,
      iv bytea NOT NULL CHECK (octet_length(iv) = 12),
      auth_tag bytea NOT NULL CHECK (octet_length(auth_tag) = 16),
      updated_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      PRIMARY KEY (connection_id, kind)
    )`,
    `CREATE TABLE sync_cursors (
      connection_id text NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
      stream text NOT NULL,
      cursor jsonb NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      PRIMARY KEY (connection_id, stream)
    )`,
    `CREATE TABLE sync_runs (
      id bigserial PRIMARY KEY,
      connection_id text NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
      stream text NOT NULL,
      trigger text NOT NULL,
      full_scan boolean NOT NULL DEFAULT false,
      started_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      finished_at timestamptz,
      status text NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'succeeded', 'failed', 'stopped_budget')),
      records_read integer NOT NULL DEFAULT 0,
      records_changed integer NOT NULL DEFAULT 0,
      records_deleted integer NOT NULL DEFAULT 0,
      records_quarantined integer NOT NULL DEFAULT 0,
      api_calls integer NOT NULL DEFAULT 0,
      error_code text,
      error_message text
    )`,
    'CREATE INDEX sync_runs_stream_started_idx ON sync_runs (connection_id, stream, started_at DESC)',
    // The share of a CRM's daily API allocation we used, shared by every worker process.
    `CREATE TABLE crm_api_usage (
      connection_id text NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
      day date NOT NULL,
      api_calls integer NOT NULL DEFAULT 0,
      reported_used integer,
      reported_limit integer,
      updated_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      PRIMARY KEY (connection_id, day)
    )`,
    `CREATE TABLE quarantine (
      id bigserial PRIMARY KEY,
      connection_id text NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
      stream text NOT NULL,
      external_id text NOT NULL,
      reason_code text NOT NULL,
      reason text NOT NULL,
      payload jsonb,
      seen_count integer NOT NULL DEFAULT 1,
      first_seen_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      last_seen_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      resolved_at timestamptz,
      UNIQUE (connection_id, stream, external_id)
    )`,
    'CREATE INDEX quarantine_open_idx ON quarantine (connection_id, stream) WHERE resolved_at IS NULL',
    `CREATE TABLE dirty_keys (
      id bigserial PRIMARY KEY,
      subject_kind text NOT NULL CHECK (subject_kind IN ('rep')),
      subject_key text NOT NULL,
      period_id text NOT NULL,
      reason text NOT NULL,
      enqueued_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      claimed_at timestamptz,
      claimed_by text,
      attempts integer NOT NULL DEFAULT 0,
      CHECK ((claimed_at IS NULL) = (claimed_by IS NULL))
    )`,
    // Repeated marks of the same rep-period coalesce while unclaimed (INSERT ... ON CONFLICT DO NOTHING); a mark
    // made while a worker holds a claim is a new row, so a change during a recompute is never lost.
    `CREATE UNIQUE INDEX dirty_keys_unclaimed_uq ON dirty_keys (subject_kind, subject_key, period_id)
      WHERE claimed_at IS NULL`,
    'CREATE INDEX dirty_keys_claim_idx ON dirty_keys (enqueued_at, id) WHERE claimed_at IS NULL',
    'CREATE INDEX dirty_keys_claimed_idx ON dirty_keys (claimed_at) WHERE claimed_at IS NOT NULL',
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

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, [
    'DROP TABLE change_feed',
    'DROP TABLE dirty_keys',
    'DROP TABLE quarantine',
    'DROP TABLE crm_api_usage',
    'DROP TABLE sync_runs',
    'DROP TABLE sync_cursors',
    'DROP TABLE crm_credentials',
    'DROP TABLE connections',
  ]);
}
