/**
 * The elapsed fraction f of a period under a pacing basis: the share of the quota a rep "should" have by D.
 *
 * - `calendar`: days_elapsed / days_total.
 * - `business`: the same counted on weekdays less the configured holidays.
 * - `seasonal`: the mean, over the last N (default 4) like periods, of the share of that period's bookings already
 *   closed the same number of days into it. History is **thin**, and the calendar basis is used instead, when
 *   fewer than `minPeriods` (default 2) like periods are usable; a period is usable when it booked a positive total
 *   across at least `minDeals` (default 3) won deals, since one or two deals make a share that is all or nothing.
 */
import { addDays, type PlainDate } from '../../util/date.ts';
import { Dec, ZERO } from '../../util/money.ts';
import type { Period } from './types.ts';
import { businessDays, periodDays } from './windows.ts';

export type PacingBasis = 'calendar' | 'business' | 'seasonal';

/** The won bookings of one prior like period (in base currency), for seasonal pacing. */
export interface LikePeriodBookings {
  period: Period;
  bookings: readonly { date: PlainDate; amount: Dec }[];
}

export interface PacingInput {
  basis: PacingBasis;
  period: Period;
  asOf: PlainDate;
  holidays?: readonly PlainDate[];
  /** Prior like periods (same quarter of earlier years, or the previous quarters), any order. */
  history?: readonly LikePeriodBookings[];
  seasonal?: { periods?: number; minPeriods?: number; minDeals?: number };
}

export interface ElapsedFraction {
  f: Dec;
  requested: PacingBasis;
  /** The basis actually used (seasonal and business fall back to calendar when they cannot apply). */
  used: PacingBasis;
  fallbackReason: 'thin_history' | 'no_business_days' | null;
  /** The working: `numerator / denominator` for calendar and business; the per-period shares for seasonal. */
  numerator: Dec;
  denominator: Dec;
  shares: readonly { periodId: string; share: Dec }[];
}

function calendarFraction(input: PacingInput, fallbackReason: ElapsedFraction['fallbackReason']): ElapsedFraction {
  const days = periodDays(input.period, input.asOf);
  const numerator = new Dec(days.elapsed);
  const denominator = new Dec(days.total);
  return {
    f: numerator.div(denominator),
    requested: input.basis,
    used: 'calendar',
    fallbackReason,
    numerator,
    denominator,
    shares: [],
  };
}

/** f for the period and D under the configured basis. */
export function elapsedFraction(input: PacingInput): ElapsedFraction {
  if (input.basis === 'calendar') return calendarFraction(input, null);
  if (input.basis === 'business') {
    const holidays = new Set(input.holidays ?? []);
    const total = businessDays({ start: input.period.start, end: input.period.end }, holidays);
    if (total === 0) return calendarFraction(input, 'no_business_days');
    const days = periodDays(input.period, input.asOf);
    const elapsed =
      days.elapsed === 0
        ? 0
        : businessDays({ start: input.period.start, end: addDays(input.period.start, days.elapsed - 1) }, holidays);
    const numerator = new Dec(elapsed);
    const denominator = new Dec(total);
    return {
      f: numerator.div(denominator),
      requested: 'business',
      used: 'business',
      fallbackReason: null,
      numerator,
      denominator,
      shares: [],
    };
  }
  return seasonalFraction(input);
}

function seasonalFraction(input: PacingInput): ElapsedFraction {
  const n = input.seasonal?.periods ?? 4;
  const minPeriods = input.seasonal?.minPeriods ?? 2;
  const minDeals = input.seasonal?.minDeals ?? 3;
  const days = periodDays(input.period, input.asOf);
  // Most recent first, then by id, so the input order never matters.
  const recent = [...(input.history ?? [])]
    .filter((h) => h.period.end < input.period.start)
    .sort((a, b) =>
      a.period.start > b.period.start ? -1 : a.period.start < b.period.start ? 1 : a.period.id < b.period.id ? -1 : 1,
    )
    .slice(0, n);
  const shares: { periodId: string; share: Dec }[] = [];
  for (const h of recent) {
    const cutoff = addDays(h.period.start, days.elapsed - 1);
    let total = ZERO;
    let toDate = ZERO;
    let count = 0;
    for (const b of h.bookings) {
      if (b.date < h.period.start || b.date > h.period.end) continue;
      total = total.plus(b.amount);
      count++;
      if (b.date <= cutoff) toDate = toDate.plus(b.amount);
    }
    if (count >= minDeals && total.gt(0)) shares.push({ periodId: h.period.id, share: toDate.div(total) });
  }
  if (shares.length < minPeriods) return calendarFraction(input, 'thin_history');
  let numerator = ZERO;
  for (const s of shares) numerator = numerator.plus(s.share);
  const denominator = new Dec(shares.length);
  // The ends are fixed whatever history says: nothing is expected before the start, everything by the end.
  const f = days.elapsed === 0 ? ZERO : days.remaining === 0 ? new Dec(1) : numerator.div(denominator);
  return { f, requested: 'seasonal', used: 'seasonal', fallbackReason: null, numerator, denominator, shares };
}
