/**
 * The `large` org's deals and activities, made one at a time by index: deal `i` and activity `j` are pure functions
 * of (seed, size counts, anchor, index), each drawn from its own `Rng`, so a sandbox serves a million deals and five
 * million activities while holding only the org chart and quotas (`generateOrg` with size `large` makes those), and
 * an oracle works out figures in one streaming pass over the same indexes.
 *
 * Deals reuse the medium org's deal maker (`makeDeal`: stages walked to the anchor, close dates pushed to quarter
 * end, slips and resizes); what differs is how they are spread. Deal `i` belongs to rep `i mod reps` and falls in
 * a quarter drawn with the weight each quarter has in the medium org (closed quarters and the current one 1, next
 * quarter 0.55, the one after 0.12); whether it is won is drawn from the rep's win rate (segment x skill x
 * performance) instead of planned toward a bookings target, so attainment spreads widely around 80%.
 *
 * Simplifications (for scale): no line items, splits, leads or dirty records; no mover or leaver (the chart is
 * made without them); an activity's deal is one of its owner's deals drawn at random, not checked to be open on
 * the activity's day; every fifth activity is a meeting (an Event), the rest are calls, emails, tasks and
 * proposals in the medium org's daily proportions.
 */
import { AppError } from '../../errors.ts';
import { maxDate, type PlainDate } from '../../util/date.ts';
import { rateOn } from './currencies.ts';
import { type DealContext, type DraftDeal, makeDeal, SEGMENT_PROFILES, teamOn } from './deals.ts';
import type { Activity, ActivityType, Currency, Deal, FiscalQuarter, OrgModel, Person, Team } from './model.ts';
import { CALL_SUBJECTS, EMAIL_SUBJECTS, MEETING_SUBJECTS, TASK_SUBJECTS } from './names.ts';
import { Rng } from './random.ts';
import { daysBetween, isWeekday, plusDays, quarterOffset, workInstant } from './time.ts';

const QUARTER_WEIGHTS: readonly (readonly [number, number])[] = [
  [-4, 1],
  [-3, 1],
  [-2, 1],
  [-1, 1],
  [0, 1],
  [1, 0.55],
  [2, 0.12],
];

/** The medium org's daily rates without meetings (every fifth activity is one). */
const TASK_TYPES: readonly (readonly [ActivityType, number])[] = [
  ['call', 5.5],
  ['email', 9],
  ['task', 0.8],
  ['proposal', 0.15],
];

const SUBJECTS: Readonly<Record<ActivityType, readonly string[]>> = {
  call: CALL_SUBJECTS,
  email: EMAIL_SUBJECTS,
  meeting: MEETING_SUBJECTS,
  task: TASK_SUBJECTS,
  proposal: ['Send proposal', 'Revised proposal'],
};

/** Days of activity before the anchor (the medium org's window). */
export const LAZY_ACTIVITY_DAYS = 42;

/** Every `MEETING_EVERY`-th activity (index mod 5 = 4) is a meeting. */
export const MEETING_EVERY = 5;

/** Deterministic per-index seeds: the org's seed, a stream tag and the index mixed by an integer hash. */
function seedOf(seed: number, tag: number, index: number): number {
  let h = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(tag, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export class LazyOrg {
  readonly dealCount: number;
  readonly activityCount: number;
  readonly reps: readonly Person[];
  private readonly base: Omit<DealContext, 'rng'>;
  private readonly currencies: Map<string, Currency>;
  private readonly teams: Map<string, Team>;
  /** By quarter offset: the quarter and the share of it elapsed at the anchor. */
  private readonly quarters = new Map<number, { quarter: FiscalQuarter; elapsed: number }>();
  /** By rep index: the rep's team (no rep moves in a large org) and currency. */
  private readonly repInfo: Array<{ team: Team; currency: Currency }>;
  private readonly ctx: DealContext;

  constructor(readonly org: OrgModel) {
    if (!org.lazy) throw new AppError('INTERNAL', 'LazyOrg needs an org generated with size large', { where: 'org' });
    this.dealCount = org.lazy.deals;
    this.activityCount = org.lazy.activities;
    this.reps = org.people.filter((p) => p.role === 'rep');
    if (this.reps.length === 0) throw new AppError('INTERNAL', 'a large org without reps', { where: 'org' });
    this.currencies = new Map(org.currencies.map((c) => [c.code, c]));
    this.teams = new Map(org.teams.map((t) => [t.key, t]));
    for (const [offset] of QUARTER_WEIGHTS) {
      const quarter = quarterOffset(org.anchorDate, offset);
      const elapsed =
        offset === 0
          ? (daysBetween(quarter.start, org.anchorDate) + 1) / (daysBetween(quarter.start, quarter.end) + 1)
          : 1;
      this.quarters.set(offset, { quarter, elapsed });
    }
    this.repInfo = this.reps.map((rep) => ({
      team: this.teams.get(teamOn(rep, org.anchorDate) ?? '') as Team,
      currency: this.currencies.get(rep.currency) as Currency,
    }));
    this.base = {
      anchor: org.anchorDate,
      currencies: this.currencies,
      teams: this.teams,
      people: org.people,
      amountScale: 0.7,
      firstQuarter: -4,
      foreignDeals: [],
    };
    // One context for every deal: only its Rng changes (deal() is not re-entrant, and nothing keeps the context).
    this.ctx = { ...this.base, rng: new Rng(0) };
  }

  /** The rep owning deal `i` (deals are dealt round the reps). */
  dealOwner(i: number): Person {
    return this.reps[i % this.reps.length] as Person;
  }

  dealKey(i: number): string {
    return `deal-${String(i + 1).padStart(7, '0')}`;
  }

  /** Deal `i` (0-based), with its stage history. */
  deal(i: number): Deal {
    if (!Number.isInteger(i) || i < 0 || i >= this.dealCount) throw new RangeError(`no deal ${i}`);
    const rng = new Rng(seedOf(this.org.seed, 0xdea1, i));
    const ctx = this.ctx;
    ctx.rng = rng;
    const rep = this.dealOwner(i);
    const { team, currency: repCurrency } = this.repInfo[i % this.reps.length]!;
    const profile = SEGMENT_PROFILES[team.segment];
    const winRate = Math.min(0.7, Math.max(0.05, (profile.winRate * rep.traits.skill * rep.traits.performance) / 0.9));
    let draft: DraftDeal | null = null;
    for (let tries = 0; tries < 12 && !draft; tries++) {
      const offset = rng.weighted(QUARTER_WEIGHTS);
      const { quarter, elapsed } = this.quarters.get(offset)!;
      const fate = rng.chance(winRate) ? 'won' : 'lost';
      const median = profile.median * this.base.amountScale * Number(rateOn(repCurrency, quarter.start));
      const amount = rng.logNormal(median, profile.sigma);
      const when = offset === 0 ? (rng.chance(elapsed) ? 'before' : 'after') : 'any';
      draft = makeDeal(ctx, { rep, quarter, offset, target: 0 }, fate, amount, repCurrency, when);
    }
    // A rep hired late has no room in old quarters: an open deal closing next quarter always fits.
    draft ??= makeDeal(
      ctx,
      { rep, quarter: this.quarters.get(1)!.quarter, offset: 1, target: 0 },
      'lost',
      SEGMENT_PROFILES.SMB.median,
      repCurrency,
      'after',
    );
    if (!draft) throw new AppError('INTERNAL', `deal ${i} could not be made`, { where: this.dealKey(i) });
    return { ...draft, key: this.dealKey(i), lineItems: [], splits: [] };
  }

  activityKey(j: number): string {
    return `act-${String(j + 1).padStart(7, '0')}`;
  }

  /** Activity `j` (0-based): owned by rep `j mod reps`, on a weekday of the last six weeks they worked. */
  activity(j: number): Activity {
    if (!Number.isInteger(j) || j < 0 || j >= this.activityCount) throw new RangeError(`no activity ${j}`);
    const rng = new Rng(seedOf(this.org.seed, 0xac71, j));
    const repIndex = j % this.reps.length;
    const rep = this.reps[repIndex] as Person;
    const anchor = this.org.anchorDate;
    const first = plusDays(anchor, -LAZY_ACTIVITY_DAYS);
    const from = maxDate(rep.startDate, first);
    const span = Math.max(0, daysBetween(from, anchor));
    let day: PlainDate = plusDays(from, rng.int(0, span));
    for (let tries = 0; tries < 6 && !isWeekday(day); tries++) day = plusDays(from, rng.int(0, span));
    const type: ActivityType = j % MEETING_EVERY === MEETING_EVERY - 1 ? 'meeting' : rng.weighted(TASK_TYPES);
    const dealsOfRep = Math.floor((this.dealCount - 1 - repIndex) / this.reps.length) + 1;
    const dealIndex =
      repIndex < this.dealCount && rng.chance(0.55) ? repIndex + this.reps.length * rng.int(0, dealsOfRep - 1) : -1;
    const late = plusDays(anchor, -3);
    return {
      key: this.activityKey(j),
      ownerKey: rep.key,
      type,
      bulk: type === 'email' && rng.chance(0.1),
      subject: rng.pick(SUBJECTS[type]),
      date: day,
      createdAt: workInstant(rng, day, anchor),
      dealKey: dealIndex >= 0 ? this.dealKey(dealIndex) : null,
      durationMinutes: type === 'meeting' ? rng.pick([30, 45, 60]) : type === 'call' ? rng.int(3, 40) : null,
      completed: type === 'meeting' || type === 'call' || type === 'email' || day < late || rng.chance(0.5),
    };
  }

  /** The deal index of a deal key this org made, or null. */
  dealIndexOf(key: string): number | null {
    const m = /^deal-(\d{7})$/.exec(key);
    const i = m ? Number(m[1]) - 1 : -1;
    return i >= 0 && i < this.dealCount ? i : null;
  }
}
