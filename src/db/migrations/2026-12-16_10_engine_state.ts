/**
 * What a fresh process needs to recompute one change without loading the whole warehouse
 * (src/metrics/engine/cold.ts): the forecast each full recompute learned from the stage history, per period, and
 * each team's merged partial (the additive parts its region and the org are summed from), per period, as the last
 * recompute that computed the team left them.
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, [
    `CREATE TABLE learned_forecasts (
      period_id text PRIMARY KEY,
      as_of date NOT NULL,
      config_hash text NOT NULL,
      people text NOT NULL,
      hash text NOT NULL,
      forecast jsonb NOT NULL
    )`,
    `CREATE TABLE team_parts (
      period_id text NOT NULL,
      team_id text NOT NULL,
      as_of date NOT NULL,
      config_hash text NOT NULL,
      people text NOT NULL,
      forecast_hash text NOT NULL,
      inputs_at timestamptz NOT NULL,
      part jsonb NOT NULL,
      trials bytea NOT NULL,
      PRIMARY KEY (period_id, team_id)
    )`,
  ]);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, ['DROP TABLE IF EXISTS team_parts', 'DROP TABLE IF EXISTS learned_forecasts']);
}
