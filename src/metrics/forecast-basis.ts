/**
 * The basis printed beside every forecast (docs/metrics.md, "Enough history"): the JSON
 * `forecast.calibration { basis, periods, p10Held, ... }` and the one line reports show, so that no forecast figure
 * appears without where its probabilities came from and how well they held.
 */

import { formatRatio } from '../util/money.ts';
import type { ForecastCalibrationFigures } from './document.ts';
import type { ForecastCalibrationInfo } from './math/rep-metrics.ts';

export function forecastCalibrationJson(c: ForecastCalibrationInfo): ForecastCalibrationFigures {
  const p10Held = c.backtest?.p10Held == null ? null : formatRatio(c.backtest.p10Held);
  return {
    basis: c.basis,
    periods: c.backtest?.periods ?? c.periods,
    p10Held,
    ...(p10Held === null ? { p10HeldReason: c.backtest === null ? 'not_backtested' : 'no_outcomes' } : {}),
    backtestAsOf: c.backtest?.asOf ?? null,
    learnedFromPeriods: c.periods,
    wins: c.wins,
    losses: c.losses,
    shock: c.sigma.toFixed(4),
  };
}

/** The line beside a forecast, from its JSON `calibration` (reports render from the JSON). */
export function forecastBasisLine(cal: ForecastCalibrationFigures | undefined): string {
  if (cal === undefined) return 'not enough history to calibrate: CRM stage probabilities';
  const held =
    typeof cal.p10Held === 'string'
      ? `the P10 held in ${(Number(cal.p10Held) * 100).toFixed(1)}% of them (backtest as of ${String(cal.backtestAsOf)})`
      : 'not backtested yet (`report forecast --backtest`)';
  if (cal.basis === 'crm_fallback')
    return `not enough history to calibrate (${String(cal.wins)} wins, ${String(cal.losses)} losses in ${String(cal.learnedFromPeriods)} periods): CRM stage probabilities with a wider band; ${held}`;
  return `calibrated on ${String(cal.periods)} periods; ${held}`;
}
