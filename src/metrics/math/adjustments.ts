/**
 * Fairer comparisons: tenure-adjusted attainment (a new rep's quota scaled by the ramp schedule) and
 * territory-adjusted attainment (attainment divided by the territory's index, mean 1.0 over the org).
 */
import { addDays, diffDays, type PlainDate } from '../../util/date.ts';
import { Dec, ZERO } from '../../util/money.ts';
import { monthsOfTenure } from './ranking.ts';
import type { Maybe, Period, RampSchedule } from './types.ts';
import { none, some } from './types.ts';

export const DEFAULT_RAMP: RampSchedule = ['0.25', '0.5', '0.75', '1'];

/** The ramp share on one day: 0 before the start date, then the schedule by month of tenure, then its last value. */
export function rampOn(start: PlainDate, day: PlainDate, schedule: RampSchedule = DEFAULT_RAMP): Dec {
  const k = monthsOfTenure(start, day);
  if (k < 0) return ZERO;
  const v = schedule[Math.min(k, schedule.length - 1)];
  return v === undefined ? new Dec(1) : new Dec(v);
}

/**
 * The ramp factor of a period: the mean of the daily ramp share over the period's days, so a rep who starts
 * mid-quarter or steps up mid-quarter is scaled for exactly the days at each step. 1 when the start date is unknown.
 */
export function rampFactor(start: PlainDate | null, period: Period, schedule: RampSchedule = DEFAULT_RAMP): Dec {
  if (start === null) return new Dec(1);
  const total = diffDays(period.start, period.end) + 1;
  let sum = ZERO;
  for (let i = 0, d = period.start; i < total; i++, d = addDays(d, 1)) sum = sum.plus(rampOn(start, d, schedule));
  return sum.div(total);
}

/** `A / (Q * ramp)`; null with `no_quota` when the ramped quota is missing or 0. */
export function tenureAdjustedAttainment(actual: Dec, quota: Dec | null, ramp: Dec): Maybe<Dec> {
  if (quota === null) return none('no_quota');
  const ramped = quota.times(ramp);
  return ramped.isZero() ? none('no_quota') : some(actual.div(ramped));
}

/**
 * Territory indexes from trailing bookings: each territory's bookings over the mean across territories, so the
 * org's mean index is exactly 1. Territories are the map's keys; null when every territory booked nothing.
 */
export function territoryIndexes(bookings: ReadonlyMap<string, Dec>): Map<string, Dec> | null {
  if (bookings.size === 0) return null;
  let total = ZERO;
  for (const b of bookings.values()) total = total.plus(b);
  if (total.isZero()) return null;
  const mean = total.div(bookings.size);
  const out = new Map<string, Dec>();
  for (const [k, b] of bookings) out.set(k, b.div(mean));
  return out;
}

/** `attainment / t`; null when either is missing or t is 0. */
export function territoryAdjustedAttainment(attainment: Maybe<Dec>, index: Dec | null): Maybe<Dec> {
  if (attainment.value === null) return attainment;
  if (index === null || index.isZero()) return none('no_territory_index');
  return some(attainment.value.div(index));
}
