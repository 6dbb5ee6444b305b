/**
 * The CRM rate budget every worker shares (src/sync/rate-budget.ts): slots of rolling windows (HubSpot's 10-second
 * and search limits), each held until a window after its answer, and the day's allocation as last reported and
 * counted since.
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, [
    `CREATE TABLE crm_rate_slots (
      id bigserial PRIMARY KEY,
      budget_key text NOT NULL,
      held_until timestamptz NOT NULL -- wall-clock: the CRM's windows run on real time
    )`,
    'CREATE INDEX crm_rate_slots_key_idx ON crm_rate_slots (budget_key, held_until)',
    `CREATE TABLE crm_daily_budget (
      budget_key text PRIMARY KEY,
      used integer NOT NULL,
      usage_limit double precision NOT NULL,
      resets_at text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now() -- wall-clock: when the row was written
    )`,
  ]);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, ['DROP TABLE crm_daily_budget', 'DROP TABLE crm_rate_slots']);
}
