/**
 * When the CRM was last seen rotating a connection's refresh token: from then on, `start` and `worker` refuse to run
 * without QUOTA_TRACKER_SECRET_KEY, since the rotated token could not be kept and the next login would fail.
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, ['ALTER TABLE connections ADD COLUMN refresh_token_rotated_at timestamptz']);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, ['ALTER TABLE connections DROP COLUMN refresh_token_rotated_at']);
}
