/**
 * One rate budget per portal, in PostgreSQL, for every worker: two connector instances reading the same portal at
 * once stay inside its burst window together (the sandbox's limiter refuses nothing), where two that keep their
 * own budgets are refused; and the daily share (`apiBudgetShare`) stops a stream with `stopped_budget` and a message
 * naming the reset, after which the next sync (the next day) resumes from the cursor and reads nothing twice.
 * The window is the sandbox's, shortened to 1 s (the answers' headers say so, as HubSpot's do), so a saturated
 * window takes seconds, not minutes; what is asserted is the limiter's count, never a duration.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import type { Config } from '../../src/config/schema.ts';
import { HubSpotConnector, type HubSpotConnectorOptions } from '../../src/connectors/hubspot/connector.ts';
import { memoryRateBudget, type RateBudget } from '../../src/connectors/rate-budget.ts';
import type { Page } from '../../src/connectors/types.ts';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { pgRateBudget } from '../../src/sync/rate-budget.ts';
import { runSync } from '../../src/sync/run.ts';
import { silentLogger } from '../../src/util/log.ts';
import { operatorStatus } from '../../src/web/operator.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
let t: TestDatabase;

function connector(
  sb: HubSpotSandbox,
  budget: RateBudget,
  share = 0.5,
  extra: Partial<HubSpotConnectorOptions> = {},
  accessToken = sb.credentials.accessToken,
): HubSpotConnector {
  return new HubSpotConnector({
    config: {
      id: 'hs',
      accessToken,
      basePath: sb.url,
      sync: { lookbackMinutes: 10, apiBudgetShare: share },
    },
    log: silentLogger,
    budget,
    // A refused call is retried at once: the test counts refusals, it does not wait them out.
    sleep: async () => {},
    retry: { maxAttempts: 50 },
    ...extra,
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

/** A portal of its own with a 24-call day (search unbounded), so a share of it is reached in a few pages. */
const DAILY = 24;
const dailySandbox = () =>
  startHubSpotSandbox({
    seed: 5,
    size: 'small',
    anchorDate: '2026-11-15',
    rateLimits: { daily: DAILY, searchPerSecond: 10_000 },
  });

describe('the daily share', () => {
  let sb: HubSpotSandbox;
  beforeAll(async () => {
    sb = await dailySandbox();
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

describe('the daily share in a worker that keeps its connector for days', () => {
  let sb: HubSpotSandbox;
  beforeAll(async () => {
    sb = await dailySandbox();
  }, 60_000);
  afterAll(async () => {
    await sb?.close();
  });

  const sync = (c: HubSpotConnector, stream: string, connectionId = 'hs-worker') =>
    runSync({ db: t.db, connector: c, connectionId, stream, calendar, now: () => sb.store.now() });
  const usageAsks = () =>
    sb.log.entries().filter((e) => e.path === '/account-info/v3/api-usage/daily/private-apps').length;

  it('one connector reads on after the reset: the usage endpoint is asked again once the day has turned', async () => {
    const c = connector(sb, pgRateBudget(t.db), 0.5, { now: () => sb.store.now() });
    expect(await sync(c, 'deal_stage_history')).toMatchObject({ status: 'stopped_budget' });
    let days = 0;
    for (;;) {
      sb.store.advance(24 * 3_600_000);
      days++;
      sb.log.clear();
      const next = await sync(c, 'deal_stage_history');
      // Each new day is asked about once, and reads before the share stops it again (if it does).
      expect(usageAsks()).toBe(1);
      expect(next.read).toBeGreaterThan(0);
      expect(sb.limiter.dailyUsed).toBeLessThanOrEqual(DAILY / 2);
      if (next.status === 'succeeded') break;
      expect(next).toMatchObject({ status: 'stopped_budget' });
      // The reset it names is ahead of the portal's clock, never one gone by.
      const reset = /resets the count at (\d{4}-\d\d-\d\dT[\d:.]+Z)/.exec(next.errorMessage ?? '')?.[1];
      expect(Date.parse(reset ?? '')).toBeGreaterThan(sb.store.now().getTime());
      expect(days).toBeLessThan(20);
    }
    expect(days).toBeGreaterThan(1);
  }, 120_000);

  it('a 5xx from the usage endpoint leaves the share unchecked for a minute, not for the life of the worker', async () => {
    sb.store.advance(24 * 3_600_000);
    const c = connector(sb, pgRateBudget(t.db), 0.5, { now: () => sb.store.now(), retry: { maxAttempts: 2 } });
    sb.faults.add({ kind: 'error_500', path: '/account-info/v3/api-usage', count: 2 });
    sb.log.clear();
    expect(await sync(c, 'owners', 'hs-5xx')).toMatchObject({ status: 'succeeded' });
    expect(usageAsks()).toBe(2);
    // Within the minute the endpoint is not asked again; after it, it is, and the share stops the stream again.
    sb.log.clear();
    await sync(c, 'owners', 'hs-5xx');
    expect(usageAsks()).toBe(0);
    sb.store.advance(61_000);
    sb.log.clear();
    const stopped = await sync(c, 'deal_stage_history', 'hs-5xx');
    expect(usageAsks()).toBe(1);
    expect(stopped).toMatchObject({ status: 'stopped_budget', errorCode: 'CRM_BUDGET_EXHAUSTED' });
    expect(sb.limiter.dailyUsed).toBeLessThanOrEqual(DAILY / 2);
  }, 120_000);

  it('an answer whose rate-limit headers cannot be recorded is kept, and its slot is released', async () => {
    sb.store.advance(24 * 3_600_000);
    const pg = pgRateBudget(t.db);
    let armed = false;
    let taken = 0;
    let released = 0;
    const budget: RateBudget = {
      ...pg,
      take: async (k, max, w) => {
        const r = await pg.take(k, max, w);
        if ('slot' in r) taken++;
        return r;
      },
      release: async (k, slot, w) => {
        released++;
        await pg.release(k, slot, w);
      },
      reportDaily: async (k, u) => {
        if (armed) throw new Error('connection terminated unexpectedly');
        return pg.reportDaily(k, u);
      },
    };
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
    const c = connector(sb, budget, 0.9, { now: () => sb.store.now(), log });
    await c.identify();
    armed = true;
    // Another app's calls: the next answer's daily headers are news, which the budget fails to record.
    sb.limiter.dailyUsed += 3;
    expect(await drain(c, 'owners')).toBeGreaterThan(0);
    expect(released).toBe(taken);
    expect(lines.join('\n')).toMatch(/rate-limit headers of an answer could not be recorded/);
  }, 60_000);
});

describe('the daily share is the portal’s, whatever the token', () => {
  let sb: HubSpotSandbox;
  beforeAll(async () => {
    sb = await dailySandbox();
  }, 60_000);
  afterAll(async () => {
    await sb?.close();
  });

  const sync = (c: HubSpotConnector, connectionId: string) =>
    runSync({
      db: t.db,
      connector: c,
      connectionId,
      stream: 'deal_stage_history',
      calendar,
      now: () => sb.store.now(),
    });

  it('two connections with different tokens to one portal count one day between them', async () => {
    const budget = pgRateBudget(t.db);
    // Two private apps of one portal: each connection its own token (and burst window), the day the portal's.
    const a = connector(sb, budget, 0.5, { now: () => sb.store.now() });
    const b = connector(sb, budget, 0.5, { now: () => sb.store.now() }, sb.auth.addPrivateApp());
    // Both ask which portal they reach and the day's usage before either reads a stream.
    await a.identify();
    await b.identify();
    expect(await sync(a, 'hs-token-a')).toMatchObject({ status: 'stopped_budget' });
    // The calls A made after B last asked HubSpot are B's day too: B's first stream call is not sent.
    sb.log.clear();
    const stopped = await sync(b, 'hs-token-b');
    expect(stopped).toMatchObject({ status: 'stopped_budget', errorCode: 'CRM_BUDGET_EXHAUSTED', read: 0 });
    expect(sb.log.entries().map((e) => e.path)).toEqual([]);
    expect(sb.limiter.dailyUsed).toBeLessThanOrEqual(DAILY / 2);
    // One day for the portal, named by its id (no token in it); none per token.
    const days = await t.db
      .selectFrom('crm_daily_budget')
      .select(['budget_key', 'used'])
      .where('budget_key', 'like', `%${sb.url}%`)
      .execute();
    expect(days.map((d) => d.budget_key)).toEqual([`hubspot:${sb.url}|portal:${sb.portalId}:daily`]);
    expect(days[0]?.used).toBeGreaterThanOrEqual(DAILY / 2);
  }, 60_000);
});

describe('the operator’s view of the portal’s day', () => {
  let sb: HubSpotSandbox;
  const LIMIT = 1_000;
  beforeAll(async () => {
    sb = await startHubSpotSandbox({
      seed: 5,
      size: 'small',
      anchorDate: '2026-11-15',
      rateLimits: { daily: LIMIT, searchPerSecond: 10_000 },
    });
  }, 60_000);
  afterAll(async () => {
    await sb?.close();
  });

  it('after a HubSpot sync the status shows the portal’s daily usage and the budget left', async () => {
    const config = {
      connections: [{ id: 'hs-usage', type: 'hubspot', sync: { lookbackMinutes: 10, apiBudgetShare: 0.5 } }],
    } as unknown as Config;
    const c = connector(sb, pgRateBudget(t.db), 0.5, { now: () => sb.store.now() });
    for (const stream of ['owners', 'deals']) {
      expect(
        await runSync({
          db: t.db,
          connector: c,
          connectionId: 'hs-usage',
          stream,
          calendar,
          now: () => sb.store.now(),
        }),
      ).toMatchObject({ status: 'succeeded' });
      // Another app of the portal made calls today: the portal's usage counts them (HubSpot's daily headers say
      // so), this connection's calls do not.
      if (stream === 'owners') sb.limiter.dailyUsed += 40;
    }
    const usage = (await operatorStatus({ db: t.db, config })).connections.find(
      (x) => x.id === 'hs-usage',
    )?.apiUsageToday;
    const used = sb.limiter.dailyUsed;
    expect(used).toBeGreaterThan(40);
    expect(usage).toEqual({
      calls: c.apiCalls(),
      reportedUsed: used,
      reportedLimit: LIMIT,
      budgetLeft: LIMIT / 2 - used,
    });
    // The calls are this connection's own, identify's included: all the sandbox served but the other app's 40.
    expect(c.apiCalls()).toBe(used - 40);
  }, 60_000);

  it('streams synced side by side on one connector count each call once', async () => {
    const config = {
      connections: [{ id: 'hs-side', type: 'hubspot', sync: { lookbackMinutes: 10, apiBudgetShare: 1 } }],
    } as unknown as Config;
    // One connector, as a worker keeps one per connection, running three streams at once.
    const c = connector(sb, pgRateBudget(t.db), 1, { now: () => sb.store.now() });
    const runs = await Promise.all(
      ['owners', 'deals', 'goal_targets'].map((stream) =>
        runSync({ db: t.db, connector: c, connectionId: 'hs-side', stream, calendar, now: () => sb.store.now() }),
      ),
    );
    for (const r of runs) expect(r).toMatchObject({ status: 'succeeded' });
    const usage = (await operatorStatus({ db: t.db, config })).connections.find(
      (x) => x.id === 'hs-side',
    )?.apiUsageToday;
    // Each run's own calls, added up: the connector's total, not the runs' overlapping differences of it.
    expect(c.apiCalls()).toBeGreaterThan(3);
    expect(usage?.calls).toBe(c.apiCalls());
  }, 60_000);
});

describe('the day as the budget keeps it', () => {
  for (const [name, make] of [
    ['PostgreSQL', () => pgRateBudget(t.db)],
    ['in-process', () => memoryRateBudget()],
  ] as const) {
    it(`${name}: an earlier day's report never rolls the day back; one instant spelt two ways is one day`, async () => {
      const b = make();
      const key = `rollback-${name}`;
      await b.reportDaily(key, { used: 10, limit: 100, resetsAt: '2026-11-16T05:00:00.000Z' });
      // The same instant without milliseconds: the same day, keeping the higher count.
      expect(await b.reportDaily(key, { used: 4, limit: 100, resetsAt: '2026-11-16T05:00:00Z' })).toMatchObject({
        used: 10,
      });
      // A worker still counting the day before: the later day stands.
      const kept = await b.reportDaily(key, { used: 3, limit: 100, resetsAt: '2026-11-15T05:00:00.000Z' });
      expect(Date.parse(kept.resetsAt)).toBe(Date.parse('2026-11-16T05:00:00Z'));
      expect(kept.used).toBe(10);
      expect(await b.daily(key)).toMatchObject({ used: 10 });
      // The next day starts at its own count.
      expect(await b.reportDaily(key, { used: 2, limit: 100, resetsAt: '2026-11-17T05:00:00Z' })).toMatchObject({
        used: 2,
      });
    });
  }
});
