/**
 * HubSpot's planning streams against the sandbox oracle: goal targets become the reps' quotas (the assignee's user
 * mapped to an owner, a departed rep's through `userIdIncludingInactive`), the portal's exchange rates become dated
 * ranges, and what is not a rep's revenue quota (a calls goal, a team's goal, an unknown user's) is quarantined with
 * its reason. After a new rate and a goal turned into another type, a resync matches the oracle again. Rates per
 * unit of a company currency other than the configured base currency are refused, naming the setting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { HubSpotConnector } from '../../src/connectors/hubspot/connector.ts';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { hubspotRecords } from '../../src/sandbox/hubspot/oracle.ts';
import { runSync } from '../../src/sync/run.ts';
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
  });
}

const sync = (c: HubSpotConnector, stream: string) =>
  runSync({ db: t.db, connector: c, connectionId: 'hs', stream, calendar, now: () => sb.store.now() });

function oracleQuotas(): string[] {
  return hubspotRecords(sb.store)
    .quotas.map((q) => `${q.ownerId.toLowerCase()}|${q.start}|${q.amount.toFixed()}|${q.currency}`)
    .sort();
}

async function warehouseQuotas(): Promise<string[]> {
  const rows = await t.db
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
  return rows.map((r) => `${r.email}|${r.period_start}|${new Dec(r.amount).toFixed()}|${r.currency}`).sort();
}

function oracleRates(): string[] {
  return hubspotRecords(sb.store)
    .rates.map((r) => `${r.currency}|${r.rate.toFixed()}|${r.validFrom}|${r.validTo ?? ''}`)
    .sort();
}

async function warehouseRates(): Promise<string[]> {
  const rows = await t.db
    .selectFrom('fx_rates')
    .select(['currency', 'rate', 'valid_from', 'valid_to'])
    .where('connection_id', '=', 'hs')
    .where('source', '=', 'crm_dated')
    .execute();
  return rows.map((r) => `${r.currency}|${new Dec(r.rate).toFixed()}|${r.valid_from}|${r.valid_to ?? ''}`).sort();
}

async function quarantined(): Promise<Map<string, string>> {
  const rows = await t.db
    .selectFrom('quarantine')
    .select(['external_id', 'reason_code'])
    .where('connection_id', '=', 'hs')
    .where('stream', '=', 'goal_targets')
    .where('resolved_at', 'is', null)
    .execute();
  return new Map(rows.map((r) => [r.external_id, r.reason_code]));
}

beforeAll(async () => {
  t = await createTestDatabase();
  sb = await startHubSpotSandbox({ seed: 11, size: 'small', anchorDate: '2026-11-15' });
}, 60_000);
afterAll(async () => {
  await sb?.close();
  await t?.drop();
});

describe('HubSpot goal targets and exchange rates', () => {
  const odd: Record<string, number> = {};

  it('goal targets are the reps’ quotas, rates the dated ranges, as the oracle has them; the rest is quarantined', async () => {
    const owners = [...sb.store.owners.values()];
    const active = owners.find((o) => o.userId !== null && !o.archived);
    if (!active) throw new Error('the sandbox has no active owner');
    const q = { hs_start_datetime: '2026-10-01T04:00:00.000Z', hs_end_datetime: '2027-01-01T04:59:59.999Z' };
    // What a real portal holds beside its revenue quotas: an activity goal, a team's goal, a goal whose user is gone
    // from the owners API altogether.
    odd.calls = sb.store.create('goal_targets', {
      ...q,
      hs_goal_name: 'Calls made',
      hs_goal_type: 'calls_made',
      hs_target_amount: '300',
      hs_assignee_user_id: String(active.userId),
    }).id;
    odd.team = sb.store.create('goal_targets', {
      ...q,
      hs_goal_name: 'Team quota',
      hs_goal_type: 'sales_quota',
      hs_target_amount: '900000',
      hs_assignee_user_id: null,
      hs_assignee_team_id: '5100001',
    }).id;
    odd.unknown = sb.store.create('goal_targets', {
      ...q,
      hs_goal_name: 'Quota of a stranger',
      hs_goal_type: 'sales_quota',
      hs_target_amount: '100000',
      hs_assignee_user_id: '987654321',
    }).id;

    const c = connector();
    expect(await sync(c, 'owners')).toMatchObject({ status: 'succeeded' });
    expect(await sync(c, 'goal_targets')).toMatchObject({ status: 'succeeded', quarantined: 3 });
    const want = oracleQuotas();
    expect(want.length).toBeGreaterThan(10);
    expect(await warehouseQuotas()).toEqual(want);
    // People who left keep their past quotas: their owner is archived, their goals name the inactive user id.
    const departed = new Set(owners.filter((o) => o.userId === null).map((o) => o.email.toLowerCase()));
    expect(departed.size).toBeGreaterThan(0);
    expect(want.some((w) => departed.has(w.split('|')[0] ?? ''))).toBe(true);
    expect(await quarantined()).toEqual(
      new Map([
        [String(odd.calls), 'NOT_REVENUE_GOAL'],
        [String(odd.team), 'TEAM_GOAL'],
        [String(odd.unknown), 'UNKNOWN_USER'],
      ]),
    );

    expect(await sync(c, 'exchange_rates')).toMatchObject({ status: 'succeeded', quarantined: 0 });
    const rates = oracleRates();
    expect(new Set(rates.map((r) => r.split('|')[0])).size).toBeGreaterThan(1);
    expect(await warehouseRates()).toEqual(rates);
  });

  it('a new rate closes the range before it and a goal turned into another type leaves the quotas', async () => {
    const last = [...sb.store.rates].sort((a, b) => b.effectiveAt - a.effectiveAt)[0];
    if (!last) throw new Error('the sandbox has no rates');
    sb.store.rates.push({
      ...last,
      id: '499999',
      conversionRate: new Dec(last.conversionRate).times('1.05').toDecimalPlaces(6).toString(),
      effectiveAt: last.effectiveAt + 40 * 86_400_000,
    });
    const goal = [...sb.store.scan('goal_targets')].find((g) => g.props.hs_goal_type === 'sales_quota');
    if (!goal) throw new Error('the sandbox has no quota');
    sb.store.update('goal_targets', goal.id, { hs_goal_type: 'deals_created' });

    const c = connector();
    expect(await sync(c, 'goal_targets')).toMatchObject({ status: 'succeeded', quarantined: 4 });
    expect(await warehouseQuotas()).toEqual(oracleQuotas());
    expect((await quarantined()).get(String(goal.id))).toBe('NOT_REVENUE_GOAL');
    expect(await sync(c, 'exchange_rates')).toMatchObject({ status: 'succeeded' });
    expect(await warehouseRates()).toEqual(oracleRates());
  });

  it('rates per unit of a company currency that is not the base currency are refused, naming the setting', async () => {
    const c = new HubSpotConnector({
      config: { id: 'hs', accessToken: sb.credentials.accessToken, basePath: sb.url, sync: { lookbackMinutes: 10 } },
      log: silentLogger,
      defaultCurrency: 'EUR',
    });
    const s = await sync(c, 'exchange_rates');
    expect(s).toMatchObject({ status: 'failed', errorCode: 'CONFIG_INVALID' });
    expect(s.errorMessage).toMatch(/company currency is USD .* calendar\.baseCurrency is EUR/);
    // What the last good sync stored stays.
    expect(await warehouseRates()).toEqual(oracleRates());
  });
});
