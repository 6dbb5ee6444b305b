/**
 * What the metrics engine produces: current snapshots per subject and period, their daily history, the config
 * hash they were computed under, alerts and the CRM tasks alerts became.
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

const SUBJECT_KIND = `text NOT NULL CHECK (subject_kind IN ('rep', 'team', 'region', 'org'))`;

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, [
    `CREATE TABLE metric_snapshots (
      subject_kind ${SUBJECT_KIND},
      subject_id text NOT NULL,
      period_id text NOT NULL,
      as_of date NOT NULL,
      metrics jsonb NOT NULL,
      value_hash text NOT NULL,
      config_hash text NOT NULL,
      computed_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      PRIMARY KEY (subject_kind, subject_id, period_id)
    )`,
    // Leaderboards and roll-ups read every subject of a kind in one period.
    'CREATE INDEX metric_snapshots_period_idx ON metric_snapshots (period_id, subject_kind)',
    `CREATE TABLE metric_snapshot_history (
      subject_kind ${SUBJECT_KIND},
      subject_id text NOT NULL,
      period_id text NOT NULL,
      day date NOT NULL,
      as_of date NOT NULL,
      metrics jsonb NOT NULL,
      value_hash text NOT NULL,
      config_hash text NOT NULL,
      computed_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      PRIMARY KEY (subject_kind, subject_id, period_id, day)
    )`,
    `CREATE TABLE config_state (
      key text PRIMARY KEY,
      hash text NOT NULL,
      value jsonb,
      applied_at timestamptz NOT NULL DEFAULT now() -- wall-clock: when the row was written
    )`,
    `CREATE TABLE alerts (
      id bigserial PRIMARY KEY,
      rule text NOT NULL,
      subject_kind ${SUBJECT_KIND},
      subject_id text NOT NULL,
      period_id text NOT NULL,
      dedupe_key text NOT NULL UNIQUE,
      severity text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
      status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'escalated', 'resolved')),
      message text NOT NULL,
      details jsonb,
      value numeric,
      opened_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      escalated_at timestamptz,
      resolved_at timestamptz,
      updated_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
    )`,
    'CREATE INDEX alerts_subject_idx ON alerts (subject_kind, subject_id, period_id)',
    `CREATE INDEX alerts_active_idx ON alerts (rule, subject_kind, subject_id) WHERE status <> 'resolved'`,
    // One task when an alert opens and one more when it escalates; the external key is the Task's unique
    // Quota_Alert_Key__c, so a retried create finds the task instead of making a second one.
    `CREATE TABLE alert_tasks (
      alert_id bigint NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
      severity text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
      connection_id text NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
      task_external_key text NOT NULL UNIQUE,
      assignee_external_id text,
      manager_person_id bigint REFERENCES persons(id) ON DELETE SET NULL,
      crm_task_id text,
      last_error text,
      created_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      closed_at timestamptz,
      PRIMARY KEY (alert_id, severity)
    )`,
    // The per-manager daily task cap counts tasks created for a manager since midnight.
    'CREATE INDEX alert_tasks_manager_idx ON alert_tasks (manager_person_id, created_at)',
  ]);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, [
    'DROP TABLE alert_tasks',
    'DROP TABLE alerts',
    'DROP TABLE config_state',
    'DROP TABLE metric_snapshot_history',
    'DROP TABLE metric_snapshots',
  ]);
}
