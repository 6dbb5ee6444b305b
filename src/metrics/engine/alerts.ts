/**
 * The early-warning rules run on every recompute of a rep's current period: the pure predicates of
 * `math/alerts.ts` decide (with hysteresis), and this module keeps each alert's lifecycle in the `alerts` table:
 * opened when a rule starts firing, escalated once (severity rose or open for 7 days), resolved when it clears.
 * A resolved alert that fires again is reopened under the same dedupe key. Delivery (CRM tasks) is write-back's.
 */
import { type Kysely, sql } from 'kysely';
import type { Config } from '../../config/schema.ts';
import { type Database, toJsonb } from '../../db/schema.ts';
import { addDays, type PlainDate } from '../../util/date.ts';
import { Dec } from '../../util/money.ts';
import { activityDrop } from '../math/activity.ts';
import {
  type AlertRule,
  acceleratorOpportunity,
  activityDropRule,
  alertKey,
  atRiskRep,
  conversionDecline,
  coverageGap,
  paceDeterioration,
  type RuleOutcome,
  type Severity,
  shouldEscalate,
  velocitySlowdown,
} from '../math/alerts.ts';
import type { Credit } from '../math/booking.ts';
import { nextTier } from '../math/commission.ts';
import { computeConversion } from '../math/conversion.ts';
import type { SubjectMetrics } from '../math/rep-metrics.ts';
import type { Activity, CommissionPlan, Maybe } from '../math/types.ts';
import { none, some } from '../math/types.ts';
import { priorWindow, trailingDays } from '../math/windows.ts';
import type { RepInfo } from './load.ts';
import type { AlertEvent, SubjectRef } from './types.ts';

export interface RuleInputs {
  metrics: SubjectMetrics;
  credits: readonly Credit[];
  activities: readonly Activity[];
  /** The pace index on the history day 7 days before D, as stored (a ratio string), or null. */
  paceIndexWeekAgo: string | null;
  commission: CommissionPlan;
}

/** Every enabled rule's outcome for one rep-period, given which alerts are open now. */
export function evaluateRules(
  inputs: RuleInputs,
  rules: Config['alerts']['rules'],
  margin: number,
  open: ReadonlySet<AlertRule>,
): RuleOutcome[] {
  const m = inputs.metrics;
  const out: RuleOutcome[] = [];
  const was = (r: AlertRule) => open.has(r);
  if (rules.at_risk_rep.enabled)
    out.push(atRiskRep(m.projectedAttainment, was('at_risk_rep'), { below: rules.at_risk_rep.below, margin }));
  if (rules.pace_deterioration.enabled) {
    const before: Maybe<Dec> =
      inputs.paceIndexWeekAgo === null ? none('no_snapshot') : some(new Dec(inputs.paceIndexWeekAgo));
    out.push(
      paceDeterioration(m.paceIndex, before, was('pace_deterioration'), {
        drop: new Dec(rules.pace_deterioration.dropPoints).div(100),
        margin,
      }),
    );
  }
  if (rules.activity_drop.enabled) {
    const r = rules.activity_drop;
    const drop = activityDrop(inputs.activities, m.asOf, r.recentDays, r.priorWeeks * 7);
    out.push(
      activityDropRule(m.activities.score, drop, was('activity_drop'), {
        scoreBelow: r.scoreBelow,
        dropAtLeast: r.dropShare,
      }),
    );
  }
  if (rules.coverage_gap.enabled) {
    const r = rules.coverage_gap;
    out.push(
      coverageGap(m.pipeline.coverage, m.days.remaining, was('coverage_gap'), {
        critical: r.critical,
        warning: r.warning,
        minDaysRemaining: r.minDaysRemaining,
      }),
    );
  }
  if (rules.conversion_decline.enabled || rules.velocity_slowdown.enabled) {
    const recentC = computeConversion(inputs.credits, trailingDays(m.asOf, rules.conversion_decline.windowDays));
    const priorC = computeConversion(
      inputs.credits,
      priorWindow(trailingDays(m.asOf, rules.conversion_decline.windowDays)),
    );
    if (rules.conversion_decline.enabled)
      out.push(
        conversionDecline(recentC.winRate, priorC.winRate, was('conversion_decline'), {
          points: new Dec(rules.conversion_decline.dropPoints).div(100),
          margin,
        }),
      );
    if (rules.velocity_slowdown.enabled) {
      const w = trailingDays(m.asOf, rules.velocity_slowdown.windowDays);
      const recentV = computeConversion(inputs.credits, w);
      const priorV = computeConversion(inputs.credits, priorWindow(w));
      out.push(
        velocitySlowdown(recentV.salesCycleDays, priorV.salesCycleDays, was('velocity_slowdown'), {
          longerBy: rules.velocity_slowdown.longerShare,
        }),
      );
    }
  }
  if (rules.accelerator_opportunity.enabled) {
    // The tier above the projected total, and what actual still lacks to reach it.
    const t = nextTier(m.projectedTotal, m.quota.value, inputs.commission);
    const next = t.value === null ? null : { from: t.value.from, bookingsToReach: t.value.threshold.minus(m.actual) };
    out.push(
      acceleratorOpportunity(m.projectedAttainment, next, m.pipeline.weighted, was('accelerator_opportunity'), {
        within: rules.accelerator_opportunity.within,
      }),
    );
  }
  return out;
}

interface ActiveAlert {
  id: number;
  rule: string;
  dedupe_key: string;
  status: 'open' | 'escalated' | 'resolved';
  severity: Severity;
  details: { openedOn?: PlainDate; severityAtOpen?: Severity } | null;
  message: string;
  value: string | null;
}

/** The alerts of some subject-periods (any status), by dedupe key. */
export async function loadAlerts(
  db: Kysely<Database>,
  subjectIds: readonly string[],
  periodId: string,
): Promise<Map<string, ActiveAlert>> {
  if (subjectIds.length === 0) return new Map();
  const rows = await sql<ActiveAlert>`
    select id, rule, dedupe_key, status, severity, details, message, value::text as value from alerts
    where subject_kind = 'rep' and period_id = ${periodId} and subject_id = any(${subjectIds}::text[])`.execute(db);
  return new Map(rows.rows.map((r) => [r.dedupe_key, r] as const));
}

/** Open rules of one subject from `loadAlerts`' map. */
export function openRules(
  alerts: ReadonlyMap<string, ActiveAlert>,
  subjectId: string,
  periodId: string,
): Set<AlertRule> {
  const out = new Set<AlertRule>();
  for (const a of alerts.values())
    if (a.status !== 'resolved' && a.dedupe_key === alertKey(a.rule as AlertRule, subjectId, periodId))
      out.add(a.rule as AlertRule);
  return out;
}

const RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

/** Applies outcomes to the alerts table and returns the lifecycle events. */
export async function applyOutcomes(
  db: Kysely<Database>,
  subject: SubjectRef,
  periodId: string,
  asOf: PlainDate,
  outcomes: readonly RuleOutcome[],
  existing: ReadonlyMap<string, ActiveAlert>,
  rules: Config['alerts']['rules'],
): Promise<AlertEvent[]> {
  const events: AlertEvent[] = [];
  for (const o of outcomes) {
    const key = alertKey(o.rule, subject.id, periodId);
    const cur = existing.get(key);
    const active = cur !== undefined && cur.status !== 'resolved';
    const value = o.value === null ? null : o.value.toString();
    if (o.firing) {
      // The predicate says warning or critical; a rule configured as info stays info unless critical.
      const configured = rules[o.rule].severity as Severity;
      const severity: Severity =
        o.severity === 'critical'
          ? 'critical'
          : RANK[configured] < RANK[o.severity ?? 'warning']
            ? configured
            : (o.severity ?? configured);
      if (!active) {
        const details = toJsonb({ openedOn: asOf, severityAtOpen: severity });
        const row = await sql<{ id: number }>`
          insert into alerts (rule, subject_kind, subject_id, period_id, dedupe_key, severity, status, message, details, value)
          values (${o.rule}, ${subject.kind}, ${subject.id}, ${periodId}, ${key}, ${severity}, 'open', ${o.message}, ${details}::jsonb, ${value})
          on conflict (dedupe_key) do update set status = 'open', severity = excluded.severity, message = excluded.message,
            details = excluded.details, value = excluded.value, opened_at = now(), escalated_at = null, -- wall-clock: audit stamps
            resolved_at = null, updated_at = now() -- wall-clock: audit stamps
          returning id`.execute(db);
        const id = row.rows[0]?.id as number;
        events.push({
          alertId: id,
          dedupeKey: key,
          rule: o.rule,
          subject,
          periodId,
          event: 'opened',
          severity,
          message: o.message,
        });
        continue;
      }
      const escalate =
        cur.status === 'open' &&
        shouldEscalate({
          openedOn: cur.details?.openedOn ?? asOf,
          asOf,
          severityAtOpen: cur.details?.severityAtOpen ?? cur.severity,
          severityNow: severity,
          alreadyEscalated: false,
        });
      // Still firing as it was: nothing to write (a full recompute of 5,000 reps rewrote every open alert, one
      // statement each, a fifth of its time).
      if (!escalate && cur.severity === severity && cur.message === o.message && cur.value === value) continue;
      await db
        .updateTable('alerts')
        .set({
          severity,
          message: o.message,
          value,
          // wall-clock: audit stamps (escalation is decided on the as-of dates in details)
          updated_at: new Date(),
          ...(escalate ? { status: 'escalated' as const, escalated_at: new Date() } : {}), // wall-clock: see above
        })
        .where('id', '=', cur.id)
        .execute();
      if (escalate)
        events.push({
          alertId: cur.id,
          dedupeKey: key,
          rule: o.rule,
          subject,
          periodId,
          event: 'escalated',
          severity,
          message: o.message,
        });
    } else if (active) {
      await db
        .updateTable('alerts')
        .set({ status: 'resolved', resolved_at: new Date(), updated_at: new Date(), value }) // wall-clock: audit stamps
        .where('id', '=', cur.id)
        .execute();
      events.push({
        alertId: cur.id,
        dedupeKey: key,
        rule: o.rule,
        subject,
        periodId,
        event: 'resolved',
        severity: cur.severity,
        message: o.message,
      });
    }
  }
  return events;
}

/**
 * The rep rules watch people who sell: an active user with a quota this period (or flagged quota-carrying, a new hire
 * whose quota is not in yet). A VP, a manager without quota, an integration user or someone who left would
 * otherwise get "activity score is 0" every day, and their manager a task about it.
 */
export function watchedByAlerts(rep: RepInfo | undefined, quota: Dec | null): boolean {
  if (rep === undefined || !rep.isActive) return false;
  return quota?.gt(0) === true || rep.quotaCarrying;
}

/** What closes the open alerts of someone the rules no longer watch (deactivated, quota removed). */
export function unwatchedOutcomes(open: ReadonlySet<AlertRule>): RuleOutcome[] {
  return [...open].map((rule) => ({
    rule,
    firing: false,
    severity: null,
    value: null,
    message: 'No longer watched: the rep is inactive or carries no quota.',
  }));
}

/** The day whose history snapshot the pace_deterioration rule compares with. */
export function weekAgo(asOf: PlainDate, lookbackDays: number): PlainDate {
  return addDays(asOf, -lookbackDays);
}
