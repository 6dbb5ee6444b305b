/**
 * Streams a portal may not have: a Starter portal has no leads object and a token may lack the goals scope. HubSpot
 * answers 403 MISSING_SCOPES; the stream then reads nothing and the run succeeds with a line saying why (not a
 * failure every interval, which /readyz would call sync_overdue). Rows read before stay. And with the rates in a
 * file (`fx: { source: file }`), `exchange_rates` reads nothing rather than failing CONFIG_INVALID over the portal's
 * company currency (the fix that error's own message gives).
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import type { ConnectionConfig } from '../../src/config/schema.ts';
import { HubSpotConnector, type HubSpotConnectorOptions } from '../../src/connectors/hubspot/connector.ts';
import { hubspotKind } from '../../src/connectors/hubspot/index.ts';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { runSync } from '../../src/sync/run.ts';
import { silentLogger } from '../../src/util/log.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
let sb: HubSpotSandbox;
let t: TestDatabase;
const lines: Array<{ msg: string }> = [];
const log = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) });

function connector(extra: Partial<HubSpotConnectorOptions> = {}): HubSpotConnector {
  return new HubSpotConnector({
    config: { id: 'hs', accessToken: sb.credentials.accessToken, basePath: sb.url, sync: { lookbackMinutes: 10 } },
    log: silentLogger,
    ...extra,
  });
}

const sync = (c: HubSpotConnector, stream: string) =>
  runSync({ db: t.db, connector: c, connectionId: 'hs-opt', stream, calendar, log, now: () => sb.store.now() });

const count = async (table: 'quotas' | 'leads') =>
  Number(
    (
      await t.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('connection_id', '=', 'hs-opt')
        .where('is_deleted', '=', false)
        .executeTakeFirstOrThrow()
    ).n,
  );

beforeAll(async () => {
  t = await createTestDatabase();
  sb = await startHubSpotSandbox({ seed: 7, size: 'small', anchorDate: '2026-11-15' });
}, 60_000);
afterAll(async () => {
  await sb?.close();
  await t?.drop();
});

describe('HubSpot streams the portal lacks', () => {
  it('leads and goal_targets refused with 403 MISSING_SCOPES succeed with nothing read, and say why', async () => {
    const c = connector();
    expect(await sync(c, 'owners')).toMatchObject({ status: 'succeeded' });
    // Read once while the portal had them; then the token loses the scopes (or the portal its subscription).
    expect(await sync(c, 'goal_targets')).toMatchObject({ status: 'succeeded' });
    expect(await sync(c, 'leads')).toMatchObject({ status: 'succeeded' });
    const [quotas, leads] = [await count('quotas'), await count('leads')];
    expect(quotas).toBeGreaterThan(0);
    expect(leads).toBeGreaterThan(0);
    sb.faults.add({ kind: 'missing_scopes_403', path: '/crm/v3/objects/leads' });
    sb.faults.add({ kind: 'missing_scopes_403', path: '/crm/v3/objects/goal_targets' });
    lines.length = 0;
    for (const stream of ['leads', 'goal_targets']) {
      const r = await sync(c, stream);
      expect(r).toMatchObject({ status: 'succeeded', read: 0 });
      expect(r.errorCode).toBeUndefined();
    }
    const said = lines.map((l) => l.msg).filter((m) => /has no access to (leads|goal_targets)/.test(m));
    expect(said).toHaveLength(2);
    expect(said[0]).toMatch(/403 MISSING_SCOPES.*skipped this run, nothing read/);
    // Nothing swept: what was read before stays until HubSpot answers again.
    expect([await count('quotas'), await count('leads')]).toEqual([quotas, leads]);
    sb.faults.clear();
    // Another failure of the same streams is still a failure.
    sb.faults.add({ kind: 'unauthorized_401', path: '/crm/v3/objects/leads', count: 1 });
    expect(await sync(c, 'leads')).toMatchObject({ status: 'failed', errorCode: 'CRM_AUTH_FAILED' });
    sb.faults.clear();
  }, 60_000);

  it('with fx from a file, exchange_rates reads nothing instead of failing CONFIG_INVALID', async () => {
    // The portal's company currency is not the base currency: read from the CRM this is CONFIG_INVALID.
    expect(await sync(connector({ defaultCurrency: 'JPY' }), 'exchange_rates')).toMatchObject({
      status: 'failed',
      errorCode: 'CONFIG_INVALID',
    });
    // Through the registry, as the worker creates it from a config with `fx: { source: file }`.
    const conn = {
      id: 'hs',
      type: 'hubspot',
      accessToken: sb.credentials.accessToken,
      basePath: sb.url,
      sync: { lookbackMinutes: 10 },
    } as unknown as ConnectionConfig;
    const c = hubspotKind.create(conn, {
      log: silentLogger,
      defaultTimeZone: 'UTC',
      defaultCurrency: 'JPY',
      fxFromFile: true,
    }) as HubSpotConnector;
    sb.log.clear();
    expect(await sync(c, 'exchange_rates')).toMatchObject({ status: 'succeeded', read: 0 });
    expect(sb.log.entries().filter((e) => e.path.includes('exchange-rates'))).toHaveLength(0);
  }, 60_000);
});
