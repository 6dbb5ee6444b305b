/**
 * The HubSpot read of a `medium` org end to end, behind QT_HEAVY=1: every stream (owners, deals, stage history,
 * line items, calls, emails, meetings, tasks, leads, goal targets, exchange rates) through the real client and the
 * shared PostgreSQL budget (the sandbox's enterprise limits: 190 calls per 10 s), then the warehouse held against
 * the sandbox store and its oracle: every live deal with its owner, amount, currency, stage and close date, every
 * stage-history entry once, every line item stored or quarantined, every activity and lead as the oracle reads
 * them, the quotas and the rates.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { HubSpotConnector } from '../../src/connectors/hubspot/connector.ts';
import { HUBSPOT_STREAMS } from '../../src/connectors/hubspot/streams.ts';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { hubspotRecords } from '../../src/sandbox/hubspot/oracle.ts';
import { pgRateBudget } from '../../src/sync/rate-budget.ts';
import { runSync } from '../../src/sync/run.ts';
import { dateInZone } from '../../src/util/date.ts';
import { silentLogger } from '../../src/util/log.ts';
import { Dec } from '../../src/util/money.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const heavy = process.env.QT_HEAVY === '1';
const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
let sb: HubSpotSandbox;
let t: TestDatabase;

describe.skipIf(!heavy)('a medium HubSpot org end to end', () => {
  beforeAll(async () => {
    t = await createTestDatabase();
    sb = await startHubSpotSandbox({ seed: 42, size: 'medium', anchorDate: '2026-11-15' });
  }, 600_000);
  afterAll(async () => {
    await sb?.close();
    await t?.drop();
  });

  it('the warehouse equals the store and its oracle after the initial sync', { timeout: 1_800_000 }, async () => {
    const c = new HubSpotConnector({
      config: { id: 'hs', accessToken: sb.credentials.accessToken, basePath: sb.url, sync: { lookbackMinutes: 10 } },
      log: silentLogger,
      budget: pgRateBudget(t.db),
    });
    const started = Date.now();
    const streams = HUBSPOT_STREAMS.map((x) => x.name);
    const summaries: Record<string, { read: number; apiCalls: number; seconds: number }> = {};
    for (const stream of streams) {
      const s0 = Date.now();
      const s = await runSync({
        db: t.db,
        connector: c,
        connectionId: 'hs',
        stream,
        calendar,
        now: () => sb.store.now(),
      });
      expect(s, `${stream}: ${s.errorMessage ?? ''}`).toMatchObject({ status: 'succeeded' });
      summaries[stream] = { read: s.read, apiCalls: s.apiCalls, seconds: (Date.now() - s0) / 1000 };
    }
    const seconds = (Date.now() - started) / 1000;
    console.log(`medium HubSpot read: ${seconds.toFixed(1)} s`, JSON.stringify(summaries));

    const tz = sb.store.timezone;
    const stages = new Map<string, { label: string; category: string }>();
    for (const p of sb.store.pipelines.get('deals') ?? []) {
      for (const s of p.stages) {
        const closed = s.metadata.isClosed === 'true';
        stages.set(`${p.id}|${s.id}`, {
          label: s.label,
          category: !closed ? 'open' : Number(s.metadata.probability) === 1 ? 'won' : 'lost',
        });
      }
    }
    const want: string[] = [];
    let entries = 0;
    for (const r of sb.store.scan('deals')) {
      const p = r.props;
      entries += (r.history?.dealstage ?? []).filter((h) => stages.has(`${p.pipeline ?? 'default'}|${h.value}`)).length;
      const s = stages.get(`${p.pipeline ?? 'default'}|${p.dealstage ?? ''}`);
      if (!p.closedate || !s) continue;
      want.push(
        [
          r.id,
          p.hubspot_owner_id ?? '',
          p.amount ? new Dec(p.amount).toFixed() : '',
          p.deal_currency_code ?? sb.store.homeCurrency,
          s.label,
          s.category,
          dateInZone(p.closedate, tz),
        ].join('|'),
      );
    }
    const deals = await t.db
      .selectFrom('deals')
      .select(['external_id', 'owner_external_id', 'amount', 'currency', 'stage', 'stage_category', 'close_date'])
      .where('connection_id', '=', 'hs')
      .where('is_deleted', '=', false)
      .execute();
    const got = deals.map((d) =>
      [
        d.external_id,
        d.owner_external_id ?? '',
        d.amount === null ? '' : new Dec(d.amount).toFixed(),
        d.currency,
        d.stage,
        d.stage_category,
        d.close_date,
      ].join('|'),
    );
    expect(got.length).toBeGreaterThan(10_000);
    expect(got.sort()).toEqual(want.sort());
    const history = await t.db
      .selectFrom('deal_stage_history')
      .select((eb) => [eb.fn.countAll<string>().as('n'), eb.fn.count<string>('external_id').distinct().as('d')])
      .where('connection_id', '=', 'hs')
      .executeTakeFirstOrThrow();
    expect({ n: Number(history.n), d: Number(history.d) }).toEqual({ n: entries, d: entries });

    const oracle = hubspotRecords(sb.store);
    const quotas = await t.db
      .selectFrom('quotas')
      .innerJoin('reps', (j) =>
        j
          .onRef('reps.external_id', '=', 'quotas.owner_external_id')
          .onRef('reps.connection_id', '=', 'quotas.connection_id'),
      )
      .select(['reps.email', 'quotas.period_start', 'quotas.amount', 'quotas.currency'])
      .where('quotas.connection_id', '=', 'hs')
      .where('quotas.is_deleted', '=', false)
      .execute();
    expect(
      quotas.map((q) => `${q.email}|${q.period_start}|${new Dec(q.amount).toFixed()}|${q.currency}`).sort(),
    ).toEqual(
      oracle.quotas.map((q) => `${q.ownerId.toLowerCase()}|${q.start}|${q.amount.toFixed()}|${q.currency}`).sort(),
    );
    const rates = await t.db
      .selectFrom('fx_rates')
      .select(['currency', 'rate', 'valid_from', 'valid_to'])
      .where('connection_id', '=', 'hs')
      .execute();
    expect(
      rates.map((r) => `${r.currency}|${new Dec(r.rate).toFixed()}|${r.valid_from}|${r.valid_to ?? ''}`).sort(),
    ).toEqual(oracle.rates.map((r) => `${r.currency}|${r.rate.toFixed()}|${r.validFrom}|${r.validTo ?? ''}`).sort());
    // Line items: each live one stored, or quarantined with its reason (a line item with no deal).
    const stored = await t.db
      .selectFrom('deal_line_items')
      .select('external_id')
      .where('connection_id', '=', 'hs')
      .where('is_deleted', '=', false)
      .execute();
    const held = await t.db
      .selectFrom('quarantine')
      .select('external_id')
      .where('connection_id', '=', 'hs')
      .where('stream', '=', 'line_items')
      .execute();
    const items = [...sb.store.scan('line_items')].map((r) => String(r.id)).sort();
    expect(items.length).toBeGreaterThan(1_000);
    expect([...stored, ...held].map((r) => r.external_id).sort()).toEqual(items);
    // Activities and leads as the oracle reads them (alert tasks and engagements without an instant left out).
    const people = new Map(
      (await t.db.selectFrom('reps').select(['external_id', 'email']).where('connection_id', '=', 'hs').execute()).map(
        (r) => [r.external_id, (r.email ?? '').toLowerCase()],
      ),
    );
    const acts = await t.db
      .selectFrom('activities')
      .select(['external_id', 'subtype', 'owner_external_id', 'activity_type', 'activity_date'])
      .where('connection_id', '=', 'hs')
      .where('is_deleted', '=', false)
      .execute();
    const gotActs = acts
      .filter((r) => r.owner_external_id !== null && people.has(r.owner_external_id))
      .map(
        (r) =>
          `${r.subtype}:${r.external_id}|${people.get(r.owner_external_id as string)}|${r.activity_type}|${r.activity_date}`,
      )
      .sort();
    const wantActs = oracle.activities.map((a) => `${a.id}|${a.ownerId.toLowerCase()}|${a.type}|${a.date}`).sort();
    expect(gotActs.length).toBeGreaterThan(10_000);
    expect(gotActs).toEqual(wantActs);
    const leads = await t.db
      .selectFrom('leads')
      .select(['external_id', 'created_date', 'converted_date'])
      .where('connection_id', '=', 'hs')
      .where('is_deleted', '=', false)
      .execute();
    expect(leads.map((l) => `${l.external_id}|${l.created_date}|${l.converted_date ?? ''}`).sort()).toEqual(
      oracle.leads.map((l) => `${l.id}|${l.createdDate}|${l.convertedDate ?? ''}`).sort(),
    );
    // The shared budget kept the pace: the sandbox refused nothing for the burst window.
    expect(sb.log.entries().filter((e) => e.errorCode === 'TEN_SECONDLY_ROLLING').length).toBe(0);
  });
});
