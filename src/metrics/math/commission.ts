/**
 * Commission under a plan: the base rate on bookings up to the first tier, each tier's multiple of the base rate on
 * the part of bookings inside it (marginal), an optional decelerator and an optional cap.
 *
 * The decelerator is a cliff, as plans write it: when attainment ends below its threshold, every booking is paid at
 * `baseRate * multiplier` and the tiers do not apply. The cap limits the payout, not the bookings.
 * Seed: 10% base, 1.6x from 100% of a 600,000 quota: 600,000 pays 60,000; 650,000 pays 60,000 + 50,000 x 16% = 68,000.
 */
import { Dec, ZERO } from '../../util/money.ts';
import type { CommissionPlan, Maybe } from './types.ts';
import { none, some } from './types.ts';

export interface CommissionSegment {
  /** Bookings range of the segment, in money: `[from, to)`; `to` null = unbounded. */
  from: Dec;
  to: Dec | null;
  rate: Dec;
  /** Bookings falling inside the segment. */
  bookings: Dec;
  pay: Dec;
}

export interface CommissionResult {
  bookings: Dec;
  quota: Dec;
  uncapped: Dec;
  payout: Dec;
  capped: boolean;
  decelerated: boolean;
  segments: CommissionSegment[];
}

function sortedTiers(plan: CommissionPlan): { from: Dec; multiplier: Dec }[] {
  return plan.tiers
    .map((t) => ({ from: new Dec(t.from), multiplier: new Dec(t.multiplier) }))
    .sort((a, b) => a.from.comparedTo(b.from));
}

/** Commission on `bookings` against `quota` (both base currency); null with `no_quota` without a quota. */
export function commissionFor(bookings: Dec, quota: Dec | null, plan: CommissionPlan): Maybe<CommissionResult> {
  if (quota === null || quota.lte(0)) return none('no_quota');
  const base = new Dec(plan.baseRate);
  const B = Dec.max(bookings, 0);
  const segments: CommissionSegment[] = [];
  const decel = plan.decelerator ?? null;
  const decelerated = decel !== null && B.lt(quota.times(decel.below));
  if (decel !== null && decelerated) {
    const rate = base.times(decel.multiplier);
    segments.push({ from: ZERO, to: quota.times(decel.below), rate, bookings: B, pay: B.times(rate) });
  } else {
    const tiers = sortedTiers(plan);
    const bounds: { from: Dec; rate: Dec }[] = [{ from: ZERO, rate: base }];
    for (const t of tiers) bounds.push({ from: quota.times(t.from), rate: base.times(t.multiplier) });
    for (let i = 0; i < bounds.length; i++) {
      const b = bounds[i] as { from: Dec; rate: Dec };
      const next = bounds[i + 1];
      const to = next ? next.from : null;
      const inside = Dec.max((to === null ? B : Dec.min(B, to)).minus(b.from), 0);
      segments.push({ from: b.from, to, rate: b.rate, bookings: inside, pay: inside.times(b.rate) });
    }
  }
  let uncapped = ZERO;
  for (const s of segments) uncapped = uncapped.plus(s.pay);
  const cap = plan.cap === null || plan.cap === undefined ? null : new Dec(plan.cap);
  const capped = cap !== null && uncapped.gt(cap);
  return {
    value: { bookings: B, quota, uncapped, payout: capped && cap ? cap : uncapped, capped, decelerated, segments },
    reason: null,
  };
}

export interface NextTier {
  /** The threshold as a fraction of quota. */
  from: Dec;
  /** The multiple of the base rate paid above it (1 when leaving the decelerator). */
  multiplier: Dec;
  /** The threshold in money. */
  threshold: Dec;
  bookingsToReach: Dec;
}

/** The next rate step above `bookings` (the decelerator's threshold counts) and the bookings needed to reach it. */
export function nextTier(bookings: Dec, quota: Dec | null, plan: CommissionPlan): Maybe<NextTier> {
  if (quota === null || quota.lte(0)) return none('no_quota');
  const steps: { from: Dec; multiplier: Dec }[] = [];
  if (plan.decelerator) steps.push({ from: new Dec(plan.decelerator.below), multiplier: new Dec(1) });
  steps.push(...sortedTiers(plan));
  steps.sort((a, b) => a.from.comparedTo(b.from));
  for (const s of steps) {
    const threshold = quota.times(s.from);
    if (threshold.gt(bookings)) return some({ ...s, threshold, bookingsToReach: threshold.minus(bookings) });
  }
  return none('top_tier');
}
