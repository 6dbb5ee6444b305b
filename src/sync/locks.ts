/**
 * Cross-process coordination in PostgreSQL: session advisory locks keyed by text (one sync per connection and
 * stream; one token refresh per connection), and the credential store connectors save rotated tokens to.
 */
import { type Kysely, sql } from 'kysely';
import type { CredentialStore, RefreshLock } from '../connectors/types.ts';
import type { Database } from '../db/schema.ts';
import { loadCredential, saveCredential } from '../db/secrets.ts';
import { AppError, isAppError } from '../errors.ts';
import { abortableSleep } from '../util/sleep.ts';

/**
 * Longest wait for the token-refresh lock: past what its holder can take (6 token attempts of 30 s and their
 * backoff come to under 4 minutes), so a wait this long means the holder is stuck, not slow.
 */
export const REFRESH_LOCK_WAIT_MS = 5 * 60_000;

export interface LockOptions {
  /** Wait for the lock (bounded by `maxWaitMs` and `signal`) instead of failing at once. */
  wait?: boolean;
  what?: string;
  /** Longest wait when `wait` (default REFRESH_LOCK_WAIT_MS). */
  maxWaitMs?: number;
  /** Ends the wait with the signal's reason. */
  signal?: AbortSignal;
  /** Pause between tries while waiting; injected by tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * Runs `fn` holding the advisory lock for `key` on one pooled connection; if another session holds it, fails with
 * SYNC_IN_PROGRESS at once (`wait: false`) or waits for it (`wait: true`). A wait polls pg_try_advisory_lock rather
 * than blocking in pg_advisory_lock, which neither a timeout nor SIGTERM could end: it gives up after `maxWaitMs`
 * (SYNC_IN_PROGRESS naming how long it waited) and at once when `signal` aborts.
 */
export async function withAdvisoryLock<T>(
  db: Kysely<Database>,
  key: string,
  fn: () => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  options.signal?.throwIfAborted();
  return db.connection().execute(async (conn) => {
    const tryLock = async () =>
      (await sql<{ ok: boolean }>`SELECT pg_try_advisory_lock(hashtextextended(${key}, 0)) AS ok`.execute(conn)).rows[0]
        ?.ok === true;
    if (options.wait) {
      const maxWaitMs = options.maxWaitMs ?? REFRESH_LOCK_WAIT_MS;
      const sleep = options.sleep ?? abortableSleep;
      let waited = 0;
      for (let pause = 50; !(await tryLock()); pause = Math.min(1000, pause * 2)) {
        if (waited >= maxWaitMs) {
          throw new AppError(
            'SYNC_IN_PROGRESS',
            `${options.what ?? key} is held by another process, still after waiting ${Math.round(waited / 1000)} s; that process is stuck or the lock outlived it, and the next run tries again`,
            { where: key },
          );
        }
        const step = Math.min(pause, maxWaitMs - waited);
        await sleep(step, options.signal);
        waited += step;
      }
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

/**
 * Runs `fn` under the lock for `key` if no other session holds it, else skips it (undefined): the sweeps that mark
 * a dead process's runs abandoned use it, since a held lock means the run's process is alive.
 */
export async function ifLockFree<T>(db: Kysely<Database>, key: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await withAdvisoryLock(db, key, fn);
  } catch (e) {
    if (isAppError(e, 'SYNC_IN_PROGRESS')) return undefined;
    throw e;
  }
}

/**
 * A connector's credential-refresh lock under `key` (its registry entry's `lockKeys.credentials`), shared by every
 * worker on the warehouse; waits are bounded and abortable.
 */
export function pgRefreshLock(
  db: Kysely<Database>,
  connectionId: string,
  key: string,
  options: Pick<LockOptions, 'maxWaitMs' | 'signal' | 'sleep'> = {},
): RefreshLock {
  return {
    run: (fn) =>
      withAdvisoryLock(db, key, fn, {
        ...options,
        wait: true,
        what: `the token refresh of connection "${connectionId}"`,
      }),
  };
}

/** Credentials of one connection, encrypted under QUOTA_TRACKER_SECRET_KEY (src/db/secrets.ts). */
export function dbCredentialStore(db: Kysely<Database>, connectionId: string, key?: Buffer): CredentialStore {
  return {
    load: (kind) => loadCredential(db, connectionId, kind, key ? { key } : {}),
    save: (kind, plaintext) => saveCredential(db, connectionId, kind, plaintext, key ? { key } : {}),
  };
}
