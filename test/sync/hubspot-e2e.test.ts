/**
 * The HubSpot read side end to end: the real @hubspot/api-client against the HubSpot sandbox over HTTP, the runner
 * writing into a real PostgreSQL database. What the warehouse must hold is worked out from the sandbox store
 * directly (stage meaning from pipeline metadata, dates in the portal's zone), never through our normalizer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { HubSpotConnector } from '../../src/connectors/hubspot/connector.ts';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { runSync } from '../../src/sync/run.ts';
import { dateInZone } from '../../src/util/date.ts';
import { silentLogger } from '../../src/util/log.ts';
import { Dec } from '../../src/util/money.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
let sb: HubSpotSandbox;
let t: TestDatabase;

function connector(): HubSpotConnector {
  return new HubSpotConnector({
    config: { id: 'hs', accessToken: sb.credentials.accessToken, basePath: sb.url, sync: { lookbackMinutes: 10 } },
    log: silentLogger,
    // The sandbox's search limit is lifted below; the connector's budget is told the same.
    searchPerSecond: 10_000,
  });
}

const sync = (c: HubSpotConnector, stream: string) =>
  runSync({ db: t.db, connector: c, connectionId: 'hs', stream, calendar, now: () => sb.store.now() });

function stageInfo() {
  const m = new Map<string, { label: string; category: string }>();
  for (const p of sb.store.pipelines.get('deals') ?? []) {
    for (const s of p.stages) {
      const closed = s.metadata.isClosed === 'true';
      const category = !closed ? 'open' : Number(s.metadata.probability) === 1 ? 'won' : 'lost';
      m.set(`${p.id}|${s.id}`, { label: s.label, category });
    }
  }
  return m;
}

const byId = (a: { external_id: string }, b: { external_id: string }) =>
  a.external_id < b.external_id ? -1 : a.external_id > b.external_id ? 1 : 0;

/** Live deals the warehouse must hold, and how many HubSpot sends that cannot be normalized (no close date). */
function expectedDeals() {
  const stages = stageInfo();
  const rows = [];
  let unusable = 0;
  for (const r of sb.store.scan('deals')) {
    const p = r.props;
    const s = stages.get(`${p.pipeline ?? 'default'}|${p.dealstage ?? ''}`);
    if (!p.closedate || !s) {
      unusable++;
      continue;
    }
    rows.push({
      external_id: String(r.id),
      owner_external_id: p.hubspot_owner_id ?? null,
      amount: p.amount ? new Dec(p.amount).toFixed() : null,
      currency: p.deal_currency_code ?? sb.store.homeCurrency,
      stage: s.label,
      stage_category: s.category,
      close_date: dateInZone(p.closedate, sb.store.timezone),
    });
  }
  return { rows: rows.sort(byId), unusable };
}

async function liveDeals() {
  const rows = await t.db
    .selectFrom('deals')
    .select(['external_id', 'owner_external_id', 'amount', 'currency', 'stage', 'stage_category', 'close_date'])
    .where('connection_id', '=', 'hs')
    .where('is_deleted', '=', false)
    .execute();
  return rows.map((r) => ({ ...r, amount: r.amount === null ? null : new Dec(r.amount).toFixed() })).sort(byId);
}

/** Every dealstage history entry of every live deal, as (deal, stage label, instant). */
function expectedHistory() {
  const stages = stageInfo();
  const out: string[] = [];
  for (const r of sb.store.scan('deals')) {
    const pipeline = r.props.pipeline ?? 'default';
    for (const h of r.history?.dealstage ?? []) {
      const s = stages.get(`${pipeline}|${h.value}`);
      if (s) out.push(`${r.id}|${s.label}|${new Date(h.timestamp).toISOString()}`);
    }
  }
  return out.sort();
}

async function liveHistory() {
  const rows = await t.db
    .selectFrom('deal_stage_history')
    .leftJoin('deals', (j) =>
      j
        .onRef('deals.external_id', '=', 'deal_stage_history.deal_external_id')
        .onRef('deals.connection_id', '=', 'deal_stage_history.connection_id'),
    )
    .select(['deal_stage_history.deal_external_id', 'deal_stage_history.stage', 'deal_stage_history.changed_at'])
    .where('deal_stage_history.connection_id', '=', 'hs')
    // Stage history is its own stream, kept for deals the deals stream quarantines; an archived deal's is not live.
    .where((eb) => eb.or([eb('deals.is_deleted', 'is', null), eb('deals.is_deleted', '=', false)]))
    .execute();
  return rows.map((r) => `${r.deal_external_id}|${r.stage}|${new Date(r.changed_at).toISOString()}`).sort();
}

const searchCalls = () => sb.log.entries().filter((e) => e.path.endsWith('/deals/search'));

beforeAll(async () => {
  t = await createTestDatabase();
  // The search limit (5 a second) is the retry policy's to wait out; these tests search faster.
  sb = await startHubSpotSandbox({
    seed: 11,
    size: 'small',
    anchorDate: '2026-11-15',
    rateLimits: { searchPerSecond: 10_000 },
  });
}, 60_000);
afterAll(async () => {
  await sb?.close();
  await t?.drop();
});

describe('HubSpot sync against the sandbox', () => {
  it('the initial sync reads owners, every deal and its stage history; deals without a close date are quarantined', async () => {
    const c = connector();
    expect(await sync(c, 'owners')).toMatchObject({ status: 'succeeded' });
    const reps = await t.db.selectFrom('reps').select(['external_id', 'email', 'is_active']).execute();
    expect(reps.length).toBe(sb.store.owners.size);
    for (const o of sb.store.owners.values()) {
      const r = reps.find((x) => x.external_id === String(o.id));
      expect(r?.email).toBe(o.email.toLowerCase());
      expect(r?.is_active).toBe(!o.archived && o.userId !== null);
    }
    sb.log.clear();
    const s = await sync(c, 'deals');
    const want = expectedDeals();
    expect(s).toMatchObject({ status: 'succeeded', quarantined: want.unusable });
    expect(await liveDeals()).toEqual(want.rows);
    // The list at 100 a page: the page-size minimum, plus the archived list and the portal's facts.
    const lists = sb.log.entries().filter((e) => e.path === '/crm/v3/objects/deals' && e.query.archived === 'false');
    expect(lists.length).toBe(Math.ceil(sb.store.count('deals') / 100));
    expect(await sync(c, 'deal_stage_history')).toMatchObject({ status: 'succeeded' });
    expect(await liveHistory()).toEqual(expectedHistory());
  });

  it('after changes, ties on the stamp, a late commit and an archive, an incremental sync reads about k records', async () => {
    sb.store.advance(60 * 60_000); // past the lookback of everything read so far
    const live = [...sb.store.scan('deals')].filter((r) => r.props.closedate);
    const [a, b, tie1, tie2, tie3, late, gone] = live;
    // The window starts a lookback (10 minutes) before the stamp the last read ended on: the deal with that stamp
    // and any other the sandbox stamped in those minutes (the anchor day's last changes) are read again, unchanged.
    const stored = await t.db
      .selectFrom('sync_cursors')
      .select('cursor')
      .where('connection_id', '=', 'hs')
      .where('stream', '=', 'deals')
      .executeTakeFirstOrThrow();
    const since = (stored.cursor as { since: number }).since;
    const touched = new Set([a, b, tie1, tie2, tie3, late, gone].map((r) => r?.id));
    const overlap = [...sb.store.scan('deals')].filter(
      (r) => !touched.has(r.id) && Date.parse(r.props.hs_lastmodifieddate ?? '') >= since - 10 * 60_000,
    ).length;
    sb.store.update('deals', a!.id, { amount: '1234.56' });
    sb.store.update('deals', b!.id, { closedate: '2027-01-20T00:00:00.000Z' });
    const wonStage = (pipeline: string) =>
      (sb.store.pipelines.get('deals') ?? [])
        .find((p) => p.id === pipeline)!
        .stages.find((s) => s.metadata.isClosed === 'true' && Number(s.metadata.probability) === 1)!.id;
    // Three writes in one millisecond share the stamp.
    for (const r of [tie1!, tie2!, tie3!]) {
      sb.store.update('deals', r.id, { dealstage: wonStage(r.props.pipeline ?? 'default') });
    }
    sb.store.advance(2 * 60_000);
    // Committed late: stamped a minute before writes that were already visible.
    sb.store.update('deals', late!.id, { amount: '77' }, { stamp: sb.store.nowMs() - 60_000 });
    sb.store.archive('deals', gone!.id);
    sb.store.advance(60_000);

    const c = connector();
    sb.log.clear();
    const s = await sync(c, 'deals');
    expect(s).toMatchObject({ status: 'succeeded' });
    // The six changed deals and the lookback's overlap (the archived one counts as deleted), nothing else: one
    // search page and one archived page.
    expect(overlap).toBeGreaterThanOrEqual(1);
    expect(s).toMatchObject({ read: 6 + overlap, deleted: 1, quarantined: 0 });
    expect(searchCalls().length).toBe(1);
    expect(await liveDeals()).toEqual(expectedDeals().rows);
    const archived = await t.db
      .selectFrom('deals')
      .select('is_deleted')
      .where('external_id', '=', String(gone!.id))
      .executeTakeFirstOrThrow();
    expect(archived.is_deleted).toBe(true);
    expect(await sync(c, 'deal_stage_history')).toMatchObject({ status: 'succeeded' });
    expect(await liveHistory()).toEqual(expectedHistory());
  });

  it('a window of more than 10,000 modified deals is read completely, without a 400', async () => {
    const template = [...sb.store.scan('deals')].find((r) => r.props.closedate)!;
    sb.store.advance(60 * 60_000);
    for (let i = 0; i < 10_050; i++) {
      sb.store.create('deals', {
        dealname: `Bulk ${i}`,
        hubspot_owner_id: template.props.hubspot_owner_id ?? null,
        amount: String(100 + i),
        deal_currency_code: template.props.deal_currency_code ?? null,
        dealstage: template.props.dealstage ?? null,
        pipeline: template.props.pipeline ?? null,
        closedate: template.props.closedate ?? null,
      });
    }
    sb.store.advance(60_000);
    sb.log.clear();
    const s = await sync(connector(), 'deals');
    expect(s).toMatchObject({ status: 'succeeded' });
    expect(s.read).toBeGreaterThanOrEqual(10_050);
    expect(sb.log.entries().filter((e) => e.status === 400)).toEqual([]);
    expect(searchCalls().length).toBe(Math.ceil(s.read / 200) + (s.read % 200 === 0 ? 1 : 0));
    expect(await liveDeals()).toEqual(expectedDeals().rows);
  }, 120_000);
});
