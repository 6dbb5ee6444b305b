/**
 * "Carries a quota", decided once (src/db/quota-carrying.ts) and read by the metrics engine and write-back alike:
 * the person's own flag from RevOps' files wins; else any of the person's live CRM users flagged by the sync, in
 * any CRM; else not. A user linked to no person answers for itself.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { carriesQuota } from '../../src/db/quota-carrying.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await t.db
    .insertInto('connections')
    .values([
      { id: 'sf', kind: 'salesforce' },
      { id: 'hs', kind: 'hubspot' },
    ])
    .execute();
  const person = async (email: string, quotaCarrying: boolean | null) =>
    (
      await t.db
        .insertInto('persons')
        .values({ email, name: email, quota_carrying: quotaCarrying, source: quotaCarrying === null ? 'crm' : 'file' })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
  const rep = (connection: string, id: string, personId: number | null, carrying: boolean, deleted = false) => ({
    connection_id: connection,
    external_id: id,
    content_hash: 'h',
    name: id,
    is_active: true,
    person_id: personId,
    quota_carrying: carrying,
    is_deleted: deleted,
  });
  const fileYes = await person('file-yes@x.com', true);
  const fileNo = await person('file-no@x.com', false);
  const twoCrms = await person('two-crms@x.com', null);
  const onlyDeleted = await person('only-deleted@x.com', null);
  const nobody = await person('nobody@x.com', null);
  await t.db
    .insertInto('reps')
    .values([
      rep('sf', 'FILE_YES', fileYes, false),
      rep('sf', 'FILE_NO', fileNo, true),
      // Flagged in HubSpot only: the person carries quota, so their Salesforce user does too.
      rep('sf', 'TWO_SF', twoCrms, false),
      rep('hs', 'TWO_HS', twoCrms, true),
      rep('sf', 'GONE', onlyDeleted, false),
      rep('hs', 'GONE_HS', onlyDeleted, true, true),
      rep('sf', 'NOBODY', nobody, false),
      rep('sf', 'UNLINKED_YES', null, true),
      rep('sf', 'UNLINKED_NO', null, false),
    ])
    .execute();
});
afterAll(() => t.drop());

it('the file wins, else any live user of the person in any CRM, else no; an unlinked user answers for itself', async () => {
  const { rows } = await sql<{ external_id: string; carrying: boolean }>`
    select r.external_id, ${carriesQuota('r', 'p')} as carrying
    from reps r left join persons p on p.id = r.person_id order by r.external_id`.execute(t.db);
  expect(Object.fromEntries(rows.map((r) => [r.external_id, r.carrying]))).toEqual({
    FILE_NO: false,
    FILE_YES: true,
    GONE: false,
    GONE_HS: false,
    NOBODY: false,
    TWO_HS: true,
    TWO_SF: true,
    UNLINKED_NO: false,
    UNLINKED_YES: true,
  });
});
