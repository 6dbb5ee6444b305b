/**
 * `report forecast [--rep EMAIL | --team NAME | --region NAME] [--backtest]`: a subject's forecast with its inputs
 * (each open deal's calibrated probability and the cell it came from, the pipeline not created yet) and why it
 * differs from the run-rate projection; with `--backtest`, the rolling-origin backtest of the model against the two
 * baselines (docs/metrics.md, "Backtest"), which is stored so every forecast can print how well its P10 held.
 */
import type { Kysely } from 'kysely';
import type { FiscalPeriod } from '../config/calendar.ts';
import type { Config } from '../config/schema.ts';
import type { Database } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { asJson, figuresDocument, type JsonObject } from '../metrics/document.ts';
import type { MetricsEngine } from '../metrics/engine/engine.ts';
import { forecastConfigHash, storeBacktest } from '../metrics/engine/forecast-store.ts';
import { describeSubject, findRep, findUnit } from '../metrics/engine/subjects.ts';
import type { SubjectRef } from '../metrics/engine/types.ts';
import { type BacktestResult, type ForecasterScores, runBacktest } from '../metrics/math/backtest.ts';
import { ORG_ID } from '../metrics/math/rollup.ts';
import type { PlainDate } from '../util/date.ts';
import { Dec, formatMoney, formatRatio } from '../util/money.ts';
import type { ReportContext } from './context.ts';
import { forecastInputs } from './forecast-inputs.ts';
import { resolveRequest } from './report.ts';

const ratio = (x: number | null): string | null => (x === null ? null : formatRatio(new Dec(x)));
const moneyOf = (cents: number | null): string | null => (cents === null ? null : formatMoney(new Dec(cents).div(100)));

/** The forecast of one subject with its inputs. */
export function forecastReport(ctx: ReportContext, subject: SubjectRef): JsonObject {
  const { model, period } = ctx;
  const m = model.compute(subject, period);
  const doc = figuresDocument(describeSubject(model, subject), period, m, model.settings.baseCurrency);
  const inputs = forecastInputs(ctx, subject, m);
  return {
    subject: asJson(doc.subject),
    period: asJson(doc.period),
    asOf: model.asOf,
    currency: model.settings.baseCurrency,
    quota: doc.quota,
    actual: doc.actual,
    projectedTotal: doc.projectedTotal,
    projectedAttainment: doc.projectedAttainment,
    forecast: asJson(doc.forecast),
    commissionAtP50: doc.commission.atP50,
    deals: inputs.deals,
    newPipeline: inputs.newPipeline,
    whyDiffers: inputs.whyDiffers,
  };
}

function scoresJson(s: ForecasterScores): JsonObject {
  return {
    brier: ratio(s.brier),
    ece: ratio(s.ece),
    p10Held: ratio(s.p10Held),
    p10p90Covered: ratio(s.p10p90Covered),
    crps: moneyOf(s.crps),
    pinball: {
      p10: moneyOf(s.pinball.p10),
      p25: moneyOf(s.pinball.p25),
      p50: moneyOf(s.pinball.p50),
      p90: moneyOf(s.pinball.p90),
    },
    outcomes: s.outcomes,
    reliability:
      s.reliability === null
        ? null
        : s.reliability.map((b) => ({
            from: formatRatio(new Dec(b.from)),
            to: formatRatio(new Dec(b.to)),
            count: b.count,
            meanProbability: ratio(b.meanP),
            winRate: ratio(b.rate),
          })),
  };
}

/** Trials per origin of the backtest: enough for P10 and CRPS per rep, few enough for every week of every period. */
export const BACKTEST_TRIALS = 1000;

/**
 * The rolling-origin backtest over every ended period of the report's kind (quarters unless `--period` names
 * another kind), stored in `forecast_calibrations` for the forecasts that print its line.
 */
export async function backtestReport(ctx: ReportContext, config: Config): Promise<JsonObject> {
  const { model, period } = ctx;
  const timelines = model.data.dealTimelines;
  if (timelines === undefined)
    throw new AppError('INTERNAL', 'the model was loaded without stage history; the backtest needs it');
  const s = model.settings;
  let first: string | null = null;
  for (const t of timelines) if (first === null || t.createdDate < first) first = t.createdDate;
  const periods: FiscalPeriod[] =
    first === null ? [] : s.calendar.periodsBetween(first, model.asOf, period.kind).filter((p) => p.end < model.asOf);
  const result: BacktestResult = runBacktest({
    timelines,
    periods,
    asOf: model.asOf,
    settings: s.forecast.calibration,
    trials: BACKTEST_TRIALS,
    seed: s.forecast.seed,
    runRateWindowDays: s.runRateWindowDays,
  });
  const basis = model.forecastOf(period)?.calibration.basis ?? 'crm_fallback';
  const doc: JsonObject = {
    asOf: model.asOf,
    periodKind: period.kind,
    currency: s.baseCurrency,
    basis,
    periods: result.periods,
    origins: result.origins,
    trials: BACKTEST_TRIALS,
    shock: result.sigma.toFixed(4),
    model: scoresJson(result.model),
    baselines: { crm: scoresJson(result.baselines.crm), runRate: scoresJson(result.baselines.runRate) },
  };
  await storeBacktest(ctx.db, {
    periodKind: period.kind,
    asOf: model.asOf,
    configHash: forecastConfigHash(config),
    basis,
    periods: result.periods,
    origins: result.origins,
    p10Held: ratio(result.model.p10Held),
    result: doc,
  });
  return doc;
}

/**
 * The service's backtest (the `backtest` job): the quarter containing D over every ended quarter, stored like
 * `report forecast --backtest`, so the forecast line of every report says how well its P10 held.
 */
export async function serviceBacktest(
  db: Kysely<Database>,
  engine: MetricsEngine,
  config: Config,
  asOf: PlainDate,
): Promise<{ periods: number; origins: number; p10Held: string | null; basis: string }> {
  const period = engine.settings.calendar.periodContaining(asOf, 'quarter');
  const model = await engine.loadModel(asOf, [period]);
  const doc = await backtestReport({ db, model, period, historyPeriods: [], explain: false }, config);
  return {
    periods: doc.periods as number,
    origins: doc.origins as number,
    p10Held: (doc.model as { p10Held?: string | null }).p10Held ?? null,
    basis: doc.basis as string,
  };
}

export interface ForecastRequest {
  rep?: string;
  team?: string;
  region?: string;
  period?: string;
  asOf?: PlainDate;
  backtest: boolean;
  config: Config;
}

/** `report forecast`: the subject's forecast (the org unless `--rep`, `--team` or `--region`), or the backtest. */
export async function buildForecastReport(
  db: Kysely<Database>,
  engine: MetricsEngine,
  req: ForecastRequest,
): Promise<JsonObject> {
  const r = resolveRequest(engine, { kind: 'rep', ...req });
  const model = await engine.loadModel(r.asOf, [r.period]);
  const ctx: ReportContext = { db, model, period: r.period, historyPeriods: [], explain: false };
  if (req.backtest) {
    if ([req.rep, req.team, req.region].some((x) => x !== undefined))
      throw new AppError('USAGE', 'report forecast --backtest covers every rep; leave out --rep, --team and --region', {
        where: '--backtest',
      });
    return backtestReport(ctx, req.config);
  }
  const subject: SubjectRef =
    req.rep !== undefined
      ? findRep(model, req.rep)
      : req.team !== undefined
        ? findUnit(model, 'team', req.team)
        : req.region !== undefined
          ? findUnit(model, 'region', req.region)
          : { kind: 'org', id: ORG_ID };
  return forecastReport(ctx, subject);
}
