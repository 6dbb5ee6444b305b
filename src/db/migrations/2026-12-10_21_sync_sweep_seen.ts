/**
 * The ids a full-scan sweep has seen so far, page by page, so that deleted-record detection on a stream of a
 * million rows never holds (or binds as one parameter) every id at once. Written in the same transaction as the
 * page's rows and cursor, so a killed sweep that resumes its bulk job keeps what it had seen.
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, [
    `CREATE TABLE sync_sweep_seen (
      connection_id text NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
      stream text NOT NULL,
      external_id text NOT NULL,
      PRIMARY KEY (connection_id, stream, external_id)
    )`,
  ]);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, ['DROP TABLE sync_sweep_seen']);
}
