/**
 * People follow the CRM: a user renamed in Salesforce renames their person (reports print the person's name), a
 * changed email takes the person along (same id, so the history and quota-file rows stay theirs), a deactivation
 * shows on the rep; and an org file that named someone keeps its name.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { runSync } from '../../src/sync/run.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnector } from '../helpers/sandbox.ts';

const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
let sb: SalesforceSandbox;
let t: TestDatabase;

beforeAll(async () => {
  sb = await startSalesforceSandbox({ seed: 4, size: 'small', anchorDate: '2026-03-02' });
  t = await createTestDatabase();
}, 60_000);
afterAll(async () => {
  await sb?.close();
  await t?.drop();
});

async function syncUsers(): Promise<void> {
  sb.store.advance(60_000);
  const s = await runSync({
    db: t.db,
    connector: sandboxConnector(sb),
    connectionId: 'sf',
    stream: 'users',
    calendar,
    now: () => sb.store.now(),
  });
  expect(s.status, s.errorMessage).toBe('succeeded');
  sb.store.advance(15 * 60_000);
}

async function personOf(externalId: string) {
  return t.db
    .selectFrom('reps')
    .innerJoin('persons', 'persons.id', 'reps.person_id')
    .select(['persons.id', 'persons.name', 'persons.email', 'reps.is_active'])
    .where('reps.external_id', '=', externalId)
    .executeTakeFirstOrThrow();
}

it('a rename, an email change and a deactivation in the CRM reach the person and the rep', async () => {
  await syncUsers();
  const user = sb.store
    .all('User')
    .find((u) => u.IsActive === true && typeof u.Email === 'string' && u.Email.includes('@'));
  if (!user) throw new Error('the generated org has no active user with an email');
  const id = String(user.Id);
  const before = await personOf(id);
  expect(before.name).toBe(user.Name);

  sb.store.update('User', id, { FirstName: 'Renamed', LastName: 'Person' });
  await syncUsers();
  const renamed = await personOf(id);
  expect(renamed).toMatchObject({ id: before.id, name: 'Renamed Person' });

  sb.store.update('User', id, { Email: 'renamed.person@new-domain.example' });
  await syncUsers();
  expect(await personOf(id)).toMatchObject({
    id: before.id,
    name: 'Renamed Person',
    email: 'renamed.person@new-domain.example',
  });

  sb.store.update('User', id, { IsActive: false });
  await syncUsers();
  expect(await personOf(id)).toMatchObject({ id: before.id, is_active: false });
});

it('the org file keeps the name it gave; the CRM fills a name the file left out', async () => {
  const users = sb.store.all('User').filter((u) => u.IsActive === true && typeof u.Email === 'string');
  const [named, unnamed] = [users[1], users[2]];
  if (!named || !unnamed) throw new Error('the generated org has too few users');
  // What the org file loader writes (src/metrics/engine/org-model.ts): a person of source 'file'.
  await sql`update persons set name = 'Name From The Org File', source = 'file' where lower(email) = lower(${String(named.Email)})`.execute(
    t.db,
  );
  await sql`update persons set name = null, source = 'file' where lower(email) = lower(${String(unnamed.Email)})`.execute(
    t.db,
  );
  sb.store.update('User', String(named.Id), { FirstName: 'Crm', LastName: 'Rename One' });
  sb.store.update('User', String(unnamed.Id), { FirstName: 'Crm', LastName: 'Rename Two' });
  await syncUsers();
  expect((await personOf(String(named.Id))).name).toBe('Name From The Org File');
  expect((await personOf(String(unnamed.Id))).name).toBe('Crm Rename Two');
});
