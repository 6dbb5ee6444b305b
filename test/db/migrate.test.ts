import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/db/index.ts';
import {
  assertSchemaKnown,
  knownSchemaVersion,
  MIGRATIONS,
  migrateToLatest,
  schemaStatus,
} from '../../src/db/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

describe('migrateToLatest', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase({ migrate: false });
  });
  afterAll(() => t.drop());

  it('applies every migration on an empty database, in name order, and nothing the second time', async () => {
    const names = Object.keys(MIGRATIONS).sort();
    // Every migration file is registered, and nothing else.
    const files = readdirSync(join(import.meta.dirname, '../../src/db/migrations'))
      .filter((f) => /^\d{4}-\d{2}-\d{2}_\d{2}_.*\.ts$/.test(f))
      .map((f) => f.replace(/\.ts$/, ''))
      .sort();
    expect(names).toEqual(files);
    expect(await schemaStatus(t.db)).toEqual({ applied: [], pending: names, unknown: [] });

    const first = await migrateToLatest(t.db);
    expect(first.applied).toEqual(names);
    expect(knownSchemaVersion()).toBe(names[names.length - 1]);

    const second = await migrateToLatest(t.db);
    expect(second.applied).toEqual([]);
    expect(await schemaStatus(t.db)).toEqual({ applied: names, pending: [], unknown: [] });
  });

  it('refuses a database migrated by a newer build with SCHEMA_UNKNOWN, naming the migration', async () => {
    await sql`insert into kysely_migration (name, timestamp) values ('2099-01-01_01_future', '2099-01-01T00:00:00Z')`.execute(
      t.db,
    );
    try {
      await expect(assertSchemaKnown(t.db)).rejects.toMatchObject({
        code: 'SCHEMA_UNKNOWN',
        message: expect.stringContaining('2099-01-01_01_future'),
      });
      await expect(migrateToLatest(t.db)).rejects.toMatchObject({ code: 'SCHEMA_UNKNOWN' });
    } finally {
      await sql`delete from kysely_migration where name = '2099-01-01_01_future'`.execute(t.db);
    }
    await expect(assertSchemaKnown(t.db)).resolves.toBeUndefined();
  });

  it('fails to connect with DB_UNAVAILABLE and no password in the message', async () => {
    const err = await connect('postgres://someone:hunter2@127.0.0.1:1/nowhere').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DB_UNAVAILABLE' });
    expect(String((err as Error).message)).toContain('127.0.0.1:1');
    expect(String((err as Error).message)).not.toContain('hunter2');
  });
});
