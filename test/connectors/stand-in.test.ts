/**
 * The connector contract, held to by a CRM that is not Salesforce: a stand-in registered under a second connection
 * type (an in-memory source of pages, a recording write port and task sink) runs sync, metrics, write-back and alert
 * tasks end to end through the job handlers, with nothing but its registry entry to find it. If a step still
 * reached for Salesforce, this run would fail or write nothing.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock, setClock } from '../../src/clock.ts';
import { validateConfig } from '../../src/config/load.ts';
import { registerConnectorKind } from '../../src/connectors/registry.ts';
import { NO_RETRY_CODES } from '../../src/connectors/retry-policy.ts';
import type {
  AlertTask,
  Connector,
  ConnectorKind,
  FieldLayout,
  NormalizedRecord,
  Page,
  StreamSpec,
  WarehouseTable,
  WriteIntent,
  WritePortContext,
} from '../../src/connectors/types.ts';
import { createPipeline } from '../../src/jobs/pipeline.ts';
import { type JobContext, RetryLater } from '../../src/jobs/runtime.ts';
import { silentLogger } from '../../src/util/log.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const NOW = '2026-11-20T12:00:00.000Z';
const STAMP = '2026-11-19T08:00:00.000Z';

const STREAMS: readonly StreamSpec[] = [
  { name: 'people', table: 'reps', mode: 'incremental', dirty: { ownerColumn: 'external_id' } },
  {
    name: 'bookings',
    table: 'deals',
    mode: 'incremental',
    dirty: { ownerColumn: 'owner_external_id', dateColumn: 'close_date' },
    derives: ['deal_product_line'],
  },
  {
    name: 'targets',
    table: 'quotas',
    mode: 'incremental',
    dirty: { ownerColumn: 'owner_external_id', dateColumn: 'period_start' },
    derives: ['rep_quota_carrying'],
  },
];

function rec<T extends WarehouseTable>(id: string, row: NormalizedRecord<T>['row']): NormalizedRecord<T> {
  return { externalId: id, sourceModifiedAt: STAMP, isDeleted: false, row };
}

const person = (id: string, name: string, manager: string | null) =>
  rec<'reps'>(id, {
    name,
    email: `${id}@stand-in.test`,
    title: null,
    role_external_id: null,
    manager_external_id: manager,
    is_active: true,
    start_date: '2024-01-01',
    territory: null,
    currency: 'USD',
  });

const won = (id: string, owner: string, amount: string, closeDate: string) =>
  rec<'deals'>(id, {
    name: `Deal ${id}`,
    owner_external_id: owner,
    amount,
    currency: 'USD',
    stage: 'Won',
    stage_category: 'won',
    forecast_category: 'Closed',
    probability: '1',
    close_date: closeDate,
    created_date: '2026-09-01',
    deal_type: null,
    segment: null,
    account_external_id: null,
    account_name: null,
  });

const quota = (id: string, owner: string, amount: string) =>
  rec<'quotas'>(id, {
    owner_external_id: owner,
    period_start: '2026-10-01',
    period_end: '2026-12-31',
    amount,
    currency: 'USD',
    product_line: null,
  });

/** The CRM's content: a manager and two reps; one rep has booked 90% of quota, the other 5%. */
const DATA: Record<string, NormalizedRecord[]> = {
  people: [person('m1', 'Morgan Manager', null), person('r1', 'Riley Rep', 'm1'), person('r2', 'Sam Rep', 'm1')],
  bookings: [won('d1', 'r1', '90000', '2026-10-20'), won('d2', 'r2', '5000', '2026-11-02')],
  targets: [quota('q1', 'r1', '100000'), quota('q2', 'r2', '100000')],
};

interface Recorded {
  reads: Array<{ stream: string; from: unknown }>;
  writes: WriteIntent[];
  tasks: AlertTask[];
  portContexts: WritePortContext[];
}

const LAYOUT: FieldLayout = {
  attainment: { name: 'quota_attainment', unit: 'percent', scale: 2 },
  pace: { name: 'quota_pace', unit: 'percent', scale: 2 },
  projectedAttainment: { name: 'projected_attainment', unit: 'percent', scale: 2 },
  status: { name: 'quota_status', unit: 'text', scale: 0 },
  coverage: { name: 'pipeline_coverage', unit: 'number', scale: 4 },
  rank: { name: 'quota_rank', unit: 'number', scale: 0 },
  asOf: { name: 'quota_metrics_as_of', unit: 'date', scale: 0 },
};

function standIn(recorded: Recorded): ConnectorKind {
  const create = (): Connector => ({
    kind: 'hubspot',
    streams: () => STREAMS,
    identify: async () => ({ orgId: 'stand-in-portal-1', instanceUrl: 'memory://stand-in' }),
    apiCalls: () => 0,
    async *read(stream, from): AsyncGenerator<Page> {
      recorded.reads.push({ stream, from });
      // The cursor is the connector's own business: here, how many records were handed out.
      const offset = typeof from === 'object' && from !== null && 'offset' in from ? Number(from.offset) : 0;
      const records = (DATA[stream] ?? []).slice(offset);
      yield {
        records,
        deletedIds: [],
        quarantined: [],
        cursor: { offset: offset + records.length },
        apiCalls: 1,
      };
    },
    writePort: (ctx) => {
      recorded.portContexts.push(ctx);
      return {
        target: { kind: 'user_fields', object: 'contact' },
        defaultLayout: () => LAYOUT,
        checkFields: async (layout) => layout,
        // One request per record, each fenced as the contract asks (WriteCallGuard).
        write: async (intents, guard) => {
          for (const i of intents) {
            await guard.beforeCall();
            recorded.writes.push(i);
            guard.afterCall(200);
          }
          return intents.map((i) => ({ targetRecordId: i.targetRecordId, ok: true }));
        },
        apiCalls: () => recorded.writes.length,
      };
    },
    taskSink: () => ({
      upsertTasks: async (tasks) => {
        recorded.tasks.push(...tasks);
        return tasks.map((t, i) => ({ externalKey: t.externalKey, ok: true, crmTaskId: `task-${i}` }));
      },
      closeTasks: async (tasks) => tasks.map((t) => ({ externalKey: t.externalKey, ok: true })),
      findTasks: async () => new Map(),
    }),
  });
  return {
    label: 'Stand-in CRM',
    streams: () => STREAMS,
    streamAliases: {},
    create,
    describe: () => 'in memory',
    online: () => ({
      check: async () => ({ ok: true, lines: [] }),
      liveHierarchy: async () => ({ roles: [], users: [], quotaOwners: null }),
      apiCalls: () => 0,
    }),
    writes: true,
    retryCodes: NO_RETRY_CODES,
    lockKeys: {
      credentials: (connectionId) => `stand-in-credentials:${connectionId}`,
    },
    rotationNeedsKey: (connectionId) => `the stand-in rotates the credentials of "${connectionId}": set a key`,
  };
}

let t: TestDatabase;
let unregister: () => void;
const recorded: Recorded = { reads: [], writes: [], tasks: [], portContexts: [] };

beforeAll(async () => {
  setClock(fixedClock(NOW));
  unregister = registerConnectorKind('hubspot', standIn(recorded));
  t = await createTestDatabase();
});
afterAll(async () => {
  unregister();
  setClock(undefined);
  await t.drop();
});

describe('a second CRM through the registry', () => {
  it('syncs, recomputes, writes back and delivers alert tasks with no Salesforce code on the path', async () => {
    const config = validateConfig({
      calendar: { type: 'calendar', fiscalYearStartMonth: 1, timezone: 'UTC', baseCurrency: 'USD' },
      quotas: { source: 'crm' },
      fx: { source: 'crm' },
      connections: [{ id: 'other', type: 'hubspot', accessToken: 'not-a-secret' }],
    });
    const pipeline = createPipeline({ db: t.db, config, log: silentLogger, now: () => new Date(NOW) });
    const queued: Array<{ name: string; payload: unknown }> = [];
    const job: JobContext = {
      jobId: 'test',
      attempt: 1,
      log: silentLogger,
      enqueue: async (name, payload) => {
        queued.push({ name, payload });
        return undefined;
      },
    };

    for (const stream of ['people', 'bookings', 'targets']) {
      const out = await pipeline.handlers.sync({ v: 1, connectionId: 'other', stream, trigger: 'cli' }, job);
      expect(out).toMatchObject({ read: DATA[stream]!.length, changed: DATA[stream]!.length });
    }
    // Each stream stored the stand-in's own cursor, untouched, and no stream was read twice.
    const cursors = await t.db.selectFrom('sync_cursors').select(['stream', 'cursor']).orderBy('stream').execute();
    expect(cursors).toEqual([
      { stream: 'bookings', cursor: { offset: 2 } },
      { stream: 'people', cursor: { offset: 3 } },
      { stream: 'targets', cursor: { offset: 2 } },
    ]);
    expect(recorded.reads.map((r) => r.from)).toEqual([null, null, null]);
    const conn = await t.db.selectFrom('connections').select(['id', 'kind', 'crm_org_id']).executeTakeFirstOrThrow();
    expect(conn).toEqual({ id: 'other', kind: 'hubspot', crm_org_id: 'stand-in-portal-1' });
    expect(queued.filter((q) => q.name === 'recompute')).not.toHaveLength(0);

    // A second run resumes after the stored cursor: the connector gets it back as it gave it.
    await pipeline.handlers.sync({ v: 1, connectionId: 'other', stream: 'bookings', trigger: 'cli' }, job);
    expect(recorded.reads.at(-1)).toEqual({ stream: 'bookings', from: { offset: 2 } });

    queued.length = 0;
    await pipeline.handlers.recompute({ v: 1, reason: 'test' }, job);
    expect(queued.map((q) => q.name)).toEqual(expect.arrayContaining(['writeback', 'deliver-alerts']));

    const wb = await pipeline.handlers.writeback({ v: 1, connectionId: 'other' }, job);
    expect(wb).toMatchObject({ written: 2, failed: 0 });
    const byRep = new Map(recorded.writes.map((w) => [w.targetRecordId, w]));
    expect([...byRep.keys()].sort()).toEqual(['r1', 'r2']);
    // 90,000 of 100,000 is 90%, 5,000 is 5%: in the stand-in's percent fields, its own names.
    expect(byRep.get('r1')).toMatchObject({
      targetObject: 'contact',
      fields: { quota_attainment: 90, quota_rank: 1, quota_metrics_as_of: '2026-11-20' },
    });
    expect(byRep.get('r2')).toMatchObject({ fields: { quota_attainment: 5, quota_rank: 2 } });
    // The stand-in is registered as `hubspot`: that connection type's default target.
    expect(recorded.portContexts[0]?.writeback.target).toBe('custom_object');
    expect(recorded.portContexts[0]?.periodBounds('FY2026-Q4')).toEqual({ start: '2026-10-01', end: '2026-12-31' });

    // A write-back whose fields an earlier run's unanswered call may still overwrite (its process died with r1's
    // attainment at 50 in flight, its deadline an hour ahead) does not wait in the worker slot: the job comes
    // back when that call can no longer land, and nothing is sent meanwhile.
    await t.db
      .insertInto('writeback_runs')
      .values({
        connection_id: 'other',
        mode: 'live',
        as_of: '2026-11-20',
        in_flight: JSON.stringify([['contact', 'r1', 'quota_attainment', '50']]),
        write_deadline: sql<Date>`now() + interval '1 hour'`, // wall-clock: a lease is on the database's clock
      })
      .execute();
    const writesBefore = recorded.writes.length;
    const later = await pipeline.handlers.writeback({ v: 1, connectionId: 'other' }, job).catch((e: unknown) => e);
    expect(later).toBeInstanceOf(RetryLater);
    expect((later as RetryLater).delayMs).toBeGreaterThan(3_000_000);
    expect((later as RetryLater).message).toMatch(
      /^the write-back of other comes back in \d+ s: the CRM call of abandoned run #\d+/,
    );
    expect(recorded.writes.length).toBe(writesBefore);

    const delivered = await pipeline.handlers['deliver-alerts']({ v: 1 }, job);
    expect(delivered).toMatchObject({ other: { created: recorded.tasks.length, failed: 0 } });
    // The rep at 5% is at risk; the task goes to the manager the stand-in named.
    const atRisk = recorded.tasks.find((task) => task.ownerExternalId === 'm1' && /Sam Rep/.test(task.subject));
    expect(atRisk).toBeDefined();
    expect(recorded.tasks.every((task) => task.ownerExternalId === 'm1')).toBe(true);
  });
});
