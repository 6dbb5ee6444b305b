/**
 * Write-back runs hold a lock like sync runs do (src/writeback/lock.ts): a run whose process went away is marked
 * `abandoned` by the next run or service start instead of staying `running` for ever. A run records what its CRM
 * call carries and until when that call can still land (`in_flight`, `write_deadline`), so that the next run does
 * not let a dead process's late write overtake a newer value; ledger rows whose CRM value is in doubt after such a
 * death are `uncertain` and are sent again.
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, [
    'ALTER TABLE writeback_runs DROP CONSTRAINT writeback_runs_status_check',
    `ALTER TABLE writeback_runs ADD CONSTRAINT writeback_runs_status_check
      CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'stopped_budget', 'abandoned'))`,
    'ALTER TABLE writeback_runs ADD COLUMN in_flight jsonb',
    'ALTER TABLE writeback_runs ADD COLUMN write_deadline timestamptz',
    `CREATE INDEX writeback_runs_running_idx ON writeback_runs (connection_id) WHERE status = 'running'`,
    'ALTER TABLE writeback_ledger ADD COLUMN uncertain boolean NOT NULL DEFAULT false',
  ]);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, [
    'ALTER TABLE writeback_ledger DROP COLUMN uncertain',
    'DROP INDEX writeback_runs_running_idx',
    'ALTER TABLE writeback_runs DROP COLUMN write_deadline',
    'ALTER TABLE writeback_runs DROP COLUMN in_flight',
    `UPDATE writeback_runs SET status = 'failed' WHERE status = 'abandoned'`,
    'ALTER TABLE writeback_runs DROP CONSTRAINT writeback_runs_status_check',
    `ALTER TABLE writeback_runs ADD CONSTRAINT writeback_runs_status_check
      CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'stopped_budget'))`,
  ]);
}
