/**
 * `rep=NAME` over the API: a name two people share is an error listing both with email and team, to an admin only.
 * Anyone else gets the 403 a person out of reach gets, with no email in it: asking by name must not probe who
 * exists or where (golden warehouse, Emily renamed to share Sarah Chen's name).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.ts';
import { createWebApp } from '../../src/web/app.ts';
import { createApiToken } from '../../src/web/tokens.ts';
import { goldenWarehouse } from '../fixtures/warehouse/load.ts';
import type { TestDatabase } from '../helpers/db.ts';

const config = validateConfig({ calendar: { timezone: 'America/New_York' }, forecast: { trials: 200 } });
const WHEN = 'period=FY2026-Q2&asOf=2026-06-12';
let t: TestDatabase;
let web: ReturnType<typeof createWebApp>;

beforeAll(async () => {
  t = await goldenWarehouse();
  await t.db
    .updateTable('persons')
    .set({ name: 'Sarah Chen' })
    .where('email', '=', 'emily.white@example.com')
    .execute();
  await t.db.updateTable('reps').set({ name: 'Sarah Chen' }).where('email', '=', 'emily.white@example.com').execute();
  web = createWebApp({ db: t.db, config });
}, 60_000);
afterAll(() => t.drop());

const ask = async (token: Parameters<typeof createApiToken>[1]) =>
  web.app.request(`/api/v1/reports/rep?rep=Sarah%20Chen&${WHEN}`, {
    headers: { authorization: `Bearer ${(await createApiToken(t.db, token)).token}` },
  });

describe('a rep asked by a name two people share', () => {
  it('lists both to an admin', async () => {
    const res = await ask({ role: 'admin' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(
      /2 people are named "Sarah Chen".*emily\.white@example\.com.*sarah\.chen@example\.com/,
    );
  });

  it('refuses everyone else as out of reach, naming no one', async () => {
    for (const token of [
      { role: 'rep' as const, subject: 'sarah.chen@example.com' },
      { role: 'manager' as const, subject: 'dana.manager@example.com' },
    ]) {
      const res = await ask(token);
      expect(res.status, token.role).toBe(403);
      const text = await res.text();
      expect(text).toContain('AUTH_FORBIDDEN');
      expect(text).not.toContain('@example.com');
    }
  });
});
