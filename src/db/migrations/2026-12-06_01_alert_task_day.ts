/**
 * The business day a manager's task counts against (the daily cap), by the program's clock in the org's time zone.
 * The cap used to count `created_at` (a wall-clock audit stamp) since midnight, which disagrees with "today" as
 * soon as the program replays another day; rows written before this migration keep their UTC creation date.
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, [
    'ALTER TABLE alert_tasks ADD COLUMN sent_on date',
    `UPDATE alert_tasks SET sent_on = (created_at AT TIME ZONE 'UTC')::date`,
    'ALTER TABLE alert_tasks ALTER COLUMN sent_on SET NOT NULL',
    'CREATE INDEX alert_tasks_cap_idx ON alert_tasks (connection_id, sent_on, assignee_external_id)',
  ]);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, ['DROP INDEX alert_tasks_cap_idx', 'ALTER TABLE alert_tasks DROP COLUMN sent_on']);
}
