/**
 * API tokens for the web API and dashboard. A token is `qt_<id>_<secret>` with 32 random bytes of secret; it is
 * shown once, and only the sha256 of the whole token is stored, so a leaked database does not leak tokens. The id
 * part finds the row without scanning; the hash is then compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Database, TokenRole } from '../db/schema.ts';
import { AppError } from '../errors.ts';

export const TOKEN_ROLES: readonly TokenRole[] = ['admin', 'manager', 'rep'];

/** Who a request acts as. */
export interface Principal {
  tokenId: string;
  role: TokenRole;
  /** The manager's or rep's email (lower case); null for an admin token without a subject. */
  subjectEmail: string | null;
}

const TOKEN_PATTERN = /^qt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+$/;

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Creates a token. Manager and rep tokens need a subject email (whose team or own figures they may see) that a
 * person or a synced rep of the warehouse has.
 * Returns the id (for `token revoke`) and the token itself, which is not stored and cannot be shown again.
 */
export async function createApiToken(
  db: Kysely<Database>,
  options: { role: TokenRole; subject?: string },
): Promise<{ id: string; token: string }> {
  if (!TOKEN_ROLES.includes(options.role)) {
    throw new AppError('USAGE', `token role must be one of ${TOKEN_ROLES.join(', ')}, not "${String(options.role)}"`, {
      where: '--role',
    });
  }
  const subject = options.subject?.trim().toLowerCase() || null;
  if (subject !== null && !EMAIL_PATTERN.test(subject)) {
    throw new AppError('USAGE', `token subject must be an email address, not "${options.subject}"`, {
      where: '--subject',
    });
  }
  if (subject === null && options.role !== 'admin') {
    throw new AppError('USAGE', `a ${options.role} token needs --subject EMAIL (the ${options.role} it acts as)`, {
      where: '--subject',
    });
  }
  // A manager or rep token acts as someone the warehouse knows; a typo would make a token that sees nothing.
  if (subject !== null && options.role !== 'admin' && !(await personKnown(db, subject))) {
    throw new AppError(
      'USAGE',
      `no person or rep in the warehouse has the email ${subject}; a ${options.role} token must act as someone synced from the CRM or listed in the org file`,
      { where: '--subject' },
    );
  }
  const id = randomBytes(6).toString('hex');
  const token = `qt_${id}_${randomBytes(32).toString('base64url')}`;
  await db
    .insertInto('api_tokens')
    .values({ id, token_hash: hashToken(token), role: options.role, subject_email: subject })
    .execute();
  return { id, token };
}

/** Whether a person (org file or CRM) or a synced rep has this email, case-insensitively. */
async function personKnown(db: Kysely<Database>, email: string): Promise<boolean> {
  const person = await db
    .selectFrom('persons')
    .select('id')
    .where(sql<string>`lower(email)`, '=', email)
    .executeTakeFirst();
  if (person) return true;
  const rep = await db
    .selectFrom('reps')
    .select('external_id')
    .where(sql<string>`lower(email)`, '=', email)
    .executeTakeFirst();
  return rep !== undefined;
}

/** Revokes a token by id; revoking twice is harmless. Unknown id: TOKEN_NOT_FOUND. */
export async function revokeApiToken(db: Kysely<Database>, id: string): Promise<void> {
  const row = await db
    .updateTable('api_tokens')
    .set({ revoked_at: sql<Date>`coalesce(revoked_at, now())` }) // wall-clock: an audit stamp
    .where('id', '=', id)
    .returning('id')
    .executeTakeFirst();
  if (!row) throw new AppError('TOKEN_NOT_FOUND', `no API token has the id "${id}"`, { where: 'token revoke ID' });
}

/**
 * The principal of a bearer token (`Authorization` header value with or without `Bearer `), or null when it is
 * malformed, unknown, wrong or revoked. Updates `last_used_at` at most once a minute per token.
 */
export async function authenticate(db: Kysely<Database>, bearer: string | null | undefined): Promise<Principal | null> {
  if (!bearer) return null;
  const token = bearer.replace(/^Bearer\s+/i, '').trim();
  const match = TOKEN_PATTERN.exec(token);
  if (!match?.[1]) return null;
  const id = match[1];
  const row = await db
    .selectFrom('api_tokens')
    .select(['id', 'token_hash', 'role', 'subject_email', 'revoked_at', 'last_used_at'])
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) return null;
  const presented = Buffer.from(hashToken(token), 'hex');
  const stored = Buffer.from(row.token_hash, 'hex');
  if (stored.length !== presented.length || !timingSafeEqual(stored, presented)) return null;
  if (row.revoked_at !== null) return null;
  // wall-clock: last use is an audit stamp, written at most once a minute
  if (row.last_used_at === null || Date.now() - row.last_used_at.getTime() > 60_000) {
    await db.updateTable('api_tokens').set({ last_used_at: new Date() }).where('id', '=', id).execute(); // wall-clock: see above
  }
  return { tokenId: row.id, role: row.role, subjectEmail: row.subject_email };
}

/** Tokens for listing (never their hashes). */
export async function listApiTokens(db: Kysely<Database>) {
  return db
    .selectFrom('api_tokens')
    .select(['id', 'role', 'subject_email', 'created_at', 'revoked_at', 'last_used_at'])
    .orderBy('created_at')
    .execute();
}
