/**
 * The org model: persons joined by email, teams and regions from the CRM role tree or the org file, and dated
 * memberships that end on the day a person changes team, with that person's current period marked dirty.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseOrgFile } from '../../../src/config/org-file.ts';
import { syncOrgModel } from '../../../src/metrics/engine/org-model.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  const db = t.db;
  await db.insertInto('connections').values({ id: 'sf', kind: 'salesforce' }).execute();
  await db
    .insertInto('crm_roles')
    .values([
      { connection_id: 'sf', external_id: '00E1', content_hash: 'h', name: 'West', parent_external_id: null },
      {
        connection_id: 'sf',
        external_id: '00E2',
        content_hash: 'h',
        name: 'West Enterprise',
        parent_external_id: '00E1',
      },
    ])
    .execute();
  const rep = (id: string, email: string, role: string | null, manager: string | null, start: string) => ({
    connection_id: 'sf',
    external_id: id,
    content_hash: 'h',
    name: email.split('@')[0] as string,
    email,
    role_external_id: role,
    manager_external_id: manager,
    is_active: true,
    start_date: start,
  });
  await db
    .insertInto('reps')
    .values([
      rep('005M', 'Mia@x.com', '00E1', null, '2019-01-01'),
      rep('005A', 'ann@x.com', '00E2', '005M', '2024-02-01'),
      rep('005B', 'bob@x.com', null, '005M', '2025-01-01'),
    ])
    .execute();
});
afterAll(() => t.drop());

async function memberships() {
  return t.db
    .selectFrom('memberships')
    .innerJoin('persons', 'persons.id', 'memberships.person_id')
    .innerJoin('org_units', 'org_units.id', 'memberships.org_unit_id')
    .select(['persons.email', 'org_units.name', 'memberships.valid_from', 'memberships.valid_to'])
    .orderBy('persons.email')
    .orderBy('memberships.valid_from')
    .execute();
}

describe('syncOrgModel', () => {
  it('builds teams from the role tree, with memberships from each start date', async () => {
    const r = await syncOrgModel(t.db, { orgFile: null, asOf: '2026-06-12', periodId: 'FY2026-Q2' });
    expect(r.moved).toHaveLength(3);
    expect(await memberships()).toEqual([
      { email: 'ann@x.com', name: 'West Enterprise', valid_from: '2024-02-01', valid_to: null },
      { email: 'bob@x.com', name: 'Unassigned', valid_from: '2025-01-01', valid_to: null },
      { email: 'mia@x.com', name: 'West', valid_from: '2019-01-01', valid_to: null },
    ]);
    const team = await t.db
      .selectFrom('org_units')
      .innerJoin('org_units as parent', 'parent.id', 'org_units.parent_id')
      .select(['org_units.name', 'parent.name as parent', 'parent.kind'])
      .where('org_units.name', '=', 'West Enterprise')
      .where('org_units.kind', '=', 'team')
      .executeTakeFirstOrThrow();
    expect(team).toEqual({ name: 'West Enterprise', parent: 'West', kind: 'region' });
    // Running again changes nothing.
    expect((await syncOrgModel(t.db, { orgFile: null, asOf: '2026-06-12', periodId: 'FY2026-Q2' })).moved).toEqual([]);
  });

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
    const ids = await t.db.selectFrom('persons').select(['id', 'email']).orderBy('id').execute();
    const idOf = (e: string) => ids.find((p) => p.email.toLowerCase() === e)?.id;
    expect(r.dirty).toEqual(
      ['ann@x.com', 'bob@x.com', 'mia@x.com']
        .map((e) => idOf(e) as number)
        .sort((a, b) => a - b)
        .map((id) => ({ subjectKey: `person:${id}`, periodId: 'FY2026-Q2', reason: 'team_changed' })),
    );
    expect(await memberships()).toEqual([
      { email: 'ann@x.com', name: 'West Enterprise', valid_from: '2024-02-01', valid_to: '2026-06-15' },
      { email: 'ann@x.com', name: 'West Mid', valid_from: '2026-06-15', valid_to: null },
      { email: 'bob@x.com', name: 'Unassigned', valid_from: '2025-01-01', valid_to: '2026-06-15' },
      { email: 'bob@x.com', name: 'West Enterprise', valid_from: '2026-06-15', valid_to: null },
      { email: 'mia@x.com', name: 'West', valid_from: '2019-01-01', valid_to: '2026-06-15' },
      { email: 'mia@x.com', name: 'West Enterprise', valid_from: '2026-06-15', valid_to: null },
    ]);
    const mgr = await t.db
      .selectFrom('org_units')
      .select('manager_person_id')
      .where('name', '=', 'West Mid')
      .where('kind', '=', 'team')
      .executeTakeFirstOrThrow();
    expect(mgr.manager_person_id).toBe(idOf('mia@x.com'));
  });
});
