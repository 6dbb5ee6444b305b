/**
 * The read model's freshness stamp (src/reports/read-model.ts) keeps a document only while nothing it was built
 * from moved: it holds while nothing is written and while other tables are, and moves once a change commits, even
 * one whose transaction began before the stamp was read.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.ts';
import { ReportReader } from '../../src/reports/read-model.ts';
import { createApiToken } from '../../src/web/tokens.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const config = validateConfig({ calendar: { timezone: 'America/New_York' } });
let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

describe('the read model stamp', () => {
  it('holds while nothing it watches is written and moves once a change commits, begun before or after', async () => {
    const reader = new ReportReader({ db: t.db, config });
    const first = await reader.stamp();
    expect(await reader.stamp()).toBe(first);
    // A write elsewhere (a new token) ends a transaction: the stamp is read again and is the same.
    await createApiToken(t.db, { role: 'admin' });
    expect(await reader.stamp()).toBe(first);

    const other = new pg.Client({ connectionString: t.url });
    await other.connect();
    try {
      await other.query('begin');
      await other.query(`insert into config_state (key, hash) values ('stamp-test', 'a')`);
      // Not committed: a document built now cannot see it, and the stamp says the same.
      expect(await reader.stamp()).toBe(first);
      await other.query('commit');
    } finally {
      await other.end();
    }
    const second = await reader.stamp();
    expect(second).not.toBe(first);
    expect(await reader.stamp()).toBe(second);

    await t.db.updateTable('config_state').set({ hash: 'b' }).where('key', '=', 'stamp-test').execute();
    expect(await reader.stamp()).not.toBe(second);
  });
});
