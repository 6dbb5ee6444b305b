/**
 * A portal that loses the leads object (a plan downgrade) after its leads were read from it: an incremental sync
 * refuses to switch to contacts' lifecycle stages beside the old rows (leads would count twice) and says how to
 * switch; `sync --full` of the stream switches, and removes the rows of the leads object it no longer sees.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { HubSpotConnector } from '../../src/connectors/hubspot/connector.ts';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { hubspotRecords } from '../../src/sandbox/hubspot/oracle.ts';
import { runSync } from '../../src/sync/run.ts';
import { silentLogger } from '../../src/util/log.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
let sb: HubSpotSandbox;
let t: TestDatabase;

const connector = () =>
  new HubSpotConnector({
    config: { id: 'hs', accessToken: sb.credentials.accessToken, basePath: sb.url, sync: { lookbackMinutes: 10 } },
    log: silentLogger,
  });
const sync = (stream: string, full = false) =>
  runSync({
    db: t.db,
    connector: connector(),
    connectionId: 'hs',
    stream,
    calendar,
    now: () => sb.store.now(),
    ...(full ? { full: true } : {}),
  });
const liveLeads = async () =>
  (
    await t.db
      .selectFrom('leads')
      .select('external_id')
      .where('connection_id', '=', 'hs')
      .where('is_deleted', '=', false)
      .orderBy('external_id')
      .execute()
  ).map((r) => r.external_id);

beforeAll(async () => {
  t = await createTestDatabase();
  sb = await startHubSpotSandbox({
    seed: 13,
    size: 'small',
    anchorDate: '2026-11-15',
    rateLimits: { searchPerSecond: 10_000, tenSecondly: 1_000, windowMs: 1_000 },
  });
}, 60_000);
afterAll(async () => {
  await sb?.close();
  await t?.drop();
});

describe('the leads object gone after leads were read from it', () => {
  it('an incremental sync stops saying how to switch; a full sync switches and drops the old rows', async () => {
    for (const s of ['owners', 'deals', 'leads']) expect(await sync(s), s).toMatchObject({ status: 'succeeded' });
    const fromObject = await liveLeads();
    expect(fromObject.length).toBeGreaterThan(10);

    sb.store.leadsObject = false;
    sb.store.advance(60 * 60_000);
    const refused = await sync('leads');
    expect(refused).toMatchObject({ status: 'failed', errorCode: 'CRM_OBJECT_GONE' });
    expect(refused.errorMessage).toMatch(/sync --stream leads --full/);
    expect(await liveLeads()).toEqual(fromObject);

    expect(await sync('leads', true)).toMatchObject({ status: 'succeeded' });
    // Now the contacts' lifecycle leads only, as the oracle reads them on a portal without the object.
    const want = hubspotRecords(sb.store)
      .leads.map((l) => l.id)
      .sort();
    expect(want.length).toBeGreaterThan(0);
    expect(await liveLeads()).toEqual(want);
  }, 120_000);
});
