/**
 * The JSON shape of the interface file's reports, built from the math's figures: money as two-place strings,
 * ratios as four-place strings, dates as `YYYY-MM-DD`, and a missing value as `null` with a sibling `...Reason`.
 *
 * The same document (without rank, alerts and history, which compare subjects or periods) is what the engine stores
 * as a subject-period's snapshot, so a report and a snapshot can never disagree about a figure.
 */
import type { FiscalPeriod } from '../config/calendar.ts';
import { type Dec, formatMoney, formatRatio } from '../util/money.ts';
import { forecastCalibrationJson } from './forecast-basis.ts';
import type { SubjectMetrics } from './math/rep-metrics.ts';
import type { Maybe } from './math/types.ts';

/** Who a document is about. */
export interface SubjectInfo {
  type: 'rep' | 'team' | 'region' | 'org';
  id: string;
  name: string;
  email: string | null;
  team: string | null;
  region: string | null;
  manager: string | null;
}

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

const money = formatMoney;
const ratio = formatRatio;

/** Sets `key` (formatted) or `key: null` plus `keyReason`. */
function put(o: JsonObject, key: string, v: Maybe<Dec>, fmt: (d: Dec) => string): void {
  o[key] = v.value === null ? null : fmt(v.value);
  if (v.value === null) o[`${key}Reason`] = v.reason;
}

function putAny<T extends Json>(o: JsonObject, key: string, v: Maybe<T>): void {
  o[key] = v.value;
  if (v.value === null) o[`${key}Reason`] = v.reason;
}

/** A mean number of days, to two places like money (it is a mean, so not always whole). */
function days(d: Dec): string {
  return formatMoney(d);
}

/**
 * The period-bound figures of one subject: every field of the interface's rep object except `rank`, `alerts` and
 * `history`, plus a few the definitions name that the interface leaves implicit (weekly run rate, pace index,
 * overdue pipeline, tenure- and territory-adjusted attainment, commission at P50, P90 confidence inputs).
 */
export function figuresDocument(
  subject: SubjectInfo,
  period: FiscalPeriod,
  m: SubjectMetrics,
  currency: string,
): JsonObject {
  const o: JsonObject = {
    subject: { ...subject },
    period: {
      id: period.id,
      start: period.start,
      end: period.end,
      daysTotal: m.days.total,
      daysElapsed: m.days.elapsed,
      daysRemaining: m.days.remaining,
    },
    asOf: m.asOf,
    currency,
  };
  put(o, 'quota', m.quota, money);
  o.actual = money(m.actual);
  o.closedWonDeals = m.closedWonDeals;
  put(o, 'attainment', m.attainment, ratio);
  put(o, 'remaining', m.remaining, money);
  put(o, 'expectedToDate', m.expectedToDate, money);
  put(o, 'paceVariance', m.paceVariance, money);
  put(o, 'paceVariancePct', m.paceVariancePct, ratio);
  putAny(o, 'paceStatus', m.paceStatus);
  put(o, 'paceIndex', m.paceIndex, ratio);
  o.pacingBasis = m.pacing.used;
  put(o, 'requiredDailyRunRate', m.requiredDailyRunRate, money);
  put(o, 'requiredWeeklyRunRate', m.requiredWeeklyRunRate, money);
  o.currentRunRate = money(m.currentRunRate);
  o.runRateWindowDays = m.runRateWindowDays;
  o.projectedTotal = money(m.projectedTotal);
  put(o, 'projectedAttainment', m.projectedAttainment, ratio);
  putAny(o, 'status', m.status);

  const p: JsonObject = {
    open: money(m.pipeline.open),
    weighted: money(m.pipeline.weighted),
  };
  put(p, 'coverage', m.pipeline.coverage, ratio);
  putAny(p, 'coverageBand', m.pipeline.coverageBand);
  p.openDeals = m.pipeline.openDeals;
  p.overdue = money(m.pipeline.overdueAmount);
  p.overdueDeals = m.pipeline.overdueDeals;
  o.pipeline = p;

  put(o, 'winRate', m.winRate, ratio);
  put(o, 'winRateByValue', m.conversion.winRateByValue, ratio);
  put(o, 'avgDealSize', m.avgDealSize, money);
  put(o, 'salesCycleDays', m.salesCycleDays, days);
  put(o, 'velocity', m.velocity, money);

  const a = m.activities;
  const act: JsonObject = {
    window: `${a.window.start}..${a.window.end}`,
    counts: {
      call: a.counts.call,
      meeting: a.counts.meeting,
      email: a.counts.email,
      task: a.counts.task,
      proposal: a.counts.proposal,
    },
  };
  put(act, 'score', a.score, (d) => d.toDecimalPlaces(2).toFixed(2));
  o.activities = act;

  const f: JsonObject = {
    p10: money(m.forecast.p10),
    p25: money(m.forecast.p25),
    p50: money(m.forecast.p50),
    p90: money(m.forecast.p90),
  };
  put(f, 'probabilityToHitQuota', m.forecast.probabilityToHitQuota, ratio);
  f.trials = m.forecast.trials;
  f.calibration = forecastCalibrationJson(m.forecast.calibration);
  o.forecast = f;

  const c: JsonObject = {};
  put(
    c,
    'atActual',
    mapMaybe(m.commission.atActual, (r) => r.payout),
    money,
  );
  put(
    c,
    'atProjected',
    mapMaybe(m.commission.atProjected, (r) => r.payout),
    money,
  );
  put(
    c,
    'atP50',
    mapMaybe(m.commission.atP50, (r) => r.payout),
    money,
  );
  put(
    c,
    'nextTier',
    mapMaybe(m.commission.nextTier, (t) => t.from),
    ratio,
  );
  put(
    c,
    'bookingsToNextTier',
    mapMaybe(m.commission.nextTier, (t) => t.bookingsToReach),
    money,
  );
  o.commission = c;

  put(o, 'tenureAdjustedAttainment', m.tenureAdjustedAttainment, ratio);
  put(o, 'territoryAdjustedAttainment', m.territoryAdjustedAttainment, ratio);
  return o;
}

export function mapMaybe<T, U>(v: Maybe<T>, f: (t: T) => U): Maybe<U> {
  return v.value === null ? { value: null, reason: v.reason as string } : { value: f(v.value), reason: null };
}
