/**
 * HubSpot's planning data as warehouse rows: goal targets as quotas, and the portal's exchange rates as dated rates.
 *
 * Goal targets (https://developers.hubspot.com/docs/api-reference/latest/crm/objects/goals/guide;
 * https://developers.hubspot.com/docs/api/crm/goals: `GET /crm/v3/objects/goal_targets`, one target per assignee
 * and time slice, `hs_goal_type` `sales_quota` for a revenue quota, the assignee a user id in
 * `hs_assignee_user_id`, not an owner id). The warehouse's quota rules are Salesforce's: a quota is revenue owned
 * by one rep for a dated period; anything else is quarantined with the reason, never counted.
 *
 * Exchange rates (https://developers.hubspot.com/docs/api/settings/currencies: `fromCurrencyCode` the company
 * currency, `toCurrencyCode`, `conversionRate` units of the foreign currency per company unit, `effectiveAt`): each
 * rate holds from its day until the next rate of its currency starts, as Salesforce's dated rates do.
 */
import { addDays, addMonths, dateInZone, type PlainDate } from '../../util/date.ts';
import { Dec } from '../../util/money.ts';
import type { FxRateRow, QuotaRow } from '../types.ts';
import { type HsObject, type HsOwner, type PortalFacts, Unnormalizable } from './normalize.ts';

/** Goal target properties read (HubSpot returns only the properties asked for). */
export const GOAL_PROPERTIES = [
  'hs_goal_name',
  'hs_goal_type',
  'hs_target_amount',
  'hs_goal_target_currency_code',
  'hs_start_datetime',
  'hs_end_datetime',
  'hs_assignee_user_id',
  'hs_assignee_team_id',
  'hs_lastmodifieddate',
] as const;

/** The goal type of a revenue quota (the goals guide's own quota examples create `sales_quota` targets). */
export const REVENUE_GOAL_TYPE = 'sales_quota';

/**
 * Owner ids by user id. A goal names a user; a deal names an owner: the owners API links them by `userId`, and by
 * `userIdIncludingInactive` for someone who left (their owner is archived and `userId` is null), so a departed
 * rep's past quotas still count against their past deals.
 */
export function ownersByUser(owners: readonly HsOwner[]): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  for (const o of owners) {
    for (const u of [o.userId, o.userIdIncludingInactive]) {
      if (u !== null && u !== undefined && !out.has(String(u))) out.set(String(u), o.id);
    }
  }
  return out;
}

function text(o: HsObject, name: string): string | null {
  const v = o.properties[name];
  return v === null || v === undefined || v.trim() === '' ? null : v.trim();
}

function day(o: HsObject, name: string, tz: string): PlainDate | null {
  const v = text(o, name);
  if (v === null) return null;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new Unnormalizable('BAD_DATE', `${name} is not a date: ${JSON.stringify(v)}`);
  return dateInZone(t, tz);
}

function positiveDecimal(v: string | null, name: string, missing: string): string {
  if (v === null) throw new Unnormalizable(missing, `${name} is empty`);
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v)) {
    throw new Unnormalizable('BAD_NUMBER', `${name} is not a number: ${JSON.stringify(v)}`);
  }
  const d = new Dec(v);
  if (d.isNegative()) throw new Unnormalizable('BAD_NUMBER', `${name} is negative: ${v}`);
  return d.toFixed();
}

/**
 * A goal target as a rep's quota. Not a quota, and quarantined: a goal of another type (calls made, deals created:
 * not revenue), a team's goal (team quotas are the sum of their reps', or the org file's), one naming a user no
 * owner has (the owners API does not know them: nothing to count their deals against).
 */
export function normalizeGoalTarget(o: HsObject, facts: PortalFacts, owners: ReadonlyMap<string, string>): QuotaRow {
  const type = text(o, 'hs_goal_type');
  if (type !== REVENUE_GOAL_TYPE) {
    throw new Unnormalizable(
      'NOT_REVENUE_GOAL',
      `hs_goal_type is ${type === null ? 'empty' : `"${type}"`}, not a revenue quota (${REVENUE_GOAL_TYPE})`,
    );
  }
  const user = text(o, 'hs_assignee_user_id');
  if (user === null) {
    throw text(o, 'hs_assignee_team_id') !== null
      ? new Unnormalizable('TEAM_GOAL', `a team's goal (team ${text(o, 'hs_assignee_team_id')}), not one rep's quota`)
      : new Unnormalizable('MISSING_OWNER', 'hs_assignee_user_id is empty');
  }
  const owner = owners.get(user);
  if (owner === undefined) {
    throw new Unnormalizable('UNKNOWN_USER', `hs_assignee_user_id ${user} is no owner's user, active or deactivated`);
  }
  const amount = positiveDecimal(text(o, 'hs_target_amount'), 'hs_target_amount', 'MISSING_AMOUNT');
  const start = day(o, 'hs_start_datetime', facts.timeZone);
  if (start === null) throw new Unnormalizable('MISSING_START_DATE', 'hs_start_datetime is empty');
  // A target ends on the last millisecond of its period: that instant's day is the period's last day. Without an
  // end it is taken as one quarter long, as a Salesforce quota without a Period is.
  const end = day(o, 'hs_end_datetime', facts.timeZone) ?? addDays(addMonths(start, 3), -1);
  if (end < start) throw new Unnormalizable('BAD_DATE', `hs_end_datetime (${end}) is before hs_start_datetime`);
  const currency = text(o, 'hs_goal_target_currency_code') ?? facts.companyCurrency;
  if (!/^[A-Z]{3}$/.test(currency)) {
    throw new Unnormalizable('BAD_CURRENCY', `hs_goal_target_currency_code is not ISO 4217: "${currency}"`);
  }
  return { owner_external_id: owner, period_start: start, period_end: end, amount, currency, product_line: null };
}

/** An exchange rate as `/settings/v3/currencies/exchange-rates` answers it. */
export interface HsExchangeRate {
  id: string;
  fromCurrencyCode?: string;
  toCurrencyCode?: string;
  conversionRate?: string | number;
  effectiveAt?: string;
  updatedAt?: string;
}

export interface RateRows {
  rows: Array<{ externalId: string; sourceModifiedAt: string | null; row: FxRateRow }>;
  quarantined: Array<{ externalId: string; reasonCode: string; reason: string; payload: unknown }>;
}

/**
 * The portal's rates as dated ranges: per currency in `effectiveAt` order, each valid from its day (in the portal's
 * zone) to the next one's. Of two rates taking effect on one day only the later holds for any whole day; the
 * earlier is left out (the warehouse keys a range by its first day).
 */
export function exchangeRateRows(rates: readonly HsExchangeRate[], facts: PortalFacts): RateRows {
  const quarantined: RateRows['quarantined'] = [];
  const good: Array<{ r: HsExchangeRate; currency: string; rate: string; at: number }> = [];
  for (const r of rates) {
    const bad = (reasonCode: string, reason: string) =>
      quarantined.push({ externalId: String(r.id), reasonCode, reason, payload: r });
    const currency = r.toCurrencyCode ?? '';
    if (!/^[A-Z]{3}$/.test(currency)) {
      bad('BAD_CURRENCY', `toCurrencyCode is not ISO 4217: "${currency}"`);
      continue;
    }
    if (r.fromCurrencyCode !== undefined && r.fromCurrencyCode !== facts.companyCurrency) {
      bad(
        'BAD_CURRENCY',
        `fromCurrencyCode ${r.fromCurrencyCode} is not the company currency ${facts.companyCurrency}`,
      );
      continue;
    }
    const raw = r.conversionRate === undefined ? '' : String(r.conversionRate).trim();
    if (!/^(\d+\.?\d*|\.\d+)$/.test(raw) || new Dec(raw).isZero()) {
      bad('BAD_RATE', `conversionRate is ${JSON.stringify(r.conversionRate ?? null)}`);
      continue;
    }
    const at = Date.parse(r.effectiveAt ?? '');
    if (Number.isNaN(at)) {
      bad('BAD_DATE', `effectiveAt is not a date: ${JSON.stringify(r.effectiveAt ?? null)}`);
      continue;
    }
    good.push({ r, currency, rate: new Dec(raw).toFixed(), at });
  }
  const byCurrency = new Map<string, typeof good>();
  for (const g of good) byCurrency.set(g.currency, [...(byCurrency.get(g.currency) ?? []), g]);
  const rows: RateRows['rows'] = [];
  for (const list of byCurrency.values()) {
    list.sort((a, b) => a.at - b.at || (a.r.id < b.r.id ? -1 : 1));
    const ranges = list.map((g) => ({ g, from: dateInZone(g.at, facts.timeZone) }));
    const kept = ranges.filter((x, i) => ranges[i + 1]?.from !== x.from);
    kept.forEach((x, i) => {
      const next = kept[i + 1];
      rows.push({
        externalId: String(x.g.r.id),
        sourceModifiedAt: x.g.r.updatedAt ? new Date(x.g.r.updatedAt).toISOString() : null,
        row: {
          currency: x.g.currency,
          rate: x.g.rate,
          valid_from: x.from,
          valid_to: next ? next.from : null,
          source: 'crm_dated',
        },
      });
    });
  }
  return { rows, quarantined };
}
