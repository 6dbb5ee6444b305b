/**
 * A throw-away database per test file on the server of DATABASE_URL (default the local test server), migrated to
 * the latest schema. Used until the shared harness (test/helpers/db.ts) exists; same idea.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { connect } from '../../src/db/index.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import type { Database } from '../../src/db/schema.ts';

export interface FreshDb {
  db: Kysely<Database>;
  url: string;
  drop(): Promise<void>;
}

export async function freshDatabase(prefix = 'wb', poolSize = 4): Promise<FreshDb> {
  const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(base);
  u.pathname = `/${name}`;
  const url = u.toString();
  const db = await connect(url, poolSize);
  await migrateToLatest(db);
  return {
    db,
    url,
    async drop() {
      await db.destroy();
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
