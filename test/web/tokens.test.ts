import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticate, createApiToken, hashToken, revokeApiToken } from '../../src/web/tokens.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  // Manager and rep tokens act as people the warehouse knows.
  await t.db
    .insertInto('persons')
    .values([
      { email: 'maria@example.com', name: 'Maria', source: 'file' },
      { email: 'rep@example.com', name: 'Rep', source: 'file' },
    ])
    .execute();
});
afterAll(() => t.drop());

describe('API tokens', () => {
  it('are stored only as a sha256 hash: neither the token nor its secret appears anywhere in the table', async () => {
    const { id, token } = await createApiToken(t.db, { role: 'manager', subject: 'Maria@Example.com' });
    expect(token).toMatch(/^qt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(token.startsWith(`qt_${id}_`)).toBe(true);
    const secret = token.slice(`qt_${id}_`.length);
    const dump = await sql<{ row: string }>`select row_to_json(a)::text as row from api_tokens a`.execute(t.db);
    expect(dump.rows).toHaveLength(1);
    const text = dump.rows[0]?.row ?? '';
    expect(text).not.toContain(token);
    expect(text).not.toContain(secret);
    expect(text).toContain(hashToken(token));
    expect(text).toContain('maria@example.com');
  });

  it('authenticate a valid token, recording its use, and refuse it once revoked', async () => {
    const { id, token } = await createApiToken(t.db, { role: 'rep', subject: 'rep@example.com' });
    const principal = await authenticate(t.db, `Bearer ${token}`);
    expect(principal).toEqual({ tokenId: id, role: 'rep', subjectEmail: 'rep@example.com' });
    const row = await t.db.selectFrom('api_tokens').select('last_used_at').where('id', '=', id).executeTakeFirst();
    expect(row?.last_used_at).toBeInstanceOf(Date);

    await revokeApiToken(t.db, id);
    expect(await authenticate(t.db, `Bearer ${token}`)).toBeNull();
    // Revoking again is harmless; an unknown id is an error naming it.
    await revokeApiToken(t.db, id);
    await expect(revokeApiToken(t.db, '000000000000')).rejects.toMatchObject({ code: 'TOKEN_NOT_FOUND' });
  });

  it('refuse a token whose secret is altered, a malformed one and none at all', async () => {
    const { token } = await createApiToken(t.db, { role: 'admin' });
    expect(await authenticate(t.db, token)).toMatchObject({ role: 'admin', subjectEmail: null });
    const last = token.at(-1) === 'A' ? 'B' : 'A';
    expect(await authenticate(t.db, `${token.slice(0, -1)}${last}`)).toBeNull();
    expect(await authenticate(t.db, 'Bearer qt_nothex_abc')).toBeNull();
    expect(await authenticate(t.db, '')).toBeNull();
    expect(await authenticate(t.db, undefined)).toBeNull();
  });

  it('need a subject email for manager and rep tokens, of someone the warehouse knows', async () => {
    await expect(createApiToken(t.db, { role: 'rep', subject: 'nobody@x.com' })).rejects.toMatchObject({
      code: 'USAGE',
      where: '--subject',
      message:
        'no person or rep in the warehouse has the email nobody@x.com; a rep token must act as someone synced from the CRM or listed in the org file',
    });
    await expect(createApiToken(t.db, { role: 'rep' })).rejects.toMatchObject({ code: 'USAGE', where: '--subject' });
    await expect(createApiToken(t.db, { role: 'manager', subject: 'not-an-email' })).rejects.toMatchObject({
      code: 'USAGE',
    });
  });
});
