/**
 * The metric settings the engine needs, read once from the validated config: the math modules take plain
 * parameters, never the config object, so this is the one place that knows how config keys map onto them.
 */
import { createFiscalCalendar, type FiscalCalendar } from '../../config/calendar.ts';
import { configHash, quotaPreference } from '../../config/load.ts';
import { type Config, windowDays as windowDaysOf } from '../../config/schema.ts';
import type { PlainDate } from '../../util/date.ts';
import type { CalibrationSettings } from '../math/calibration.ts';
import type { PacingBasis } from '../math/pacing.ts';
import type { CoverageBands } from '../math/pipeline.ts';
import type { ActivityTargets, BookingPolicy, CommissionPlan, RampSchedule, StatusBands } from '../math/types.ts';

export interface EngineSettings {
  calendar: FiscalCalendar;
  timezone: string;
  baseCurrency: string;
  pacing: { basis: PacingBasis; holidays: readonly PlainDate[]; seasonalPeriods: number };
  booking: BookingPolicy;
  /** Overlay splits credit individuals only when splits are `all`. */
  overlaySplits: boolean;
  quotaSource: 'crm' | 'file';
  /** Connections best first: whose CRM quota counts when several hold one for a person and period. */
  quotaPreference: string[];
  ramp: RampSchedule;
  activity: ActivityTargets;
  commission: CommissionPlan;
  statusBands: StatusBands;
  coverageBands: CoverageBands;
  runRateWindowDays: number;
  conversionWindowMonths: number;
  historyPeriods: number;
  flatTrendPoints: number;
  forecast: { trials: number; seed: number; calibration: CalibrationSettings };
  alerts: Config['alerts'];
  /** Hash of every setting that changes a metric value; stored with each snapshot. */
  configHash: string;
}

/** Engine settings from a validated config. */
export function engineSettings(config: Config): EngineSettings {
  const a = config.activityTargets;
  const targets: ActivityTargets['targets'] = { call: a.call, meeting: a.meeting, email: a.email };
  if (a.task !== undefined) targets.task = a.task;
  return {
    calendar: createFiscalCalendar(config.calendar),
    timezone: config.calendar.timezone,
    baseCurrency: config.calendar.baseCurrency,
    pacing: {
      basis: config.pacing.basis,
      holidays: config.pacing.holidays,
      seasonalPeriods: config.pacing.seasonal.periods,
    },
    booking: { wonStages: config.booking.wonStages, splits: config.booking.splits !== 'off' },
    overlaySplits: config.booking.splits === 'all',
    quotaSource: config.quotas.source,
    quotaPreference: quotaPreference(config),
    ramp: config.ramp,
    activity: { windowDays: windowDaysOf(a.window), targets, weights: { ...a.weights }, cap: a.cap },
    commission: {
      baseRate: config.commission.baseRate,
      tiers: config.commission.tiers,
      decelerator: config.commission.decelerator,
      cap: config.commission.cap,
    },
    statusBands: config.statusBands,
    coverageBands: config.coverageBands,
    runRateWindowDays: windowDaysOf(config.metrics.runRateWindow),
    conversionWindowMonths: config.metrics.conversionWindowMonths,
    historyPeriods: config.metrics.historyPeriods,
    flatTrendPoints: config.metrics.flatTrendPoints,
    forecast: {
      trials: config.forecast.trials,
      seed: config.forecast.seed,
      calibration: { ...config.forecast.calibration },
    },
    alerts: config.alerts,
    configHash: configHash(config),
  };
}
