/**
 * Deals and quotas. For every rep and quarter the generator decides the bookings the rep will reach
 * (quota x performance, with noise and tenure), draws won deals with log-normal amounts until it gets there,
 * adds lost deals in the proportion the rep's win rate for the segment implies, places close dates with an
 * end-of-quarter push, and walks each deal through the stages to its state at the anchor date. Deals closing
 * after the anchor are open pipeline, headed for their `fate`.
 */
import { AppError } from '../../errors.ts';
import { maxDate, minDate, type PlainDate } from '../../util/date.ts';
import { rateOn } from './currencies.ts';
import { type EarlyLife, liveDeal } from './deal-life.ts';
import {
  type Currency,
  type Deal,
  type FiscalQuarter,
  type LineItem,
  OPEN_STAGES,
  type Person,
  type ProductFamily,
  type Quota,
  type Segment,
  type Split,
  type Stage,
  type StageChange,
  stageInfo,
  type Team,
} from './model.ts';
import { COMPANY_SUFFIXES, COMPANY_WORDS, LEAD_SOURCES, PRODUCTS } from './names.ts';
import type { Rng } from './random.ts';
import { daysBetween, instantAt, plusDays, quarterOffset } from './time.ts';

export interface SegmentProfile {
  /** Median deal amount in the corporate currency. */
  median: number;
  sigma: number;
  /** Median days from created to close. */
  cycleDays: number;
  winRate: number;
  /** Quarterly quota in the corporate currency. */
  quota: number;
}

export const SEGMENT_PROFILES: Readonly<Record<Segment, SegmentProfile>> = {
  Enterprise: { median: 110_000, sigma: 0.6, cycleDays: 95, winRate: 0.2, quota: 600_000 },
  'Mid-Market': { median: 38_000, sigma: 0.5, cycleDays: 50, winRate: 0.28, quota: 300_000 },
  SMB: { median: 11_000, sigma: 0.45, cycleDays: 24, winRate: 0.38, quota: 120_000 },
};

export interface DealContext {
  rng: Rng;
  anchor: PlainDate;
  currencies: Map<string, Currency>;
  teams: Map<string, Team>;
  people: Person[];
  /** Multiplies deal sizes, not quotas: smaller deals mean more of them (how 500 reps make 100,000 deals). */
  amountScale: number;
  /** The first quarter with closed deals, relative to the anchor's (e.g. -4). */
  firstQuarter: number;
  /** Deals closing in another currency than their team's: [team currency, other currency, share]. */
  foreignDeals: readonly (readonly [string, string, number])[];
}

/** A deal before keys are assigned (keys come last so trimming to an exact count leaves no gaps). */
export type DraftDeal = Omit<Deal, 'key' | 'lineItems' | 'splits'> & {
  lineItems: Omit<LineItem, 'key'>[];
  splits: Omit<Split, 'key'>[];
  quarterOffset: number;
};

export function roundUnit(currency: Currency, amount: number): number {
  if (currency.decimalPlaces === 0) return Math.max(10_000, Math.round(amount / 10_000) * 10_000);
  return Math.max(100, Math.round(amount / 100) * 100);
}

/** The team a rep belonged to on a date. */
export function teamOn(person: Person, d: PlainDate): string | null {
  for (const s of person.teamHistory) if (s.from <= d && (s.to === null || d < s.to)) return s.teamKey;
  return person.teamHistory[0]?.teamKey ?? person.teamKey;
}

export function generateQuotas(ctx: DealContext, reps: Person[], quarters: FiscalQuarter[]): Quota[] {
  const quotas: Quota[] = [];
  for (const rep of reps) {
    for (const q of quarters) {
      if (rep.startDate > q.end || (rep.endDate !== null && rep.endDate <= q.start)) continue;
      const team = ctx.teams.get(teamOn(rep, maxDate(q.start, rep.startDate)) ?? '') as Team;
      const currency = ctx.currencies.get(rep.currency) as Currency;
      const base = SEGMENT_PROFILES[team.segment].quota * Number(rateOn(currency, q.start));
      const unit = currency.decimalPlaces === 0 ? 1_000_000 : 5_000;
      const amount = Math.max(unit, Math.round(base / unit) * unit);
      const createdDay = maxDate(plusDays(q.start, -14), rep.createdAt.slice(0, 10));
      quotas.push({
        key: `quota-${String(quotas.length + 1).padStart(6, '0')}`,
        personKey: rep.key,
        periodId: q.id,
        start: q.start,
        end: q.end,
        amount: String(amount),
        currency: rep.currency,
        // All of a quarter's quotas come in one import (a tie); next quarter's, if not yet due, this morning.
        createdAt: createdDay < ctx.anchor ? instantAt(createdDay, 60) : instantAt(ctx.anchor, 30),
      });
    }
  }
  return quotas;
}

function pickCloseDate(rng: Rng, q: FiscalQuarter): PlainDate {
  const len = daysBetween(q.start, q.end) + 1;
  // End-of-quarter push: three deals in ten close in the last ten days, the rest lean late too.
  if (rng.chance(0.3)) return plusDays(q.end, -rng.int(0, 9));
  return plusDays(q.start, Math.min(len - 1, Math.floor(rng.next() ** (1 / 1.4) * len)));
}

function companyName(rng: Rng): string {
  return `${rng.pick(COMPANY_WORDS)} ${rng.pick(COMPANY_SUFFIXES)}`;
}

const FAMILY_WEIGHTS: readonly (readonly [ProductFamily, number])[] = [
  ['Platform', 0.5],
  ['Analytics', 0.25],
  ['Services', 0.15],
  ['Support', 0.1],
];

const DEAL_TYPES: readonly (readonly [string, number])[] = [
  ['New Customer', 0.6],
  ['Existing Customer - Upgrade', 0.3],
  ['Existing Customer - Replacement', 0.07],
  ['Existing Customer - Downgrade', 0.03],
];

/** Stage path from the first open stage index to the deal's current or final stage. */
function stagePath(rng: Rng, fate: 'won' | 'lost', closed: boolean, progress: number): Stage[] {
  const start = rng.chance(0.25) ? 1 : 0;
  let last: number;
  if (closed && fate === 'won') last = 4;
  else if (closed)
    last = Math.min(
      4,
      start +
        rng.weighted([
          [0, 0.35],
          [1, 0.3],
          [2, 0.2],
          [3, 0.15],
        ] as const),
    );
  else last = Math.min(fate === 'won' ? 4 : 3, start + Math.floor(progress * 4.6));
  const path: Stage[] = [];
  for (let i = start; i <= last; i++)
    if (i === start || i === last || !rng.chance(0.15)) path.push(OPEN_STAGES[i] as Stage);
  if (closed) path.push(fate === 'won' ? 'Closed Won' : 'Closed Lost');
  return path;
}

/** Instants for each history row: the first at creation, the last on the close day when closed. */
function historyInstants(
  rng: Rng,
  createdAt: string,
  endDay: PlainDate,
  n: number,
  closed: boolean,
  anchor: PlainDate,
): string[] {
  const createdDay = createdAt.slice(0, 10);
  const span = Math.max(0, daysBetween(createdDay, endDay));
  const days: number[] = [0];
  for (let i = 1; i < n; i++) days.push(closed && i === n - 1 ? span : Math.floor((span * (i + rng.next())) / n));
  days.sort((a, b) => a - b);
  const out: string[] = [createdAt];
  let prev = createdAt;
  for (let i = 1; i < n; i++) {
    const day = plusDays(createdDay, days[i] as number);
    const limit = day === anchor ? 59 : 599;
    let at = instantAt(day, rng.next() * limit);
    if (at <= prev) {
      // Same day as the previous change: a few minutes later (rows stay strictly ordered).
      const prevMinutes = (Number(prev.slice(11, 13)) - 11) * 60 + Number(prev.slice(14, 16));
      at = instantAt(prev.slice(0, 10), Math.min(limit, prevMinutes + 1 + rng.int(0, 3)) + 0.5);
      if (at <= prev) at = `${prev.slice(0, 20)}${String(Number(prev.slice(20, 23)) + 1).padStart(3, '0')}Z`;
    }
    out.push(at);
    prev = at;
  }
  return out;
}

export interface SlotPlan {
  rep: Person;
  quarter: FiscalQuarter;
  offset: number;
  /** Bookings (in the rep's currency) the won deals reach. */
  target: number;
}

export function makeDeal(
  ctx: DealContext,
  slot: SlotPlan,
  fate: 'won' | 'lost',
  amountInRepCurrency: number,
  repCurrency: Currency,
  when: 'before' | 'after' | 'any',
): DraftDeal | null {
  const { rng, anchor } = ctx;
  const { rep, quarter } = slot;
  let close =
    when === 'before'
      ? plusDays(quarter.start, rng.int(0, daysBetween(quarter.start, anchor)))
      : when === 'after'
        ? maxDate(plusDays(anchor, 1), pickCloseDate(rng, quarter))
        : pickCloseDate(rng, quarter);
  const earliestClose = plusDays(rep.startDate, 7);
  if (close < earliestClose) {
    if (earliestClose > quarter.end) return null;
    close = plusDays(earliestClose, rng.int(0, Math.max(0, daysBetween(earliestClose, quarter.end))));
  }
  // A deal's segment follows the team its owner sat in when it was created; a few cross segments.
  const teamKey = teamOn(rep, close) as string;
  const team = ctx.teams.get(teamKey) as Team;
  const segment: Segment = rng.chance(0.08) ? rng.pick(['Enterprise', 'Mid-Market', 'SMB'] as const) : team.segment;
  const profile = SEGMENT_PROFILES[segment];
  const cycle = Math.round(Math.min(400, Math.max(5, rng.logNormal(profile.cycleDays, 0.45))));
  // What the owner could see: the anchor, or the leaver's last day.
  const asOf = rep.endDate !== null ? minDate(anchor, plusDays(rep.endDate, -1)) : anchor;
  let created = maxDate(plusDays(close, -cycle), rep.startDate);
  const closed = close <= asOf && !(close < anchor && close >= plusDays(anchor, -60) && rng.chance(0.05));
  if (!closed && created > plusDays(asOf, -2)) created = maxDate(rep.startDate, plusDays(asOf, -rng.int(2, 20)));
  if (created > asOf) return null;

  let currency = repCurrency;
  for (const [home, other, share] of ctx.foreignDeals) {
    if (home === repCurrency.code && rng.chance(share)) currency = ctx.currencies.get(other) as Currency;
  }
  const fx = currency === repCurrency ? 1 : Number(rateOn(currency, created)) / Number(rateOn(repCurrency, created));
  const amount = roundUnit(currency, amountInRepCurrency * fx);

  const progress = closed ? 1 : Math.min(1, daysBetween(created, asOf) / Math.max(1, daysBetween(created, close)));
  const path = stagePath(rng, fate, closed, progress);
  const createdAt = instantAt(created, rng.next() * (created === anchor ? 59 : 599));
  const endDay = closed ? close : asOf;
  const instants = historyInstants(rng, createdAt, endDay, path.length, closed, anchor);

  // Some deals slipped (an earlier planned close date) or were resized along the way.
  const slipDays = rng.chance(0.2) ? rng.int(7, 45) : 0;
  const resize = rng.chance(0.15) ? 0.8 + rng.next() * 0.45 : 1;
  const history: StageChange[] = path.map((stage, i) => {
    const early = i < Math.ceil(path.length / 2);
    const rowDay = (instants[i] as string).slice(0, 10);
    const info = stageInfo(stage);
    return {
      at: instants[i] as string,
      stage,
      amount: String(early && resize !== 1 ? roundUnit(currency, amount * resize) : amount),
      closeDate: early && slipDays > 0 ? maxDate(plusDays(rowDay, 7), plusDays(close, -slipDays)) : close,
      probability: info.probability,
      forecastCategory: info.forecastCategory,
    };
  });
  return draftDeal(rng, slot, { segment, currency, amount, closeDate: close, createdAt, fate, history });
}

/**
 * The deal a generated history adds up to, with its account, products and picklist values drawn around it (in
 * this order: the goldens depend on the draws).
 */
function draftDeal(
  rng: Rng,
  slot: SlotPlan,
  d: Pick<DraftDeal, 'segment' | 'closeDate' | 'createdAt' | 'fate' | 'history'> & {
    currency: Currency;
    amount: number;
  },
): DraftDeal {
  const last = d.history[d.history.length - 1] as StageChange;
  const account = companyName(rng);
  const family = rng.weighted(FAMILY_WEIGHTS);
  const lineItems = rng.chance(0.6) ? lineItemsFor(rng, family, d.amount) : [];
  return {
    name: `${account} - ${family} ${d.segment === 'Enterprise' ? 'platform deal' : 'deal'}`,
    accountName: account,
    ownerKey: slot.rep.key,
    segment: d.segment,
    type: rng.weighted(DEAL_TYPES),
    leadSource: rng.pick(LEAD_SOURCES),
    currency: d.currency.code,
    amount: String(d.amount),
    closeDate: d.closeDate,
    createdAt: d.createdAt,
    stage: last.stage,
    fate: d.fate,
    history: d.history,
    lineItems,
    splits: [],
    dirty: null,
    modifiedAt: last.at,
    quarterOffset: slot.offset,
  };
}

function lineItemsFor(rng: Rng, primary: ProductFamily, amount: number): Omit<LineItem, 'key'>[] {
  const n = rng.weighted([
    [1, 0.5],
    [2, 0.35],
    [3, 0.15],
  ] as const);
  const families: ProductFamily[] = [primary];
  while (families.length < n) families.push(rng.weighted(FAMILY_WEIGHTS));
  // Integer shares that add up to the deal amount exactly: Amount is the sum of the line items.
  const shares: number[] = [];
  let left = amount;
  for (let i = 0; i < n; i++) {
    const part = i === n - 1 ? left : Math.floor((left * (i === 0 ? 0.5 + rng.next() * 0.3 : 0.5)) / 100) * 100;
    shares.push(part);
    left -= part;
  }
  return families.map((family, i) => {
    const total = shares[i] as number;
    const quantity = [10, 5, 2, 1].find((q) => total % q === 0 && total / q >= 100) ?? 1;
    return {
      productFamily: family,
      productName: rng.pick(PRODUCTS[family]),
      quantity,
      unitPrice: String(total / quantity),
      totalPrice: String(total),
    };
  });
}

/** Revenue splits with a teammate on some larger deals, overlay credit for a specialist on a few. */
function addSplits(
  rng: Rng,
  deal: DraftDeal,
  reps: Person[],
  byKey: Map<string, Person>,
  teams: Map<string, Team>,
): void {
  if (deal.amount === null || deal.segment === 'SMB' || deal.fate === 'lost') return;
  const revenue = rng.chance(0.12);
  const overlay = rng.chance(0.06);
  if (!revenue && !overlay) return;
  const owner = byKey.get(deal.ownerKey) as Person;
  const mates = reps.filter((r) => r.teamKey === owner.teamKey && r.key !== owner.key);
  const mate = revenue && mates.length > 0 ? rng.pick(mates) : null;
  const ownerShare = mate ? rng.pick([50, 60, 70, 80]) : 100;
  deal.splits.push({ personKey: owner.key, percent: ownerShare, kind: 'Revenue' });
  if (mate) deal.splits.push({ personKey: mate.key, percent: 100 - ownerShare, kind: 'Revenue' });
  if (overlay) {
    const region = teams.get(owner.teamKey ?? '')?.regionKey;
    const others = reps.filter((r) => r.regionKey === region && r.teamKey !== owner.teamKey);
    if (others.length > 0)
      deal.splits.push({ personKey: rng.pick(others).key, percent: rng.pick([50, 100]), kind: 'Overlay' });
  }
}

/**
 * How far along deals come in and move before their close quarter, by segment (scaled by the rep's skill): SMB
 * deals win more often than Mid-Market ones, and those more than Enterprise ones, while a deal's chances once
 * in its close quarter are the same truth for all.
 */
const EARLY_AHEAD: Readonly<Record<Segment, EarlyLife>> = {
  Enterprise: { startAhead: 0.05, advance: 0.03, lose: 0.03 },
  'Mid-Market': { startAhead: 0.35, advance: 0.08, lose: 0.01 },
  SMB: { startAhead: 0.8, advance: 0.25, lose: 0 },
};

/**
 * The eventual win rate of a lived deal by segment, measured on the generated medium org: how many deals a rep
 * needs for their bookings target. Bookings then vary around the target as real ones do; nothing steers a deal's
 * outcome toward it.
 */
const LIVED_WIN_RATE: Readonly<Record<Segment, number>> = { Enterprise: 0.25, 'Mid-Market': 0.33, SMB: 0.4 };

/**
 * A deal whose stage history and outcome come from the sandbox's known truth (`liveDeal`): created a sales cycle
 * before a close date in the slot's quarter, it lives week by week to the anchor (the leaver's last day), and the
 * rest of its life is played out for its fate.
 */
export function makeLivedDeal(
  ctx: DealContext,
  slot: SlotPlan,
  amountInRepCurrency: number,
  repCurrency: Currency,
): DraftDeal | null {
  const { rng, anchor } = ctx;
  const { rep, quarter } = slot;
  let close = pickCloseDate(rng, quarter);
  const earliestClose = plusDays(rep.startDate, 7);
  if (close < earliestClose) {
    if (earliestClose > quarter.end) return null;
    close = plusDays(earliestClose, rng.int(0, Math.max(0, daysBetween(earliestClose, quarter.end))));
  }
  const team = ctx.teams.get(teamOn(rep, close) as string) as Team;
  const segment: Segment = rng.chance(0.08) ? rng.pick(['Enterprise', 'Mid-Market', 'SMB'] as const) : team.segment;
  const profile = SEGMENT_PROFILES[segment];
  const cycle = Math.round(Math.min(400, Math.max(5, rng.logNormal(profile.cycleDays, 0.45))));
  const asOf = rep.endDate !== null ? minDate(anchor, plusDays(rep.endDate, -1)) : anchor;
  const created = maxDate(plusDays(close, -cycle), rep.startDate);
  if (created > asOf) return null;

  let currency = repCurrency;
  for (const [home, other, share] of ctx.foreignDeals) {
    if (home === repCurrency.code && rng.chance(share)) currency = ctx.currencies.get(other) as Currency;
  }
  const fx = currency === repCurrency ? 1 : Number(rateOn(currency, created)) / Number(rateOn(repCurrency, created));
  const amount = roundUnit(currency, amountInRepCurrency * fx);

  const skill = Math.min(1.6, Math.max(0.5, rep.traits.skill));
  const ahead = EARLY_AHEAD[segment];
  const life = liveDeal(
    rng,
    created,
    {
      startAhead: Math.min(0.9, ahead.startAhead * skill),
      advance: Math.min(0.5, ahead.advance * skill),
      lose: ahead.lose,
    },
    close,
    asOf,
  );
  const resize = rng.chance(0.15) ? 0.8 + rng.next() * 0.45 : 1;
  let prev = '';
  const history: StageChange[] = life.events.map((e, i) => {
    const early = i < Math.ceil(life.events.length / 2);
    const at = instantAt(e.day, rng.next() * (e.day === anchor ? 59 : 599));
    // Days only ever increase along a life; the guard keeps instants strictly ordered all the same.
    const stamped = at > prev ? at : `${prev.slice(0, 20)}${String(Number(prev.slice(20, 23)) + 1).padStart(3, '0')}Z`;
    prev = stamped;
    const info = stageInfo(e.stage);
    return {
      at: stamped,
      stage: e.stage,
      amount: String(early && resize !== 1 ? roundUnit(currency, amount * resize) : amount),
      closeDate: e.closeDate,
      probability: info.probability,
      forecastCategory: info.forecastCategory,
    };
  });
  const closeDate = (history[history.length - 1] as StageChange).closeDate;
  const createdAt = history[0]?.at as string;
  return draftDeal(rng, slot, { segment, currency, amount, closeDate, createdAt, fate: life.fate, history });
}

/** The slots of every rep and quarter from `firstQuarter` through two quarters ahead, with bookings targets. */
function bookingSlots(ctx: DealContext, reps: Person[], quotas: Quota[]): SlotPlan[] {
  const { rng, anchor } = ctx;
  const quotaOf = new Map(quotas.map((q) => [`${q.personKey}|${q.periodId}`, q]));
  const slots: SlotPlan[] = [];
  for (const rep of reps) {
    const trend = rng.normal(0, 0.04);
    for (let offset = ctx.firstQuarter; offset <= 2; offset++) {
      const quarter = quarterOffset(anchor, offset);
      if (rep.startDate > plusDays(quarter.end, -7)) continue;
      if (rep.endDate !== null && rep.endDate <= quarter.start) continue;
      const quota = quotaOf.get(`${rep.key}|${quarter.id}`);
      const quotaAmount = quota
        ? Number(quota.amount)
        : Number(quotas.find((q) => q.personKey === rep.key)?.amount ?? 0);
      const len = daysBetween(quarter.start, quarter.end) + 1;
      const tenure = Math.min(1, daysBetween(rep.startDate, quarter.end) / len);
      const ramp = tenure < 1 ? tenure * 0.5 : 1;
      const perf = rep.traits.performance * Math.exp(rng.normal(0, 0.08) + trend * offset);
      slots.push({ rep, quarter, offset, target: quotaAmount * perf * ramp });
    }
  }
  return slots;
}

/** Lived deals of one slot: as many as the target needs at the eventual win rate (decided before any outcome). */
function livedSlotDeals(ctx: DealContext, slot: SlotPlan, out: DraftDeal[]): void {
  const { rng } = ctx;
  const repCurrency = ctx.currencies.get(slot.rep.currency) as Currency;
  const team = ctx.teams.get(teamOn(slot.rep, maxDate(slot.quarter.start, slot.rep.startDate)) ?? '') as Team;
  const profile = SEGMENT_PROFILES[team.segment];
  const median = profile.median * ctx.amountScale * Number(rateOn(repCurrency, slot.quarter.start));
  let expected = 0;
  while (expected < slot.target) {
    const amount = rng.logNormal(median, profile.sigma);
    expected += amount * LIVED_WIN_RATE[team.segment];
    const draft = makeLivedDeal(ctx, slot, amount, repCurrency);
    if (draft) out.push(draft);
  }
}

/** All deal drafts of the small and medium orgs: lived deals (`deal-life.ts`), so forecasts have a known truth. */
export function generateLivedDeals(ctx: DealContext, reps: Person[], quotas: Quota[]): DraftDeal[] {
  const drafts: DraftDeal[] = [];
  for (const slot of bookingSlots(ctx, reps, quotas)) livedSlotDeals(ctx, slot, drafts);
  const byKey = new Map(reps.map((r) => [r.key, r]));
  for (const d of drafts) addSplits(ctx.rng, d, reps, byKey, ctx.teams);
  return drafts;
}

/**
 * Fills a shortfall up to `count` with lived deals of random closed-quarter slots of active reps: their outcomes
 * come from the same truth, so the filler leaves the learned probabilities where they were.
 */
export function topUpLivedDeals(ctx: DealContext, reps: Person[], drafts: DraftDeal[], count: number): void {
  const { rng, anchor } = ctx;
  const slots: SlotPlan[] = [];
  for (const rep of reps) {
    if (rep.endDate !== null) continue;
    for (let offset = ctx.firstQuarter; offset < 0; offset++) {
      const quarter = quarterOffset(anchor, offset);
      if (rep.startDate <= plusDays(quarter.end, -7)) slots.push({ rep, quarter, offset, target: 0 });
    }
  }
  if (slots.length === 0) throw new AppError('INTERNAL', 'no rep worked a closed quarter: cannot add filler deals');
  for (let tries = 0; drafts.length < count; tries++) {
    if (tries > 10 * count) throw new AppError('INTERNAL', `could not fill the org up to ${count} deals`);
    const slot = rng.pick(slots);
    const repCurrency = ctx.currencies.get(slot.rep.currency) as Currency;
    const team = ctx.teams.get(teamOn(slot.rep, slot.quarter.start) ?? '') as Team;
    const profile = SEGMENT_PROFILES[team.segment];
    const median = profile.median * ctx.amountScale * Number(rateOn(repCurrency, slot.quarter.start));
    const draft = makeLivedDeal(ctx, slot, rng.logNormal(median, profile.sigma), repCurrency);
    if (draft) drafts.push(draft);
  }
}
