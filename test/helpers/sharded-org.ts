/**
 * A small org for the sharded recompute's tests: the benches' warehouse generator (bench/warehouse.ts, `medium`'s
 * shape: ten reps a team, a rep in 25 moved teams, EUR deals at dated rates), plus split deals shared with the next rep (most likely in
 * another shard), owners no rep row stands for, and stage history for the forecast to learn from. Figures as of
 * SHARDED_AS_OF.
 */
import { type Kysely, sql } from 'kysely';
import { generateWarehouse } from '../../bench/warehouse.ts';
import type { Database } from '../../src/db/schema.ts';

export const SHARDED_AS_OF = '2026-06-12';

export async function seedShardedOrg(
  db: Kysely<Database>,
  size = { reps: 60, deals: 6_000, activities: 9_000 },
): Promise<void> {
  await generateWarehouse(db, size);
  const s = (q: string) => sql.raw(q).execute(db);
  // Every 9th deal split 60/40 with the rep next in line (most likely in another shard).
  await s(`insert into deal_splits (connection_id, external_id, content_hash, deal_external_id, owner_external_id, split_percent)
           select 'sf', 'SP' || d.external_id || s.n, 'h', d.external_id,
                  case when s.n = 1 then d.owner_external_id
                       else '005R' || lpad((1 + (substr(d.owner_external_id, 5)::int % ${size.reps}))::text, 4, '0') end,
                  case when s.n = 1 then 60 else 40 end
           from deals d, generate_series(1, 2) s(n) where substr(d.external_id, 5)::int % 9 = 0`);
  // Deals and activities of two CRM users with no rep row.
  await s(`update deals set owner_external_id = '005X' || (substr(external_id, 5)::int % 2)
           where substr(external_id, 5)::int % 97 = 0`);
  await s(`update activities set owner_external_id = '005X1' where substr(external_id, 4)::int % 101 = 0`);
  // Stage history: each deal opened at creation, and closed deals closed on their close date.
  await s(`insert into deal_stage_history (connection_id, external_id, content_hash, deal_external_id, stage, stage_category,
             amount, close_date, probability, changed_at)
           select 'sf', 'H1' || external_id, 'h', external_id, 'Qualification', 'open', amount, close_date, 0.2,
                  created_date::timestamp + interval '9 hours' from deals
           union all
           select 'sf', 'H2' || external_id, 'h', external_id, stage, stage_category, amount, close_date, probability,
                  close_date::timestamp + interval '9 hours' from deals where stage_category <> 'open' and close_date < '${SHARDED_AS_OF}'`);
  await s('analyze');
}
