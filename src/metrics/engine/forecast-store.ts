/**
 * What the forecast reads besides the figures' rows: the deals' stage history (its training data) and the last
 * stored backtest of each period kind (`forecast_calibrations`), which every report prints beside a forecast.
 */
import { type Kysely, sql } from 'kysely';
import type { Config } from '../../config/schema.ts';
import { type Database, toJsonb } from '../../db/schema.ts';
import type { PlainDate } from '../../util/date.ts';
import { contentHash } from '../../util/hash.ts';
import { Dec } from '../../util/money.ts';
import type { DealTimeline } from '../math/calibration.ts';
import type { FxTable } from '../math/currency.ts';
import { loadDealTimelines } from './forecast-history.ts';
import type { StoredBacktestSummary } from './forecast-model.ts';

/**
 * The model's version: a stored backtest scored an older model (2: weeks left counts the steps after an origin)
 * and is not shown beside the new one's forecasts.
 */
const FORECAST_MODEL_VERSION = 2;

/**
 * The settings a backtest depends on: a stored one is shown only while they are unchanged. When the service runs
 * its backtest (`forecast.backtest`) is not one of them.
 */
export function forecastConfigHash(config: Config): string {
  const { backtest: _when, ...forecast } = config.forecast;
  return contentHash({
    model: FORECAST_MODEL_VERSION,
    calendar: config.calendar,
    forecast,
    booking: config.booking,
    runRateWindow: config.metrics.runRateWindow,
    fields: config.connections.map((c) => ({ id: c.id, fields: c.fields })),
  });
}

export async function loadForecastInputs(
  db: Kysely<Database>,
  o: { asOf: PlainDate; timezone: string; ownerToRep: ReadonlyMap<string, string>; fx: FxTable; configHash: string },
): Promise<{ dealTimelines: DealTimeline[]; forecastBacktests: Map<string, StoredBacktestSummary> }> {
  const [dealTimelines, forecastBacktests] = await Promise.all([loadDealTimelines(db, o), loadBacktests(db, o)]);
  return { dealTimelines, forecastBacktests };
}

/** The last stored backtest of each period kind on or before D under the forecast's settings (`forecastConfigHash`). */
export async function loadBacktests(
  db: Kysely<Database>,
  o: { asOf: PlainDate; configHash: string },
): Promise<Map<string, StoredBacktestSummary>> {
  const rows = await sql<{ period_kind: string; as_of: PlainDate; periods: number; p10_held: string | null }>`
      select distinct on (period_kind) period_kind, as_of::text as as_of, periods, p10_held
      from forecast_calibrations
      where as_of <= ${o.asOf} and config_hash = ${o.configHash}
      order by period_kind, as_of desc, id desc`.execute(db);
  const forecastBacktests = new Map<string, StoredBacktestSummary>();
  for (const r of rows.rows)
    forecastBacktests.set(r.period_kind, {
      asOf: r.as_of,
      periods: r.periods,
      p10Held: r.p10_held === null ? null : new Dec(r.p10_held),
    });
  return forecastBacktests;
}

export async function storeBacktest(
  db: Kysely<Database>,
  row: {
    periodKind: 'year' | 'quarter' | 'month';
    asOf: PlainDate;
    configHash: string;
    basis: 'calibrated' | 'crm_fallback';
    periods: number;
    origins: number;
    p10Held: string | null;
    result: unknown;
  },
): Promise<void> {
  await db
    .insertInto('forecast_calibrations')
    .values({
      period_kind: row.periodKind,
      as_of: row.asOf,
      config_hash: row.configHash,
      basis: row.basis,
      periods: row.periods,
      origins: row.origins,
      p10_held: row.p10Held,
      result: toJsonb(row.result as never),
    })
    .onConflict((oc) =>
      oc.columns(['period_kind', 'as_of', 'config_hash']).doUpdateSet((eb) => ({
        basis: eb.ref('excluded.basis'),
        periods: eb.ref('excluded.periods'),
        origins: eb.ref('excluded.origins'),
        p10_held: eb.ref('excluded.p10_held'),
        result: eb.ref('excluded.result'),
        // wall-clock: when the backtest was stored, for the operator; no figure depends on it
        computed_at: sql`now()`,
      })),
    )
    .execute();
}

/**
 * Whether the service should backtest now rather than wait for its weekly cron: the current settings have no
 * stored backtest (a new deployment, a changed config), or the newest one found nothing to score and is from an
 * earlier day (the history was still arriving).
 */
export async function backtestDue(
  db: Kysely<Database>,
  o: { periodKind: 'year' | 'quarter' | 'month'; configHash: string; asOf: PlainDate },
): Promise<boolean> {
  const last = await db
    .selectFrom('forecast_calibrations')
    .select(['origins', sql<PlainDate>`as_of::text`.as('as_of')])
    .where('period_kind', '=', o.periodKind)
    .where('config_hash', '=', o.configHash)
    .orderBy('as_of', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return last === undefined || (last.origins === 0 && last.as_of < o.asOf);
}
