/**
 * Plans of the product's statements as they would be at size (test/db/hot-queries.test.ts, owner-loads.test.ts).
 */
import type pg from 'pg';

/** A node of `EXPLAIN (FORMAT JSON)`, the fields the plan checks read. */
export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Filter?: string;
  Plans?: PlanNode[];
}

/**
 * The plan of a statement with sequential scans, hash and merge joins priced out: a join that can look its rows up
 * by an index does (as it must at size), so a whole read left in the plan is one no index can serve. Planned in a
 * transaction rolled back, so the settings go with it.
 */
export async function planWithoutScans(client: pg.Client, text: string, values: unknown[]): Promise<PlanNode> {
  await client.query('begin');
  try {
    await client.query('set local enable_seqscan = off');
    await client.query('set local enable_hashjoin = off');
    await client.query('set local enable_mergejoin = off');
    const r = await client.query(`explain (format json) ${text}`, values);
    return (r.rows[0] as { 'QUERY PLAN': { Plan: PlanNode }[] })['QUERY PLAN'][0]?.Plan as PlanNode;
  } finally {
    await client.query('rollback');
  }
}
