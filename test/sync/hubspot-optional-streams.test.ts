/**
 * Streams a token may not reach: the sandbox's scope profile gives a token without some scopes, which HubSpot
 * answers with its 403 MISSING_SCOPES body (naming the scopes) on exactly those objects. An optional stream (leads,
 * goal targets) then reads nothing and its run is `skipped`, with the code and a line naming the scope (not a
 * failure every interval, which /readyz would call sync_overdue); rows read before stay. A required stream (deals,
 * activities) fails, naming the scope to grant. And with the rates in a
 * file (`fx: { source: file }`), `exchange_rates` reads nothing rather than failing CONFIG_INVALID over the portal's
 * company currency (the fix that error's own message gives).
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import type { Config, ConnectionConfig } from '../../src/config/schema.ts';
import { HubSpotConnector, type HubSpotConnectorOptions } from '../../src/connectors/hubspot/connector.ts';
import { hubspotKind } from '../../src/connectors/hubspot/index.ts';
import { overdueStreamsProblem } from '../../src/jobs/schedule-health.ts';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { allReadScopes } from '../../src/sandbox/hubspot/scopes.ts';
import { runSync } from '../../src/sync/run.ts';
import { silentLogger } from '../../src/util/log.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
let sb: HubSpotSandbox;
let t: TestDatabase;
const lines: Array<{ msg: string }> = [];
const log = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) });

function connector(
  extra: Partial<HubSpotConnectorOptions> = {},
  accessToken = sb.credentials.accessToken,
): HubSpotConnector {
  return new HubSpotConnector({
    config: { id: 'hs', accessToken, basePath: sb.url, sync: { lookbackMinutes: 10 } },
    log: silentLogger,
    ...extra,
  });
}

const sync = (c: HubSpotConnector, stream: string, connectionId = 'hs-opt') =>
  runSync({ db: t.db, connector: c, connectionId, stream, calendar, log, now: () => sb.store.now() });

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
  it('a token without the leads and goals scopes: those streams are skipped, saying which scope; rows stay', async () => {
    const c = connector();
    expect(await sync(c, 'owners')).toMatchObject({ status: 'succeeded' });
    // Read once with a token that has every scope; then the connection's token is one without leads and goals.
    expect(await sync(c, 'goal_targets')).toMatchObject({ status: 'succeeded' });
    expect(await sync(c, 'leads')).toMatchObject({ status: 'succeeded' });
    const [quotas, leads] = [await count('quotas'), await count('leads')];
    expect(quotas).toBeGreaterThan(0);
    expect(leads).toBeGreaterThan(0);
    const lacking = ['crm.objects.leads.read', 'crm.objects.goals.read'];
    const token = sb.auth.addPrivateApp({ scopes: allReadScopes(sb.store).filter((x) => !lacking.includes(x)) });
    const limited = connector({}, token);
    lines.length = 0;
    sb.log.clear();
    for (const [stream, scope] of [
      ['leads', 'crm.objects.leads.read'],
      ['goal_targets', 'crm.objects.goals.read'],
    ] as const) {
      const r = await sync(limited, stream);
      expect(r).toMatchObject({ status: 'skipped', read: 0, errorCode: 'CRM_PERMISSION' });
      expect(r.errorMessage).toContain(`403 MISSING_SCOPES: the token lacks ${scope}`);
      const run = await t.db
        .selectFrom('sync_runs')
        .select(['status', 'error_code', 'error_message'])
        .where('id', '=', r.runId)
        .executeTakeFirstOrThrow();
      expect(run).toMatchObject({ status: 'skipped', error_code: 'CRM_PERMISSION' });
      expect(run.error_message).toMatch(/skipped this run, nothing read/);
    }
    // HubSpot's body for it, on exactly those objects: the rest of the token's reads answer.
    const refused = sb.log.entries().filter((e) => e.status === 403);
    // (Leads, read before, are searched; goal targets are listed whole every run.)
    expect(refused.map((e) => e.path).sort()).toEqual(['/crm/v3/objects/goal_targets', '/crm/v3/objects/leads/search']);
    expect(refused[0]?.responseBody).toMatchObject({
      category: 'MISSING_SCOPES',
      errors: [{ context: { requiredGranularScopes: [expect.stringMatching(/^crm\.objects\.(leads|goals)\.read$/)] } }],
    });
    expect(await sync(limited, 'owners')).toMatchObject({ status: 'succeeded' });
    const said = lines.map((l) => l.msg).filter((m) => /has no access to (leads|goal_targets)/.test(m));
    expect(said).toHaveLength(2);
    // Nothing swept: what was read before stays until HubSpot answers again.
    expect([await count('quotas'), await count('leads')]).toEqual([quotas, leads]);
    // Another failure of the same streams is still a failure.
    sb.faults.add({ kind: 'unauthorized_401', path: '/crm/v3/objects/leads', count: 1 });
    expect(await sync(c, 'leads')).toMatchObject({ status: 'failed', errorCode: 'CRM_AUTH_FAILED' });
    sb.faults.clear();
  }, 60_000);

  it('a token without a required stream’s scope fails that stream, naming the scope to grant', async () => {
    const token = sb.auth.addPrivateApp({
      scopes: allReadScopes(sb.store).filter(
        (x) => x !== 'crm.objects.deals.read' && x !== 'crm.objects.contacts.read',
      ),
    });
    const limited = connector({}, token);
    for (const [stream, scope] of [
      ['deals', 'crm.objects.deals.read'],
      // Calls (engagements) need the contacts scope.
      ['calls', 'crm.objects.contacts.read'],
    ] as const) {
      const r = await sync(limited, stream);
      expect(r).toMatchObject({ status: 'failed', errorCode: 'CRM_PERMISSION' });
      expect(r.errorMessage).toContain(
        `the private app's token lacks the scope ${scope}; grant it to the app in HubSpot`,
      );
    }
    // What the token may read, it reads.
    expect(await sync(limited, 'owners')).toMatchObject({ status: 'succeeded' });

    // A connection whose token never reached leads: its skipped runs are the stream done for the interval, and
    // /readyz does not call it overdue (a stream that only failed is).
    for (const stream of ['leads', 'deals'])
      expect(await sync(limited, stream, 'hs-scope')).toMatchObject({
        status: stream === 'leads' ? 'skipped' : 'failed',
      });
    const config = {
      connections: [{ id: 'hs-scope', type: 'hubspot', enabled: true, schedule: { every: '15m' } }],
    } as unknown as Config;
    // wall-clock: the runs' finished_at are real instants; the check is made ten minutes after them
    const later = new Date(Date.now() + 10 * 60_000);
    const overdue = await overdueStreamsProblem(t.db, config, new Date(later.getTime() - 3 * 3_600_000), later);
    const names = (overdue?.overdue as Array<{ stream: string }> | undefined)?.map((o) => o.stream) ?? [];
    expect(names).toContain('hs-scope/deals');
    expect(names).not.toContain('hs-scope/leads');
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
