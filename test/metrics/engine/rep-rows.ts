/**
 * One rep's warehouse rows for the engine tests: the person, the Salesforce user, a team membership since 2020 and
 * a CRM quota for FY2026-Q2 (calendar quarters), so each test says only which team and how much.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../../src/db/schema.ts';

export async function insertQuotaRep(
  db: Kysely<Database>,
  rep: { person: number; externalId: string; teamId: number; quota: string },
): Promise<void> {
  const { person, externalId: ext } = rep;
  await db
    .insertInto('persons')
    .values({ id: person, email: `${ext}@x.com`, name: `Rep ${ext}` } as never)
    .execute();
  await db
    .insertInto('reps')
    .values({
      connection_id: 'sf',
      external_id: ext,
      content_hash: 'h',
      person_id: person,
      name: `Rep ${ext}`,
      email: `${ext}@x.com`,
      is_active: true,
    })
    .execute();
  await db
    .insertInto('memberships')
    .values({ person_id: person, org_unit_id: rep.teamId, valid_from: '2020-01-01', valid_to: null, source: 'file' })
    .execute();
  await db
    .insertInto('quotas')
    .values({
      source: 'crm',
      connection_id: 'sf',
      external_id: `Q${ext}`,
      owner_external_id: ext,
      period_start: '2026-04-01',
      period_end: '2026-06-30',
      amount: rep.quota,
      currency: 'USD',
      content_hash: 'q',
    })
    .execute();
}
