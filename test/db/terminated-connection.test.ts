/**
 * A PostgreSQL connection cut while the program holds it between two queries (inside a page's transaction; an
 * operator's pg_terminate_backend, a failover) fails that transaction, not the process: the pool's own listener
 * covers idle clients only, and before the fix the cut raised an unhandled 'error' that killed `sync` and `start`.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect } from '../../src/db/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.drop();
});

it('a backend terminated mid-transaction fails the transaction; the process and the pool go on', async () => {
  const db = await connect(t.url, 2);
  const admin = new pg.Client({ connectionString: t.url });
  await admin.connect();
  try {
    const failed = db.transaction().execute(async (trx) => {
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
      await admin.query('select pg_terminate_backend($1)', [rows[0]?.pid]);
      // Let the cut reach the client while it is held and idle, as between two statements of a page.
      await new Promise((r) => setTimeout(r, 500));
      await sql`select 1`.execute(trx);
    });
    await expect(failed).rejects.toThrow();
    const { rows } = await sql<{ one: number }>`select 1 as one`.execute(db);
    expect(rows).toEqual([{ one: 1 }]);
  } finally {
    await admin.end();
    await db.destroy();
  }
});
