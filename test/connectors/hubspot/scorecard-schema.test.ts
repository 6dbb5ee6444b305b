/**
 * The scorecard object's schema follows the connection's property names: with `writeback.fields.attainment`
 * renamed, the schema made on an empty portal defines that property and shows it, as HubSpot requires every
 * display, searchable and required property to be one the schema defines (the sandbox refuses otherwise).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.ts';
import { HubSpotClient } from '../../../src/connectors/hubspot/client.ts';
import { ensureScorecardSchema, hubspotDefaultLayout } from '../../../src/connectors/hubspot/write.ts';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../../src/sandbox/hubspot/index.ts';
import { silentLogger } from '../../../src/util/log.ts';

let sb: HubSpotSandbox;
beforeAll(async () => {
  sb = await startHubSpotSandbox({ seed: 6, size: 'small', anchorDate: '2026-11-15', populate: false });
}, 60_000);
afterAll(async () => {
  await sb?.close();
});

it('a renamed attainment property is the one the new schema defines and shows', async () => {
  const client = new HubSpotClient({ accessToken: sb.credentials.accessToken, basePath: sb.url, log: silentLogger });
  const layout = hubspotDefaultLayout({ attainment: 'my_attainment' });
  await ensureScorecardSchema(client, layout, 'hs');
  const listed = await client.get<{
    results: Array<{ name: string; secondaryDisplayProperties?: string[]; properties?: Array<{ name: string }> }>;
  }>('/crm/v3/schemas');
  const made = listed.results.find((s) => s.name === 'quota_scorecard');
  expect(made?.secondaryDisplayProperties).toEqual(['my_attainment']);
  expect(made?.properties?.some((p) => p.name === 'my_attainment')).toBe(true);
  // HubSpot task keys cannot be renamed: the config refuses writeback.fields.alertKey on a HubSpot connection.
  expect(() =>
    validateConfig({
      connections: [{ id: 'h', type: 'hubspot', accessToken: 'x', writeback: { fields: { alertKey: 'k' } } }],
    }),
  ).toThrow(/connections\[0\]\.writeback\.fields: unknown key "alertKey"/);
});
