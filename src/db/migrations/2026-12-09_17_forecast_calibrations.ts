/**
 * The forecast's backtests: one row per period kind, as-of date and metric config, holding what
 * `report forecast --backtest` measured, so every report that shows a forecast can print the line beside it
 * ("calibrated on N periods; the P10 held in X% of them") without running the backtest again.
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, [
    `CREATE TABLE forecast_calibrations (
      id bigserial PRIMARY KEY,
      period_kind text NOT NULL CHECK (period_kind IN ('year', 'quarter', 'month')),
      as_of date NOT NULL,
      config_hash text NOT NULL,
      basis text NOT NULL CHECK (basis IN ('calibrated', 'crm_fallback')),
      periods integer NOT NULL CHECK (periods >= 0),
      origins integer NOT NULL CHECK (origins >= 0),
      p10_held numeric CHECK (p10_held >= 0 AND p10_held <= 1),
      result jsonb NOT NULL,
      computed_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the backtest was stored
      UNIQUE (period_kind, as_of, config_hash)
    )`,
  ]);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, ['DROP TABLE forecast_calibrations']);
}
