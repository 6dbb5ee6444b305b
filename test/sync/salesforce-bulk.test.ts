/**
 * Initial and full syncs of a stream above `bulkThreshold` read it through a Bulk API 2.0 query job; the warehouse
 * they leave is the REST path's, row for row and column for column, and the sandbox oracle's. A sync
 * killed in the middle of a bulk read resumes the same job from the committed locator (no new job, no row read
 * twice); one whose job expired meanwhile starts a new job and still ends equal. A `--full` re-read of a synced
 * stream sweeps away what the CRM no longer has, through ids staged page by page.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxLogin } from '../../src/cli/commands/sandbox.ts';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { SalesforceConnector } from '../../src/connectors/salesforce/connector.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { runSync } from '../../src/sync/run.ts';
import { silentLogger } from '../../src/util/log.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { admin } from '../sandbox/salesforce/helpers.ts';
import { expectWarehouseEqualsOracle } from './helpers/oracle-compare.ts';

const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
const TABLES = [
  'reps',
  'crm_roles',
  'deals',
  'deal_stage_history',
  'deal_line_items',
  'deal_splits',
  'activities',
  'leads',
  'quotas',
  'fx_rates',
  'crm_fiscal_periods',
] as const;

let sb: SalesforceSandbox;
let rest: TestDatabase;
let bulk: TestDatabase;

function connector(bulkThreshold: number | undefined, batchSize = 2000, maxRecords = 500): SalesforceConnector {
  return new SalesforceConnector({
    config: {
      ...sandboxLogin(sb, 'sf'),
      sync: { lookbackMinutes: 10, apiBudgetShare: 0.5, formulaRefreshEvery: '24h', batchSize },
      ...(bulkThreshold !== undefined ? { bulkThreshold } : {}),
    },
    log: silentLogger,
    retry: { baseDelayMs: 5, maxDelayMs: 20, maxAttempts: 8 },
    bulk: { maxRecords, pollMs: 1 },
  });
}

async function syncAll(t: TestDatabase, c: SalesforceConnector, full = false): Promise<void> {
  for (const s of c.streams()) {
    const r = await runSync({
      db: t.db,
      connector: c,
      connectionId: 'sf',
      stream: s.name,
      calendar,
      now: () => sb.store.now(),
      ...(full ? { full: true } : {}),
    });
    expect(r.status, `${s.name}: ${r.errorMessage}`).toBe('succeeded');
  }
}

interface LogEntry {
  method: string;
  path: string;
  query: Record<string, string>;
}
async function requests(): Promise<LogEntry[]> {
  return (await (await admin(sb, 'GET', 'log')).json()) as LogEntry[];
}
async function q<T>(t: TestDatabase, text: string): Promise<T[]> {
  return (await sql.raw<T>(text).execute(t.db)).rows;
}
const count = async (t: TestDatabase, text: string) => Number((await q<{ n: string }>(t, text))[0]!.n);
const jobsCreated = (log: LogEntry[]) => log.filter((e) => e.method === 'POST' && e.path.endsWith('/jobs/query'));
const resultSets = (log: LogEntry[]) => log.filter((e) => e.method === 'GET' && e.path.endsWith('/results'));

/** Columns that differ between two databases whatever the read: surrogate ids, wall-clock stamps, run ids. */
const BOOKKEEPING = ['id', 'synced_at', 'deleted_at', 'last_seen_run_id', 'person_id', 'org_unit_id'];

/** Every synced row as the REST path and the bulk path wrote it, every column but the bookkeeping ones. */
async function rows(t: TestDatabase): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of TABLES) {
    const r = await q<{ k: string }>(
      t,
      `SELECT (to_jsonb(t) - ${BOOKKEEPING.map((c) => `'${c}'`).join(' - ')})::text AS k FROM ${table} t ORDER BY 1`,
    );
    out[table] = r.map((x) => x.k);
  }
  return out;
}

/** The tasks stream's rows alone (the kill tests sync only it). */
async function tasks(t: TestDatabase): Promise<string[]> {
  const all = await q<{ k: string }>(
    t,
    `SELECT (to_jsonb(a) - ${BOOKKEEPING.map((c) => `'${c}'`).join(' - ')})::text AS k FROM activities a
      WHERE kind = 'task' ORDER BY 1`,
  );
  return all.map((x) => x.k);
}

beforeAll(async () => {
  rest = await createTestDatabase();
  bulk = await createTestDatabase();
  sb = await startSalesforceSandbox({ seed: 5, size: 'small', anchorDate: '2026-03-02' });
  sb.store.advance(60 * 60_000);
  await admin(sb, 'POST', 'bulk', { pollsToComplete: 2 });
}, 120_000);
afterAll(async () => {
  await sb?.close();
  await rest?.drop();
  await bulk?.drop();
});

describe('Salesforce reads through Bulk API 2.0 above bulkThreshold', () => {
  it('bulkThreshold decides the API: the default reads small objects by REST, 0 reads every stream by bulk jobs', async () => {
    await admin(sb, 'DELETE', 'log');
    await syncAll(rest, connector(undefined));
    const restLog = await requests();
    expect(jobsCreated(restLog)).toHaveLength(0);

    await admin(sb, 'DELETE', 'log');
    const c = connector(0);
    await syncAll(bulk, c);
    const bulkLog = await requests();
    // One job per incremental stream the org has (the full-refresh streams and absent objects stay on REST).
    const objects = jobsCreated(bulkLog).length;
    expect(objects).toBeGreaterThanOrEqual(7);
    expect(resultSets(bulkLog).length).toBeGreaterThanOrEqual(objects);
    // No REST page of an incremental stream's full read: queries left are the Record Count fallbacks, the
    // full-refresh streams and the org facts.
    const restScans = bulkLog.filter(
      (e) =>
        e.path.endsWith('/queryAll') || (e.path.endsWith('/query') && /ORDER BY SystemModstamp/.test(e.query.q ?? '')),
    );
    expect(restScans).toHaveLength(0);

    expect(await rows(bulk)).toEqual(await rows(rest));
    await expectWarehouseEqualsOracle(bulk.db, sb, 'sf');
  }, 180_000);

  it("fetches a job's next result set while the pages of the current one are still being written", async () => {
    // Sets of 100 rows in pages of 50: only the first page of the first set is taken from the reader.
    const reader = connector(0, 50, 100)
      .read('tasks', null, { log: silentLogger, now: () => sb.store.now() })
      [Symbol.asyncIterator]();
    await admin(sb, 'DELETE', 'log');
    try {
      // The pages before the bulk job's first (the delete check's) carry no records.
      let page = await reader.next();
      while (!page.done && page.value.records.length === 0) page = await reader.next();
      expect(page.done).toBe(false);
      let sets = 0;
      for (let i = 0; i < 250 && sets < 2; i++) {
        await new Promise((r) => setTimeout(r, 20));
        sets = resultSets(await requests()).length;
      }
      // The second set was asked for while the first set's second page had not been taken yet.
      expect(sets).toBe(2);
    } finally {
      await reader.return?.(undefined);
    }
  }, 60_000);

  it('incremental syncs stay on REST and keep both warehouses equal', async () => {
    const store = sb.store;
    const opp = store.all('Opportunity').find((o) => !o.IsDeleted)!;
    store.update('Opportunity', opp.Id as string, { Amount: 123_456 });
    store.advance(5 * 60_000);
    await admin(sb, 'DELETE', 'log');
    await syncAll(bulk, connector(0));
    expect(jobsCreated(await requests())).toHaveLength(0);
    await syncAll(rest, connector(undefined));
    expect(await rows(bulk)).toEqual(await rows(rest));
  }, 120_000);

  // The two kill-and-resume runs take 70-80 s of each CI pass; they run with QT_HEAVY=1. CI keeps the connector's
  // own resume and expiry test (test/connectors/salesforce/bulk-query.test.ts) and the equality runs above.
  it.skipIf(!process.env.QT_HEAVY)(
    'a sync killed mid-read resumes the same job from its last committed locator; an expired job is started again',
    async () => {
      const t = await createTestDatabase();
      try {
        // Result sets of 500 rows applied in pages of 100: the kill lands inside a set.
        const c = connector(0, 100, 500);
        const total = await count(rest, `SELECT count(*) AS n FROM activities WHERE kind = 'task'`);
        expect(total).toBeGreaterThan(1200);

        await admin(sb, 'DELETE', 'log');
        const kill = new AbortController();
        const first = await runSync({
          db: t.db,
          connector: c,
          connectionId: 'sf',
          stream: 'tasks',
          calendar,
          now: () => sb.store.now(),
          signal: kill.signal,
          onProgress: (p) => {
            if (p.read >= 700) kill.abort(new Error('killed'));
          },
        });
        expect(first.status).toBe('failed');
        const [{ cursor }] = (await q<{ cursor: { bulk?: { locator: string | null; skip: number } } }>(
          t,
          `SELECT cursor FROM sync_cursors WHERE stream = 'tasks'`,
        )) as [{ cursor: { bulk?: { locator: string | null; skip: number } } }];
        // 700 rows committed: the second set (rows 500..999), 200 of it applied.
        expect(cursor.bulk).toMatchObject({ skip: 200 });
        expect(cursor.bulk?.locator).not.toBeNull();

        const second = await runSync({
          db: t.db,
          connector: c,
          connectionId: 'sf',
          stream: 'tasks',
          calendar,
          now: () => sb.store.now(),
        });
        expect(second.status, second.errorMessage).toBe('succeeded');
        const log = await requests();
        expect(jobsCreated(log)).toHaveLength(1);
        // Nothing read twice: the two runs together read each task once.
        expect(first.read + second.read).toBe(total);
        expect(await tasks(t)).toEqual(await tasks(rest));

        // Killed again on a full re-read, then the job expires: a new job, the whole stream again, still equal.
        await admin(sb, 'DELETE', 'log');
        const kill2 = new AbortController();
        const third = await runSync({
          db: t.db,
          connector: c,
          connectionId: 'sf',
          stream: 'tasks',
          calendar,
          full: true,
          now: () => sb.store.now(),
          signal: kill2.signal,
          onProgress: (p) => {
            if (p.read >= 300) kill2.abort(new Error('killed'));
          },
        });
        expect(third.status).toBe('failed');
        await admin(sb, 'POST', 'bulk', { expire: 'all' });
        const fourth = await runSync({
          db: t.db,
          connector: c,
          connectionId: 'sf',
          stream: 'tasks',
          calendar,
          now: () => sb.store.now(),
        });
        expect(fourth.status, fourth.errorMessage).toBe('succeeded');
        expect(jobsCreated(await requests())).toHaveLength(2);
        expect(fourth.read).toBe(total);
        expect(await tasks(t)).toEqual(await tasks(rest));
      } finally {
        await t.drop();
      }
    },
    180_000,
  );

  it.skipIf(!process.env.QT_HEAVY)(
    'a --full bulk re-read sweeps away records hard-deleted past the delete feed, resuming after a kill',
    async () => {
      const store = sb.store;
      const gone = store
        .all('Task')
        .filter((r) => !r.IsDeleted)
        .slice(0, 3)
        .map((r) => r.Id as string);
      for (const id of gone) store.hardDelete('Task', id);
      // Past the delete feed's 15 days: only a sweep can tell.
      store.advance(16 * 86_400_000);
      const c = connector(0, 100, 500);
      const kill = new AbortController();
      const first = await runSync({
        db: bulk.db,
        connector: c,
        connectionId: 'sf',
        stream: 'tasks',
        calendar,
        full: true,
        now: () => sb.store.now(),
        signal: kill.signal,
        onProgress: (p) => {
          if (p.read >= 600) kill.abort(new Error('killed'));
        },
      });
      expect(first.status).toBe('failed');
      const staged = await count(bulk, `SELECT count(*) AS n FROM sync_sweep_seen`);
      expect(staged).toBeGreaterThan(0);
      const second = await runSync({
        db: bulk.db,
        connector: c,
        connectionId: 'sf',
        stream: 'tasks',
        calendar,
        now: () => sb.store.now(),
      });
      expect(second.status, second.errorMessage).toBe('succeeded');
      expect(second.deleted).toBe(3);
      const flagged = await sql<{ external_id: string }>`SELECT external_id FROM activities
      WHERE is_deleted AND external_id = ANY(${gone}::text[])`.execute(bulk.db);
      expect(flagged.rows.map((r) => r.external_id).sort()).toEqual([...gone].sort());
      expect(await count(bulk, `SELECT count(*) AS n FROM sync_sweep_seen`)).toBe(0);
      await syncAll(bulk, connector(0));
      await expectWarehouseEqualsOracle(bulk.db, sb, 'sf');
    },
    180_000,
  );
});
