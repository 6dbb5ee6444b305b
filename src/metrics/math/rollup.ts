/**
 * Team, region and org roll-ups from reps under dated membership. A closed deal counts for the group its owner
 * belonged to on the close date; an open deal for the owner's group on D. Overlay credits never roll up. A group's
 * figures come from its own sums (pass the grouped credits and quota to `computeAttainment`), never from averaging
 * its reps' ratios.
 */
import { addDays, diffDays, earlierOf, laterOf, type PlainDate } from '../../util/date.ts';
import { type Dec, ZERO } from '../../util/money.ts';
import { pushTo } from '../../util/multimap.ts';
import type { Credit } from './booking.ts';
import type { Membership, Period } from './types.ts';

export type RollupLevel = 'team' | 'region' | 'org';

/** The id of the org-level group. */
export const ORG_ID = 'org';

/** Memberships indexed by rep, sorted by `validFrom`, for lookups by date. */
export type MembershipIndex = ReadonlyMap<string, readonly Membership[]>;

export function indexMemberships(memberships: readonly Membership[]): MembershipIndex {
  const byRep = new Map<string, Membership[]>();
  for (const m of memberships) {
    pushTo(byRep, m.repId, m);
  }
  for (const list of byRep.values())
    list.sort((a, b) => (a.validFrom < b.validFrom ? -1 : a.validFrom > b.validFrom ? 1 : 0));
  return byRep;
}

/** The membership in force for a rep on a date, or null when the rep belonged nowhere then. */
export function membershipOn(index: MembershipIndex, repId: string, date: PlainDate): Membership | null {
  const list = index.get(repId);
  if (!list) return null;
  let found: Membership | null = null;
  for (const m of list) {
    if (m.validFrom > date) break;
    if (m.validTo === null || date < m.validTo) found = m;
  }
  return found;
}

function groupIdOf(m: Membership, level: RollupLevel): string {
  return level === 'team' ? m.teamId : level === 'region' ? m.regionId : ORG_ID;
}

/** The date that decides a credit's group: its close date when closed, D when open. */
export function attributionDate(c: Credit, asOf: PlainDate): PlainDate {
  return c.category === 'open' ? asOf : c.deal.closeDate;
}

/**
 * Non-overlay credits grouped by the owner's team / region (or all into `org`) on each credit's attribution date.
 * Credits of owners with no membership on that date are returned apart, so no amount disappears unseen.
 */
export function groupCredits(
  credits: readonly Credit[],
  index: MembershipIndex,
  level: RollupLevel,
  asOf: PlainDate,
): { groups: Map<string, Credit[]>; unassigned: Credit[] } {
  const groups = new Map<string, Credit[]>();
  const unassigned: Credit[] = [];
  for (const c of credits) {
    if (c.overlay) continue;
    const m = membershipOn(index, c.ownerId, attributionDate(c, asOf));
    if (!m) {
      unassigned.push(c);
      continue;
    }
    pushTo(groups, groupIdOf(m, level), c);
  }
  return { groups, unassigned };
}

/**
 * The date that decides which reps' quotas make a group's quota: D, held inside the period (a team's quota for a
 * past quarter is that of the reps it had on the last day; before the quarter, of those it will start with).
 */
export function quotaMembershipDate(period: Period, asOf: PlainDate): PlainDate {
  return asOf < period.start ? period.start : asOf > period.end ? period.end : asOf;
}

/**
 * A group's quota: the one RevOps set when given, else the sum of its member reps' quotas (base currency) on
 * `quotaMembershipDate`; null when no member has a quota. Returns the contributing reps for explanations.
 */
export function groupQuota(
  groupId: string,
  level: RollupLevel,
  repQuotas: ReadonlyMap<string, Dec>,
  index: MembershipIndex,
  period: Period,
  asOf: PlainDate,
  override: Dec | null = null,
): { quota: Dec | null; reps: string[] } {
  const on = quotaMembershipDate(period, asOf);
  const reps: string[] = [];
  let total = ZERO;
  for (const [repId, q] of repQuotas) {
    const m = membershipOn(index, repId, on);
    if (!m || groupIdOf(m, level) !== groupId) continue;
    reps.push(repId);
    total = total.plus(q);
  }
  reps.sort();
  if (override !== null) return { quota: override, reps };
  return { quota: reps.length === 0 ? null : total, reps };
}

/**
 * The share of a leaver's quota a group keeps: a rep with no membership anywhere on `on` (she left) who belonged
 * to the group during the period counts for the days she was a member, over the period's days. Null for anyone
 * still a member somewhere on `on` (a mover counts whole in the group she is in). Memberships are
 * [validFrom, validTo).
 */
export function leaverShare(
  index: MembershipIndex,
  repId: string,
  level: RollupLevel,
  groupId: string,
  period: Period,
  on: PlainDate,
): { days: number; of: number } | null {
  if (membershipOn(index, repId, on)) return null;
  const of = diffDays(period.start, period.end) + 1;
  let days = 0;
  for (const m of index.get(repId) ?? []) {
    if (groupIdOf(m, level) !== groupId) continue;
    const from = laterOf(m.validFrom, period.start);
    const to = earlierOf(m.validTo === null ? period.end : addDays(m.validTo, -1), period.end);
    if (to >= from) days += diffDays(from, to) + 1;
  }
  return days > 0 ? { days, of } : null;
}

/**
 * Every group's summed quota at one level in a single pass over the reps (sum of member reps' quotas on
 * `quotaMembershipDate`); apply RevOps' overrides on top. Reps with no membership on that date are returned apart.
 */
export function groupQuotas(
  level: RollupLevel,
  repQuotas: ReadonlyMap<string, Dec>,
  index: MembershipIndex,
  period: Period,
  asOf: PlainDate,
  overrides: ReadonlyMap<string, Dec> = new Map(),
): { quotas: Map<string, Dec>; unassigned: string[] } {
  const on = quotaMembershipDate(period, asOf);
  const quotas = new Map<string, Dec>();
  const unassigned: string[] = [];
  for (const [repId, q] of repQuotas) {
    const m = membershipOn(index, repId, on);
    if (!m) {
      unassigned.push(repId);
      continue;
    }
    const id = groupIdOf(m, level);
    quotas.set(id, (quotas.get(id) ?? ZERO).plus(q));
  }
  for (const [id, q] of overrides) quotas.set(id, q);
  unassigned.sort();
  return { quotas, unassigned };
}

/** Sums of credited amounts by a deal attribute (product line, segment): the breakdowns of a subject's actual. */
export function breakdownBy(
  credits: readonly Credit[],
  key: 'productLine' | 'segment' | 'type',
): Map<string, { amount: Dec; deals: number }> {
  const out = new Map<string, { amount: Dec; deals: number }>();
  for (const c of credits) {
    const k = c.deal[key] ?? '(none)';
    const cur = out.get(k);
    if (cur) {
      cur.amount = cur.amount.plus(c.amount);
      cur.deals++;
    } else out.set(k, { amount: c.amount, deals: 1 });
  }
  return out;
}
