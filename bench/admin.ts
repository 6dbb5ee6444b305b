import pg from 'pg';

/** One statement on a server outside any pool (a bench's `create database` / `drop database`). */
export async function admin(url: string, q: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(q);
  } finally {
    await c.end();
  }
}
