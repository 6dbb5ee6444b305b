/**
 * Open and weighted pipeline, coverage and its bands. Pipeline is the open deals closing in `[D, period end]`; an
 * open deal whose close date has passed is not pipeline but overdue, and is listed apart so reports can say so.
 */
import type { PlainDate } from '../../util/date.ts';
import { type Dec, type DecimalInput, ZERO } from '../../util/money.ts';
import type { Credit } from './booking.ts';
import { type Maybe, none, type Period, some } from './types.ts';

export type CoverageBand = 'strong' | 'adequate' | 'low' | 'critical';

export interface CoverageBands {
  strong: DecimalInput;
  adequate: DecimalInput;
  low: DecimalInput;
}

export const DEFAULT_COVERAGE_BANDS: CoverageBands = { strong: '3.0', adequate: '2.5', low: '1.5' };

export interface PipelineFigures {
  open: Dec;
  weighted: Dec;
  openDeals: number;
  /** Credits in the open pipeline, sorted by close date then deal id. */
  openCredits: Credit[];
  /** Open credits whose close date is before D. */
  overdue: Credit[];
  overdueAmount: Dec;
  coverage: Maybe<Dec>;
  coverageBand: Maybe<CoverageBand>;
}

function byCloseThenId(a: Credit, b: Credit): number {
  if (a.deal.closeDate !== b.deal.closeDate) return a.deal.closeDate < b.deal.closeDate ? -1 : 1;
  if (a.deal.id !== b.deal.id) return a.deal.id < b.deal.id ? -1 : 1;
  if (a.ownerId !== b.ownerId) return a.ownerId < b.ownerId ? -1 : 1;
  return Number(a.overlay) - Number(b.overlay);
}

export function coverageBand(coverage: Dec, bands: CoverageBands = DEFAULT_COVERAGE_BANDS): CoverageBand {
  if (coverage.gte(bands.strong)) return 'strong';
  if (coverage.gte(bands.adequate)) return 'adequate';
  if (coverage.gte(bands.low)) return 'low';
  return 'critical';
}

/**
 * Pipeline of a subject's credits: open deals closing in `[D, period end]` (and, for a period that has not started,
 * not before its start). Overdue deals are every open deal whose close date is before D, whatever the period. `remaining` is `max(Q - A, 0)` from attainment, or null (no quota): coverage is
 * then null with `no_quota`, and with `quota_met` when nothing remains.
 */
export function computePipeline(
  credits: readonly Credit[],
  period: Period,
  asOf: PlainDate,
  remaining: Maybe<Dec>,
  bands?: CoverageBands,
): PipelineFigures {
  const openCredits: Credit[] = [];
  const overdue: Credit[] = [];
  let open = ZERO;
  let weighted = ZERO;
  let overdueAmount = ZERO;
  const dealIds = new Set<string>();
  for (const c of credits) {
    if (c.category !== 'open') continue;
    if (c.deal.closeDate < asOf) {
      overdue.push(c);
      overdueAmount = overdueAmount.plus(c.amount);
    } else if (c.deal.closeDate >= period.start && c.deal.closeDate <= period.end) {
      openCredits.push(c);
      dealIds.add(c.deal.id);
      open = open.plus(c.amount);
      if (c.deal.probability !== null) weighted = weighted.plus(c.amount.times(c.deal.probability));
    }
  }
  openCredits.sort(byCloseThenId);
  overdue.sort(byCloseThenId);
  let coverage: Maybe<Dec>;
  if (remaining.value === null) coverage = none(remaining.reason);
  else if (remaining.value.isZero()) coverage = none('quota_met');
  else coverage = some(open.div(remaining.value));
  return {
    open,
    weighted,
    openDeals: dealIds.size,
    openCredits,
    overdue,
    overdueAmount,
    coverage,
    coverageBand: coverage.value === null ? none(coverage.reason) : some(coverageBand(coverage.value, bands)),
  };
}
