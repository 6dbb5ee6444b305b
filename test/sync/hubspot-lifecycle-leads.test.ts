/**
 * Lead conversion on a portal without the leads object (a Starter portal: lead pipelines are Sales Hub Professional
 * and up). HubSpot answers the leads read as an unknown object type; the `leads` stream then reads contacts'
 * lifecycle stages: a contact that became a lead (`hs_lifecyclestage_lead_date`) is a lead, converted when it became
 * an opportunity (`hs_lifecyclestage_opportunity_date`), its deal the associated one. The warehouse is held against
 * the sandbox oracle's leads (which it reads from the same contacts) and the store's associations.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { HubSpotConnector } from '../../src/connectors/hubspot/connector.ts';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { hubspotRecords } from '../../src/sandbox/hubspot/oracle.ts';
import { associate } from '../../src/sandbox/hubspot/populate.ts';
import { runSync } from '../../src/sync/run.ts';
import { silentLogger } from '../../src/util/log.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
let sb: HubSpotSandbox;
let t: TestDatabase;
const lines: Array<{ msg: string }> = [];
const log = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) });

function connector(): HubSpotConnector {
  return new HubSpotConnector({
    config: { id: 'hs', accessToken: sb.credentials.accessToken, basePath: sb.url, sync: { lookbackMinutes: 10 } },
    log: silentLogger,
  });
}

async function sync(c: HubSpotConnector, stream: string) {
  const r = await runSync({
    db: t.db,
    connector: c,
    connectionId: 'hs',
    stream,
    calendar,
    log,
    now: () => sb.store.now(),
  });
  expect(r.status, `${stream}: ${r.errorMessage}`).toBe('succeeded');
  return r;
}

/** The lowest deal a contact is associated with, or null. */
function dealOf(contactId: string): string | null {
  const ids = sb.store.associations('contacts', Number(contactId), 'deals').map((l) => l.toId);
  return ids.length ? String(Math.min(...ids)) : null;
}

async function expectLeads(): Promise<void> {
  const want = hubspotRecords(sb.store)
    .leads.map((l) => ({
      external_id: l.id,
      created_date: l.createdDate,
      is_converted: l.convertedDate !== null,
      converted_date: l.convertedDate,
      converted_deal_external_id: dealOf(l.id),
      owner_external_id: sb.store.peek('contacts', l.id)?.props.hubspot_owner_id ?? null,
    }))
    .sort((a, b) => a.external_id.localeCompare(b.external_id));
  const got = await t.db
    .selectFrom('leads')
    .select([
      'external_id',
      'created_date',
      'is_converted',
      'converted_date',
      'converted_deal_external_id',
      'owner_external_id',
    ])
    .where('connection_id', '=', 'hs')
    .where('is_deleted', '=', false)
    .orderBy('external_id')
    .execute();
  expect(got).toEqual(want);
}

beforeAll(async () => {
  t = await createTestDatabase();
  sb = await startHubSpotSandbox({
    seed: 11,
    size: 'small',
    anchorDate: '2026-11-15',
    profile: 'starter',
    rateLimits: { searchPerSecond: 10_000, tenSecondly: 1_000, windowMs: 1_000 },
  });
}, 60_000);
afterAll(async () => {
  await sb?.close();
  await t?.drop();
});

describe('HubSpot leads from contacts’ lifecycle, on a portal without the leads object', () => {
  it('the leads stream reads contacts that became leads, converted when they became opportunities', async () => {
    const c = connector();
    await sync(c, 'owners');
    await sync(c, 'deals');
    sb.log.clear();
    lines.length = 0;
    const r = await sync(c, 'leads');
    // One refused probe of the leads object, then the contacts' list.
    const probes = sb.log.entries().filter((e) => e.path.startsWith('/crm/v3/objects/leads'));
    expect(probes.map((e) => [e.status, e.errorCode])).toEqual([[400, 'VALIDATION_ERROR']]);
    expect(sb.log.entries().some((e) => e.path === '/crm/v3/objects/contacts')).toBe(true);
    expect(lines.map((l) => l.msg)).toContain(
      'hubspot: the portal has no leads object; leads come from contacts’ lifecycle stages (hs_lifecyclestage_*_date)',
    );
    const oracle = hubspotRecords(sb.store).leads;
    expect(oracle.length).toBeGreaterThan(10);
    expect(oracle.filter((l) => l.convertedDate !== null).length).toBeGreaterThan(0);
    expect(r.read).toBe(oracle.length);
    await expectLeads();
  }, 60_000);

  it('a later sync reads contacts straight away and sees a conversion', async () => {
    sb.store.advance(60 * 60_000);
    const lead = hubspotRecords(sb.store).leads.find((l) => l.convertedDate === null)!;
    const deal = [...sb.store.scan('deals')][4]!;
    sb.store.update('contacts', lead.id, {
      lifecyclestage: 'opportunity',
      hs_lifecyclestage_opportunity_date: sb.store.now().toISOString(),
    });
    associate(sb.store, 'contacts', Number(lead.id), 'deals', deal.id, false);
    sb.store.advance(60_000);
    sb.log.clear();
    const r = await sync(connector(), 'leads');
    // The cursor names contacts: the leads object is not asked again.
    expect(sb.log.entries().filter((e) => e.path.startsWith('/crm/v3/objects/leads'))).toEqual([]);
    // The change and the window's inclusive re-read of the last stamp, not the whole object.
    expect(r.read).toBeLessThan(10);
    const row = await t.db
      .selectFrom('leads')
      .select(['is_converted', 'converted_deal_external_id'])
      .where('external_id', '=', lead.id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ is_converted: true, converted_deal_external_id: String(deal.id) });
    await expectLeads();
  }, 60_000);
});
