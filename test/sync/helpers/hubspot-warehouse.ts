/**
 * Everything a HubSpot connection's sync put in the warehouse, for holding one run (faulted, killed and rerun)
 * against a clean one: every table a HubSpot stream fills, every column but bookkeeping that differs between two
 * correct runs (surrogate ids, when a row was written or swept, which run saw it), and the open quarantine. Each
 * table is a sorted list of rows as JSON, so a lost or doubled row shows as a difference in that table.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../../src/db/schema.ts';

/** The tables HubSpot streams fill (`src/connectors/hubspot/streams.ts`), fx scoped to the CRM's dated rates. */
export const HUBSPOT_TABLES = [
  'reps',
  'deals',
  'deal_stage_history',
  'deal_line_items',
  'activities',
  'leads',
  'quotas',
  'fx_rates',
] as const;

/**
 * Columns two correct runs may differ in: surrogate ids (and `person_id`, a link to one made in the warehouse), write
 * and sweep instants, the run that saw a row.
 */
const BOOKKEEPING = new Set([
  'id',
  'synced_at',
  'deleted_at',
  'last_seen_run_id',
  'updated_at',
  'created_at',
  'person_id',
]);

export type WarehouseImage = Record<string, string[]>;

export async function hubspotWarehouse(db: Kysely<Database>, connectionId: string): Promise<WarehouseImage> {
  // biome-ignore lint/suspicious/noExplicitAny: every table is read whole, its columns named at run time
  const any = db as unknown as Kysely<any>;
  const out: WarehouseImage = {};
  for (const table of HUBSPOT_TABLES) {
    const rows = (await any
      .selectFrom(table)
      .selectAll()
      .where('connection_id', '=', connectionId)
      .execute()) as Record<string, unknown>[];
    out[table] = rows
      .map((r) =>
        JSON.stringify(
          Object.fromEntries(
            Object.keys(r)
              .filter((k) => !BOOKKEEPING.has(k))
              .sort()
              .map((k) => [k, r[k] instanceof Date ? (r[k] as Date).toISOString() : r[k]]),
          ),
        ),
      )
      .sort();
  }
  const quarantined = await db
    .selectFrom('quarantine')
    .select(['stream', 'external_id', 'reason_code', 'reason'])
    .where('connection_id', '=', connectionId)
    .where('resolved_at', 'is', null)
    .execute();
  out.quarantine = quarantined.map((q) => JSON.stringify(q)).sort();
  return out;
}

/** Row counts per table: a readable summary beside the full comparison (and proof the tables are not empty). */
export function counts(image: WarehouseImage): Record<string, number> {
  return Object.fromEntries(Object.entries(image).map(([k, v]) => [k, v.length]));
}
