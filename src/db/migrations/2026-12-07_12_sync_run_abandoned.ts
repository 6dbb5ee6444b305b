/**
 * A sync run whose process went away (killed, or its database session lost) is marked `abandoned` by the next run
 * of its stream or the next service start, instead of staying `running` for ever.
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, [
    'ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_status_check',
    `ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_status_check
      CHECK (status IN ('running', 'succeeded', 'failed', 'stopped_budget', 'abandoned'))`,
    `CREATE INDEX sync_runs_running_idx ON sync_runs (connection_id, stream) WHERE status = 'running'`,
  ]);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, [
    'DROP INDEX sync_runs_running_idx',
    `UPDATE sync_runs SET status = 'failed' WHERE status = 'abandoned'`,
    'ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_status_check',
    `ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_status_check
      CHECK (status IN ('running', 'succeeded', 'failed', 'stopped_budget'))`,
  ]);
}
