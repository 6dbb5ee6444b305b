/**
 * A sync run of an optional stream the CRM account cannot be read for (a scope the token lacks, an object the
 * subscription lacks) ends `skipped`, with the code and the reason: nothing read, not a failure, and not overdue.
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, [
    'ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_status_check',
    `ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_status_check
      CHECK (status IN ('running', 'succeeded', 'failed', 'stopped_budget', 'abandoned', 'skipped'))`,
  ]);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, [
    `UPDATE sync_runs SET status = 'succeeded' WHERE status = 'skipped'`,
    'ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_status_check',
    `ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_status_check
      CHECK (status IN ('running', 'succeeded', 'failed', 'stopped_budget', 'abandoned'))`,
  ]);
}
