/**
 * Conversion figures over a window of closed deals: win rate (by count and by value), average deal size, sales
 * cycle, velocity; stage conversion from stage history; lead-to-opportunity by cohort month.
 *
 * Counts are of deals, not credits: a rep with a 50% split of a won deal has won one deal, worth his share.
 */
import { diffDays, type PlainDate } from '../../util/date.ts';
import { Dec, ZERO } from '../../util/money.ts';
import type { Credit } from './booking.ts';
import { concatOnRead } from './merged-lists.ts';
import type { Lead, Maybe, StageHistoryEntry } from './types.ts';
import { none, some } from './types.ts';
import type { DateWindow } from './windows.ts';

export interface ConversionFigures {
  won: number;
  lost: number;
  wonAmount: Dec;
  lostAmount: Dec;
  winRate: Maybe<Dec>;
  winRateByValue: Maybe<Dec>;
  avgDealSize: Maybe<Dec>;
  /** Mean of whole days from created to close of the won deals; a mean, so not always whole. */
  salesCycleDays: Maybe<Dec>;
  wonCredits: Credit[];
  lostCredits: Credit[];
}

/**
 * The additive part of conversion figures over a window: won and lost credits with their sums, and the distinct
 * won and lost deals (sole credits counted, shared ones by id, each won deal's cycle days once).
 */
export interface ConversionPartial {
  wonCredits: Credit[];
  lostCredits: Credit[];
  wonAmount: Dec;
  lostAmount: Dec;
  soleWon: number;
  soleLost: number;
  soleCycleDays: number;
  /** Won deal id -> its whole days from created to close. */
  sharedWon: Map<string, number>;
  sharedLost: Set<string>;
}

function cycleDaysOf(c: Credit): number {
  // A close date before the created date is a data error; it counts as a same-day close, not negative days.
  return Math.max(diffDays(c.deal.createdDate, c.deal.closeDate), 0);
}

/** Credits closed in the window, split into the additive parts of the conversion figures. */
export function conversionPartial(credits: readonly Credit[], window: DateWindow): ConversionPartial {
  const p = emptyConversionPartial();
  const { start, end } = window;
  for (const c of credits) {
    if (c.category === 'open') continue;
    const d = c.deal.closeDate;
    if (d < start || d > end) continue;
    if (c.category === 'won') {
      p.wonCredits.push(c);
      p.wonAmount = p.wonAmount.plus(c.amount);
      if (c.sole === true) {
        p.soleWon++;
        p.soleCycleDays += cycleDaysOf(c);
      } else if (!p.sharedWon.has(c.deal.id)) p.sharedWon.set(c.deal.id, cycleDaysOf(c));
    } else {
      p.lostCredits.push(c);
      p.lostAmount = p.lostAmount.plus(c.amount);
      if (c.sole === true) p.soleLost++;
      else p.sharedLost.add(c.deal.id);
    }
  }
  return p;
}

function emptyConversionPartial(): ConversionPartial {
  return {
    wonCredits: [],
    lostCredits: [],
    wonAmount: ZERO,
    lostAmount: ZERO,
    soleWon: 0,
    soleLost: 0,
    soleCycleDays: 0,
    sharedWon: new Map(),
    sharedLost: new Set(),
  };
}

/**
 * A group's conversion partial from its members' (sums added in order, shared ids united, the credit lists
 * concatenated in order when first read).
 */
export function mergeConversionPartials(parts: readonly ConversionPartial[], withSums = true): ConversionPartial {
  const out = emptyConversionPartial();
  for (const p of parts) {
    if (withSums) {
      out.wonAmount = out.wonAmount.plus(p.wonAmount);
      out.lostAmount = out.lostAmount.plus(p.lostAmount);
    }
    out.soleWon += p.soleWon;
    out.soleLost += p.soleLost;
    out.soleCycleDays += p.soleCycleDays;
    for (const [id, days] of p.sharedWon) if (!out.sharedWon.has(id)) out.sharedWon.set(id, days);
    for (const id of p.sharedLost) out.sharedLost.add(id);
  }
  concatOnRead(out, 'wonCredits', () => parts.map((p) => p.wonCredits));
  concatOnRead(out, 'lostCredits', () => parts.map((p) => p.lostCredits));
  return out;
}

/** Win rate, deal size and cycle from a (possibly merged) partial. */
export function conversionFromPartial(p: ConversionPartial): ConversionFigures {
  const won = p.soleWon + p.sharedWon.size;
  const lost = p.soleLost + p.sharedLost.size;
  let cycleDays = p.soleCycleDays;
  for (const days of p.sharedWon.values()) cycleDays += days;
  const { wonAmount, lostAmount } = p;
  const decided = won + lost;
  const value = wonAmount.plus(lostAmount);
  return {
    won,
    lost,
    wonAmount,
    lostAmount,
    winRate: decided === 0 ? none('no_closed_deals') : some(new Dec(won).div(decided)),
    winRateByValue: value.isZero() ? none('no_closed_deals') : some(wonAmount.div(value)),
    avgDealSize: won === 0 ? none('no_won_deals') : some(wonAmount.div(won)),
    salesCycleDays: won === 0 ? none('no_won_deals') : some(new Dec(cycleDays).div(won)),
    // Read through: a merged partial's lists are made only if someone reads them.
    get wonCredits() {
      return p.wonCredits;
    },
    get lostCredits() {
      return p.lostCredits;
    },
  };
}

/** Win rate, deal size and cycle over credits closed in the window (default: trailing 4 quarters). */
export function computeConversion(credits: readonly Credit[], window: DateWindow): ConversionFigures {
  return conversionFromPartial(conversionPartial(credits, window));
}

/** `open deals * win rate * average deal size / sales cycle`, money per day. */
export function velocity(openDeals: number, c: ConversionFigures): Maybe<Dec> {
  if (c.winRate.value === null) return none(c.winRate.reason);
  if (c.avgDealSize.value === null || c.salesCycleDays.value === null) return none('no_won_deals');
  if (c.salesCycleDays.value.isZero()) return none('zero_sales_cycle');
  return some(new Dec(openDeals).times(c.winRate.value).times(c.avgDealSize.value).div(c.salesCycleDays.value));
}

export interface StageConversion {
  stage: string;
  entered: number;
  advanced: number;
  rate: Maybe<Dec>;
}

/**
 * For each stage s of the funnel but the last, the share of deals that entered s and later entered any stage
 * further down `stageOrder` (skipping s+1 still counts: the deal got past s). Put the won stage last in
 * `stageOrder`; stages not in it (lost) never count as advancing. "Later" is on or after the date s was entered.
 */
export function stageConversion(
  history: readonly StageHistoryEntry[],
  stageOrder: readonly string[],
): StageConversion[] {
  const index = new Map(stageOrder.map((s, i) => [s, i] as const));
  // Per deal: the first date it entered each stage index.
  const firstEntry = new Map<string, Map<number, PlainDate>>();
  for (const h of history) {
    const i = index.get(h.stage);
    if (i === undefined) continue;
    let m = firstEntry.get(h.dealId);
    if (!m) {
      m = new Map();
      firstEntry.set(h.dealId, m);
    }
    const prev = m.get(i);
    if (prev === undefined || h.date < prev) m.set(i, h.date);
  }
  const out: StageConversion[] = [];
  for (let i = 0; i < stageOrder.length - 1; i++) {
    let entered = 0;
    let advanced = 0;
    for (const m of firstEntry.values()) {
      const at = m.get(i);
      if (at === undefined) continue;
      entered++;
      for (const [j, d] of m) {
        if (j > i && d >= at) {
          advanced++;
          break;
        }
      }
    }
    out.push({
      stage: stageOrder[i] as string,
      entered,
      advanced,
      rate: entered === 0 ? none('no_deals_entered') : some(new Dec(advanced).div(entered)),
    });
  }
  return out;
}

export interface LeadCohort {
  /** `YYYY-MM` of the leads' created date. */
  month: string;
  created: number;
  /** Leads of the cohort converted on or before D. */
  converted: number;
  rate: Dec;
}

/** Lead-to-opportunity by cohort month, counting conversions up to D; cohorts sorted by month. */
export function leadToOpportunity(leads: readonly Lead[], asOf: PlainDate): LeadCohort[] {
  const cohorts = new Map<string, { created: number; converted: number }>();
  for (const l of leads) {
    if (l.createdDate > asOf) continue;
    const month = l.createdDate.slice(0, 7);
    let c = cohorts.get(month);
    if (!c) {
      c = { created: 0, converted: 0 };
      cohorts.set(month, c);
    }
    c.created++;
    if (l.convertedDate !== null && l.convertedDate <= asOf) c.converted++;
  }
  return [...cohorts.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([month, c]) => ({ month, ...c, rate: new Dec(c.converted).div(c.created) }));
}
