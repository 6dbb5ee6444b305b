/**
 * One org split across two CRMs (`sandbox --crm both`): the same people, teams, regions and currencies in both
 * (matched by email), each deal (with its line items, splits and history) and each activity and lead in exactly
 * one, and each rep's quotas in one. Deals alternate by key; an activity follows its deal (one without a deal, and
 * a lead, alternate by key); a rep's quotas go with their region: even regions to the first CRM, odd to the second.
 * Together the two parts are the whole org, so the combined figures equal the single-CRM ones.
 */
import type { OrgModel } from './model.ts';

/** Whether a key's number is odd: `deal-000123` -> true. */
function oddKey(key: string): boolean {
  const m = /(\d+)$/.exec(key);
  return m ? Number(m[1]) % 2 === 1 : false;
}

export interface SplitOrg {
  /** The first CRM's part (Salesforce). */
  first: OrgModel;
  /** The second CRM's part (HubSpot). */
  second: OrgModel;
}

export function splitOrg(org: OrgModel): SplitOrg {
  const dealInSecond = new Map(org.deals.map((d) => [d.key, oddKey(d.key)]));
  const regionIndex = new Map(org.regions.map((r, i) => [r.key, i]));
  const personInSecond = new Map(
    org.people.map((p) => [p.key, p.regionKey !== null && (regionIndex.get(p.regionKey) ?? 0) % 2 === 1]),
  );
  const part = (second: boolean): OrgModel => ({
    ...org,
    deals: org.deals.filter((d) => dealInSecond.get(d.key) === second),
    activities: org.activities.filter(
      (a) => (a.dealKey !== null ? dealInSecond.get(a.dealKey) : oddKey(a.key)) === second,
    ),
    leads: org.leads.filter(
      (l) => (l.convertedDealKey !== null ? dealInSecond.get(l.convertedDealKey) : oddKey(l.key)) === second,
    ),
    quotas: org.quotas.filter((q) => (personInSecond.get(q.personKey) ?? false) === second),
  });
  return { first: part(false), second: part(true) };
}
