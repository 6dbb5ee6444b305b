/**
 * The HubSpot read under faults ends with the same warehouse as a clean read: a TEN_SECONDLY_ROLLING 429, an HTML
 * 502 from a proxy, a connection reset and a dropped half body are retried by the one retry policy (the SDK's own
 * retry is off); a 401 and a DAILY 429 stop the stream with a clear status, and the next run, resuming from the
 * last committed page, loses and duplicates nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { HubSpotConnector } from '../../src/connectors/hubspot/connector.ts';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { runSync } from '../../src/sync/run.ts';
import { silentLogger } from '../../src/util/log.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
let sb: HubSpotSandbox;
let clean: TestDatabase;
let faulted: TestDatabase;

function connector(): HubSpotConnector {
  return new HubSpotConnector({
    config: { id: 'hs', accessToken: sb.credentials.accessToken, basePath: sb.url, sync: { lookbackMinutes: 10 } },
    log: silentLogger,
    // Backoff without the wait: what is tested is that the policy retries, not how long it sleeps.
    sleep: async () => {},
    requestTimeoutMs: 3_000,
  });
}

const sync = (db: TestDatabase, stream: string) =>
  runSync({ db: db.db, connector: connector(), connectionId: 'hs', stream, calendar, now: () => sb.store.now() });

async function warehouse(db: TestDatabase) {
  const deals = await db.db
    .selectFrom('deals')
    .select(['external_id', 'amount', 'stage', 'close_date', 'is_deleted', 'owner_external_id'])
    .orderBy('external_id')
    .execute();
  const history = await db.db
    .selectFrom('deal_stage_history')
    .select(['external_id', 'stage', 'amount'])
    .orderBy('external_id')
    .execute();
  return { deals, history };
}

beforeAll(async () => {
  [clean, faulted] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  sb = await startHubSpotSandbox({
    seed: 21,
    size: 'small',
    anchorDate: '2026-11-15',
    rateLimits: { searchPerSecond: 10_000 },
  });
}, 60_000);
afterAll(async () => {
  await sb?.close();
  await clean?.drop();
  await faulted?.drop();
});

describe('HubSpot read under faults', () => {
  it('ends with the same warehouse as the clean run', { timeout: 120_000 }, async () => {
    for (const s of ['deals', 'deal_stage_history'])
      expect(await sync(clean, s)).toMatchObject({ status: 'succeeded' });

    sb.faults.add({ kind: 'rate_limit_429', path: '/crm/v3/objects/deals', skip: 2, count: 2, retryAfterSeconds: 1 });
    sb.faults.add({ kind: 'bad_gateway_502', path: '/crm/v3/objects/deals', skip: 5, count: 1 });
    sb.faults.add({ kind: 'reset', path: '/crm/v3/objects/deals', skip: 8, count: 1 });
    sb.faults.add({ kind: 'drop', path: '/crm/v3/objects/deals', skip: 11, count: 1 });
    // A 401 mid-read stops the stream (a private app's token cannot be refreshed); the rerun resumes.
    sb.faults.add({ kind: 'unauthorized_401', path: '/crm/v3/objects/deals', skip: 13, count: 1 });
    const first = await sync(faulted, 'deals');
    expect(first).toMatchObject({ status: 'failed', errorCode: 'CRM_AUTH_FAILED' });
    expect(first.pages).toBeGreaterThan(0);
    const rerun = await sync(faulted, 'deals');
    expect(rerun).toMatchObject({ status: 'succeeded' });

    // A DAILY 429 stops the stream at once, saying why; the rerun after the reset completes it.
    sb.faults.add({ kind: 'daily_limit_429', path: '/crm/v3/objects/deals', skip: 3, count: 1 });
    const daily = await sync(faulted, 'deal_stage_history');
    expect(daily).toMatchObject({ status: 'failed', errorCode: 'CRM_RATE_LIMITED' });
    expect(daily.errorMessage).toMatch(/daily API allocation .* used up \(429 DAILY\)/);
    expect(await sync(faulted, 'deal_stage_history')).toMatchObject({ status: 'succeeded' });

    const faults = sb.log.entries().filter((e) => e.fault);
    expect(faults.length).toBe(7);
    expect(await warehouse(faulted)).toEqual(await warehouse(clean));
  });
});
