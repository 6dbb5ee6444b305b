/**
 * One rate budget per portal, in PostgreSQL, for every worker: two connector instances reading the same portal at
 * once stay inside its burst window together (the sandbox's limiter refuses nothing), where two that keep their
 * own budgets are refused; and the daily share (`apiBudgetShare`) stops a stream with `stopped_budget` and a message
 * naming the reset, after which the next sync (the next day) resumes from the cursor and reads nothing twice.
 * The window is the sandbox's, shortened to 1 s (the answers' headers say so, as HubSpot's do), so a saturated
 * window takes seconds, not minutes; what is asserted is the limiter's count, never a duration.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { HubSpotConnector } from '../../src/connectors/hubspot/connector.ts';
import { memoryRateBudget, type RateBudget } from '../../src/connectors/rate-budget.ts';
import type { Page } from '../../src/connectors/types.ts';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { pgRateBudget } from '../../src/sync/rate-budget.ts';
import { runSync } from '../../src/sync/run.ts';
import { silentLogger } from '../../src/util/log.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
let t: TestDatabase;

function connector(sb: HubSpotSandbox, budget: RateBudget, share = 0.5): HubSpotConnector {
  return new HubSpotConnector({
    config: {
      id: 'hs',
      accessToken: sb.credentials.accessToken,
      basePath: sb.url,
      sync: { lookbackMinutes: 10, apiBudgetShare: share },
    },
    log: silentLogger,
    budget,
    // A refused call is retried at once: the test counts refusals, it does not wait them out.
    sleep: async () => {},
    retry: { maxAttempts: 50 },
  });
}

/** One worker's read of a stream, page by page, as the runner would pull it. */
async function drain(c: HubSpotConnector, stream: string): Promise<number> {
  let records = 0;
  for await (const p of c.read(stream, null, { log: silentLogger }) as AsyncGenerator<Page>)
    records += p.records.length;
  return records;
}

const refusals = (sb: HubSpotSandbox) =>
  sb.log.entries().filter((e) => e.status === 429 && e.errorCode === 'TEN_SECONDLY_ROLLING').length;
const accepted = (sb: HubSpotSandbox) => sb.log.entries().filter((e) => e.status === 200).length;

beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.drop();
});

describe('the portal budget across workers', () => {
  let sb: HubSpotSandbox;
  const MAX = 8;
  beforeAll(async () => {
    sb = await startHubSpotSandbox({
      seed: 5,
      size: 'small',
      anchorDate: '2026-11-15',
      rateLimits: { tenSecondly: MAX, windowMs: 1000 },
    });
  }, 60_000);
  afterAll(async () => {
    await sb?.close();
  });

  it('two connector instances on one PostgreSQL budget never exceed the burst window together', async () => {
    const shared = pgRateBudget(t.db);
    sb.log.clear();
    const [a, b] = await Promise.all([drain(connector(sb, shared), 'deals'), drain(connector(sb, shared), 'deals')]);
    expect(a).toBe(b);
    expect(a).toBeGreaterThan(0);
    // Many windows' worth of calls, none refused by the sandbox's limiter.
    expect(accepted(sb)).toBeGreaterThan(2 * MAX);
    expect(refusals(sb)).toBe(0);
  }, 120_000);

  it('the same two with a budget each are refused: the limit is the portal’s, not the worker’s', async () => {
    sb.log.clear();
    await Promise.all([
      drain(connector(sb, memoryRateBudget()), 'deals'),
      drain(connector(sb, memoryRateBudget()), 'deals'),
    ]);
    expect(refusals(sb)).toBeGreaterThan(0);
  }, 120_000);
});

describe('the daily share', () => {
  let sb: HubSpotSandbox;
  const DAILY = 24;
  beforeAll(async () => {
    sb = await startHubSpotSandbox({
      seed: 5,
      size: 'small',
      anchorDate: '2026-11-15',
      rateLimits: { daily: DAILY, searchPerSecond: 10_000 },
    });
  }, 60_000);
  afterAll(async () => {
    await sb?.close();
  });

  const sync = (c: HubSpotConnector, stream: string) =>
    runSync({ db: t.db, connector: c, connectionId: 'hs-daily', stream, calendar, now: () => sb.store.now() });

  const lists = () =>
    sb.log.entries().filter((e) => e.path === '/crm/v3/objects/deals' && e.query.archived === 'false').length;

  it('stops the stream at apiBudgetShare of the day with stopped_budget, and the next day resumes it', async () => {
    const budget = pgRateBudget(t.db);
    sb.log.clear();
    const stopped = await sync(connector(sb, budget), 'deal_stage_history');
    expect(stopped).toMatchObject({ status: 'stopped_budget', errorCode: 'CRM_BUDGET_EXHAUSTED' });
    expect(stopped.errorMessage).toMatch(
      /has used \d+ of its 24 daily API calls, at or past the configured share of 50% \(sync\.apiBudgetShare\); the stream stops here and resumes from its cursor after HubSpot resets the count at \d{4}-\d\d-\d\dT/,
    );
    // HubSpot counted no more than the share: the stop came before the call that would pass it.
    expect(sb.limiter.dailyUsed).toBeLessThanOrEqual(DAILY / 2);
    expect(stopped.read).toBeGreaterThan(0);
    const firstLists = lists();
    // Another worker the same day stops at once, after asking which portal it reaches and the day's usage.
    sb.log.clear();
    expect(await sync(connector(sb, budget), 'deal_stage_history')).toMatchObject({ status: 'stopped_budget' });
    expect(sb.log.entries().map((e) => e.path)).toEqual([
      '/account-info/v3/details',
      '/account-info/v3/api-usage/daily/private-apps',
    ]);

    // Midnight in the portal's zone: HubSpot's count starts again and the stream goes on from its cursor, day by
    // day, each day's run stopping at the share again until the stream is read whole.
    let listed = firstLists;
    let days = 0;
    for (;;) {
      sb.store.advance(24 * 3_600_000);
      days++;
      sb.log.clear();
      const next = await sync(connector(sb, budget), 'deal_stage_history');
      listed += lists();
      expect(sb.limiter.dailyUsed).toBeLessThanOrEqual(DAILY / 2);
      if (next.status === 'succeeded') break;
      expect(next).toMatchObject({ status: 'stopped_budget' });
      expect(next.read).toBeGreaterThan(0);
      expect(days).toBeLessThan(20);
    }
    // Resumed, never restarted: the runs listed each page (50 deals with their history) once between them.
    const live = [...sb.store.scan('deals')].length;
    expect(days).toBeGreaterThan(0);
    expect(listed).toBe(Math.ceil(live / 50));
    const rows = await t.db
      .selectFrom('deal_stage_history')
      .select((eb) => eb.fn.count<string>('deal_external_id').distinct().as('n'))
      .where('connection_id', '=', 'hs-daily')
      .executeTakeFirstOrThrow();
    expect(Number(rows.n)).toBe(live);
  }, 120_000);
});
