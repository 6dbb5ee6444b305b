/**
 * Reading the planning streams whole: goal targets (100 a page, the list's maximum) with the owners that map their
 * users, and the exchange rates (100 a page). Each is one page with the full sweep: what HubSpot no longer lists
 * (or now quarantines) leaves the warehouse.
 */
import { AppError } from '../../errors.ts';
import type { NormalizedRecord, Page, QuarantinedRecord } from '../types.ts';
import type { HubSpotClient } from './client.ts';
import { type HsObject, type HsOwner, type PortalFacts, Unnormalizable } from './normalize.ts';
import { HUBSPOT_PATHS } from './paths.ts';
import {
  exchangeRateRows,
  GOAL_PROPERTIES,
  type HsExchangeRate,
  normalizeGoalTarget,
  ownersByUser,
} from './planning.ts';
import { LIST_PAGE } from './read.ts';

interface Paged<T> {
  results: T[];
  paging?: { next?: { after?: string } };
}

async function listAll<T>(client: HubSpotClient, path: string, qs: Record<string, string>): Promise<T[]> {
  const out: T[] = [];
  let after: string | undefined;
  do {
    const res = await client.get<Paged<T>>(path, after ? { ...qs, after } : qs);
    out.push(...res.results);
    after = res.paging?.next?.after;
  } while (after);
  return out;
}

export async function* readGoalTargets(
  client: HubSpotClient,
  facts: () => Promise<PortalFacts>,
  owners: () => Promise<HsOwner[]>,
): AsyncGenerator<Page<'quotas'>> {
  const before = client.apiCalls();
  const f = await facts();
  const byUser = ownersByUser(await owners());
  const goals = await listAll<HsObject>(client, HUBSPOT_PATHS.objects('goal_targets'), {
    limit: String(LIST_PAGE),
    properties: GOAL_PROPERTIES.join(','),
    archived: 'false',
  });
  const records: NormalizedRecord<'quotas'>[] = [];
  const quarantined: QuarantinedRecord[] = [];
  for (const g of goals) {
    try {
      const stamp = g.properties.hs_lastmodifieddate ?? g.updatedAt ?? null;
      records.push({
        externalId: g.id,
        sourceModifiedAt: stamp && !Number.isNaN(Date.parse(stamp)) ? new Date(stamp).toISOString() : null,
        isDeleted: false,
        row: normalizeGoalTarget(g, f, byUser),
      });
    } catch (e) {
      if (!(e instanceof Unnormalizable)) throw e;
      quarantined.push({ externalId: g.id, reasonCode: e.reasonCode, reason: e.message, payload: g });
    }
  }
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
  const rates = await listAll<HsExchangeRate>(client, HUBSPOT_PATHS.exchangeRates, { limit: String(LIST_PAGE) });
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
