/**
 * Reading the planning streams whole: goal targets (100 a page, the list's maximum) with the owners that map their
 * users, and the exchange rates (100 a page). Each is one page with the full sweep: what HubSpot no longer lists
 * (or now quarantines) leaves the warehouse.
 */
import { AppError } from '../../errors.ts';
import type { Page } from '../types.ts';
import type { HubSpotClient } from './client.ts';
import type { HsObject, HsOwner, PortalFacts } from './normalize.ts';
import { HUBSPOT_PATHS } from './paths.ts';
import {
  exchangeRateRows,
  GOAL_PROPERTIES,
  type HsExchangeRate,
  normalizeGoalTarget,
  ownersByUser,
} from './planning.ts';
import { LIST_PAGE } from './read.ts';
import { planRows } from './record-rows.ts';

export async function* readGoalTargets(
  client: HubSpotClient,
  facts: () => Promise<PortalFacts>,
  owners: () => Promise<HsOwner[]>,
): AsyncGenerator<Page<'quotas'>> {
  const before = client.apiCalls();
  const f = await facts();
  const byUser = ownersByUser(await owners());
  const goals = await client.getAll<HsObject>(HUBSPOT_PATHS.objects('goal_targets'), {
    limit: String(LIST_PAGE),
    properties: GOAL_PROPERTIES.join(','),
    archived: 'false',
  });
  const { records, quarantined } = planRows<'quotas'>(goals, 'hs_lastmodifieddate', (g) =>
    normalizeGoalTarget(g, f, byUser),
  );
  yield {
    records,
    deletedIds: [],
    quarantined,
    // A target now quarantined is no quota any more: its earlier row is swept with the deleted ones.
    sweepSeenIds: records.map((r) => r.externalId),
    cursor: null,
    apiCalls: client.apiCalls() - before,
  };
}

export async function* readExchangeRates(
  client: HubSpotClient,
  facts: () => Promise<PortalFacts>,
  /** The configured base currency (`calendar.baseCurrency`), when the host says. */
  baseCurrency?: string,
): AsyncGenerator<Page<'fx_rates'>> {
  const before = client.apiCalls();
  const f = await facts();
  // HubSpot's rates are per unit of the company currency; the metrics convert into the base currency with them
  // as they are, so the two must be one currency (as Salesforce's corporate currency must).
  if (baseCurrency !== undefined && baseCurrency !== f.companyCurrency) {
    throw new AppError(
      'CONFIG_INVALID',
      `the HubSpot portal's company currency is ${f.companyCurrency} and its exchange rates are per ${f.companyCurrency}, ` +
        `but calendar.baseCurrency is ${baseCurrency}: set baseCurrency to ${f.companyCurrency}, or give the rates in ` +
        'an FX file (fx: { source: file })',
      { where: 'calendar.baseCurrency' },
    );
  }
  const rates = await client.getAll<HsExchangeRate>(HUBSPOT_PATHS.exchangeRates, { limit: String(LIST_PAGE) });
  const { rows, quarantined } = exchangeRateRows(rates, f);
  yield {
    records: rows.map((r) => ({ ...r, isDeleted: false })),
    deletedIds: [],
    quarantined,
    sweepSeenIds: rows.map((r) => r.externalId),
    cursor: null,
    apiCalls: client.apiCalls() - before,
  };
}
