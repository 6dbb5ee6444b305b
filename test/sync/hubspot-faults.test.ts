/**
 * The HubSpot read under faults ends with the same warehouse as a clean read, over every stream (owners, deals and
 * their stage history, line items, calls, emails, meetings, tasks, leads, goal targets, exchange rates): a
 * TEN_SECONDLY_ROLLING 429, an HTML 502 from a proxy, a connection reset and a dropped half body are retried by the
 * one retry policy (the SDK's own retry is off), on object lists, association reads and settings alike; a 401 and
 * a DAILY 429 stop the stream with a clear status, and the next run, resuming from the last committed page, loses
 * and duplicates nothing. The whole warehouse (every table a HubSpot stream fills, and the quarantine) is held
 * against the clean run's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { HubSpotConnector } from '../../src/connectors/hubspot/connector.ts';
import { HUBSPOT_STREAMS } from '../../src/connectors/hubspot/streams.ts';
import { memoryRateBudget, type RateBudget } from '../../src/connectors/rate-budget.ts';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { applyHubSpotLifeChange } from '../../src/sandbox/hubspot/life.ts';
import type { HubSpotFaultRule } from '../../src/sandbox/hubspot/server.ts';
import { runSync, type SyncSummary } from '../../src/sync/run.ts';
import { silentLogger } from '../../src/util/log.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { counts, hubspotWarehouse } from './helpers/hubspot-warehouse.ts';

const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
let sb: HubSpotSandbox;
let clean: TestDatabase;
let faulted: TestDatabase;

/**
 * The portal's day as every worker shares it. A DAILY 429 marks it used up until HubSpot's reset, so each run after
 * one starts a new day: the reset, as the next run would meet it (the sandbox's fault was one refusal, not a day).
 */
let day: RateBudget = memoryRateBudget();

function connector(): HubSpotConnector {
  return new HubSpotConnector({
    config: { id: 'hs', accessToken: sb.credentials.accessToken, basePath: sb.url, sync: { lookbackMinutes: 10 } },
    budget: day,
    log: silentLogger,
    // Backoff without the wait: what is tested is that the policy retries, not how long it sleeps.
    sleep: async () => {},
    requestTimeoutMs: 3_000,
  });
}

const sync = (db: TestDatabase, stream: string) =>
  runSync({ db: db.db, connector: connector(), connectionId: 'hs', stream, calendar, now: () => sb.store.now() });

const STREAMS = HUBSPOT_STREAMS.map((s) => s.name);

/**
 * The faults, by stream: each retried kind somewhere on each stream's own paths (its list, its association reads,
 * its settings endpoint), and the two that stop a stream (401, DAILY 429) on several. Skips place them after a
 * page or two has been committed, so a stop is mid-stream and the rerun resumes.
 */
const FAULTS: HubSpotFaultRule[] = [
  { kind: 'rate_limit_429', path: '/crm/v3/owners', count: 1, retryAfterSeconds: 1 },
  { kind: 'rate_limit_429', path: '/crm/v3/objects/deals', skip: 2, count: 2, retryAfterSeconds: 1 },
  { kind: 'bad_gateway_502', path: '/crm/v3/objects/deals', skip: 5, count: 1 },
  { kind: 'reset', path: '/crm/v3/objects/deals', skip: 8, count: 1 },
  { kind: 'drop', path: '/crm/v3/objects/deals', skip: 11, count: 1 },
  // A 401 mid-read stops the stream (a private app's token cannot be refreshed); the rerun resumes.
  { kind: 'unauthorized_401', path: '/crm/v3/objects/deals', skip: 13, count: 1 },
  { kind: 'rate_limit_429', path: '/crm/v3/objects/line_items', skip: 1, count: 1 },
  { kind: 'bad_gateway_502', path: '/crm/v4/associations/line_items/deals', skip: 1, count: 1 },
  { kind: 'unauthorized_401', path: '/crm/v3/objects/line_items', skip: 2, count: 1 },
  { kind: 'reset', path: '/crm/v4/associations/calls/deals', skip: 1, count: 1 },
  // The day's allocation spent mid-stream: the stream stops at once, saying why.
  { kind: 'daily_limit_429', path: '/crm/v3/objects/calls', skip: 2, count: 1 },
  { kind: 'drop', path: '/crm/v3/objects/emails', skip: 1, count: 1 },
  { kind: 'rate_limit_429', path: '/crm/v4/associations/emails/deals', count: 1, retryAfterSeconds: 1 },
  { kind: 'bad_gateway_502', path: '/crm/v3/objects/meetings', skip: 1, count: 1 },
  { kind: 'unauthorized_401', path: '/crm/v4/associations/meetings/deals', skip: 1, count: 1 },
  { kind: 'reset', path: '/crm/v3/objects/tasks', skip: 1, count: 1 },
  { kind: 'daily_limit_429', path: '/crm/v4/associations/tasks/deals', skip: 1, count: 1 },
  { kind: 'rate_limit_429', path: '/crm/v3/objects/leads', skip: 1, count: 1 },
  { kind: 'drop', path: '/crm/v4/associations/leads/deals', count: 1 },
  { kind: 'unauthorized_401', path: '/crm/v3/objects/leads', skip: 2, count: 1 },
  { kind: 'bad_gateway_502', path: '/crm/v3/objects/goal_targets', count: 1 },
  { kind: 'reset', path: '/settings/v3/currencies/exchange-rates', count: 1 },
];

beforeAll(async () => {
  [clean, faulted] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  sb = await startHubSpotSandbox({
    seed: 21,
    size: 'small',
    anchorDate: '2026-11-15',
    // The limits a whole sync twice over would wait out for half a minute: what is tested is the faults.
    rateLimits: { searchPerSecond: 10_000, tenSecondly: 1_000, windowMs: 1_000 },
  });
}, 60_000);
afterAll(async () => {
  await sb?.close();
  await clean?.drop();
  await faulted?.drop();
});

describe('HubSpot read under faults', () => {
  it('ends with the same warehouse as the clean run, every stream', { timeout: 240_000 }, async () => {
    for (const s of STREAMS) expect(await sync(clean, s), s).toMatchObject({ status: 'succeeded' });

    for (const f of FAULTS) sb.faults.add(f);
    const stops: Array<Pick<SyncSummary, 'stream' | 'errorCode' | 'errorMessage' | 'pages'>> = [];
    for (const s of STREAMS) {
      for (let attempt = 1; ; attempt++) {
        const r = await sync(faulted, s);
        if (r.status === 'succeeded') break;
        expect(r.status, `${s}: ${r.errorMessage}`).toBe(
          r.errorCode === 'CRM_BUDGET_EXHAUSTED' ? 'stopped_budget' : 'failed',
        );
        stops.push({ stream: s, errorCode: r.errorCode, errorMessage: r.errorMessage, pages: r.pages });
        if (r.status === 'stopped_budget') {
          // Until the reset, the budget keeps the stream from calling at all.
          const again = await sync(faulted, s);
          expect(again).toMatchObject({ status: 'stopped_budget', apiCalls: 0 });
          day = memoryRateBudget();
        }
        expect(attempt, `${s} still failing: ${r.errorMessage}`).toBeLessThan(4);
      }
    }
    // Every fault was met (a count rule retires once spent).
    expect(sb.faults.list()).toEqual([]);
    // The stops are the 401s and the DAILY 429s, each on its own stream, and only those.
    expect(stops.map((s) => `${s.stream} ${s.errorCode}`).sort()).toEqual(
      [
        'calls CRM_BUDGET_EXHAUSTED',
        'deals CRM_AUTH_FAILED',
        'leads CRM_AUTH_FAILED',
        'line_items CRM_AUTH_FAILED',
        'meetings CRM_AUTH_FAILED',
        'tasks CRM_BUDGET_EXHAUSTED',
      ].sort(),
    );
    for (const s of stops.filter((x) => x.errorCode === 'CRM_BUDGET_EXHAUSTED'))
      expect(s.errorMessage).toMatch(/daily API allocation is used up \(429 DAILY; .* resumes from its cursor after/);
    // Stopped mid-stream, after committed pages, so the reruns resumed rather than started over.
    expect(stops.filter((s) => s.pages > 0).map((s) => s.stream)).toEqual(
      expect.arrayContaining(['deals', 'line_items', 'calls']),
    );

    const want = await hubspotWarehouse(clean.db, 'hs');
    for (const table of ['reps', 'deals', 'deal_stage_history', 'deal_line_items', 'activities', 'leads', 'quotas'])
      expect(want[table]?.length, table).toBeGreaterThan(0);
    const got = await hubspotWarehouse(faulted.db, 'hs');
    expect(counts(got)).toEqual(counts(want));
    expect(got).toEqual(want);

    // An incremental pass (search windows, then the stored links read again) under faults of its own: a link made
    // after the records were read reaches both warehouses alike.
    const call = [...sb.store.scan('calls')].find((r) => sb.store.associations('calls', r.id, 'deals').length === 0);
    const deal = [...sb.store.scan('deals')][3];
    if (!call || !deal) throw new Error('the sandbox has no unlinked call or no deal');
    applyHubSpotLifeChange(sb.store, { op: 'associate', type: 'calls', id: String(call.id), dealId: String(deal.id) });
    sb.store.advance(60_000);
    for (const s of STREAMS) expect(await sync(clean, s), s).toMatchObject({ status: 'succeeded' });
    sb.faults.add({ kind: 'reset', path: '/crm/v4/associations/calls/deals', count: 1 });
    sb.faults.add({ kind: 'rate_limit_429', path: '/crm/v4/associations/meetings/deals', count: 1 });
    sb.faults.add({ kind: 'unauthorized_401', path: '/crm/v4/associations/line_items/deals', count: 1 });
    sb.faults.add({ kind: 'bad_gateway_502', path: '/crm/v3/objects/calls/batch/read', count: 1 });
    const again: string[] = [];
    for (const s of STREAMS) {
      const r = await sync(faulted, s);
      if (r.status !== 'succeeded') {
        again.push(`${s} ${r.errorCode}`);
        expect(await sync(faulted, s), s).toMatchObject({ status: 'succeeded' });
      }
    }
    expect(again).toEqual(['line_items CRM_AUTH_FAILED']);
    expect(sb.faults.list()).toEqual([]);
    const linked = await faulted.db
      .selectFrom('activities')
      .select('deal_external_id')
      .where('connection_id', '=', 'hs')
      .where('external_id', '=', String(call.id))
      .executeTakeFirstOrThrow();
    expect(linked.deal_external_id).toBe(String(deal.id));
    expect(await hubspotWarehouse(faulted.db, 'hs')).toEqual(await hubspotWarehouse(clean.db, 'hs'));
  });
});
