/**
 * An alert whose task the daily per-manager cap held back: the day it was held and the day it goes out (the next
 * day's budget), so `report alerts` can list it and the next delivery sends it first by severity and priority.
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, [
    'ALTER TABLE alerts ADD COLUMN task_held_on date',
    'ALTER TABLE alerts ADD COLUMN task_goes_out_on date',
    // Activities leave out the tasks we created (metrics/engine/load.ts): looked up by connection and task id.
    'CREATE INDEX alert_tasks_crm_task_idx ON alert_tasks (connection_id, crm_task_id)',
  ]);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, [
    'DROP INDEX alert_tasks_crm_task_idx',
    'ALTER TABLE alerts DROP COLUMN task_goes_out_on',
    'ALTER TABLE alerts DROP COLUMN task_held_on',
  ]);
}
