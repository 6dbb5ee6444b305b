/**
 * One fresh, migrated database per test file, on the server the globalSetup provides (DATABASE_URL or the
 * embedded one), dropped afterwards:
 *
 *   let t: TestDatabase;
 *   beforeAll(async () => { t = await createTestDatabase(); });
 *   afterAll(() => t.drop());
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { inject } from 'vitest';
import { connect } from '../../src/db/index.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import type { Database } from '../../src/db/schema.ts';

export interface TestDatabase {
  db: Kysely<Database>;
  /** URL of this file's own database. */
  url: string;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

/** The URL of a server where the tests may create databases. */
export function testServerUrl(): string {
  const url = inject('testDbServerUrl');
  if (!url) throw new Error('testDbServerUrl is not provided: is test/setup/global-db.ts in vitest.config.ts?');
  return url;
}

/** The server URL with another database name. */
export function withDatabase(serverUrl: string, database: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Creates an empty database `qt_t_<random>` on the test server, without migrating it. */
export async function createEmptyDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const server = testServerUrl();
  const name = `qt_t_${randomBytes(6).toString('hex')}`;
  await admin(server, (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`));
  return {
    name,
    url: withDatabase(server, name),
    drop: () => admin(server, (c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`)),
  };
}

/** A fresh database with every migration applied. */
export async function createTestDatabase(
  options: { migrate?: boolean /** Connections in the pool (default 5). */; poolSize?: number } = {},
): Promise<TestDatabase> {
  const empty = await createEmptyDatabase();
  const db = await connect(empty.url, options.poolSize ?? 5);
  if (options.migrate ?? true) await migrateToLatest(db);
  let dropped = false;
  return {
    db,
    url: empty.url,
    async drop() {
      if (dropped) return;
      dropped = true;
      await db.destroy();
      await empty.drop();
    },
  };
}

async function admin(url: string, f: (c: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await f(client);
  } finally {
    await client.end();
  }
}
