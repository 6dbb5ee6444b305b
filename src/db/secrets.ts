/**
 * CRM credentials the app must persist (rotated refresh tokens, cached access tokens), encrypted with AES-256-GCM
 * under QUOTA_TRACKER_SECRET_KEY. Each value gets a fresh 96-bit IV; the connection id and credential kind are
 * bound in as additional authenticated data, so a ciphertext copied to another row does not decrypt. A short key
 * id stored with each row tells "wrong key" apart from "damaged data" in the error message.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { AppError } from '../errors.ts';
import type { Database } from './schema.ts';

export const SECRET_KEY_ENV = 'QUOTA_TRACKER_SECRET_KEY';

/**
 * Parses the 32-byte key, given as 64 hex characters or as base64 (standard or URL-safe). Missing or empty:
 * SECRET_KEY_MISSING; anything else that is not exactly 32 bytes: CONFIG_INVALID. The key is never echoed.
 */
export function parseSecretKey(text: string | undefined): Buffer {
  const value = text?.trim() ?? '';
  if (value === '') {
    throw new AppError(
      'SECRET_KEY_MISSING',
      `${SECRET_KEY_ENV} is not set; generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64'))"`,
      { where: SECRET_KEY_ENV },
    );
  }
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) {
    const bytes = Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length === 32) return bytes;
    throw new AppError(
      'CONFIG_INVALID',
      `${SECRET_KEY_ENV} must be 32 bytes; its base64 decodes to ${bytes.length} bytes`,
      { where: SECRET_KEY_ENV },
    );
  }
  throw new AppError('CONFIG_INVALID', `${SECRET_KEY_ENV} must be 32 bytes given as base64 or as 64 hex characters`, {
    where: SECRET_KEY_ENV,
  });
}

/** The key from the environment (see `parseSecretKey`). */
export function secretKeyFromEnv(env: NodeJS.ProcessEnv = process.env): Buffer {
  return parseSecretKey(env[SECRET_KEY_ENV]);
}

/** First 16 hex characters of sha256(key): identifies a key without revealing it. */
export function secretKeyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

export interface Sealed {
  keyId: string;
  iv: Buffer;
  ciphertext: Buffer;
  authTag: Buffer;
}

export function encryptSecret(key: Buffer, plaintext: string, aad: string): Sealed {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { keyId: secretKeyId(key), iv, ciphertext, authTag: cipher.getAuthTag() };
}

/** Decrypts or fails with SECRET_DECRYPT_FAILED: GCM authenticates, so a wrong key never yields garbage. */
export function decryptSecret(key: Buffer, sealed: Sealed, aad: string, where?: string): string {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.iv);
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(sealed.authTag);
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString('utf8');
  } catch (e) {
    const wrongKey = sealed.keyId !== secretKeyId(key);
    throw new AppError(
      'SECRET_DECRYPT_FAILED',
      wrongKey
        ? `the stored credential was encrypted under another ${SECRET_KEY_ENV} (key id ${sealed.keyId}, current ${secretKeyId(key)}); restore the old key or re-authorize the connection`
        : 'the stored credential fails its integrity check (damaged or tampered with); re-authorize the connection',
      { cause: e, where },
    );
  }
}

function aadFor(connectionId: string, kind: string): string {
  return `quota-tracker:crm_credentials:${connectionId}:${kind}`;
}

/**
 * Encrypts and stores (insert or replace) one credential of a connection. The connection row must exist; the key
 * defaults to QUOTA_TRACKER_SECRET_KEY.
 */
export async function saveCredential(
  db: Kysely<Database>,
  connectionId: string,
  kind: string,
  plaintext: string,
  options: { key?: Buffer } = {},
): Promise<void> {
  const key = options.key ?? secretKeyFromEnv();
  const sealed = encryptSecret(key, plaintext, aadFor(connectionId, kind));
  const row = {
    key_id: sealed.keyId,
    ciphertext: sealed.ciphertext,
    iv: sealed.iv,
    auth_tag: sealed.authTag,
    updated_at: new Date(), // wall-clock: an audit stamp
  };
  try {
    await db
      .insertInto('crm_credentials')
      .values({ connection_id: connectionId, kind, ...row })
      .onConflict((oc) => oc.columns(['connection_id', 'kind']).doUpdateSet(row))
      .execute();
  } catch (e) {
    if ((e as { code?: string }).code === '23503') {
      throw new AppError('NOT_FOUND', `no connection "${connectionId}" in the database to store a credential for`, {
        cause: e,
        where: `connections.${connectionId}`,
      });
    }
    throw e;
  }
}

/** The decrypted credential, or null when none is stored. Wrong key or damaged row: SECRET_DECRYPT_FAILED. */
export async function loadCredential(
  db: Kysely<Database>,
  connectionId: string,
  kind: string,
  options: { key?: Buffer } = {},
): Promise<string | null> {
  const row = await db
    .selectFrom('crm_credentials')
    .select(['key_id', 'ciphertext', 'iv', 'auth_tag'])
    .where('connection_id', '=', connectionId)
    .where('kind', '=', kind)
    .executeTakeFirst();
  if (!row) return null;
  const key = options.key ?? secretKeyFromEnv();
  return decryptSecret(
    key,
    { keyId: row.key_id, iv: row.iv, ciphertext: row.ciphertext, authTag: row.auth_tag },
    aadFor(connectionId, kind),
    `crm_credentials(${connectionId}, ${kind})`,
  );
}
