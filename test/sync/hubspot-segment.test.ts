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

it('fields.productLine: the mapped deal property is the product line, not the line items’ family', async () => {
  // A portal keeping the product line on the deal (a custom property), on some deals; the line items say otherwise.
  const deals = sb.store.all('deals').slice(0, 12);
  deals.forEach((d, i) => {
    sb.store.update('deals', d.id, { qt_product_line: i % 2 ? 'Platform' : 'Services' });
  });
  const c = connector('hs-pl', { productLine: 'qt_product_line' });
  // Nothing derives the product line from line items for this connection.
  expect(c.streams().some((s) => s.derives?.includes('deal_product_line'))).toBe(false);
  expect(
    connector('hs-derived', {})
      .streams()
      .some((s) => s.derives?.includes('deal_product_line')),
  ).toBe(true);
  for (const stream of ['owners', 'deals', 'line_items'])
    expect(
      await runSync({ db: t.db, connector: c, connectionId: 'hs-pl', stream, calendar, now: () => sb.store.now() }),
      stream,
    ).toMatchObject({ status: 'succeeded' });
  const rows = await t.db
    .selectFrom('deals')
    .select(['external_id', 'product_line'])
    .where('connection_id', '=', 'hs-pl')
    .execute();
  const got = new Map(rows.map((r) => [r.external_id, r.product_line]));
  const want = new Map(sb.store.all('deals').map((d) => [String(d.id), d.props.qt_product_line ?? null]));
  expect(got.size).toBeGreaterThan(20);
  for (const [id, line] of got) expect(line, id).toBe(want.get(id) ?? null);
  expect(new Set([...got.values()].filter((x) => x !== null))).toEqual(new Set(['Platform', 'Services']));
}, 120_000);

it('refuses a HubSpot field mapping nothing would read', () => {
  expect(() =>
    validateConfig({ connections: [{ id: 'h', type: 'hubspot', accessToken: 'x', fields: { amount: 'amount' } }] }),
  ).toThrow(/connections\[0\]\.fields: unknown key "amount"/);
});
