/**
 * The booking policy: which deals are won, what they are worth in base currency, and who gets the credit.
 *
 * Every other module works on `Credit`s: one per (deal, credited owner), carrying the owner's share of the deal's
 * base amount. With splits off there is exactly one credit per deal, to the deal's owner at 100%.
 */
import type { PlainDate } from '../../util/date.ts';
import { Dec, ZERO } from '../../util/money.ts';
import { pushTo } from '../../util/multimap.ts';
import { type ConversionIssue, conversionDate, convertAmount, type FxTable } from './currency.ts';
import type { BookingPolicy, Deal, DealSplit, StageCategory } from './types.ts';

/** One owner's credit for one deal, in base currency. */
export interface Credit {
  deal: Deal;
  /** The category after the won-stage override. */
  category: StageCategory;
  ownerId: string;
  /** Fraction of the deal credited to `ownerId` (1 without splits). */
  share: Dec;
  /** The whole deal in base currency (converted at the close-date rate, or D's rate when open). */
  dealAmount: Dec;
  /** `dealAmount * share`. */
  amount: Dec;
  /** Overlay credits count for the individual but never roll up into a team. */
  overlay: boolean;
  /**
   * True when this is the deal's only credit (the deal has no splits at all), so counting distinct deals across
   * reps needs no set of ids for it; absent means "maybe shared" and is always safe.
   */
  sole?: boolean;
}

export interface BookingResult {
  credits: Credit[];
  /** Deals left out (no rate) or counted at zero (no amount), each naming the deal. */
  issues: ConversionIssue[];
}

const HUNDRED = new Dec(100);
const ONE = new Dec(1);

/**
 * The category under the policy. When RevOps lists won stages, a deal is won exactly when its stage is listed; a
 * deal the CRM calls won in a stage not listed is closed but not booked, so it counts as lost (it will not move
 * again, so it is not pipeline either).
 */
export function effectiveCategory(deal: Deal, policy: BookingPolicy): StageCategory {
  const won = policy.wonStages;
  if (!won || won.length === 0) return deal.stageCategory;
  if (won.includes(deal.stage)) return 'won';
  return deal.stageCategory === 'won' ? 'lost' : deal.stageCategory;
}

/**
 * Applies the policy, converts to base currency and splits credit. A deal with no rate for its currency is left
 * out of every sum and reported; a deal with no amount counts (in win rates by count) at zero and is reported.
 */
export function bookDeals(
  deals: readonly Deal[],
  splits: readonly DealSplit[],
  policy: BookingPolicy,
  fx: FxTable,
  asOf: PlainDate,
): BookingResult {
  const splitsByDeal = new Map<string, DealSplit[]>();
  if (policy.splits) {
    for (const s of splits) {
      pushTo(splitsByDeal, s.dealId, s);
    }
  }
  const credits: Credit[] = [];
  const issues: ConversionIssue[] = [];
  for (const deal of deals) {
    const category = effectiveCategory(deal, policy);
    const converted = convertAmount(
      fx,
      deal.amount,
      deal.currency,
      conversionDate({ ...deal, stageCategory: category }, asOf),
      deal.id,
    );
    let dealAmount: Dec;
    if (converted.amount !== null) dealAmount = converted.amount;
    else {
      issues.push(converted.issue);
      if (converted.issue.kind !== 'missing_amount') continue;
      dealAmount = ZERO;
    }
    const dealSplits = splitsByDeal.get(deal.id);
    const hasRevenueSplit = dealSplits?.some((s) => !s.overlay) ?? false;
    // Revenue splits always include the owner in the CRM; a deal with only overlays still credits its owner fully.
    if (!hasRevenueSplit)
      credits.push({
        deal,
        category,
        ownerId: deal.ownerId,
        share: ONE,
        dealAmount,
        amount: dealAmount,
        overlay: false,
        sole: dealSplits === undefined || dealSplits.length === 0,
      });
    for (const s of dealSplits ?? []) {
      const share = s.percent.div(HUNDRED);
      credits.push({
        deal,
        category,
        ownerId: s.ownerId,
        share,
        dealAmount,
        amount: dealAmount.times(share),
        overlay: s.overlay,
      });
    }
  }
  return { credits, issues };
}

/** Credits of one owner (overlays included: they credit the individual). */
export function creditsOf(credits: readonly Credit[], ownerId: string): Credit[] {
  return credits.filter((c) => c.ownerId === ownerId);
}
