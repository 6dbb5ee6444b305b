import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import type { SyncCursor } from '../../src/connectors/salesforce/cursor.ts';
import type { Connector, DealRow, NormalizedRecord, Page } from '../../src/connectors/types.ts';
import { isAppError } from '../../src/errors.ts';
import { runSync } from '../../src/sync/run.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

// Fiscal year from February: 2026-03-10 is FY2027-Q1 (Feb-Apr), 2026-05-20 is FY2027-Q2 (May-Jul).
const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 2 });

function deal(id: string, over: Partial<DealRow> = {}, isDeleted = false): NormalizedRecord<'deals'> {
  return {
    externalId: id,
    sourceModifiedAt: '2026-03-01T10:00:00.000Z',
    isDeleted,
    row: {
      name: `Deal ${id}`,
      owner_external_id: '005A',
      amount: '1000.5',
      currency: 'USD',
      stage: 'Prospecting',
      stage_category: 'open',
      forecast_category: 'Pipeline',
      probability: '0.1',
      close_date: '2026-03-10',
      created_date: '2026-01-02',
      deal_type: null,
      product_line: null,
      segment: null,
      account_external_id: null,
      account_name: null,
      ...over,
    },
  };
}

const cursor = (since: string): SyncCursor => ({ v: 1, phase: 'incremental', since });

/** A connector that plays back scripted pages: the CRM side is not under test here, the warehouse writes are. */
function scripted(orgId: string, script: Array<Partial<Page> | Error>): Connector & { seenFrom: unknown[] } {
  const seenFrom: unknown[] = [];
  return {
    kind: 'salesforce',
    seenFrom,
    streams: () => [
      {
        name: 'opportunities',
        table: 'deals',
        mode: 'incremental',
        dirty: { ownerColumn: 'owner_external_id', dateColumn: 'close_date' },
      },
    ],
    identify: async () => ({ orgId, instanceUrl: 'https://x.test' }),
    apiCalls: () => 0,
    async *read(_stream, from) {
      seenFrom.push(from);
      for (const step of script) {
        if (step instanceof Error) throw step;
        yield {
          records: [],
          deletedIds: [],
          quarantined: [],
          cursor: cursor('2026-03-01T00:00:00.000Z'),
          apiCalls: 1,
          ...step,
        };
      }
    },
  };
}

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

async function dirty(db = t.db) {
  const rows = await db
    .selectFrom('dirty_keys')
    .select(['subject_key', 'period_id'])
    .orderBy('subject_key')
    .orderBy('period_id')
    .execute();
  await db.deleteFrom('dirty_keys').execute();
  return rows.map((r) => `${r.subject_key}@${r.period_id}`);
}

describe('runSync', () => {
  const ORG = '00D000000000001AAA';

  it('writes new rows, dirty rep-quarters, the cursor and a run summary', async () => {
    const c = scripted(ORG, [
      {
        records: [deal('006A'), deal('006B', { owner_external_id: '005B' })],
        cursor: cursor('2026-03-01T10:00:00.000Z'),
      },
    ]);
    const s = await runSync({
      db: t.db,
      connector: c,
      connectionId: 'sf',
      stream: 'opportunities',
      calendar,
      trigger: 'test',
    });
    expect(s).toMatchObject({ status: 'succeeded', read: 2, changed: 2, deleted: 0, quarantined: 0, apiCalls: 1 });
    const rows = await t.db
      .selectFrom('deals')
      .select(['external_id', 'amount', 'close_date', 'is_deleted'])
      .orderBy('external_id')
      .execute();
    expect(rows).toEqual([
      { external_id: '006A', amount: '1000.5', close_date: '2026-03-10', is_deleted: false },
      { external_id: '006B', amount: '1000.5', close_date: '2026-03-10', is_deleted: false },
    ]);
    expect(await dirty()).toEqual(['sf:005A@FY2027-Q1', 'sf:005B@FY2027-Q1']);
    const run = await t.db.selectFrom('sync_runs').selectAll().where('id', '=', s.runId).executeTakeFirstOrThrow();
    expect(run).toMatchObject({
      status: 'succeeded',
      records_read: 2,
      records_changed: 2,
      api_calls: 1,
      trigger: 'test',
    });
    const stored = await t.db
      .selectFrom('sync_cursors')
      .select('cursor')
      .where('stream', '=', 'opportunities')
      .executeTakeFirstOrThrow();
    expect(stored.cursor).toEqual(cursor('2026-03-01T10:00:00.000Z'));
    const conn = await t.db.selectFrom('connections').selectAll().where('id', '=', 'sf').executeTakeFirstOrThrow();
    expect(conn.crm_org_id).toBe(ORG);
  });

  it('passes the stored cursor back to the connector and writes nothing when content is unchanged', async () => {
    const c = scripted(ORG, [{ records: [{ ...deal('006A'), sourceModifiedAt: '2026-03-02T00:00:00.000Z' }] }]);
    const s = await runSync({ db: t.db, connector: c, connectionId: 'sf', stream: 'opportunities', calendar });
    expect(c.seenFrom).toEqual([cursor('2026-03-01T10:00:00.000Z')]);
    expect(s).toMatchObject({ read: 1, changed: 0 });
    expect(await dirty()).toEqual([]);
  });

  it('an owner move to another quarter dirties old and new owner in old and new quarter', async () => {
    const c = scripted(ORG, [{ records: [deal('006A', { owner_external_id: '005C', close_date: '2026-05-20' })] }]);
    const s = await runSync({ db: t.db, connector: c, connectionId: 'sf', stream: 'opportunities', calendar });
    expect(s.changed).toBe(1);
    expect(await dirty()).toEqual(['sf:005A@FY2027-Q1', 'sf:005A@FY2027-Q2', 'sf:005C@FY2027-Q1', 'sf:005C@FY2027-Q2']);
  });

  it('keeps hard-deleted and soft-deleted rows, flagged deleted, and dirties their owner', async () => {
    const c = scripted(ORG, [
      { deletedIds: ['006B', '006NOPE'] },
      { records: [deal('006A', { owner_external_id: '005C', close_date: '2026-05-20' }, true)] },
    ]);
    const s = await runSync({ db: t.db, connector: c, connectionId: 'sf', stream: 'opportunities', calendar });
    expect(s.deleted).toBe(2);
    const rows = await t.db.selectFrom('deals').select(['external_id', 'is_deleted']).orderBy('external_id').execute();
    expect(rows).toEqual([
      { external_id: '006A', is_deleted: true },
      { external_id: '006B', is_deleted: true },
    ]);
    expect(await dirty()).toEqual(['sf:005B@FY2027-Q1', 'sf:005C@FY2027-Q2']);
  });

  it('quarantines a bad record with its reason and resolves it when it later normalizes', async () => {
    const bad = {
      externalId: '006Q',
      reasonCode: 'MISSING_CLOSE_DATE',
      reason: 'Opportunity 006Q: CloseDate is missing',
      payload: { Id: '006Q' },
    };
    let s = await runSync({
      db: t.db,
      connector: scripted(ORG, [{ quarantined: [bad] }]),
      connectionId: 'sf',
      stream: 'opportunities',
      calendar,
    });
    expect(s.quarantined).toBe(1);
    let q = await t.db.selectFrom('quarantine').selectAll().where('external_id', '=', '006Q').executeTakeFirstOrThrow();
    expect(q).toMatchObject({
      reason_code: 'MISSING_CLOSE_DATE',
      stream: 'opportunities',
      resolved_at: null,
      payload: { Id: '006Q' },
    });
    s = await runSync({
      db: t.db,
      connector: scripted(ORG, [{ records: [deal('006Q')] }]),
      connectionId: 'sf',
      stream: 'opportunities',
      calendar,
    });
    q = await t.db.selectFrom('quarantine').selectAll().where('external_id', '=', '006Q').executeTakeFirstOrThrow();
    expect(q.resolved_at).toBeInstanceOf(Date);
    await dirty();
  });

  it('a failure mid-run keeps the pages committed before it and records the error', async () => {
    const c = scripted(ORG, [
      { records: [deal('006D')], cursor: cursor('2026-03-05T00:00:00.000Z') },
      new Error('socket exploded'),
    ]);
    const s = await runSync({ db: t.db, connector: c, connectionId: 'sf', stream: 'opportunities', calendar });
    expect(s).toMatchObject({ status: 'failed', errorCode: 'INTERNAL', read: 1 });
    const stored = await t.db
      .selectFrom('sync_cursors')
      .select('cursor')
      .where('stream', '=', 'opportunities')
      .executeTakeFirstOrThrow();
    expect(stored.cursor).toEqual(cursor('2026-03-05T00:00:00.000Z'));
    expect(
      await t.db.selectFrom('deals').select('external_id').where('external_id', '=', '006D').executeTakeFirst(),
    ).toBeDefined();
    await dirty();
  });

  it('a sweep flags every row the CRM no longer lists', async () => {
    const s = await runSync({
      db: t.db,
      connector: scripted(ORG, [{ sweepSeenIds: ['006Q'] }]),
      connectionId: 'sf',
      stream: 'opportunities',
      calendar,
    });
    expect(s.deleted).toBe(1); // 006D; 006A and 006B were already deleted
    const live = await t.db.selectFrom('deals').select('external_id').where('is_deleted', '=', false).execute();
    expect(live).toEqual([{ external_id: '006Q' }]);
    await dirty();
  });

  it('a sweep in pages stages its ids with each page; a killed one is begun again, and its end flags the unseen', async () => {
    const sync = (script: Array<Partial<Page> | Error>) =>
      runSync({ db: t.db, connector: scripted(ORG, script), connectionId: 'sf', stream: 'opportunities', calendar });
    const staged = async () => (await t.db.selectFrom('sync_sweep_seen').select('external_id').execute()).length;
    const killed = await sync([{ sweep: { begin: true, seenIds: ['006Q'] } }, new Error('killed')]);
    expect(killed.status).toBe('failed');
    expect(await staged()).toBe(1);
    // Started over: what the killed sweep saw is forgotten, so 006Q, unseen this time, is flagged at the end.
    const again = await sync([
      { sweep: { begin: true, seenIds: ['006X'] } },
      { sweep: { seenIds: ['006Y'] } },
      { sweep: { seenIds: [], end: true } },
    ]);
    expect(again).toMatchObject({ status: 'succeeded', deleted: 1 });
    expect(await t.db.selectFrom('deals').select('external_id').where('is_deleted', '=', false).execute()).toEqual([]);
    expect(await staged()).toBe(0);
    expect((await dirty()).length).toBeGreaterThan(0);
  });

  it('refuses credentials that reach a different org', async () => {
    const err = await runSync({
      db: t.db,
      connector: scripted('00D000000000002AAA', []),
      connectionId: 'sf',
      stream: 'opportunities',
      calendar,
    }).catch((e: unknown) => e);
    expect(isAppError(err, 'CRM_ORG_MISMATCH')).toBe(true);
    expect((err as Error).message).toContain('bound to org 00D000000000001AAA');
  });

  it('runs one sync per connection and stream at a time', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slow: Connector = {
      ...scripted(ORG, []),
      async *read() {
        await gate;
        yield { records: [], deletedIds: [], quarantined: [], cursor: cursor('2026-03-05T00:00:00.000Z'), apiCalls: 0 };
      },
    };
    const first = runSync({ db: t.db, connector: slow, connectionId: 'sf', stream: 'opportunities', calendar });
    await new Promise((r) => setTimeout(r, 200));
    const second = await runSync({
      db: t.db,
      connector: scripted(ORG, []),
      connectionId: 'sf',
      stream: 'opportunities',
      calendar,
    }).catch((e: unknown) => e);
    expect(isAppError(second, 'SYNC_IN_PROGRESS')).toBe(true);
    release();
    expect((await first).status).toBe('succeeded');
  });

  it('refreshes the statistics of a table a run wrote a large part of, and not after a small run', async () => {
    // Its own database: autovacuum off for deals, so only the run can have analyzed it.
    const own = await createTestDatabase();
    try {
      await sql`ALTER TABLE deals SET (autovacuum_enabled = false)`.execute(own.db);
      const estimate = async () =>
        Number(
          (
            await sql<{ n: number }>`SELECT reltuples::float8 AS n FROM pg_class WHERE oid = 'deals'::regclass`.execute(
              own.db,
            )
          ).rows[0]?.n,
        );
      const pages = (from: number, count: number, size: number) =>
        Array.from({ length: count }, (_, p) => ({
          records: Array.from({ length: size }, (_, i) => deal(`B${from + p * size + i}`)),
        }));
      const sync = (script: Array<Partial<Page>>) =>
        runSync({
          db: own.db,
          connector: scripted(ORG, script),
          connectionId: 'sf',
          stream: 'opportunities',
          calendar,
        });
      expect(await estimate()).toBe(-1); // never analyzed
      expect((await sync(pages(0, 3, 2_000))).changed).toBe(6_000);
      expect(await estimate()).toBe(6_000);
      // 100 more rows: under the threshold, the estimate stays where the last ANALYZE left it.
      expect((await sync(pages(6_000, 1, 100))).changed).toBe(100);
      expect(await estimate()).toBe(6_000);
    } finally {
      await own.drop();
    }
  });

  it("keeps a stream's runs 30 days, and the last of each outcome whatever its age; the totals keep every run", async () => {
    const own = await createTestDatabase();
    try {
      await own.db.insertInto('connections').values({ id: 'sf', kind: 'salesforce' }).execute();
      // Finished runs 40, 39, 38 (succeeded), 35 (failed) and 10 (succeeded) days ago, and one of another stream.
      await sql`insert into sync_runs (connection_id, stream, trigger, started_at, finished_at, status) values
        ('sf', 'opportunities', 'schedule', now() - interval '40 days', now() - interval '40 days', 'succeeded'),
        ('sf', 'opportunities', 'schedule', now() - interval '39 days', now() - interval '39 days', 'succeeded'),
        ('sf', 'opportunities', 'schedule', now() - interval '38 days', now() - interval '38 days', 'succeeded'),
        ('sf', 'opportunities', 'schedule', now() - interval '35 days', now() - interval '35 days', 'failed'),
        ('sf', 'opportunities', 'schedule', now() - interval '10 days', now() - interval '10 days', 'succeeded'),
        ('sf', 'users', 'schedule', now() - interval '40 days', now() - interval '40 days', 'succeeded')`.execute(
        own.db,
      );
      const s = await runSync({
        db: own.db,
        connector: scripted(ORG, [{ records: [deal('K1')] }]),
        connectionId: 'sf',
        stream: 'opportunities',
        calendar,
      });
      expect(s.status).toBe('succeeded');
      const left = await sql<{ stream: string; status: string; days: number }>`select stream, status,
          round(extract(epoch from now() - started_at) / 86400)::int as days -- wall-clock: the runs' real age
        from sync_runs order by stream, started_at`.execute(own.db);
      // The 40- to 38-day successes went; the 35-day failure stays (the last failure), as does the other stream's.
      expect(left.rows).toEqual([
        { stream: 'opportunities', status: 'failed', days: 35 },
        { stream: 'opportunities', status: 'succeeded', days: 10 },
        { stream: 'opportunities', status: 'succeeded', days: 0 },
        { stream: 'users', status: 'succeeded', days: 40 },
      ]);
      const totals = await own.db.selectFrom('sync_run_totals').select(['status', 'runs']).orderBy('status').execute();
      expect(totals).toEqual([
        { status: 'failed', runs: 1 },
        { status: 'succeeded', runs: 6 },
      ]);
    } finally {
      await own.drop();
    }
  });
});
