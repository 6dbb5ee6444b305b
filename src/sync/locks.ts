/**
 * Cross-process coordination in PostgreSQL: session advisory locks keyed by text (one sync per connection and
 * stream; one token refresh per connection), and the credential store the Salesforce auth saves rotated tokens to.
 */
import { type Kysely, sql } from 'kysely';
import type { CredentialStore, RefreshLock } from '../connectors/salesforce/auth.ts';
import type { Database } from '../db/schema.ts';
import { loadCredential, saveCredential } from '../db/secrets.ts';
import { AppError } from '../errors.ts';

/**
 * Runs `fn` holding the advisory lock for `key` on one pooled connection; if another session holds it, fails with
 * SYNC_IN_PROGRESS at once (`wait: false`) or waits for it (`wait: true`).
 */
export async function withAdvisoryLock<T>(
  db: Kysely<Database>,
  key: string,
  fn: () => Promise<T>,
  options: { wait?: boolean; what?: string } = {},
): Promise<T> {
  return db.connection().execute(async (conn) => {
    if (options.wait) {
      await sql`SELECT pg_advisory_lock(hashtextextended(${key}, 0))`.execute(conn);
    } else {
      const r = await sql<{ ok: boolean }>`SELECT pg_try_advisory_lock(hashtextextended(${key}, 0)) AS ok`.execute(
        conn,
      );
      if (!r.rows[0]?.ok) {
        throw new AppError('SYNC_IN_PROGRESS', `${options.what ?? key} is already running in another process`, {
          where: key,
        });
      }
    }
    try {
      return await fn();
    } finally {
      await sql`SELECT pg_advisory_unlock(hashtextextended(${key}, 0))`.execute(conn);
    }
  });
}

/** The Salesforce auth's refresh lock, shared by every worker on the warehouse. */
export function pgRefreshLock(db: Kysely<Database>, connectionId: string): RefreshLock {
  return {
    run: (fn) => withAdvisoryLock(db, `token-refresh:${connectionId}`, fn, { wait: true }),
  };
}

/** Credentials of one connection, encrypted under QUOTA_TRACKER_SECRET_KEY (src/db/secrets.ts). */
export function dbCredentialStore(db: Kysely<Database>, connectionId: string, key?: Buffer): CredentialStore {
  return {
    load: (kind) => loadCredential(db, connectionId, kind, key ? { key } : {}),
    save: (kind, plaintext) => saveCredential(db, connectionId, kind, plaintext, key ? { key } : {}),
  };
}
