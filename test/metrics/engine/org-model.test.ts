/**
 * The org model: persons joined by email, teams and regions from the CRM role tree or the org file, and dated
 * memberships that end on the day a person changes team, with that person's current period marked dirty.
 */
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseOrgFile } from '../../../src/config/org-file.ts';
import type { Database } from '../../../src/db/schema.ts';
import { syncOrgModel } from '../../../src/metrics/engine/org-model.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.ts';

const role = (id: string, name: string, parent: string | null) => ({
  connection_id: 'sf',
  external_id: id,
  content_hash: 'h',
  name,
  parent_external_id: parent,
});

const user = (
  id: string,
  email: string,
  roleId: string | null,
  manager: string | null,
  start: string,
  quotaCarrying = false,
) => ({
  connection_id: 'sf',
  external_id: id,
  content_hash: 'h',
  name: email.split('@')[0] as string,
  email,
  role_external_id: roleId,
  manager_external_id: manager,
  is_active: true,
  start_date: start,
  quota_carrying: quotaCarrying,
});

async function setUp(roles: ReturnType<typeof role>[], users: ReturnType<typeof user>[]): Promise<TestDatabase> {
  const t = await createTestDatabase();
  await t.db.insertInto('connections').values({ id: 'sf', kind: 'salesforce' }).execute();
  await t.db.insertInto('crm_roles').values(roles).execute();
  await t.db.insertInto('reps').values(users).execute();
  return t;
}

async function memberships(db: Kysely<Database>) {
  return db
    .selectFrom('memberships')
    .innerJoin('persons', 'persons.id', 'memberships.person_id')
    .innerJoin('org_units', 'org_units.id', 'memberships.org_unit_id')
    .select(['persons.email', 'org_units.name', 'memberships.valid_from', 'memberships.valid_to'])
    .orderBy('persons.email')
    .orderBy('memberships.valid_from')
    .execute();
}

/** Every team and region with its parent and manager, by the manager's email. */
async function units(db: Kysely<Database>) {
  return db
    .selectFrom('org_units as u')
    .leftJoin('org_units as parent', 'parent.id', 'u.parent_id')
    .leftJoin('persons as m', 'm.id', 'u.manager_person_id')
    .select(['u.kind', 'u.name', 'parent.name as parent', 'm.email as manager'])
    .where('u.kind', '<>', 'org')
    .orderBy('u.kind')
    .orderBy('u.name')
    .execute();
}

async function personId(db: Kysely<Database>, email: string): Promise<number> {
  const p = await db.selectFrom('persons').select('id').where('email', '=', email).executeTakeFirstOrThrow();
  return p.id;
}

describe('syncOrgModel from the CRM role tree', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await setUp(
      [
        role('00E1', 'VP Sales', null),
        role('00E2', 'Director West', '00E1'),
        role('00E3', 'West Enterprise Manager', '00E2'),
        role('00E4', 'West Enterprise Rep', '00E3'),
        role('00E5', 'West Mid-Market Manager', '00E2'),
        role('00E6', 'West Mid-Market Rep', '00E5'),
        role('00E7', 'West SMB Manager', '00E2'),
        role('00E8', 'West SMB Rep', '00E7'),
      ],
      [
        user('005V', 'vera@x.com', '00E1', null, '2018-01-01'),
        user('005D', 'dirk@x.com', '00E2', '005V', '2018-06-01'),
        user('005M', 'Mia@x.com', '00E3', '005D', '2019-01-01'),
        user('005A', 'ann@x.com', '00E4', '005M', '2024-02-01', true),
        user('005C', 'cal@x.com', '00E4', '005M', '2023-03-01', true),
        user('005B', 'bob@x.com', null, '005M', '2025-01-01', true),
        // A player-coach: manages the mid-market reps (none yet) and sells.
        user('005X', 'max@x.com', '00E5', '005D', '2020-05-01', true),
        // A manager whose team has no reps yet.
        user('005E', 'eve@x.com', '00E7', '005D', '2021-09-01'),
      ],
    );
  });
  afterAll(() => t.drop());

  it('puts reps in the team of the manager role they report into, and managers in none', async () => {
    const r = await syncOrgModel(t.db, { orgFile: null, asOf: '2026-06-12', periodId: 'FY2026-Q2' });
    expect(r.moved).toHaveLength(4);
    expect(await memberships(t.db)).toEqual([
      { email: 'ann@x.com', name: 'West Enterprise', valid_from: '2024-02-01', valid_to: null },
      // Bob has no role: he is in the team of the manager his CRM user names.
      { email: 'bob@x.com', name: 'West Enterprise', valid_from: '2025-01-01', valid_to: null },
      { email: 'cal@x.com', name: 'West Enterprise', valid_from: '2023-03-01', valid_to: null },
      { email: 'max@x.com', name: 'West Mid-Market', valid_from: '2020-05-01', valid_to: null },
    ]);
    expect(await units(t.db)).toEqual([
      { kind: 'region', name: 'West', parent: 'Organization', manager: 'dirk@x.com' },
      { kind: 'team', name: 'West Enterprise', parent: 'West', manager: 'mia@x.com' },
      { kind: 'team', name: 'West Mid-Market', parent: 'West', manager: 'max@x.com' },
    ]);
    // Running again changes nothing.
    expect((await syncOrgModel(t.db, { orgFile: null, asOf: '2026-06-12', periodId: 'FY2026-Q2' })).moved).toEqual([]);
  });

  it('moves a rep who changes role on that day, keeping the earlier membership', async () => {
    await t.db
      .updateTable('reps')
      .set({ role_external_id: '00E6', manager_external_id: '005X' })
      .where('external_id', '=', '005C')
      .execute();
    const r = await syncOrgModel(t.db, { orgFile: null, asOf: '2026-06-20', periodId: 'FY2026-Q2' });
    expect(r.dirty).toEqual([
      { subjectKey: `person:${await personId(t.db, 'cal@x.com')}`, periodId: 'FY2026-Q2', reason: 'team_changed' },
    ]);
    expect((await memberships(t.db)).filter((m) => m.email === 'cal@x.com')).toEqual([
      { email: 'cal@x.com', name: 'West Enterprise', valid_from: '2023-03-01', valid_to: '2026-06-20' },
      { email: 'cal@x.com', name: 'West Mid-Market', valid_from: '2026-06-20', valid_to: null },
    ]);
  });

  it('keeps the team and its name when its manager changes, and gives it the new one', async () => {
    await t.db.updateTable('reps').set({ is_active: false }).where('external_id', '=', '005M').execute();
    await t.db
      .insertInto('reps')
      .values(user('005N', 'nia@x.com', '00E3', '005D', '2026-06-01'))
      .execute();
    await t.db.updateTable('reps').set({ manager_external_id: '005N' }).where('external_id', '=', '005A').execute();
    const r = await syncOrgModel(t.db, { orgFile: null, asOf: '2026-06-25', periodId: 'FY2026-Q2' });
    expect(r.moved).toEqual([]);
    expect((await units(t.db)).find((u) => u.name === 'West Enterprise')).toEqual({
      kind: 'team',
      name: 'West Enterprise',
      parent: 'West',
      manager: 'nia@x.com',
    });
  });

  it('places a rep first seen after leaving in the team of her role, until the day she left', async () => {
    // Her deals of this quarter, before she left, must still count for the team (and the org above it).
    await t.db
      .insertInto('reps')
      .values({
        ...user('005L', 'lea@x.com', '00E4', '005N', '2022-01-01', true),
        is_active: false,
        source_modified_at: new Date('2026-05-10T15:00:00Z'),
      })
      .execute();
    const r = await syncOrgModel(t.db, { orgFile: null, asOf: '2026-06-26', periodId: 'FY2026-Q2' });
    expect(r.moved).toEqual([await personId(t.db, 'lea@x.com')]);
    expect((await memberships(t.db)).filter((m) => m.email === 'lea@x.com')).toEqual([
      { email: 'lea@x.com', name: 'West Enterprise', valid_from: '2022-01-01', valid_to: '2026-05-11' },
    ]);
    expect((await syncOrgModel(t.db, { orgFile: null, asOf: '2026-06-27', periodId: 'FY2026-Q2' })).moved).toEqual([]);
  });
});

describe('team and region names from role names', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await setUp(
      [
        // A team role and its region role that would both be "West" keep their full names.
        role('00E1', 'West Director', null),
        role('00E2', 'West Manager', '00E1'),
        role('00E3', 'West Rep', '00E2'),
        role('00E4', 'VP, International Sales', null),
        role('00E5', 'Head of EMEA', '00E4'),
        role('00E6', 'EMEA Account Executive', '00E5'),
        // A flat org's only role: a team of its own, without a region.
        role('00E7', 'Inside Sales', null),
      ],
      [
        user('005A', 'ann@x.com', '00E3', null, '2024-01-01', true),
        user('005B', 'bob@x.com', '00E6', null, '2024-01-01', true),
        user('005C', 'cat@x.com', '00E7', null, '2024-01-01', true),
      ],
    );
  });
  afterAll(() => t.drop());

  it('names teams and regions after their roles without the job title, unless two would share a name', async () => {
    await syncOrgModel(t.db, { orgFile: null, asOf: '2026-06-12', periodId: 'FY2026-Q2' });
    expect(await memberships(t.db)).toEqual([
      { email: 'ann@x.com', name: 'West Manager', valid_from: '2024-01-01', valid_to: null },
      { email: 'bob@x.com', name: 'EMEA', valid_from: '2024-01-01', valid_to: null },
      { email: 'cat@x.com', name: 'Inside Sales', valid_from: '2024-01-01', valid_to: null },
    ]);
    expect(await units(t.db)).toEqual([
      { kind: 'region', name: 'International Sales', parent: 'Organization', manager: null },
      { kind: 'region', name: 'West Director', parent: 'Organization', manager: null },
      { kind: 'team', name: 'EMEA', parent: 'International Sales', manager: null },
      { kind: 'team', name: 'Inside Sales', parent: 'Organization', manager: null },
      { kind: 'team', name: 'West Manager', parent: 'West Director', manager: null },
    ]);
  });
});

describe('syncOrgModel from the org file', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await setUp(
      [
        role('00E1', 'Director West', null),
        role('00E2', 'West Enterprise Manager', '00E1'),
        role('00E3', 'West Enterprise Rep', '00E2'),
      ],
      [
        user('005M', 'Mia@x.com', '00E2', null, '2019-01-01'),
        user('005A', 'ann@x.com', null, '005M', '2024-02-01', true),
        user('005B', 'bob@x.com', null, '005M', '2025-01-01', true),
      ],
    );
    await syncOrgModel(t.db, { orgFile: null, asOf: '2026-06-12', periodId: 'FY2026-Q2' });
  });
  afterAll(() => t.drop());

  it('moves a person when the org file puts them in another team, ending the old membership that day', async () => {
    const file = parseOrgFile(
      [
        'email,name,team,region,manager_email,role',
        'mia@x.com,Mia,West Enterprise,West,,manager',
        'ann@x.com,Ann,West Mid,West,mia@x.com,rep',
        'bob@x.com,Bob,West Enterprise,West,mia@x.com,rep',
      ].join('\n'),
      'org.csv',
    );
    const r = await syncOrgModel(t.db, { orgFile: file, asOf: '2026-06-15', periodId: 'FY2026-Q2' });
    // Bob's team does not change: without a role he was already in the team of the manager his CRM user names.
    const ids = await Promise.all(['ann@x.com', 'mia@x.com'].map((e) => personId(t.db, e)));
    expect(r.dirty).toEqual(
      ids
        .sort((a, b) => a - b)
        .map((id) => ({ subjectKey: `person:${id}`, periodId: 'FY2026-Q2', reason: 'team_changed' })),
    );
    expect(await memberships(t.db)).toEqual([
      { email: 'ann@x.com', name: 'West Enterprise', valid_from: '2024-02-01', valid_to: '2026-06-15' },
      { email: 'ann@x.com', name: 'West Mid', valid_from: '2026-06-15', valid_to: null },
      { email: 'bob@x.com', name: 'West Enterprise', valid_from: '2025-01-01', valid_to: null },
      { email: 'mia@x.com', name: 'West Enterprise', valid_from: '2019-01-01', valid_to: null },
    ]);
    const mgr = await t.db
      .selectFrom('org_units')
      .select('manager_person_id')
      .where('name', '=', 'West Mid')
      .where('kind', '=', 'team')
      .executeTakeFirstOrThrow();
    expect(mgr.manager_person_id).toBe(await personId(t.db, 'mia@x.com'));
  });
});

describe('the rep subjects a sync retires', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await setUp(
      [role('00E1', 'Director West', null), role('00E2', 'West Rep', '00E1')],
      [
        user('005A', 'ann@x.com', '00E2', null, '2024-02-01', true),
        user('005B', 'bob@x.com', '00E2', null, '2024-02-01', true),
        user('005C', 'cat@x.com', '00E2', null, '2024-02-01', true),
      ],
    );
    await syncOrgModel(t.db, { orgFile: null, asOf: '2026-06-12', periodId: 'FY2026-Q2' });
  });
  afterAll(() => t.drop());

  it("resolves a person's alerts once the CRMs deleted all their users, keeps others', and a malformed id fails nothing", async () => {
    const [ann, bob] = await Promise.all(['ann@x.com', 'bob@x.com'].map((e) => personId(t.db, e)));
    const alert = (subject: string) => ({
      rule: 'at_risk_rep',
      subject_kind: 'rep' as const,
      subject_id: subject,
      period_id: 'FY2026-Q2',
      dedupe_key: `at_risk_rep:${subject}`,
      severity: 'warning' as const,
      message: 'behind',
      details: null,
      value: null,
    });
    await t.db
      .insertInto('alerts')
      .values([alert(`person:${ann}`), alert(`person:${bob}`), alert('person:12x'), alert('sf:005C')])
      .execute();
    await t.db.updateTable('reps').set({ is_deleted: true }).where('external_id', '=', '005A').execute();
    await syncOrgModel(t.db, { orgFile: null, asOf: '2026-06-15', periodId: 'FY2026-Q2' });
    const status = await t.db.selectFrom('alerts').select(['subject_id', 'status']).orderBy('subject_id').execute();
    expect(Object.fromEntries(status.map((a) => [a.subject_id, a.status]))).toEqual({
      [`person:${ann}`]: 'resolved',
      [`person:${bob}`]: 'open',
      'person:12x': 'open',
      // Cat's user has a person: the user's own key stands for nobody any more.
      'sf:005C': 'resolved',
    });
  });
});
