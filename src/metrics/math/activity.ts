/**
 * Activity counts by type over a trailing window and the activity score
 * `100 * sum(w_i * min(actual_i / target_i, cap)) / sum(w_i)` over the types that have both a weight and a target.
 */
import { addDays, type PlainDate } from '../../util/date.ts';
import { Dec, ZERO } from '../../util/money.ts';
import type { Activity, ActivityTargets, ActivityType, Maybe } from './types.ts';
import { none, some } from './types.ts';
import { type DateWindow, inWindow, trailingDays } from './windows.ts';

export const ACTIVITY_TYPES: readonly ActivityType[] = ['call', 'meeting', 'email', 'task', 'proposal', 'other'];

export type ActivityCounts = Record<ActivityType, number>;

export function countActivities(activities: readonly Activity[], window: DateWindow): ActivityCounts {
  const counts: ActivityCounts = { call: 0, meeting: 0, email: 0, task: 0, proposal: 0, other: 0 };
  for (const a of activities) if (inWindow(a.date, window)) counts[a.type]++;
  return counts;
}

export interface ActivityScoreTerm {
  type: ActivityType;
  actual: number;
  target: Dec;
  weight: Dec;
  /** `min(actual / target, cap)`. */
  ratio: Dec;
}

export interface ActivityFigures {
  window: DateWindow;
  counts: ActivityCounts;
  score: Maybe<Dec>;
  terms: ActivityScoreTerm[];
}

/** Counts over the trailing window ending on D and the score against the targets. */
export function computeActivity(
  activities: readonly Activity[],
  asOf: PlainDate,
  targets: ActivityTargets,
): ActivityFigures {
  return activityFromCounts(countActivities(activities, trailingDays(asOf, targets.windowDays)), asOf, targets);
}

/** The activity figures from counts over the trailing window (a group passes its members' counts added up). */
export function activityFromCounts(counts: ActivityCounts, asOf: PlainDate, targets: ActivityTargets): ActivityFigures {
  const window = trailingDays(asOf, targets.windowDays);
  const cap = new Dec(targets.cap ?? '1.5');
  const terms: ActivityScoreTerm[] = [];
  let weighted = ZERO;
  let weights = ZERO;
  for (const type of ACTIVITY_TYPES) {
    const t = targets.targets[type];
    const w = targets.weights[type];
    if (t === undefined || w === undefined) continue;
    const target = new Dec(t);
    const weight = new Dec(w);
    // A zero target or weight cannot score: leave the type out rather than divide by zero.
    if (target.lte(0) || weight.lte(0)) continue;
    const ratio = Dec.min(new Dec(counts[type]).div(target), cap);
    terms.push({ type, actual: counts[type], target, weight, ratio });
    weighted = weighted.plus(weight.times(ratio));
    weights = weights.plus(weight);
  }
  return {
    window,
    counts,
    score: weights.isZero() ? none('no_activity_targets') : some(weighted.times(100).div(weights)),
    terms,
  };
}

/**
 * The drop of the last `recentDays` (14) against the rate of the `priorDays` (28) before them, as a fraction:
 * 0.3 means the recent rate is 30% under the prior one. Null when the prior window had no activity.
 */
export function activityDrop(
  activities: readonly Activity[],
  asOf: PlainDate,
  recentDays = 14,
  priorDays = 28,
): Maybe<Dec> {
  const { recent, prior } = activityDropCounts(activities, asOf, recentDays, priorDays);
  return activityDropFrom(recent, prior, recentDays, priorDays);
}

/** Activities in the recent window and in the prior one before it (the additive part of `activityDrop`). */
export function activityDropCounts(
  activities: readonly Activity[],
  asOf: PlainDate,
  recentDays = 14,
  priorDays = 28,
): { recent: number; prior: number } {
  const recent = trailingDays(asOf, recentDays);
  const prior = trailingDays(addDays(recent.start, -1), priorDays);
  let r = 0;
  let p = 0;
  for (const a of activities) {
    if (inWindow(a.date, recent)) r++;
    else if (inWindow(a.date, prior)) p++;
  }
  return { recent: r, prior: p };
}

/** The activity drop from the counts of the two windows. */
export function activityDropFrom(r: number, p: number, recentDays = 14, priorDays = 28): Maybe<Dec> {
  if (p === 0) return none('no_prior_activity');
  const recentRate = new Dec(r).div(recentDays);
  const priorRate = new Dec(p).div(priorDays);
  return some(priorRate.minus(recentRate).div(priorRate));
}
