/**
 * Finding a page's stored rows by key (src/sync/tables.ts, derive.ts): the one query shape that stays a key probe
 * per id whatever the planner believes about the table.
 */
import { sql } from 'kysely';
import type { WarehouseTable } from '../connectors/types.ts';

/**
 * The stored rows of these ids, as a FROM item aliased `t` (with its `ctid`): one probe of the table's key per id.
 * Written as a LATERAL subquery with LIMIT 1 because the planner must not get a choice: during an initial sync
 * a table grows by millions of rows between two ANALYZEs, and with statistics that still say it is small,
 * PostgreSQL planned `external_id = ANY($ids)` as a scan of every row of the connection (the key's prefix) filtered
 * by the array, and a join with the ids as a hash join over the whole table: each page then read the whole table,
 * and the sync grew with the square of its size (26 ms a page at 150,000 rows, 3.7 of the initial sync's 15.5
 * PostgreSQL seconds on `large`/20). A LIMIT cannot be pulled up into a join, so each id is one index probe.
 */
export function byKey(table: WarehouseTable, connectionId: string, ids: readonly string[]) {
  return sql`unnest(${[...ids]}::text[]) AS k(id)
    CROSS JOIN LATERAL (SELECT x.*, x.ctid FROM ${sql.table(table)} AS x
      WHERE x.connection_id = ${connectionId} AND x.external_id = k.id LIMIT 1) AS t`;
}
