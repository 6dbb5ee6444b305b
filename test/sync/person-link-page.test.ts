/**
 * Linking a page of users to persons (linkPersons in src/sync/tables.ts): a page whose users do not meet (no email
 * twice, no rep of it with a person under another email) is linked in a fixed number of statements, whatever its
 * size; a page where they meet (two users sharing an email, an email that moved) goes record by record, with the
 * outcome the records in turn give.
 */
import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { salesforceStreams } from '../../src/connectors/salesforce/streams.ts';
import type { NormalizedRecord, RepRow } from '../../src/connectors/types.ts';
import { ensureConnection } from '../../src/sync/org-binding.ts';
import { rowHash, type TableContext, tableStrategy } from '../../src/sync/tables.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let t: TestDatabase;
let ctx: TableContext;

/** Counts the statements a Kysely instance sends. */
class Counting implements KyselyPlugin {
  statements = 0;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.statements++;
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

beforeAll(async () => {
  t = await createTestDatabase();
  await ensureConnection(t.db, 'sf', 'salesforce');
  const run = await t.db
    .insertInto('sync_runs')
    .values({ connection_id: 'sf', stream: 'users', trigger: 'test', full_scan: false })
    .returning('id')
    .executeTakeFirstOrThrow();
  const users = salesforceStreams().find((s) => s.name === 'users');
  if (!users) throw new Error('no users stream');
  ctx = { connectionId: 'sf', runId: run.id, stream: users, today: '2026-03-02' };
}, 60_000);
afterAll(async () => {
  await t?.drop();
});

function user(id: string, name: string, email: string | null): NormalizedRecord {
  const row: RepRow = {
    name,
    email,
    title: null,
    role_external_id: null,
    manager_external_id: null,
    is_active: true,
    start_date: null,
    territory: null,
    currency: 'USD',
  };
  return { externalId: id, sourceModifiedAt: '2026-03-01T00:00:00.000Z', isDeleted: false, row };
}

/** Writes one page of users through the reps strategy; the statements it took. */
async function writePage(records: NormalizedRecord[]): Promise<number> {
  const counting = new Counting();
  await t.db
    .withPlugin(counting)
    .transaction()
    .execute((trx) =>
      tableStrategy('reps').write(
        trx,
        ctx,
        records.map((rec) => ({ rec, hash: rowHash(rec.row) })),
      ),
    );
  return counting.statements;
}

async function links() {
  const rows = await t.db
    .selectFrom('reps')
    .leftJoin('persons', 'persons.id', 'reps.person_id')
    .select(['reps.external_id as rep', 'persons.id', 'persons.email', 'persons.name'])
    .orderBy('reps.external_id')
    .execute();
  return new Map(rows.map((r) => [r.rep, r]));
}

it('a page of new users with their own emails is linked in a few statements, in the order of the page', async () => {
  const page = Array.from({ length: 40 }, (_, i) =>
    user(`005U${String(i).padStart(4, '0')}`, `User ${i}`, `user.${i}@example.com`),
  );
  // One without an email is not linked; one with it in capitals is its own address.
  page.push(user('005U9998', 'No Mail', null), user('005U9999', 'Caps', 'CAPS@Example.com'));
  const statements = await writePage(page);
  // The column types, the rows, the bindings, the check, the persons, the links (record by record: 3 a user more).
  expect(statements).toBeLessThanOrEqual(6);
  const linked = await links();
  expect(linked.get('005U9998')?.id).toBeNull();
  expect(linked.get('005U9999')).toMatchObject({ email: 'CAPS@Example.com', name: 'Caps' });
  const ids = page.slice(0, 40).map((r) => {
    const l = linked.get(r.externalId);
    expect(l).toMatchObject({ email: (r.row as RepRow).email, name: (r.row as RepRow).name });
    return l?.id as number;
  });
  // New persons are numbered in the page's order, as one insert a record numbered them.
  expect(ids).toEqual([...ids].sort((a, b) => a - b));
  expect(linked.get('005U9999')?.id).toBeGreaterThan(ids.at(-1) as number);
});

it('users that meet (an email twice, an email that moved) are linked as the records in turn link them', async () => {
  await writePage([user('005M0001', 'Mover', 'mover@example.com')]);
  const before = (await links()).get('005M0001');
  await writePage([
    // Two users sharing an address: one person, named by the later record.
    user('005S0001', 'Shared One', 'shared@example.com'),
    user('005S0002', 'Shared Two', 'SHARED@example.com'),
    // The mover's new address: the person follows (same id).
    user('005M0001', 'Mover', 'moved@example.com'),
  ]);
  const linked = await links();
  expect(linked.get('005S0001')?.id).toBe(linked.get('005S0002')?.id);
  expect(linked.get('005S0001')).toMatchObject({ email: 'shared@example.com', name: 'Shared Two' });
  expect(linked.get('005M0001')).toMatchObject({ id: before?.id, email: 'moved@example.com' });

  // A moved email alone (no email twice) goes record by record too: the person follows.
  await writePage([user('005M0001', 'Mover', 'moved.again@example.com')]);
  expect((await links()).get('005M0001')).toMatchObject({ id: before?.id, email: 'moved.again@example.com' });
});
