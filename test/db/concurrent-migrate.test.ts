import { spawn } from 'node:child_process';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/db/index.ts';
import { MIGRATIONS } from '../../src/db/migrate.ts';
import { TABLE_NAMES } from '../../src/db/schema.ts';
import { createEmptyDatabase } from '../helpers/db.ts';

function migrateInChild(url: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/run-ts.js', 'test/db/fixtures/migrate-child.ts'], {
      env: { ...process.env, DATABASE_URL: url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('two processes migrating one fresh database at once', () => {
  let target: Awaited<ReturnType<typeof createEmptyDatabase>>;
  beforeAll(async () => {
    target = await createEmptyDatabase();
  });
  afterAll(() => target.drop());

  it('both exit 0, each migration is applied exactly once, and the schema is complete', async () => {
    const [a, b] = await Promise.all([migrateInChild(target.url), migrateInChild(target.url)]);
    expect(a.stderr).toBe('');
    expect(b.stderr).toBe('');
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);

    const appliedA = (JSON.parse(a.stdout) as { applied: string[] }).applied;
    const appliedB = (JSON.parse(b.stdout) as { applied: string[] }).applied;
    // The migration lock makes one process apply everything and the other find nothing left.
    expect([...appliedA, ...appliedB].sort()).toEqual(Object.keys(MIGRATIONS).sort());
    expect([appliedA.length, appliedB.length].sort()).toEqual([0, Object.keys(MIGRATIONS).length]);

    const db = await connect(target.url, 1);
    try {
      const rows = await sql<{ table_name: string }>`
        select table_name from information_schema.tables where table_schema = 'public'`.execute(db);
      const tables = rows.rows.map((r) => r.table_name);
      for (const name of TABLE_NAMES) expect(tables).toContain(name);
      const count = await sql<{ n: number }>`select count(*)::int as n from kysely_migration`.execute(db);
      expect(count.rows[0]?.n).toBe(Object.keys(MIGRATIONS).length);
    } finally {
      await db.destroy();
    }
  });
});
