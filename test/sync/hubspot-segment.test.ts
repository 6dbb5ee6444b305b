/**
 * `fields.segment` on a HubSpot connection: the mapped deal property is read with the deals and lands in
 * deals.segment (what the reports' `bySegment` and `trends --by segment` group by); without the mapping deals have
 * no segment. The sandbox portal's deals carry a custom `segment` property (Enterprise, Mid-Market, SMB), as a
 * portal that segments its deals adds one (https://developers.hubspot.com/docs/api/crm/properties).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { validateConfig } from '../../src/config/load.ts';
import type { HubSpotConnector } from '../../src/connectors/hubspot/connector.ts';
import { hubspotKind } from '../../src/connectors/hubspot/index.ts';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { runSync } from '../../src/sync/run.ts';
import { silentLogger } from '../../src/util/log.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
let sb: HubSpotSandbox;
let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase();
  sb = await startHubSpotSandbox({ seed: 3, size: 'small', anchorDate: '2026-11-15' });
}, 60_000);
afterAll(async () => {
  await sb?.close();
  await t?.drop();
});

function connector(id: string, fields: Record<string, string>): HubSpotConnector {
  const config = validateConfig({
    connections: [{ id, type: 'hubspot', accessToken: sb.credentials.accessToken, basePath: sb.url, fields }],
  });
  const conn = config.connections[0];
  if (!conn) throw new Error('no connection');
  return hubspotKind.create(conn, {
    log: silentLogger,
    defaultTimeZone: 'UTC',
    defaultCurrency: 'USD',
  }) as HubSpotConnector;
}

async function segments(id: string): Promise<Map<string, string | null>> {
  const rows = await t.db
    .selectFrom('deals')
    .select(['external_id', 'segment'])
    .where('connection_id', '=', id)
    .execute();
  return new Map(rows.map((r) => [r.external_id, r.segment]));
}

it('reads the mapped deal property into deals.segment, and none without the mapping', async () => {
  for (const [id, fields] of [
    ['hs-seg', { segment: 'segment' }],
    ['hs-plain', {}],
  ] as const) {
    const c = connector(id, fields);
    for (const stream of ['owners', 'deal_pipelines', 'deals'])
      if (c.streams().some((s) => s.name === stream))
        await runSync({ db: t.db, connector: c, connectionId: id, stream, calendar, now: () => sb.store.now() });
  }
  const mapped = await segments('hs-seg');
  expect(mapped.size).toBeGreaterThan(20);
  // Each deal's segment is the portal's property value.
  const portal = new Map(sb.store.all('deals').map((d) => [String(d.id), d.props.segment ?? null]));
  let withSegment = 0;
  for (const [id, segment] of mapped) {
    expect(segment, id).toBe(portal.get(id) ?? null);
    if (segment !== null) withSegment++;
  }
  expect(withSegment).toBeGreaterThan(20);
  expect(new Set([...mapped.values()].filter((s) => s !== null))).toEqual(new Set(['Enterprise', 'Mid-Market', 'SMB']));
  expect([...(await segments('hs-plain')).values()].every((s) => s === null)).toBe(true);
}, 120_000);
