/**
 * The Salesforce deals and line-items streams as the page writer sees them (both feed the deal's product line), and
 * a page of records, for tests that call `applyPage` directly (test/sync/derive-race, page-reads).
 */
import type { NormalizedRecord, Page, StreamSpec } from '../../src/connectors/types.ts';

export const dealsStream: StreamSpec = {
  name: 'opportunities',
  table: 'deals',
  mode: 'incremental',
  dirty: { ownerColumn: 'owner_external_id', dateColumn: 'close_date' },
  derives: ['deal_product_line'],
};

export const itemsStream: StreamSpec = {
  name: 'opportunity_line_items',
  table: 'deal_line_items',
  mode: 'incremental',
  derives: ['deal_product_line'],
};

/** One page of these records, with these ids deleted by the delete feed. */
export const page = (records: NormalizedRecord[], deletedIds: string[] = []): Page => ({
  records,
  deletedIds,
  quarantined: [],
  cursor: null,
  apiCalls: 1,
});
