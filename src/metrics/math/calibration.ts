/**
 * Deal win probabilities learned from the org's own stage history (docs/metrics.md, "Forecast confidence"):
 * weekly snapshots of the deals open in each ended period, a rate table by stage and weeks left shrunk toward the
 * stage and the org rate, an isotonic map fitted on a later window, the size of the shared period shock, and the
 * new-pipeline term. Everything here is a pure function of its inputs.
 */
import { addDays, diffDays, type PlainDate } from '../../util/date.ts';
import type { Dec } from '../../util/money.ts';
import type { Period, StageCategory } from './types.ts';

/** One row of a deal's stage history: its state from `date` on (dates in the org's time zone). */
export interface DealHistoryRow {
  date: PlainDate;
  stage: string;
  category: StageCategory;
  closeDate: PlainDate | null;
  /** The CRM's stage probability (0..1) on that row; null when it had none. */
  probability: number | null;
}

/** A deal's life as its stage history tells it, rows in date order. */
export interface DealTimeline {
  id: string;
  ownerId: string;
  createdDate: PlainDate;
  /** The deal's amount in base currency (the new-pipeline term draws from these); null when it has none. */
  amount: Dec | null;
  rows: readonly DealHistoryRow[];
}

/** A deal as it stood on one week origin of an ended period, and whether it was won by the period's end. */
export interface Snapshot {
  dealId: string;
  periodId: string;
  origin: PlainDate;
  /** Week index of the origin in its period (0 = the first day). */
  week: number;
  stage: string;
  weeksLeft: number;
  crmProbability: number | null;
  won: boolean;
}

/** Weeks left are capped here: a quarter has 13 weeks, and longer periods pool their early weeks. */
export const MAX_WEEKS_LEFT = 13;

export interface CalibrationSettings {
  priorWeight: number;
  minWins: number;
  minLosses: number;
}

export const DEFAULT_CALIBRATION: CalibrationSettings = { priorWeight: 20, minWins: 50, minLosses: 150 };

/** The shock used without calibration: a wider band than any fitted one is likely to be. */
export const FALLBACK_SIGMA = 1;
export const MAX_SIGMA = 2;

/** The state of a deal on a date: its last row on or before it, its first row when all are later. */
export function stateOn(t: DealTimeline, date: PlainDate): DealHistoryRow | null {
  let pick: DealHistoryRow | null = null;
  for (const r of t.rows) {
    if (r.date <= date) pick = r;
    else break;
  }
  return pick ?? t.rows[0] ?? null;
}

/** The day the deal was first marked won, or null. */
export function wonDay(t: DealTimeline): PlainDate | null {
  for (const r of t.rows) if (r.category === 'won') return r.date;
  return null;
}

/** The week origins of a period: its first day, then every 7 days while inside it. */
export function weekOrigins(period: Period): PlainDate[] {
  const out: PlainDate[] = [];
  for (let d = period.start; d <= period.end; d = addDays(d, 7)) out.push(d);
  return out;
}

/**
 * Weekly steps left after `date` until the period's end: the days after it through the end, in weeks rounded up (at
 * least 1, capped at MAX_WEEKS_LEFT). What happens on an origin's own day is seen at that origin, so its steps are
 * the days after it; counting the origin day as well gave week k of a 92-day quarter one more week than week k of
 * a 91-day one with the same steps left, and pooled the two in one cell.
 */
export function weeksLeft(date: PlainDate, periodEnd: PlainDate): number {
  return Math.min(Math.max(Math.ceil(diffDays(date, periodEnd) / 7), 1), MAX_WEEKS_LEFT);
}

/** The week index of a date in its period (0 on days 1 to 7). */
export function weekIndex(period: Period, date: PlainDate): number {
  return Math.max(Math.floor(diffDays(period.start, date) / 7), 0);
}

/** The snapshots of one ended period: every deal open on each week origin with a close date inside the period. */
export function periodSnapshots(timelines: readonly DealTimeline[], period: Period): Snapshot[] {
  const out: Snapshot[] = [];
  const origins = weekOrigins(period);
  for (const t of timelines) {
    if (t.rows.length === 0 || t.createdDate > period.end) continue;
    const last = t.rows[t.rows.length - 1] as DealHistoryRow;
    // Closed before the period began: no origin of it can see the deal open.
    if (last.category !== 'open' && last.date < period.start) continue;
    const won = wonDay(t);
    origins.forEach((origin, week) => {
      if (t.createdDate > origin) return;
      const s = stateOn(t, origin);
      if (s?.category !== 'open' || s.closeDate === null) return;
      if (s.closeDate < origin || s.closeDate > period.end) return;
      out.push({
        dealId: t.id,
        periodId: period.id,
        origin,
        week,
        stage: s.stage,
        weeksLeft: weeksLeft(origin, period.end),
        crmProbability: s.probability,
        won: won !== null && won >= origin && won <= period.end,
      });
    });
  }
  return out;
}

/** Wins and losses as (deal, period) pairs: a pair is a win when any of its snapshots was won. */
export function countOutcomes(snaps: readonly Snapshot[]): { wins: number; losses: number } {
  const pairs = new Map<string, boolean>();
  for (const s of snaps) {
    const key = `${s.periodId}|${s.dealId}`;
    pairs.set(key, (pairs.get(key) ?? false) || s.won);
  }
  let wins = 0;
  for (const w of pairs.values()) if (w) wins++;
  return { wins, losses: pairs.size - wins };
}

interface Tally {
  wins: number;
  n: number;
}

/** The shrunken rate table: org, stage and (stage, weeks left) rates. */
export interface RateTable {
  priorWeight: number;
  org: Tally & { rate: number };
  stages: Map<string, Tally & { rate: number }>;
  cells: Map<string, Tally & { rate: number }>;
}

const cellKey = (stage: string, weeks: number) => `${stage}|${weeks}`;

function tally(map: Map<string, Tally>, key: string, won: boolean): void {
  const t = map.get(key) ?? { wins: 0, n: 0 };
  t.n++;
  if (won) t.wins++;
  map.set(key, t);
}

/**
 * `r = W / N`, `r_s = (W_s + k r) / (N_s + k)`, `r_sw = (W_sw + k r_s) / (N_sw + k)`; with no snapshots at all the
 * org rate is 0 (nothing was ever won from an open deal that anyone saw).
 */
export function fitRateTable(snaps: readonly Snapshot[], priorWeight: number): RateTable {
  const k = priorWeight;
  let wins = 0;
  const stages = new Map<string, Tally>();
  const cells = new Map<string, Tally>();
  for (const s of snaps) {
    if (s.won) wins++;
    tally(stages, s.stage, s.won);
    tally(cells, cellKey(s.stage, s.weeksLeft), s.won);
  }
  const orgRate = snaps.length === 0 ? 0 : wins / snaps.length;
  const stageRates = new Map<string, Tally & { rate: number }>();
  for (const [stage, t] of stages) stageRates.set(stage, { ...t, rate: (t.wins + k * orgRate) / (t.n + k) });
  const cellRates = new Map<string, Tally & { rate: number }>();
  for (const [key, t] of cells) {
    const stage = key.slice(0, key.lastIndexOf('|'));
    const parent = stageRates.get(stage)?.rate ?? orgRate;
    cellRates.set(key, { ...t, rate: (t.wins + k * parent) / (t.n + k) });
  }
  return { priorWeight: k, org: { wins, n: snaps.length, rate: orgRate }, stages: stageRates, cells: cellRates };
}

/** Where a table's rate for a stage and weeks left came from: the cell, else its stage, else the org. */
export type CellSource = 'cell' | 'stage' | 'org';

export function tableRate(
  table: RateTable,
  stage: string,
  weeks: number,
): { rate: number; source: CellSource; n: number } {
  const c = table.cells.get(cellKey(stage, Math.min(weeks, MAX_WEEKS_LEFT)));
  if (c) return { rate: c.rate, source: 'cell', n: c.n };
  const s = table.stages.get(stage);
  if (s) return { rate: s.rate, source: 'stage', n: s.n };
  return { rate: table.org.rate, source: 'org', n: table.org.n };
}

/** Increasing points of an isotonic fit; empty means the identity map. */
export interface IsotonicMap {
  x: number[];
  y: number[];
}

/**
 * Isotonic regression of y on x by pool adjacent violators (equal x pooled first, each point weight 1): the points
 * are each pooled block's mean x and mean y, both increasing.
 */
export function fitIsotonic(points: readonly { x: number; y: number }[]): IsotonicMap {
  const sorted = [...points].sort((a, b) => a.x - b.x);
  const groups: { x: number; n: number; sy: number }[] = [];
  for (let i = 0; i < sorted.length; ) {
    const x = (sorted[i] as { x: number }).x;
    let sy = 0;
    let n = 0;
    while (i < sorted.length && (sorted[i] as { x: number }).x === x) {
      sy += (sorted[i] as { y: number }).y;
      n++;
      i++;
    }
    groups.push({ x, n, sy });
  }
  return poolAdjacentViolators(groups);
}

/**
 * Pool adjacent violators over points already pooled by x (`n` points at `x`, their y summing to `sy`), in
 * increasing x: each block's mean x and mean y, both increasing.
 */
export function poolAdjacentViolators(groups: Iterable<{ x: number; n: number; sy: number }>): IsotonicMap {
  const blocks: { sx: number; sy: number; n: number }[] = [];
  for (const { x, n, sy } of groups) {
    blocks.push({ sx: x * n, sy, n });
    while (blocks.length >= 2) {
      const b = blocks[blocks.length - 1] as { sx: number; sy: number; n: number };
      const a = blocks[blocks.length - 2] as { sx: number; sy: number; n: number };
      if (a.sy / a.n < b.sy / b.n) break;
      blocks.splice(blocks.length - 2, 2, { sx: a.sx + b.sx, sy: a.sy + b.sy, n: a.n + b.n });
    }
  }
  return { x: blocks.map((b) => b.sx / b.n), y: blocks.map((b) => b.sy / b.n) };
}

/** The isotonic map at x: linear between neighbouring points, the end value beyond them. */
export function applyIsotonic(map: IsotonicMap, x: number): number {
  const n = map.x.length;
  if (n === 0) return x;
  if (x <= (map.x[0] as number)) return map.y[0] as number;
  if (x >= (map.x[n - 1] as number)) return map.y[n - 1] as number;
  let hi = 1;
  while ((map.x[hi] as number) < x) hi++;
  const x0 = map.x[hi - 1] as number;
  const x1 = map.x[hi] as number;
  const y0 = map.y[hi - 1] as number;
  const y1 = map.y[hi] as number;
  return y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
}

/**
 * The size of the shared shock by moments: per origin `O` wins, `E = sum p`, `V = sum p (1 - p)`;
 * `sigma^2 = max(0, sum (O - E)^2 - sum V) / sum V^2`, capped at MAX_SIGMA.
 */
export function fitShockSigma(snaps: readonly Snapshot[], probability: (s: Snapshot) => number): number {
  const byOrigin = new Map<string, { o: number; e: number; v: number }>();
  for (const s of snaps) {
    const key = `${s.periodId}|${s.week}`;
    const g = byOrigin.get(key) ?? { o: 0, e: 0, v: 0 };
    const p = probability(s);
    if (s.won) g.o++;
    g.e += p;
    g.v += p * (1 - p);
    byOrigin.set(key, g);
  }
  let excess = 0;
  let v2 = 0;
  for (const g of byOrigin.values()) {
    excess += (g.o - g.e) ** 2 - g.v;
    v2 += g.v * g.v;
  }
  if (v2 === 0 || excess <= 0) return 0;
  return Math.min(Math.sqrt(excess / v2), MAX_SIGMA);
}

export type CalibrationBasis = 'calibrated' | 'crm_fallback';

export interface Calibration {
  basis: CalibrationBasis;
  /** Ended periods the history covers (with at least one snapshot). */
  periods: number;
  wins: number;
  losses: number;
  table: RateTable;
  isotonic: IsotonicMap;
  sigma: number;
  settings: CalibrationSettings;
}

/** Where a deal's forecast probability came from, for `--explain`. */
export interface DealProbability {
  p: number;
  source: CellSource | 'crm';
  stage: string;
  weeksLeft: number;
  /** Snapshots behind the rate (0 for the CRM's). */
  n: number;
}

/**
 * Learns the calibration from the snapshots of ended periods (in time order). The table is fitted on all of them;
 * the isotonic map on the last `ceil(n / 3)` periods scored by a table of the earlier ones.
 */
export function learnCalibration(
  snapsByPeriod: readonly (readonly Snapshot[])[],
  settings: CalibrationSettings,
): Calibration {
  const used = snapsByPeriod.filter((s) => s.length > 0);
  const all = used.flat();
  const table = fitRateTable(all, settings.priorWeight);
  let isotonic: IsotonicMap = { x: [], y: [] };
  if (used.length >= 2) {
    const held = Math.ceil(used.length / 3);
    const early = fitRateTable(used.slice(0, used.length - held).flat(), settings.priorWeight);
    isotonic = fitIsotonic(
      used
        .slice(used.length - held)
        .flat()
        .map((s) => ({ x: tableRate(early, s.stage, s.weeksLeft).rate, y: s.won ? 1 : 0 })),
    );
  }
  const { wins, losses } = countOutcomes(all);
  const basis: CalibrationBasis =
    wins >= settings.minWins && losses >= settings.minLosses ? 'calibrated' : 'crm_fallback';
  const partial = { basis, periods: used.length, wins, losses, table, isotonic, sigma: 0, settings };
  const sigma =
    basis === 'calibrated'
      ? fitShockSigma(all, (s) => dealProbability(partial, s.stage, s.weeksLeft, s.crmProbability).p)
      : FALLBACK_SIGMA;
  return { ...partial, sigma };
}

/** A deal's forecast probability: calibrated from its cell, or the CRM's under the fallback (0 when it has none). */
export function dealProbability(
  c: Pick<Calibration, 'basis' | 'table' | 'isotonic'>,
  stage: string,
  weeks: number,
  crmProbability: number | null,
): DealProbability {
  const w = Math.min(weeks, MAX_WEEKS_LEFT);
  if (c.basis === 'crm_fallback') return { p: crmProbability ?? 0, source: 'crm', stage, weeksLeft: w, n: 0 };
  const r = tableRate(c.table, stage, w);
  const p = Math.min(Math.max(applyIsotonic(c.isotonic, r.rate), 0), 1);
  return { p, source: r.source, stage, weeksLeft: w, n: r.n };
}

/** A rep's new-pipeline term for a week: the Poisson mean and the amounts it draws from. */
export interface NewPipelineTerm {
  lambda: number;
  amounts: Dec[];
}

/**
 * Deals created after week `week`'s origin and won inside the period, per owner, over the ended periods:
 * `lambda` is their mean count per period, the amounts are theirs (deals without an amount add to the count
 * only through those with one: they are left out of both).
 */
export function newPipelineTerms(
  timelines: readonly DealTimeline[],
  periods: readonly Period[],
  week: number,
): Map<string, NewPipelineTerm> {
  const out = new Map<string, NewPipelineTerm>();
  if (periods.length === 0) return out;
  for (const period of periods) {
    const origin = addDays(period.start, 7 * week);
    if (origin > period.end) continue;
    for (const t of timelines) {
      if (t.createdDate <= origin || t.amount === null) continue;
      const won = wonDay(t);
      if (won === null || won < origin || won > period.end) continue;
      const term = out.get(t.ownerId) ?? { lambda: 0, amounts: [] };
      term.lambda++;
      term.amounts.push(t.amount);
      out.set(t.ownerId, term);
    }
  }
  for (const term of out.values()) term.lambda /= periods.length;
  return out;
}

/** The deal's state, weeks left and CRM probability on `date`, when it is open pipeline of `period` then. */
export function openOn(
  t: DealTimeline,
  period: Period,
  date: PlainDate,
): { stage: string; weeksLeft: number; crmProbability: number | null } | null {
  if (t.createdDate > date) return null;
  const s = stateOn(t, date);
  if (s?.category !== 'open' || s.closeDate === null || s.closeDate < date || s.closeDate > period.end) return null;
  return { stage: s.stage, weeksLeft: weeksLeft(date, period.end), crmProbability: s.probability };
}
