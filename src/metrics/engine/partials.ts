/**
 * Partial figures and learned forecasts as the database keeps them: a group's share of a sharded run
 * (`recompute_parts`), a team's partial for cold starts (`team_parts`), and the forecast a run or a full recompute
 * learned (`recompute_runs.forecast`, `learned_forecasts`). Shared by the sharded recompute and the cold path, so
 * neither imports the other.
 */
import type { FiscalPeriod } from '../../config/calendar.ts';
import type { PlainDate } from '../../util/date.ts';
import { Dec } from '../../util/money.ts';
import type { ConversionPartial } from '../math/conversion.ts';
import type { PipelinePartial } from '../math/pipeline.ts';
import { type SubjectPartial, seedFrom } from '../math/rep-metrics.ts';
import { encodeLearned, type LearnedForecast, type LearnedJson, type StoredBacktestSummary } from './forecast-model.ts';
import type { EngineSettings } from './settings.ts';

// --- a group share in the database: the partial's sums, counts and shared-deal ids (no credit lists: no stored
// figure reads them), its trials as raw float64.

interface ConversionJson {
  wonAmount: string;
  lostAmount: string;
  soleWon: number;
  soleLost: number;
  soleCycleDays: number;
  sharedWon: [string, number][];
  sharedLost: string[];
}

export interface PartJson {
  actual: string;
  runRateSum: string;
  soleWonDeals: number;
  sharedWonDeals: string[];
  pipeline: {
    open: string;
    weighted: string;
    overdueAmount: string;
    soleOpenDeals: number;
    sharedOpenDeals: string[];
    soleOverdueDeals: number;
    sharedOverdueDeals: string[];
  };
  conversion: ConversionJson;
  recent90: ConversionJson;
  prior90: ConversionJson;
  activityCounts: SubjectPartial['activityCounts'];
  dropRecent: number;
  dropPrior: number;
}

function encodeConversion(c: ConversionPartial): ConversionJson {
  return {
    wonAmount: c.wonAmount.toString(),
    lostAmount: c.lostAmount.toString(),
    soleWon: c.soleWon,
    soleLost: c.soleLost,
    soleCycleDays: c.soleCycleDays,
    sharedWon: [...c.sharedWon],
    sharedLost: [...c.sharedLost],
  };
}

function decodeConversion(c: ConversionJson): ConversionPartial {
  return {
    wonCredits: [],
    lostCredits: [],
    wonAmount: new Dec(c.wonAmount),
    lostAmount: new Dec(c.lostAmount),
    soleWon: c.soleWon,
    soleLost: c.soleLost,
    soleCycleDays: c.soleCycleDays,
    sharedWon: new Map(c.sharedWon),
    sharedLost: new Set(c.sharedLost),
  };
}

/** Money as its exact digits (a merged partial's sums are unrounded; a Dec built from text is not rounded). */
export function encodePartial(p: SubjectPartial): { part: string; trials: Buffer } {
  const pl = p.pipeline;
  const json: PartJson = {
    actual: p.actual.toString(),
    runRateSum: p.runRateSum.toString(),
    soleWonDeals: p.soleWonDeals,
    sharedWonDeals: [...p.sharedWonDeals],
    pipeline: {
      open: pl.open.toString(),
      weighted: pl.weighted.toString(),
      overdueAmount: pl.overdueAmount.toString(),
      soleOpenDeals: pl.soleOpenDeals,
      sharedOpenDeals: [...pl.sharedOpenDeals],
      soleOverdueDeals: pl.soleOverdueDeals,
      sharedOverdueDeals: [...pl.sharedOverdueDeals],
    },
    conversion: encodeConversion(p.conversion),
    recent90: encodeConversion(p.recent90),
    prior90: encodeConversion(p.prior90),
    activityCounts: p.activityCounts,
    dropRecent: p.dropRecent,
    dropPrior: p.dropPrior,
  };
  return {
    part: JSON.stringify(json),
    trials: Buffer.from(p.trials.buffer, p.trials.byteOffset, p.trials.byteLength),
  };
}

export function decodePartial(j: PartJson, trials: Buffer): SubjectPartial {
  // A copy: the driver's buffer may not sit on an 8-byte boundary.
  const t = new Float64Array(trials.byteLength / 8);
  new Uint8Array(t.buffer).set(trials);
  const pipeline: PipelinePartial = {
    openCredits: [],
    open: new Dec(j.pipeline.open),
    weighted: new Dec(j.pipeline.weighted),
    soleOpenDeals: j.pipeline.soleOpenDeals,
    sharedOpenDeals: new Set(j.pipeline.sharedOpenDeals),
    overdue: [],
    overdueAmount: new Dec(j.pipeline.overdueAmount),
    soleOverdueDeals: j.pipeline.soleOverdueDeals,
    sharedOverdueDeals: new Set(j.pipeline.sharedOverdueDeals),
  };
  return {
    actualCredits: [],
    actual: new Dec(j.actual),
    soleWonDeals: j.soleWonDeals,
    sharedWonDeals: new Set(j.sharedWonDeals),
    runRateCredits: [],
    runRateSum: new Dec(j.runRateSum),
    pipeline,
    conversion: decodeConversion(j.conversion),
    recent90: decodeConversion(j.recent90),
    prior90: decodeConversion(j.prior90),
    activityCounts: j.activityCounts,
    dropRecent: j.dropRecent,
    dropPrior: j.dropPrior,
    trials: t,
  };
}

// --- the forecast learned once per run or full recompute: the calibration's tables (maps as entry lists), the
// periods learned from, the new-pipeline terms, and the stored backtest line.

export interface RunForecastJson {
  learned: LearnedJson;
  backtest: { asOf: PlainDate; periods: number; p10Held: string | null } | null;
}

/** A learned forecast and its backtest line as JSON (a run's, or a full recompute's in `learned_forecasts`). */
export function encodeRunForecast(l: LearnedForecast, b: StoredBacktestSummary | null): RunForecastJson {
  return {
    learned: encodeLearned(l),
    backtest: b === null ? null : { ...b, p10Held: b.p10Held === null ? null : b.p10Held.toString() },
  };
}

/** The rest of a forecast's inputs, as the model would give them (its seed: the settings', the period's and D's). */
export function forecastInput(s: EngineSettings, period: FiscalPeriod, asOf: PlainDate, f: RunForecastJson) {
  const b = f.backtest;
  return {
    calendar: s.calendar,
    period,
    asOf,
    trials: s.forecast.trials,
    seed: seedFrom(`${s.forecast.seed}|${period.id}|${asOf}`),
    backtest: b === null ? null : { ...b, p10Held: b.p10Held === null ? null : new Dec(b.p10Held) },
  };
}
