/**
 * Open and weighted pipeline, coverage and its bands. Pipeline is the open deals closing in `[D, period end]`; an
 * open deal whose close date has passed is not pipeline but overdue, and is listed apart so reports can say so.
 */
import type { PlainDate } from '../../util/date.ts';
import { type Dec, type DecimalInput, ZERO } from '../../util/money.ts';
import type { Credit } from './booking.ts';
import { concatOnRead } from './merged-lists.ts';
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
  /** Distinct deals among `overdue`. */
  overdueDeals: number;
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
 * The additive part of a subject's pipeline: open and overdue credits (unsorted) with their sums, and the open and
 * overdue deals counted without double-counting a split deal (sole credits counted, shared ones by id). Members' partials
 * of a group merge by `mergePipelinePartials`.
 */
export interface PipelinePartial {
  openCredits: Credit[];
  open: Dec;
  weighted: Dec;
  soleOpenDeals: number;
  sharedOpenDeals: Set<string>;
  overdue: Credit[];
  overdueAmount: Dec;
  soleOverdueDeals: number;
  sharedOverdueDeals: Set<string>;
  /** Set once the lists are sorted by close date, deal and owner. */
  sorted?: boolean;
}

/** Open deals closing in `[D, period end]` (and not before the period starts) and open deals overdue at D. */
export function pipelinePartial(credits: readonly Credit[], period: Period, asOf: PlainDate): PipelinePartial {
  const openCredits: Credit[] = [];
  const overdue: Credit[] = [];
  let open = ZERO;
  let weighted = ZERO;
  let overdueAmount = ZERO;
  let soleOpenDeals = 0;
  const sharedOpenDeals = new Set<string>();
  let soleOverdueDeals = 0;
  const sharedOverdueDeals = new Set<string>();
  for (const c of credits) {
    if (c.category !== 'open') continue;
    if (c.deal.closeDate < asOf) {
      overdue.push(c);
      overdueAmount = overdueAmount.plus(c.amount);
      if (c.sole === true) soleOverdueDeals++;
      else sharedOverdueDeals.add(c.deal.id);
    } else if (c.deal.closeDate >= period.start && c.deal.closeDate <= period.end) {
      openCredits.push(c);
      if (c.sole === true) soleOpenDeals++;
      else sharedOpenDeals.add(c.deal.id);
      open = open.plus(c.amount);
      if (c.deal.probability !== null) weighted = weighted.plus(c.amount.times(c.deal.probability));
    }
  }
  return {
    openCredits,
    open,
    weighted,
    soleOpenDeals,
    sharedOpenDeals,
    overdue,
    overdueAmount,
    soleOverdueDeals,
    sharedOverdueDeals,
  };
}

/**
 * A group's pipeline partial from its members' (sums added in order, shared ids united, the credit lists
 * concatenated in order when first read).
 */
export function mergePipelinePartials(parts: readonly PipelinePartial[], withSums = true): PipelinePartial {
  const out: PipelinePartial = {
    openCredits: [],
    open: ZERO,
    weighted: ZERO,
    soleOpenDeals: 0,
    sharedOpenDeals: new Set(),
    overdue: [],
    overdueAmount: ZERO,
    soleOverdueDeals: 0,
    sharedOverdueDeals: new Set(),
  };
  for (const p of parts) {
    if (withSums) {
      out.open = out.open.plus(p.open);
      out.weighted = out.weighted.plus(p.weighted);
      out.overdueAmount = out.overdueAmount.plus(p.overdueAmount);
    }
    out.soleOpenDeals += p.soleOpenDeals;
    for (const id of p.sharedOpenDeals) out.sharedOpenDeals.add(id);
    out.soleOverdueDeals += p.soleOverdueDeals;
    for (const id of p.sharedOverdueDeals) out.sharedOverdueDeals.add(id);
  }
  concatOnRead(out, 'openCredits', () => parts.map((p) => p.openCredits));
  concatOnRead(out, 'overdue', () => parts.map((p) => p.overdue));
  return out;
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
  return pipelineFromPartial(pipelinePartial(credits, period, asOf), remaining, bands);
}

/** The pipeline figures from a (possibly merged) partial; its lists are sorted in place when first read. */
export function pipelineFromPartial(p: PipelinePartial, remaining: Maybe<Dec>, bands?: CoverageBands): PipelineFigures {
  const { open } = p;
  const sorted = () => {
    if (p.sorted !== true) {
      p.openCredits.sort(byCloseThenId);
      p.overdue.sort(byCloseThenId);
      p.sorted = true;
    }
    return p;
  };
  let coverage: Maybe<Dec>;
  if (remaining.value === null) coverage = none(remaining.reason);
  else if (remaining.value.isZero()) coverage = none('quota_met');
  else coverage = some(open.div(remaining.value));
  return {
    open,
    weighted: p.weighted,
    openDeals: p.soleOpenDeals + p.sharedOpenDeals.size,
    get openCredits() {
      return sorted().openCredits;
    },
    get overdue() {
      return sorted().overdue;
    },
    overdueAmount: p.overdueAmount,
    overdueDeals: p.soleOverdueDeals + p.sharedOverdueDeals.size,
    coverage,
    coverageBand: coverage.value === null ? none(coverage.reason) : some(coverageBand(coverage.value, bands)),
  };
}
