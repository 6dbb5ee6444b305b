/**
 * The tables that grow with an org's history (deals, their stage history, line items and splits, activities,
 * leads: millions of rows at `large`) keep `connection_id` without a foreign key. PostgreSQL checked the key on
 * every inserted row, a lookup and a row lock on `connections` each time: on a scratch database 250,000 inserts took
 * 3.85 s with it and 1.92 s without, a share of every initial sync. What the key guarded cannot happen here: a sync
 * writes rows only for a connection `ensureConnection` has just made sure of, and nothing in the product deletes a
 * connection (its rows would be history to keep, not to cascade away). The smaller tables keep theirs.
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

const TABLES = ['deals', 'deal_stage_history', 'deal_line_items', 'deal_splits', 'activities', 'leads'];

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(
    db,
    TABLES.map((t) => `ALTER TABLE ${t} DROP CONSTRAINT IF EXISTS ${t}_connection_id_fkey`),
  );
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(
    db,
    TABLES.map(
      (t) =>
        `ALTER TABLE ${t} ADD CONSTRAINT ${t}_connection_id_fkey FOREIGN KEY (connection_id) REFERENCES connections(id) ON DELETE CASCADE`,
    ),
  );
}
