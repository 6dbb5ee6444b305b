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
 * The additive part of a subject's pipeline: open and overdue credits (unsorted) with their sums, and the open
 * deals counted without double-counting a split deal (sole credits counted, shared ones by id). Members' partials
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
  /** Set when the lists are already sorted by close date, deal and owner (a merge keeps them so). */
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
  for (const c of credits) {
    if (c.category !== 'open') continue;
    if (c.deal.closeDate < asOf) {
      overdue.push(c);
      overdueAmount = overdueAmount.plus(c.amount);
    } else if (c.deal.closeDate >= period.start && c.deal.closeDate <= period.end) {
      openCredits.push(c);
      if (c.sole === true) soleOpenDeals++;
      else sharedOpenDeals.add(c.deal.id);
      open = open.plus(c.amount);
      if (c.deal.probability !== null) weighted = weighted.plus(c.amount.times(c.deal.probability));
    }
  }
  return { openCredits, open, weighted, soleOpenDeals, sharedOpenDeals, overdue, overdueAmount };
}

/**
 * The changes between a group's previous members' partials and its current ones, by identity: when few partials
 * changed, the sorted lists and trial totals of the previous merge are updated instead of rebuilt.
 */
export interface MergeDelta<P> {
  removed: readonly P[];
  added: readonly P[];
}

/** `sorted` (by close date, deal, owner) without the credits of `removed`, with those of `added` merged in. */
function updateSorted(sorted: readonly Credit[], removed: readonly Credit[][], added: readonly Credit[][]): Credit[] {
  const outgoing: Credit[] = [];
  for (const list of removed) for (const c of list) outgoing.push(c);
  const incoming: Credit[] = [];
  for (const list of added) for (const c of list) incoming.push(c);
  outgoing.sort(byCloseThenId);
  incoming.sort(byCloseThenId);
  // The usual case (a re-booked rep whose credits kept their dates and ids): swap them in place, no comparisons.
  if (outgoing.length === incoming.length && outgoing.every((c, i) => byCloseThenId(c, incoming[i] as Credit) === 0)) {
    if (outgoing.length === 0) return [...sorted];
    const swap = new Map<Credit, Credit>();
    for (let i = 0; i < outgoing.length; i++) swap.set(outgoing[i] as Credit, incoming[i] as Credit);
    return sorted.map((c) => swap.get(c) ?? c);
  }
  const gone = new Set<Credit>(outgoing);
  const kept = gone.size === 0 ? sorted : sorted.filter((c) => !gone.has(c));
  if (incoming.length === 0) return kept === sorted ? [...sorted] : (kept as Credit[]);
  const out: Credit[] = new Array(kept.length + incoming.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < kept.length && j < incoming.length) {
    const a = kept[i] as Credit;
    const b = incoming[j] as Credit;
    if (byCloseThenId(a, b) <= 0) {
      out[k++] = a;
      i++;
    } else {
      out[k++] = b;
      j++;
    }
  }
  while (i < kept.length) out[k++] = kept[i++] as Credit;
  while (j < incoming.length) out[k++] = incoming[j++] as Credit;
  return out;
}

/**
 * A group's pipeline partial from its members' (sums added in order, shared ids united). The lists are
 * concatenated, or with `previous` (the last merge, whose lists `pipelineFromPartial` sorted) and the partials
 * that changed since, kept sorted by removing and merging in only the changed members' credits.
 */
export function mergePipelinePartials(
  parts: readonly PipelinePartial[],
  previous?: { merged: PipelinePartial; delta: MergeDelta<PipelinePartial> },
  withSums = true,
): PipelinePartial {
  const out: PipelinePartial = {
    openCredits: [],
    open: ZERO,
    weighted: ZERO,
    soleOpenDeals: 0,
    sharedOpenDeals: new Set(),
    overdue: [],
    overdueAmount: ZERO,
  };
  for (const p of parts) {
    if (!previous) {
      for (const c of p.openCredits) out.openCredits.push(c);
      for (const c of p.overdue) out.overdue.push(c);
    }
    if (withSums) {
      out.open = out.open.plus(p.open);
      out.weighted = out.weighted.plus(p.weighted);
      out.overdueAmount = out.overdueAmount.plus(p.overdueAmount);
    }
    out.soleOpenDeals += p.soleOpenDeals;
    for (const id of p.sharedOpenDeals) out.sharedOpenDeals.add(id);
  }
  if (previous) {
    const { merged, delta } = previous;
    out.openCredits = updateSorted(
      merged.openCredits,
      delta.removed.map((p) => p.openCredits),
      delta.added.map((p) => p.openCredits),
    );
    out.overdue = updateSorted(
      merged.overdue,
      delta.removed.map((p) => p.overdue),
      delta.added.map((p) => p.overdue),
    );
    out.sorted = true;
  }
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

/** The pipeline figures from a (possibly merged) partial; sorts its lists in place. */
export function pipelineFromPartial(p: PipelinePartial, remaining: Maybe<Dec>, bands?: CoverageBands): PipelineFigures {
  const { openCredits, overdue, open } = p;
  if (p.sorted !== true) {
    openCredits.sort(byCloseThenId);
    overdue.sort(byCloseThenId);
    p.sorted = true;
  }
  let coverage: Maybe<Dec>;
  if (remaining.value === null) coverage = none(remaining.reason);
  else if (remaining.value.isZero()) coverage = none('quota_met');
  else coverage = some(open.div(remaining.value));
  return {
    open,
    weighted: p.weighted,
    openDeals: p.soleOpenDeals + p.sharedOpenDeals.size,
    openCredits,
    overdue,
    overdueAmount: p.overdueAmount,
    coverage,
    coverageBand: coverage.value === null ? none(coverage.reason) : some(coverageBand(coverage.value, bands)),
  };
}
