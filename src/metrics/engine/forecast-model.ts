/**
 * The forecast of one period as of D, learned from the warehouse's history (docs/metrics.md, "Forecast
 * confidence"): the calibration from the ended periods of the same kind, each open deal's probability and the
 * cell it came from, each rep's new-pipeline term for the current week, and the trials' shared shocks.
 */
import type { FiscalCalendar, FiscalPeriod } from '../../config/calendar.ts';
import { addDays, type PlainDate } from '../../util/date.ts';
import { Dec } from '../../util/money.ts';
import {
  type Calibration,
  type CalibrationSettings,
  type DealProbability,
  type DealTimeline,
  dealProbability,
  learnCalibration,
  newPipelineTerms,
  periodSnapshots,
  weekIndex,
  weeksLeft,
} from '../math/calibration.ts';
import { shockTable } from '../math/forecast.ts';
import type { ForecastCalibrationInfo, NewPipelineInput } from '../math/rep-metrics.ts';
import type { Deal } from '../math/types.ts';

/** The last stored backtest of a period kind (`forecast_calibrations`), as reports show it. */
export interface StoredBacktestSummary {
  asOf: PlainDate;
  periods: number;
  p10Held: Dec | null;
}

export interface PeriodForecast {
  calibration: Calibration;
  /** Ended periods learned from, in time order. */
  learnedFrom: FiscalPeriod[];
  week: number;
  shocks: Float64Array;
  info: ForecastCalibrationInfo;
  probability(deal: Deal): DealProbability;
  newPipeline(repKey: string): NewPipelineInput | null;
}

const centsOf = (d: Dec) => d.times(100).toDecimalPlaces(0, Dec.ROUND_HALF_UP).toNumber();

/** The ended periods of `period`'s kind before it (and before D) that the history reaches. */
export function endedPeriods(
  calendar: FiscalCalendar,
  timelines: readonly DealTimeline[],
  period: FiscalPeriod,
  asOf: PlainDate,
): FiscalPeriod[] {
  let first: PlainDate | null = null;
  for (const t of timelines) if (first === null || t.createdDate < first) first = t.createdDate;
  if (first === null || first >= period.start) return [];
  return calendar.periodsBetween(first, period.start, period.kind).filter((p) => p.end < period.start && p.end < asOf);
}

/**
 * What a forecast learns from the stage history: plain data (the calibration, the periods learned from, each rep's
 * new-pipeline term), so that the shards of a sharded recompute share one learning instead of each reading the
 * whole history (src/metrics/engine/shards.ts).
 */
export interface LearnedForecast {
  calibration: Calibration;
  learnedFrom: string[];
  newPipeline: [string, NewPipelineInput][];
}

/** A learned forecast as JSON (its calibration table's maps as entry lists). */
export type LearnedJson = Omit<LearnedForecast, 'calibration'> & {
  calibration: Omit<LearnedForecast['calibration'], 'table'> & {
    table: Omit<LearnedForecast['calibration']['table'], 'stages' | 'cells'> & {
      stages: [string, unknown][];
      cells: [string, unknown][];
    };
  };
};

export function encodeLearned(l: LearnedForecast): LearnedJson {
  return {
    ...l,
    calibration: {
      ...l.calibration,
      table: {
        ...l.calibration.table,
        stages: [...l.calibration.table.stages],
        cells: [...l.calibration.table.cells],
      },
    },
  };
}

export function decodeLearned(j: LearnedJson): LearnedForecast {
  const t = j.calibration.table;
  return {
    ...j,
    calibration: {
      ...j.calibration,
      table: {
        ...t,
        stages: new Map(t.stages) as LearnedForecast['calibration']['table']['stages'],
        cells: new Map(t.cells) as LearnedForecast['calibration']['table']['cells'],
      },
    },
  };
}

export function learnForecast(input: {
  timelines: readonly DealTimeline[];
  calendar: FiscalCalendar;
  period: FiscalPeriod;
  asOf: PlainDate;
  settings: CalibrationSettings;
}): LearnedForecast {
  const { timelines, period, asOf } = input;
  const learnedFrom = endedPeriods(input.calendar, timelines, period, asOf);
  const calibration = learnCalibration(
    learnedFrom.map((p) => periodSnapshots(timelines, p)),
    input.settings,
  );
  const week = weekIndex(period, asOf);
  const calibrated = calibration.basis === 'calibrated';
  const terms = calibrated ? newPipelineTerms(timelines, learnedFrom, week) : new Map();
  const cents: [string, NewPipelineInput][] = [];
  for (const [owner, t] of terms)
    cents.push([owner, { streamKey: owner, lambda: t.lambda, cents: t.amounts.map(centsOf) }]);
  return { calibration, learnedFrom: learnedFrom.map((p) => p.id), newPipeline: cents };
}

export function periodForecast(input: {
  timelines: readonly DealTimeline[];
  calendar: FiscalCalendar;
  period: FiscalPeriod;
  asOf: PlainDate;
  settings: CalibrationSettings;
  trials: number;
  seed: number;
  backtest: StoredBacktestSummary | null;
}): PeriodForecast {
  return forecastFrom(learnForecast(input), input);
}

/** The forecast of a period from what was learned (`learnForecast`), its trials' shocks drawn from `seed`. */
export function forecastFrom(
  learned: LearnedForecast,
  input: {
    calendar: FiscalCalendar;
    period: FiscalPeriod;
    asOf: PlainDate;
    trials: number;
    seed: number;
    backtest: StoredBacktestSummary | null;
  },
): PeriodForecast {
  const { period, asOf } = input;
  const { calibration } = learned;
  const learnedFrom = learned.learnedFrom.map((id) => input.calendar.periodById(id));
  const week = weekIndex(period, asOf);
  // Today's deals take the cell their week's origin had in the history, as the new-pipeline term takes its week:
  // counted from D itself, weeks left falls one cell off on some days of 90- and 92-day quarters (a 92-day
  // quarter's origin k has 14 - k weeks left, the next day 13 - k), so a forecast would read a cell the history
  // never trained for that week.
  const originWeeksLeft = weeksLeft(addDays(period.start, 7 * week), period.end);
  const cents = new Map(learned.newPipeline);
  return {
    calibration,
    learnedFrom,
    week,
    shocks: shockTable(input.seed, input.trials, calibration.sigma),
    info: {
      basis: calibration.basis,
      periods: calibration.periods,
      wins: calibration.wins,
      losses: calibration.losses,
      sigma: calibration.sigma,
      backtest: input.backtest,
    },
    probability: (deal) =>
      dealProbability(
        calibration,
        deal.stage,
        originWeeksLeft,
        deal.probability === null ? null : deal.probability.toNumber(),
      ),
    newPipeline: (repKey) => cents.get(repKey) ?? null,
  };
}
