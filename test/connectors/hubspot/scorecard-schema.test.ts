/**
 * The scorecard object's schema follows the connection's property names: with `writeback.fields.attainment`
 * renamed, the schema made on an empty portal defines that property and shows it, as HubSpot requires every
 * display, searchable and required property to be one the schema defines (the sandbox refuses otherwise).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.ts';
import { HubSpotClient } from '../../../src/connectors/hubspot/client.ts';
import { ensureAlertKeyProperty } from '../../../src/connectors/hubspot/tasks.ts';
import { ensureScorecardSchema, hubspotDefaultLayout, scorecardName } from '../../../src/connectors/hubspot/write.ts';
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

async function emptyPortal(): Promise<{ sb: HubSpotSandbox; client: () => HubSpotClient }> {
  const portal = await startHubSpotSandbox({ seed: 6, size: 'small', anchorDate: '2026-11-15', populate: false });
  return {
    sb: portal,
    client: () =>
      new HubSpotClient({ accessToken: portal.credentials.accessToken, basePath: portal.url, log: silentLogger }),
  };
}

it('an existing qt_key that is not unique is refused, saying what to do', async () => {
  const { sb: portal, client } = await emptyPortal();
  try {
    const layout = hubspotDefaultLayout({});
    // Made by hand (or by an older tool) without "require unique values".
    await client().post('/crm/v3/schemas', {
      name: 'quota_scorecard',
      labels: { singular: 'Quota scorecard', plural: 'Quota scorecards' },
      primaryDisplayProperty: 'qt_name',
      requiredProperties: ['qt_key'],
      properties: [
        { name: 'qt_key', label: 'Scorecard key', type: 'string', fieldType: 'text' },
        { name: 'qt_name', label: 'Scorecard', type: 'string', fieldType: 'text' },
      ],
    });
    const err = await ensureScorecardSchema(client(), layout, 'hs').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CRM_FIELD_MISSING' });
    expect((err as Error).message).toMatch(/qt_key exists but does not require unique values/);
    expect((err as Error).message).toMatch(/Require unique values/);
    expect((err as Error).message).toMatch(/quota-tracker setup hubspot/);
    // Nothing was added to a schema it cannot write to.
    expect(portal.log.entries().filter((e) => e.path.includes('/batch/create'))).toEqual([]);
  } finally {
    await portal.close();
  }
});

it('two setups at once: the one whose create answers 409 uses the object the other made', async () => {
  const { sb: portal, client } = await emptyPortal();
  try {
    const layout = hubspotDefaultLayout({});
    // The first create to arrive is held back (3 s: far longer than the other process takes to get there, however
    // loaded the machine), so the second is made first and the held one meets it (409).
    portal.faults.add({ kind: 'slow', method: 'POST', path: '/crm/v3/schemas', count: 1, delayMs: 3000 });
    const [a, b] = await Promise.all([
      ensureScorecardSchema(client(), layout, 'hs'),
      ensureScorecardSchema(client(), layout, 'hs'),
    ]);
    const creates = portal.log.entries().filter((e) => e.method === 'POST' && e.path === '/crm/v3/schemas');
    expect(creates.map((e) => e.status).sort()).toEqual([201, 409]);
    expect(a.objectTypeId).toBe(b.objectTypeId);
    expect([a.made.length, b.made.length].sort()).toEqual([0, 1]);
    expect(a.types).toEqual(b.types);
  } finally {
    await portal.close();
  }
});

it('two setups adding the same missing properties at once: equal is success, different fails naming it', async () => {
  const { sb: portal, client } = await emptyPortal();
  try {
    const base = hubspotDefaultLayout({});
    await ensureScorecardSchema(client(), base, 'hs');
    // A renamed attainment property is missing from the schema: two processes add it at once, the same way.
    const renamed = hubspotDefaultLayout({ attainment: 'qt_attainment_2' });
    portal.faults.add({
      kind: 'slow',
      method: 'POST',
      path: '/crm/v3/properties/',
      count: 1,
      delayMs: 3000,
    });
    const [a, b] = await Promise.all([
      ensureScorecardSchema(client(), renamed, 'hs'),
      ensureScorecardSchema(client(), renamed, 'hs'),
    ]);
    expect([a.made, b.made].map((m) => m.length).sort()).toEqual([0, 1]);
    expect(a.types.get('qt_attainment_2')).toBe('number');
    expect(b.types.get('qt_attainment_2')).toBe('number');
    // Another process made the next one as text: not what a percentage needs.
    const other = hubspotDefaultLayout({ attainment: 'qt_attainment_3' });
    const typeId = a.objectTypeId;
    const groupOf = (await client().get<{ results: Array<{ name: string }> }>(`/crm/v3/properties/${typeId}/groups`))
      .results[0]?.name;
    portal.log.clear();
    portal.faults.add({ kind: 'slow', method: 'POST', path: '/crm/v3/properties/', count: 1, delayMs: 3000 });
    const [mine, theirs] = await Promise.allSettled([
      ensureScorecardSchema(client(), other, 'hs'),
      (async () => {
        // Once the held create has arrived (it took the one slow slot), the other process makes its own.
        while (!portal.log.entries().some((e) => e.method === 'POST' && e.path.startsWith('/crm/v3/properties/')))
          await new Promise((r) => setTimeout(r, 10));
        await client().post(`/crm/v3/properties/${typeId}`, {
          name: 'qt_attainment_3',
          label: 'Attainment',
          type: 'string',
          fieldType: 'text',
          groupName: groupOf,
        });
      })(),
    ]);
    expect(theirs.status).toBe('fulfilled');
    expect(mine.status).toBe('rejected');
    expect(String((mine as PromiseRejectedResult).reason)).toMatch(/qt_attainment_3 is a string property, not number/);
  } finally {
    await portal.close();
  }
});

it('a scorecard is named after its rep and period, or its owner id when the rep has no name', () => {
  expect(scorecardName('Sarah Chen', { ownerId: '81', periodId: '2026-Q4' })).toBe('Sarah Chen · 2026-Q4');
  expect(scorecardName(undefined, { ownerId: '81', periodId: '2026-Q4' })).toBe('Owner 81 · 2026-Q4');
  expect(scorecardName('  ', { ownerId: '81', periodId: '2026-Q4' })).toBe('Owner 81 · 2026-Q4');
});

it('two setups making the task key property at once: the one answered 409 uses the property the other made', async () => {
  const { sb: portal, client } = await emptyPortal();
  try {
    portal.faults.add({ kind: 'slow', method: 'POST', path: '/crm/v3/properties/tasks', count: 1, delayMs: 3000 });
    const [a, b] = await Promise.all([ensureAlertKeyProperty(client()), ensureAlertKeyProperty(client())]);
    const creates = portal.log
      .entries()
      .filter((e) => e.method === 'POST' && e.path === '/crm/v3/properties/tasks')
      .map((e) => e.status);
    expect(creates.sort()).toEqual([201, 409]);
    expect([a, b].map((m) => m.length).sort()).toEqual([0, 1]);
  } finally {
    await portal.close();
  }
});
