/**
 * Browser sessions of the web API: signing in with an API token sets a cookie holding a session id, never the
 * token. Only the sha256 of the id is stored. A session belongs to its token, so revoking the token ends it (the
 * check joins `api_tokens.revoked_at`), and deleting the token deletes it.
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, [
    `CREATE TABLE web_sessions (
      id_hash text PRIMARY KEY,
      token_id text NOT NULL REFERENCES api_tokens(id) ON DELETE CASCADE,
      csrf_token text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the row was written
      expires_at timestamptz NOT NULL
    )`,
    'CREATE INDEX web_sessions_token_idx ON web_sessions (token_id)',
    'CREATE INDEX web_sessions_expires_idx ON web_sessions (expires_at)',
  ]);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, ['DROP TABLE web_sessions']);
}
