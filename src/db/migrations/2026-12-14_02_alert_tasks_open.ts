/**
 * The alert tasks still open in the CRM, by connection: each delivery run looks for the ones whose alert resolved
 * (to complete them) and the ones claimed before a restart. The table keeps every task ever made, so without this
 * index those lookups read all of it on every run.
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, ['CREATE INDEX alert_tasks_open_idx ON alert_tasks (connection_id, alert_id) WHERE closed_at IS NULL']);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, ['DROP INDEX IF EXISTS alert_tasks_open_idx']);
}
