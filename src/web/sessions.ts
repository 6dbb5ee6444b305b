/**
 * Browser sessions: signing in with an API token (the form at /login) creates a session and sets a cookie holding
 * its random id, never the token. Sessions last 8 hours from sign-in; revoking the token ends every session made
 * with it (the lookup joins the token and requires it unrevoked). Each session has its own CSRF token, which
 * every unsafe request made with the cookie must carry.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.ts';
import type { Principal } from './tokens.ts';

export const SESSION_COOKIE = 'qt_session';
/** The login form's CSRF cookie (double submit: there is no session yet to hold its token). */
export const LOGIN_CSRF_COOKIE = 'qt_login_csrf';
export const SESSION_HOURS = 8;

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

function hashId(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex');
}

export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Equal strings, in time that does not depend on where they differ. */
export function sameSecret(a: string | undefined | null, b: string | undefined | null): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Creates a session for a token; returns the cookie value (shown once) and the session's CSRF token. */
export async function createSession(db: Kysely<Database>, tokenId: string): Promise<{ id: string; csrf: string }> {
  const id = randomToken();
  const csrf = randomToken();
  await db
    .insertInto('web_sessions')
    .values({
      id_hash: hashId(id),
      token_id: tokenId,
      csrf_token: csrf,
      expires_at: sql<Date>`now() + make_interval(hours => ${SESSION_HOURS})`, // wall-clock: a session's lifetime
    })
    .execute();
  // Expired sessions are of no use to anyone: sweep them as new ones are made.
  await db.deleteFrom('web_sessions').where('expires_at', '<', sql<Date>`now()`).execute(); // wall-clock: expiry
  return { id, csrf };
}

/** The principal and CSRF token of a live session (unexpired, token unrevoked), or null. */
export async function readSession(
  db: Kysely<Database>,
  cookie: string | undefined,
): Promise<{ principal: Principal; csrf: string } | null> {
  if (!cookie || !SESSION_ID.test(cookie)) return null;
  const row = await db
    .selectFrom('web_sessions as s')
    .innerJoin('api_tokens as t', 't.id', 's.token_id')
    .select(['t.id', 't.role', 't.subject_email', 's.csrf_token'])
    .where('s.id_hash', '=', hashId(cookie))
    .where('s.expires_at', '>', sql<Date>`now()`) // wall-clock: a session's lifetime
    .where('t.revoked_at', 'is', null)
    .executeTakeFirst();
  if (!row) return null;
  return { principal: { tokenId: row.id, role: row.role, subjectEmail: row.subject_email }, csrf: row.csrf_token };
}

export async function endSession(db: Kysely<Database>, cookie: string | undefined): Promise<void> {
  if (!cookie || !SESSION_ID.test(cookie)) return;
  await db.deleteFrom('web_sessions').where('id_hash', '=', hashId(cookie)).execute();
}
