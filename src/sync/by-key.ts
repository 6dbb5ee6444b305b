/**
 * Finding a page's stored rows by key (src/sync/tables.ts, derive.ts): the one query shape that stays a key probe
 * per id whatever the planner believes about the table.
 */
import { type Kysely, sql } from 'kysely';
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

/**
 * Locks the stored rows of these ids (one key probe each) and returns where each one is now, for an UPDATE by ctid in
 * a later statement of the same transaction. Two statements, not one: a row another transaction is writing gets a
 * new version when that commits, and an UPDATE matching the old ctid skips it without a word (a deal deleted in the
 * CRM stayed live); nor can a locking probe inside the UPDATE help, since the UPDATE's own snapshot, taken before the
 * wait, does not see the new version. The locking read waits for the writer and returns the current version, which
 * the next statement's snapshot sees and which nobody else can move while this transaction holds the lock.
 */
export async function lockedRows(
  // biome-ignore lint/suspicious/noExplicitAny: a transaction of any schema: the table is named at run time
  trx: Kysely<any>,
  table: WarehouseTable,
  connectionId: string,
  ids: readonly string[],
): Promise<Array<{ id: string; row: string }>> {
  if (ids.length === 0) return [];
  const { rows } = await sql<{ id: string; row: string }>`SELECT k.id, t.ctid::text AS row
    FROM unnest(${[...new Set(ids)]}::text[]) AS k(id)
    CROSS JOIN LATERAL (SELECT x.ctid FROM ${sql.table(table)} AS x
      WHERE x.connection_id = ${connectionId} AND x.external_id = k.id LIMIT 1 FOR NO KEY UPDATE) AS t`.execute(trx);
  return rows;
}
