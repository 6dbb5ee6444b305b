import { afterAll, beforeAll, expect, it } from 'vitest';
import { isAppError } from '../../src/errors.ts';
import { createQueueBackend } from '../../src/jobs/backend.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let fresh: TestDatabase;
beforeAll(async () => {
  fresh = await createTestDatabase();
});
afterAll(async () => fresh?.drop());

it('a worker (no migrate) refuses a database whose queue schema was never set up; start migrates it', async () => {
  const b = createQueueBackend({ databaseUrl: fresh.url, prefix: 'quota-tracker' });
  try {
    await b.prepare(false);
    expect.unreachable();
  } catch (e) {
    expect(isAppError(e, 'SCHEMA_UNKNOWN')).toBe(true);
    expect((e as Error).message).toContain('the job queue\'s PostgreSQL schema "quota_tracker" is not usable');
  }
  await b.prepare(true);
  await b.prepare(false);
  await b.close();
});
