/**
 * The early-warning rules as pure predicates. Each takes the current figures, whether the alert is open now, and
 * its thresholds; it answers whether the alert should be open after this check, at which severity, and why.
 *
 * Hysteresis: a rule opens at its threshold and, once open, resolves only when the value is clearly back, past
 * the threshold by the rule's margin, so a value hovering at the line does not open and close a task every day.
 */
import type { PlainDate } from '../../util/date.ts';
import { diffDays } from '../../util/date.ts';
import { Dec, type DecimalInput, formatMoneyGrouped } from '../../util/money.ts';
import type { Maybe } from './types.ts';

export type AlertRule =
  | 'at_risk_rep'
  | 'pace_deterioration'
  | 'activity_drop'
  | 'coverage_gap'
  | 'conversion_decline'
  | 'velocity_slowdown'
  | 'accelerator_opportunity';

export type Severity = 'info' | 'warning' | 'critical';

export interface RuleOutcome {
  rule: AlertRule;
  /** Whether the alert is (or stays) open after this check. */
  firing: boolean;
  severity: Severity | null;
  /** The value the rule watched, for the alert record and its explanation. */
  value: Dec | null;
  message: string;
}

/** Dedupe key of an alert: one per rule, subject and period. */
export function alertKey(rule: AlertRule, subjectId: string, periodId: string): string {
  return `${rule}:${subjectId}:${periodId}`;
}

/**
 * "Fires when value < threshold": opens below the threshold; once open, stays open until value >= threshold + margin.
 */
export function belowWithHysteresis(
  value: Dec,
  threshold: DecimalInput,
  margin: DecimalInput,
  wasOpen: boolean,
): boolean {
  return wasOpen ? value.lt(new Dec(threshold).plus(margin)) : value.lt(threshold);
}

/** "Fires when value >= threshold": once open, stays open until value < threshold - margin. */
export function atLeastWithHysteresis(
  value: Dec,
  threshold: DecimalInput,
  margin: DecimalInput,
  wasOpen: boolean,
): boolean {
  return wasOpen ? value.gte(new Dec(threshold).minus(margin)) : value.gte(threshold);
}

const pct = (v: Dec) => `${v.times(100).toDecimalPlaces(1, Dec.ROUND_HALF_UP).toFixed(1)}%`;
const pts = (v: Dec) => `${v.times(100).toDecimalPlaces(1, Dec.ROUND_HALF_UP).toFixed(1)} points`;

function quiet(rule: AlertRule, value: Dec | null, message: string): RuleOutcome {
  return { rule, firing: false, severity: null, value, message };
}

/** at_risk_rep: projected attainment < 70% (critical under 50%). */
export function atRiskRep(
  projectedAttainment: Maybe<Dec>,
  wasOpen: boolean,
  o: { below?: DecimalInput; criticalBelow?: DecimalInput; margin?: DecimalInput } = {},
): RuleOutcome {
  const below = o.below ?? '0.70';
  const v = projectedAttainment.value;
  if (v === null) return quiet('at_risk_rep', null, `no projected attainment (${projectedAttainment.reason})`);
  if (!belowWithHysteresis(v, below, o.margin ?? '0.05', wasOpen))
    return quiet('at_risk_rep', v, `projected attainment ${pct(v)}`);
  return {
    rule: 'at_risk_rep',
    firing: true,
    severity: v.lt(o.criticalBelow ?? '0.50') ? 'critical' : 'warning',
    value: v,
    message: `Projected attainment is ${pct(v)}, under ${pct(new Dec(below))} of quota.`,
  };
}

/** pace_deterioration: the pace index A/E fell by >= 10 points since the snapshot 7 days earlier. */
export function paceDeterioration(
  paceIndexNow: Maybe<Dec>,
  paceIndexWeekAgo: Maybe<Dec>,
  wasOpen: boolean,
  o: { drop?: DecimalInput; margin?: DecimalInput } = {},
): RuleOutcome {
  if (paceIndexNow.value === null || paceIndexWeekAgo.value === null)
    return quiet('pace_deterioration', null, 'no pace index to compare');
  const fall = paceIndexWeekAgo.value.minus(paceIndexNow.value);
  if (!atLeastWithHysteresis(fall, o.drop ?? '0.10', o.margin ?? '0.03', wasOpen))
    return quiet('pace_deterioration', fall, `pace index moved ${pts(fall.neg())} in 7 days`);
  return {
    rule: 'pace_deterioration',
    firing: true,
    severity: 'warning',
    value: fall,
    message: `Pace index fell ${pts(fall)} in 7 days (from ${pct(paceIndexWeekAgo.value)} to ${pct(paceIndexNow.value)}).`,
  };
}

/** activity_drop: activity score < 60, or the last 14 days are down >= 30% on the prior 4-week rate. */
export function activityDropRule(
  score: Maybe<Dec>,
  drop: Maybe<Dec>,
  wasOpen: boolean,
  o: {
    scoreBelow?: DecimalInput;
    scoreMargin?: DecimalInput;
    dropAtLeast?: DecimalInput;
    dropMargin?: DecimalInput;
  } = {},
): RuleOutcome {
  const lowScore =
    score.value !== null && belowWithHysteresis(score.value, o.scoreBelow ?? 60, o.scoreMargin ?? 5, wasOpen);
  const bigDrop =
    drop.value !== null && atLeastWithHysteresis(drop.value, o.dropAtLeast ?? '0.30', o.dropMargin ?? '0.05', wasOpen);
  if (!lowScore && !bigDrop) return quiet('activity_drop', score.value, 'activity within limits');
  const parts: string[] = [];
  if (lowScore && score.value)
    parts.push(`activity score is ${score.value.toDecimalPlaces(0, Dec.ROUND_HALF_UP).toString()}`);
  if (bigDrop && drop.value) parts.push(`the last 14 days are down ${pct(drop.value)} on the prior 4 weeks`);
  const text = parts.join(' and ');
  return {
    rule: 'activity_drop',
    firing: true,
    severity: lowScore && bigDrop ? 'critical' : 'warning',
    value: score.value ?? drop.value,
    message: `${text.charAt(0).toUpperCase()}${text.slice(1)}.`,
  };
}

/** coverage_gap: coverage < 1.5 (critical) or < 2.5 (warning) with more than 14 days remaining. */
export function coverageGap(
  coverage: Maybe<Dec>,
  daysRemaining: number,
  wasOpen: boolean,
  o: { critical?: DecimalInput; warning?: DecimalInput; minDaysRemaining?: number; margin?: DecimalInput } = {},
): RuleOutcome {
  const v = coverage.value;
  if (v === null) return quiet('coverage_gap', null, `no coverage (${coverage.reason})`);
  // Late in the period coverage stops meaning much: the rule stands down (and an open alert resolves).
  if (daysRemaining <= (o.minDaysRemaining ?? 14)) return quiet('coverage_gap', v, `${daysRemaining} days remaining`);
  const warning = o.warning ?? '2.5';
  if (!belowWithHysteresis(v, warning, o.margin ?? '0.2', wasOpen))
    return quiet('coverage_gap', v, `coverage ${v.toDecimalPlaces(2).toString()}x`);
  const critical = v.lt(o.critical ?? '1.5');
  return {
    rule: 'coverage_gap',
    firing: true,
    severity: critical ? 'critical' : 'warning',
    value: v,
    message: `Pipeline covers ${v.toDecimalPlaces(1, Dec.ROUND_HALF_UP).toFixed(1)}x the remaining quota, under ${new Dec(critical ? (o.critical ?? '1.5') : warning).toFixed(1)}x, with ${daysRemaining} days left.`,
  };
}

/** conversion_decline: win rate over the trailing 90 days >= 10 points under the 90 days before. */
export function conversionDecline(
  recent: Maybe<Dec>,
  prior: Maybe<Dec>,
  wasOpen: boolean,
  o: { points?: DecimalInput; margin?: DecimalInput } = {},
): RuleOutcome {
  if (recent.value === null || prior.value === null)
    return quiet('conversion_decline', null, 'no win rates to compare');
  const fall = prior.value.minus(recent.value);
  if (!atLeastWithHysteresis(fall, o.points ?? '0.10', o.margin ?? '0.03', wasOpen))
    return quiet('conversion_decline', fall, 'win rate steady');
  return {
    rule: 'conversion_decline',
    firing: true,
    severity: 'warning',
    value: fall,
    message: `Win rate fell from ${pct(prior.value)} to ${pct(recent.value)} (90 days on the 90 before).`,
  };
}

/** velocity_slowdown: sales cycle of deals won in the trailing 90 days >= 15% longer than the 90 days before. */
export function velocitySlowdown(
  recentCycleDays: Maybe<Dec>,
  priorCycleDays: Maybe<Dec>,
  wasOpen: boolean,
  o: { longerBy?: DecimalInput; margin?: DecimalInput } = {},
): RuleOutcome {
  const r = recentCycleDays.value;
  const p = priorCycleDays.value;
  if (r === null || p === null || p.isZero()) return quiet('velocity_slowdown', null, 'no sales cycles to compare');
  const growth = r.minus(p).div(p);
  if (!atLeastWithHysteresis(growth, o.longerBy ?? '0.15', o.margin ?? '0.05', wasOpen))
    return quiet('velocity_slowdown', growth, 'sales cycle steady');
  return {
    rule: 'velocity_slowdown',
    firing: true,
    severity: 'warning',
    value: growth,
    message: `Sales cycle is ${pct(growth)} longer: ${r.toDecimalPlaces(1, Dec.ROUND_HALF_UP).toFixed(1)} days against ${p.toDecimalPlaces(1, Dec.ROUND_HALF_UP).toFixed(1)}.`,
  };
}

/**
 * accelerator_opportunity: projected attainment is under the next commission tier by at most 10 points and the
 * weighted pipeline covers the bookings still needed to reach it.
 */
export function acceleratorOpportunity(
  projectedAttainment: Maybe<Dec>,
  next: { from: Dec; bookingsToReach: Dec } | null,
  weightedPipeline: Dec,
  wasOpen: boolean,
  o: { within?: DecimalInput; margin?: DecimalInput } = {},
): RuleOutcome {
  const v = projectedAttainment.value;
  if (v === null || next === null) return quiet('accelerator_opportunity', null, 'no next tier');
  const gap = next.from.minus(v);
  const within = new Dec(o.within ?? '0.10').plus(wasOpen ? (o.margin ?? '0.02') : 0);
  const firing = gap.gt(0) && gap.lte(within) && weightedPipeline.gte(next.bookingsToReach);
  if (!firing) return quiet('accelerator_opportunity', gap, 'no accelerator within reach');
  return {
    rule: 'accelerator_opportunity',
    firing: true,
    severity: 'info',
    value: gap,
    message: `Projected attainment ${pct(v)} is ${pts(gap)} under the ${pct(next.from)} tier, and weighted pipeline covers the ${formatMoneyGrouped(next.bookingsToReach)} still needed.`,
  };
}

const RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

/**
 * Which alert a manager hears about first when the daily task cap cannot take them all: by severity, then by this
 * order of rules (a rep heading for a miss first, an upside last), then the oldest alert.
 */
export const RULE_PRIORITY: readonly AlertRule[] = [
  'at_risk_rep',
  'pace_deterioration',
  'coverage_gap',
  'conversion_decline',
  'velocity_slowdown',
  'activity_drop',
  'accelerator_opportunity',
];

export interface TaskCandidate {
  /** Who the task goes to: the cap is per manager. */
  manager: string;
  severity: Severity;
  rule: string;
  /** Ties after severity and rule: the older alert first (ISO instant), then the lower id. */
  openedAt: string;
  id: number;
}

function rulePriority(rule: string): number {
  const i = RULE_PRIORITY.indexOf(rule as AlertRule);
  return i === -1 ? RULE_PRIORITY.length : i;
}

/** Orders task candidates as they compete for the cap: severity, rule priority, age, id. */
export function compareTaskCandidates(a: TaskCandidate, b: TaskCandidate): number {
  return (
    RANK[b.severity] - RANK[a.severity] ||
    rulePriority(a.rule) - rulePriority(b.rule) ||
    (a.openedAt < b.openedAt ? -1 : a.openedAt > b.openedAt ? 1 : 0) ||
    a.id - b.id
  );
}

/**
 * The daily cap: each manager gets at most `cap` new tasks a day, counting `used` (already sent today); the rest
 * are held back for the next day's budget, where they compete again.
 */
export function applyTaskCap<T extends TaskCandidate>(
  candidates: readonly T[],
  used: ReadonlyMap<string, number>,
  cap: number,
): { send: T[]; held: T[] } {
  const count = new Map(used);
  const send: T[] = [];
  const held: T[] = [];
  for (const c of [...candidates].sort(compareTaskCandidates)) {
    const n = count.get(c.manager) ?? 0;
    if (n >= cap) held.push(c);
    else {
      count.set(c.manager, n + 1);
      send.push(c);
    }
  }
  return { send, held };
}

/**
 * Escalation: an open alert escalates once, when its severity has risen since it opened or when it has stayed open
 * `afterDays` (default 7) days or more.
 */
export function shouldEscalate(a: {
  openedOn: PlainDate;
  asOf: PlainDate;
  severityAtOpen: Severity;
  severityNow: Severity;
  alreadyEscalated: boolean;
  afterDays?: number;
}): boolean {
  if (a.alreadyEscalated) return false;
  return RANK[a.severityNow] > RANK[a.severityAtOpen] || diffDays(a.openedOn, a.asOf) >= (a.afterDays ?? 7);
}
