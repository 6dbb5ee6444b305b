/**
 * A small org for the sharded recompute's tests: the benches' warehouse generator (bench/warehouse.ts, `medium`'s
 * shape: ten reps a team, a rep in 25 moved teams, EUR deals at dated rates), plus split deals shared with the next rep (most likely in
 * another shard), owners no rep row stands for, and stage history for the forecast to learn from. Figures as of
 * SHARDED_AS_OF.
 */
import type { Kysely } from 'kysely';
import { addSplitsOrphansAndHistory, generateWarehouse } from '../../bench/warehouse.ts';
import type { Database } from '../../src/db/schema.ts';

export const SHARDED_AS_OF = '2026-06-12';

export async function seedShardedOrg(
  db: Kysely<Database>,
  size = { reps: 60, deals: 6_000, activities: 9_000 },
): Promise<void> {
  await generateWarehouse(db, size);
  await addSplitsOrphansAndHistory(db, size.reps);
}
