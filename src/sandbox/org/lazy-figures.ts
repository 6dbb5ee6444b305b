/**
 * The large org's figures oracle, in one streaming pass over its deals (`LazyOrg.deal(i)` for every index, nothing
 * kept but one running sum per rep): each rep's quota and bookings for a period in the corporate currency, and each
 * team's and region's as the plain sum of its reps' (the large org has no mover, leaver or split, so a group's
 * figure is its members' sum). Plain arithmetic, nothing of quota-tracker's; the rules are those of
 * `../salesforce/oracle-figures.ts`: bookings = won deals the rep owns closing in [start, as-of], each converted at
 * the rate in force on its close date; quota = the rep's quotas starting inside [start, end], converted at the rate
 * on the period's first day; cents rounded half away from zero, only at the end.
 */
import type { PlainDate } from '../../util/date.ts';
import { Dec } from '../../util/money.ts';
import { rateOn } from './currencies.ts';
import type { LazyOrg } from './lazy.ts';
import type { Currency } from './model.ts';

export interface LazyFigureOptions {
  start: PlainDate;
  end: PlainDate;
  asOf: PlainDate;
}

export interface GroupFigures {
  key: string;
  name: string;
  quota: string;
  actual: string;
}

export interface LazyFigures {
  /** By rep email (lower case). */
  reps: Map<string, { email: string; teamKey: string; quota: string | null; actual: string }>;
  teams: Map<string, GroupFigures>;
  regions: Map<string, GroupFigures>;
  /** Deals read in the pass (all of them). */
  dealsRead: number;
}

const cents = (d: InstanceType<typeof Dec>) => d.toDecimalPlaces(2, Dec.ROUND_HALF_UP).toFixed(2);

export function lazyFigures(lazy: LazyOrg, o: LazyFigureOptions): LazyFigures {
  const org = lazy.org;
  const currencies = new Map<string, Currency>(org.currencies.map((c) => [c.code, c]));
  const rate = (code: string, day: PlainDate) => {
    const c = currencies.get(code);
    return c ? new Dec(rateOn(c, day)) : null;
  };
  const actual = new Map<string, InstanceType<typeof Dec>>();
  let dealsRead = 0;
  for (let i = 0; i < lazy.dealCount; i++) {
    const d = lazy.deal(i);
    dealsRead++;
    if (d.stage !== 'Closed Won' || d.amount === null || d.closeDate === null) continue;
    if (d.closeDate < o.start || d.closeDate > o.asOf) continue;
    const r = rate(d.currency, d.closeDate);
    if (r === null) continue;
    actual.set(d.ownerKey, (actual.get(d.ownerKey) ?? new Dec(0)).plus(new Dec(d.amount).div(r)));
  }
  const quota = new Map<string, InstanceType<typeof Dec>>();
  for (const q of org.quotas) {
    if (q.start < o.start || q.start > o.end) continue;
    const r = rate(q.currency, o.start);
    if (r === null) continue;
    quota.set(q.personKey, (quota.get(q.personKey) ?? new Dec(0)).plus(new Dec(q.amount).div(r)));
  }
  const reps: LazyFigures['reps'] = new Map();
  const teamSums = new Map<string, { quota: InstanceType<typeof Dec>; actual: InstanceType<typeof Dec> }>();
  for (const rep of lazy.reps) {
    const q = quota.get(rep.key) ?? null;
    const a = actual.get(rep.key) ?? new Dec(0);
    const email = rep.email.toLowerCase();
    const teamKey = rep.teamKey ?? '';
    reps.set(email, { email, teamKey, quota: q === null ? null : cents(q), actual: cents(a) });
    const t = teamSums.get(teamKey) ?? { quota: new Dec(0), actual: new Dec(0) };
    teamSums.set(teamKey, { quota: q === null ? t.quota : t.quota.plus(q), actual: t.actual.plus(a) });
  }
  const teams: LazyFigures['teams'] = new Map();
  const regionSums = new Map<string, { quota: InstanceType<typeof Dec>; actual: InstanceType<typeof Dec> }>();
  for (const team of org.teams) {
    const s = teamSums.get(team.key) ?? { quota: new Dec(0), actual: new Dec(0) };
    teams.set(team.key, { key: team.key, name: team.name, quota: cents(s.quota), actual: cents(s.actual) });
    const r = regionSums.get(team.regionKey) ?? { quota: new Dec(0), actual: new Dec(0) };
    regionSums.set(team.regionKey, { quota: r.quota.plus(s.quota), actual: r.actual.plus(s.actual) });
  }
  const regions: LazyFigures['regions'] = new Map();
  for (const region of org.regions) {
    const s = regionSums.get(region.key) ?? { quota: new Dec(0), actual: new Dec(0) };
    regions.set(region.key, { key: region.key, name: region.name, quota: cents(s.quota), actual: cents(s.actual) });
  }
  return { reps, teams, regions, dealsRead };
}
