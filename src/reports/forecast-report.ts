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
import { asJson, figuresDocument, type Json, type JsonObject } from '../metrics/document.ts';
import type { MetricsEngine } from '../metrics/engine/engine.ts';
import { forecastConfigHash, storeBacktest } from '../metrics/engine/forecast-store.ts';
import { describeSubject, findRep, findUnit } from '../metrics/engine/subjects.ts';
import type { SubjectRef } from '../metrics/engine/types.ts';
import { type BacktestResult, type ForecasterScores, runBacktest } from '../metrics/math/backtest.ts';
import type { Credit } from '../metrics/math/booking.ts';
import { ORG_ID } from '../metrics/math/rollup.ts';
import type { PlainDate } from '../util/date.ts';
import { Dec, formatMoney, formatRatio, ZERO } from '../util/money.ts';
import type { ReportContext } from './build.ts';
import { resolveRequest } from './report.ts';

const ratio = (x: number | null): string | null => (x === null ? null : formatRatio(new Dec(x)));
const moneyOf = (cents: number | null): string | null => (cents === null ? null : formatMoney(new Dec(cents).div(100)));

function openCredits(ctx: ReportContext, subject: SubjectRef): readonly Credit[] {
  const { model, period } = ctx;
  const credits =
    subject.kind === 'rep' ? model.repRows(subject.id).credits : model.groupRows(subject.kind, subject.id).credits;
  return credits.filter(
    (c) =>
      c.category === 'open' &&
      !(subject.kind !== 'rep' && c.overlay) &&
      c.deal.closeDate >= model.asOf &&
      c.deal.closeDate <= period.end,
  );
}

/** The reps whose new-pipeline term a subject's forecast adds: the rep, or the group's members on D. */
function repsOf(ctx: ReportContext, subject: SubjectRef): string[] {
  if (subject.kind === 'rep') return [subject.id];
  const out: string[] = [];
  for (const key of ctx.model.membersOf(subject.kind, subject.id)) {
    if (ctx.model.ancestorsOf(key, ctx.model.asOf).some((g) => g.kind === subject.kind && g.id === subject.id))
      out.push(key);
  }
  return out;
}

/** The forecast of one subject with its inputs. */
export function forecastReport(ctx: ReportContext, subject: SubjectRef): JsonObject {
  const { model, period } = ctx;
  const m = model.compute(subject, period);
  const doc = figuresDocument(describeSubject(model, subject), period, m, model.settings.baseCurrency);
  const f = model.forecastOf(period);
  const deals: Json[] = openCredits(ctx, subject)
    .map((c) => {
      const p = f?.probability(c.deal) ?? null;
      return {
        id: c.deal.id,
        name: c.deal.name,
        owner: model.data.reps.get(c.ownerId)?.name ?? c.ownerId,
        amount: formatMoney(c.amount),
        closeDate: c.deal.closeDate,
        stage: c.deal.stage,
        crmProbability: c.deal.probability === null ? null : formatRatio(c.deal.probability),
        probability: p === null ? (c.deal.probability === null ? null : formatRatio(c.deal.probability)) : ratio(p.p),
        cell: (p === null
          ? { source: 'crm' }
          : { source: p.source, stage: p.stage, weeksLeft: p.weeksLeft, snapshots: p.n }) as JsonObject,
        expected: formatMoney(c.amount.times(p?.p ?? c.deal.probability ?? 0)),
      } satisfies JsonObject;
    })
    .sort((a, b) => Number(b.amount) - Number(a.amount) || (a.id < b.id ? -1 : 1));
  let lambda = 0;
  let expectedNew = ZERO;
  for (const rep of repsOf(ctx, subject)) {
    const t = f?.newPipeline(rep);
    if (!t || t.cents.length === 0) continue;
    lambda += t.lambda;
    const mean = new Dec(t.cents.reduce((s, c) => s + c, 0)).div(t.cents.length).div(100);
    expectedNew = expectedNew.plus(mean.times(t.lambda));
  }
  const expectedOpen = deals.reduce((s, d) => s.plus(new Dec((d as { expected: string }).expected)), ZERO);
  const projected = m.projectedTotal;
  const p50 = m.forecast.p50;
  const gap = p50.minus(projected);
  const why = gap.abs().lte(projected.abs().times('0.05'))
    ? 'The P50 and the run-rate projection agree within 5%.'
    : `The P50 is ${formatMoney(gap.abs())} ${gap.isPositive() ? 'above' : 'below'} the run-rate projection: the projection extrapolates the last ${m.runRateWindowDays} days' bookings (${formatMoney(m.currentRunRate)} a day) over the ${m.days.remaining} days left, while the forecast adds to the actual the open deals at their learned probabilities (${formatMoney(expectedOpen)} expected) and the pipeline not created yet (${formatMoney(expectedNew)} expected).`;
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
    deals,
    newPipeline: {
      included: f !== null && f.calibration.basis === 'calibrated',
      week: f?.week ?? null,
      expectedDeals: lambda.toFixed(4),
      expectedAmount: formatMoney(expectedNew),
    },
    whyDiffers: why,
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
