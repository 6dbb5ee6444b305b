import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCredential, parseSecretKey, saveCredential, secretKeyId } from '../../src/db/secrets.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const HEX_KEY = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const key = parseSecretKey(HEX_KEY);
const otherKey = parseSecretKey(Buffer.alloc(32, 7).toString('base64'));
const REFRESH = '5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJVNmgRyg.NsbqpIuy4lzFqHe2tEEUhE5HZeLl9eHXSIoZnfsAd';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await t.db.insertInto('connections').values({ id: 'sf-prod', kind: 'salesforce' }).execute();
});
afterAll(() => t.drop());

describe('QUOTA_TRACKER_SECRET_KEY', () => {
  it('accepts 64 hex characters and base64 (standard or URL-safe) of exactly 32 bytes', () => {
    expect([...key.subarray(0, 3)]).toEqual([0, 1, 2]);
    const b64 = key.toString('base64');
    expect(parseSecretKey(b64).equals(key)).toBe(true);
    expect(parseSecretKey(key.toString('base64url')).equals(key)).toBe(true);
  });

  it('names the problem without echoing the key', () => {
    expect(() => parseSecretKey(undefined)).toThrow(expect.objectContaining({ code: 'SECRET_KEY_MISSING' }));
    expect(() => parseSecretKey('  ')).toThrow(expect.objectContaining({ code: 'SECRET_KEY_MISSING' }));
    const short = Buffer.alloc(16, 1).toString('base64');
    expect(() => parseSecretKey(short)).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('decodes to 16 bytes') }),
    );
    try {
      parseSecretKey('not a key!');
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: 'CONFIG_INVALID', where: 'QUOTA_TRACKER_SECRET_KEY' });
      expect((e as Error).message).not.toContain('not a key!');
    }
  });
});

describe('stored CRM credentials', () => {
  it('round-trips, and the table holds neither the plaintext nor anything that decodes to it', async () => {
    await saveCredential(t.db, 'sf-prod', 'refresh_token', REFRESH, { key });
    expect(await loadCredential(t.db, 'sf-prod', 'refresh_token', { key })).toBe(REFRESH);
    const raw = await sql<{ dump: string }>`select row_to_json(c)::text as dump from crm_credentials c`.execute(t.db);
    expect(raw.rows).toHaveLength(1);
    const dump = raw.rows[0]?.dump ?? '';
    expect(dump).not.toContain(REFRESH);
    expect(dump).not.toContain(Buffer.from(REFRESH).toString('hex'));
    expect(dump).toContain(secretKeyId(key));
  });

  it('replaces the value on a second save (a rotated refresh token) with a fresh IV', async () => {
    const before = await t.db.selectFrom('crm_credentials').select('iv').executeTakeFirstOrThrow();
    await saveCredential(t.db, 'sf-prod', 'refresh_token', 'rotated-token', { key });
    expect(await loadCredential(t.db, 'sf-prod', 'refresh_token', { key })).toBe('rotated-token');
    const after = await t.db.selectFrom('crm_credentials').select('iv').executeTakeFirstOrThrow();
    expect(after.iv.equals(before.iv)).toBe(false);
  });

  it('fails with SECRET_DECRYPT_FAILED under another key, saying the key differs', async () => {
    await expect(loadCredential(t.db, 'sf-prod', 'refresh_token', { key: otherKey })).rejects.toMatchObject({
      code: 'SECRET_DECRYPT_FAILED',
      message: expect.stringContaining('another QUOTA_TRACKER_SECRET_KEY'),
    });
  });

  it('fails with SECRET_DECRYPT_FAILED when the ciphertext is altered or moved to another row', async () => {
    await saveCredential(t.db, 'sf-prod', 'access_token', 'access-123', { key });
    // Move the refresh token's ciphertext onto the access token row: authenticated data binds it to its row.
    await sql`update crm_credentials a set ciphertext = r.ciphertext, iv = r.iv, auth_tag = r.auth_tag
      from crm_credentials r where a.kind = 'access_token' and r.kind = 'refresh_token'`.execute(t.db);
    await expect(loadCredential(t.db, 'sf-prod', 'access_token', { key })).rejects.toMatchObject({
      code: 'SECRET_DECRYPT_FAILED',
      message: expect.stringContaining('integrity check'),
    });
  });

  it('returns null when nothing is stored, and reads the key from the environment by default', async () => {
    const saved = process.env.QUOTA_TRACKER_SECRET_KEY;
    process.env.QUOTA_TRACKER_SECRET_KEY = HEX_KEY;
    try {
      expect(await loadCredential(t.db, 'sf-prod', 'id_token')).toBeNull();
      expect(await loadCredential(t.db, 'sf-prod', 'refresh_token')).toBe('rotated-token');
      delete process.env.QUOTA_TRACKER_SECRET_KEY;
      await expect(loadCredential(t.db, 'sf-prod', 'refresh_token')).rejects.toMatchObject({
        code: 'SECRET_KEY_MISSING',
      });
    } finally {
      if (saved === undefined) delete process.env.QUOTA_TRACKER_SECRET_KEY;
      else process.env.QUOTA_TRACKER_SECRET_KEY = saved;
    }
  });

  it('refuses to store a credential for an unknown connection with NOT_FOUND naming it', async () => {
    await expect(saveCredential(t.db, 'hs-nope', 'access_token', 'x', { key })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining('hs-nope'),
    });
  });
});
