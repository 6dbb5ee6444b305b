/**
 * Deal products: HubSpot line items as `deal_line_items` rows (what Salesforce's `opportunity_line_items` fills),
 * each with its deal from the line item's associations to deals (v4 batch read, one call a page). A line item
 * belongs to one deal (HubSpot copies a product onto each deal it is added to,
 * https://developers.hubspot.com/docs/api-reference/latest/crm/objects/line-items/guide); should it name several,
 * the lowest deal id is taken. One on no deal (a quote's or an order's) has no place in the table: quarantined
 * `MISSING_PARENT`, as Salesforce's would be, and rechecked by the relink rotation (read.ts): once it is linked to a
 * deal it is read and written, and its quarantine entry resolved.
 *
 * Product name `name`, quantity `quantity`, amount `amount` (HubSpot's net price: quantity times unit price less
 * discount), in the deal's currency. The product family is the portal's custom line-item property
 * `product_family` (HubSpot's line items and products have no family; a portal that groups products adds one, as
 * the sandbox's does); without it the family is null and the deal's product line stays null.
 */
import type { DealLineItemRow } from '../types.ts';
import { decimal, type HsObject, str, Unnormalizable } from './normalize.ts';
import type { ObjectStreamPlan } from './read.ts';
import { planRows } from './record-rows.ts';

export const LINE_ITEM_PROPERTIES = [
  'name',
  'quantity',
  // The amount is the deal's share; price and currency (the deal's) have no column.
  'amount',
  'product_family',
  'hs_lastmodifieddate',
] as const;

export function normalizeLineItem(o: HsObject, dealIds: readonly string[] | undefined): DealLineItemRow {
  const deal = dealIds?.[0];
  if (deal === undefined) throw new Unnormalizable('MISSING_PARENT', 'the line item is associated with no deal');
  const p = o.properties;
  return {
    deal_external_id: deal,
    product_name: str(p, 'name'),
    product_family: str(p, 'product_family'),
    quantity: decimal(p, 'quantity'),
    amount: decimal(p, 'amount'),
  };
}

export function lineItemPlan(): ObjectStreamPlan<'deal_line_items'> {
  return {
    objectType: 'line_items',
    stampProperty: 'hs_lastmodifieddate',
    properties: LINE_ITEM_PROPERTIES,
    deletes: true,
    associations: ['deals'],
    relinkColumn: 'deal_external_id',
    // One kept out for being on no deal is rechecked with the stored rows: linked later, it comes into the table.
    relinkQuarantined: 'MISSING_PARENT',
    toRows: async (objects, links) => {
      const deals = links.get('deals');
      return planRows(objects, 'hs_lastmodifieddate', (o) => normalizeLineItem(o, deals?.get(o.id)));
    },
  };
}
