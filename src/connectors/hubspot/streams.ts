/**
 * The HubSpot streams, in the order a full sync runs them (owners before the deals that point at them).
 */
import type { StreamSpec } from '../types.ts';

/**
 * Streams a portal may not have: the leads object needs Sales Hub Professional or above, goal targets the
 * `crm.objects.goals.read` scope (https://developers.hubspot.com/docs/api-reference/latest/crm/objects/goals/guide,
 * https://developers.hubspot.com/docs/api/crm/leads). Where HubSpot refuses the object (403 MISSING_SCOPES, or no
 * such object type), the stream reads nothing and says so; it is not a failed run every interval.
 */
export const HUBSPOT_OPTIONAL_STREAMS: ReadonlySet<string> = new Set(['leads', 'goal_targets']);

const STREAMS: readonly StreamSpec[] = [
  {
    name: 'owners',
    table: 'reps',
    // A few hundred owners at most, in pages of 500: read whole every run, active and archived.
    mode: 'full_refresh',
    dirty: { ownerColumn: 'external_id' },
    derives: ['rep_quota_carrying'],
  },
  {
    name: 'deals',
    table: 'deals',
    mode: 'incremental',
    dirty: { ownerColumn: 'owner_external_id', dateColumn: 'close_date' },
    derives: ['deal_product_line'],
  },
  { name: 'deal_stage_history', table: 'deal_stage_history', mode: 'incremental' },
  // Deal products, activities and leads (line-items.ts, activities.ts, leads.ts), after the deals they point at.
  { name: 'line_items', table: 'deal_line_items', mode: 'incremental', derives: ['deal_product_line'] },
  ...(['calls', 'emails', 'meetings', 'tasks'] as const).map(
    (type): StreamSpec => ({
      name: type,
      table: 'activities',
      mode: 'incremental',
      // Four streams share the table: each one's rows are those of its engagement object.
      scope: { column: 'subtype', value: type },
      dirty: { ownerColumn: 'owner_external_id', dateColumn: 'activity_date' },
    }),
  ),
  {
    name: 'leads',
    table: 'leads',
    mode: 'incremental',
    // Lead conversion counts leads by owner and creation date.
    dirty: { ownerColumn: 'owner_external_id', dateColumn: 'created_date' },
  },
  {
    // Goal targets as quotas (planning.ts). A few per rep and period, read whole every run: a target's owner comes
    // from the owners' user ids, which change (a user deactivated, an owner made) without moving its stamp.
    name: 'goal_targets',
    table: 'quotas',
    mode: 'full_refresh',
    dirty: { ownerColumn: 'owner_external_id', dateColumn: 'period_start' },
    derives: ['rep_quota_carrying'],
  },
  // The portal's exchange rates as dated ranges; a new rate ends the range before it, so all are read every run.
  { name: 'exchange_rates', table: 'fx_rates', mode: 'full_refresh', scope: { column: 'source', value: 'crm_dated' } },
];

/**
 * The streams of a connection. With `fields.productLine` a deal's product line is that property's value, as for
 * Salesforce; without it, it is worked out from the deal's line items in the warehouse (`deal_product_line`).
 */
export function hubspotStreams(fields: { productLine?: string | undefined } = {}): readonly StreamSpec[] {
  if (!fields.productLine) return STREAMS;
  return STREAMS.map((s) =>
    s.derives?.includes('deal_product_line')
      ? { ...s, derives: s.derives.filter((d) => d !== 'deal_product_line') }
      : s,
  );
}

export const HUBSPOT_STREAMS: readonly StreamSpec[] = STREAMS;

/** CRM-neutral names users may type, each standing for HubSpot streams. */
export const HUBSPOT_STREAM_ALIASES: Readonly<Record<string, readonly string[]>> = {
  users: ['owners'],
  deal_history: ['deal_stage_history'],
  activities: ['calls', 'emails', 'meetings', 'tasks'],
  quotas: ['goal_targets'],
  fx_rates: ['exchange_rates'],
};

/** Deal properties read (HubSpot returns only the properties asked for). */
export const DEAL_PROPERTIES = [
  'dealname',
  'hubspot_owner_id',
  'amount',
  'deal_currency_code',
  'amount_in_home_currency',
  'dealstage',
  'pipeline',
  'hs_deal_stage_probability',
  'hs_manual_forecast_category',
  'closedate',
  'createdate',
  'dealtype',
  'hs_lastmodifieddate',
] as const;

/** Properties whose history the stage-history rows are built from. */
export const DEAL_HISTORY_PROPERTIES = ['dealstage', 'amount', 'closedate', 'hs_deal_stage_probability'] as const;
