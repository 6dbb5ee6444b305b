/**
 * Rankings with shared ranks (1, 2, 2, 4), percentiles, whole months of tenure and the distribution of subjects by
 * status band and by top / middle / bottom thirds.
 */
import { addMonths, type PlainDate } from '../../util/date.ts';
import { Dec, ZERO } from '../../util/money.ts';
import type { StatusBand } from './types.ts';

export interface RankInput {
  id: string;
  /** The ranked value (attainment or actual); null is left unranked (e.g. attainment without a quota). */
  value: Dec | null;
}

export interface Ranked {
  id: string;
  value: Dec | null;
  /** Competition rank: one plus the number of subjects strictly ahead. Null when unranked. */
  rank: number | null;
  /** How many subjects were ranked. */
  of: number;
  /**
   * Share of the other ranked subjects strictly behind this one: 1 for a clear leader, 0 for the last, 1 for a lone
   * subject. Ties share a percentile.
   */
  percentile: Dec | null;
}

function cmpId(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Ranks highest first; output sorted by rank (unranked last), ties by id, so input order never matters. */
export function rankSubjects(entries: readonly RankInput[]): Ranked[] {
  // Sorted by the values as doubles first, and exactly only where two doubles are equal: rounding to a double
  // keeps order (a < b gives a double <= b's). Equal values are told by their text (a decimal's text is the same
  // for the same value), not by comparing decimals: ranking 5,000 reps was mostly decimal comparisons of ties.
  const ranked = entries
    .filter((e): e is { id: string; value: Dec } => e.value !== null)
    .map((e) => {
      const text = e.value.toString();
      return { id: e.id, value: e.value, text, n: Number(text) };
    })
    .sort((a, b) => b.n - a.n || (a.text === b.text ? 0 : b.value.comparedTo(a.value)) || cmpId(a.id, b.id));
  const of = ranked.length;
  const out: Ranked[] = [];
  let lastTie = -1;
  for (let i = 0; i < of; i++) {
    const e = ranked[i] as (typeof ranked)[number];
    const prev = out[i - 1];
    const rank = prev && ranked[i - 1]?.text === e.text ? (prev.rank as number) : i + 1;
    // Subjects strictly behind: everyone after the last one tied with this one (found once per group of ties).
    if (lastTie < i) {
      lastTie = i;
      while (lastTie + 1 < of && ranked[lastTie + 1]?.text === e.text) lastTie++;
    }
    const behind = of - 1 - lastTie;
    out.push({ id: e.id, value: e.value, rank, of, percentile: of === 1 ? new Dec(1) : new Dec(behind).div(of - 1) });
  }
  const unranked = entries
    .filter((e) => e.value === null)
    .map((e) => e.id)
    .sort(cmpId);
  for (const id of unranked) out.push({ id, value: null, rank: null, of, percentile: null });
  return out;
}

/** Whole months from `start` to `on`: the largest k with start + k months <= on; -1 before the start. */
export function monthsOfTenure(start: PlainDate, on: PlainDate): number {
  if (on < start) return -1;
  const [sy, sm] = [Number(start.slice(0, 4)), Number(start.slice(5, 7))];
  const [oy, om] = [Number(on.slice(0, 4)), Number(on.slice(5, 7))];
  let k = (oy - sy) * 12 + (om - sm);
  while (k > 0 && addMonths(start, k) > on) k--;
  return k;
}

export interface DistributionInput {
  id: string;
  status: StatusBand | null;
  attainment: Dec | null;
  actual: Dec;
  quota: Dec | null;
  projectedTotal: Dec;
}

export interface BandTotals {
  count: number;
  actual: Dec;
  quota: Dec;
  projectedTotal: Dec;
}

export interface Distribution {
  byBand: Record<StatusBand | 'no_quota', BandTotals>;
  /** By attainment, highest first; sizes ceil(n/3), n - ceil(n/3) - floor(n/3), floor(n/3). */
  thirds: { top: string[]; middle: string[]; bottom: string[] };
  /** Subjects without an attainment, not placed in a third. */
  unplaced: string[];
}

const BANDS: readonly (StatusBand | 'no_quota')[] = [
  'on_track',
  'likely_to_hit',
  'at_risk',
  'likely_miss',
  'significant_gap',
  'major_gap',
  'no_quota',
];

export function distribution(entries: readonly DistributionInput[]): Distribution {
  const byBand = Object.fromEntries(
    BANDS.map((b) => [b, { count: 0, actual: ZERO, quota: ZERO, projectedTotal: ZERO }]),
  ) as Record<StatusBand | 'no_quota', BandTotals>;
  for (const e of entries) {
    const t = byBand[e.status ?? 'no_quota'];
    t.count++;
    t.actual = t.actual.plus(e.actual);
    if (e.quota) t.quota = t.quota.plus(e.quota);
    t.projectedTotal = t.projectedTotal.plus(e.projectedTotal);
  }
  const ranked = rankSubjects(entries.map((e) => ({ id: e.id, value: e.attainment })));
  const placed = ranked.filter((r) => r.rank !== null).map((r) => r.id);
  const n = placed.length;
  const top = Math.ceil(n / 3);
  const bottom = Math.floor(n / 3);
  return {
    byBand,
    thirds: { top: placed.slice(0, top), middle: placed.slice(top, n - bottom), bottom: placed.slice(n - bottom) },
    unplaced: ranked.filter((r) => r.rank === null).map((r) => r.id),
  };
}
