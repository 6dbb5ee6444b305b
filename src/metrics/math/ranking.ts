/**
 * Rankings with shared ranks (1, 2, 2, 4), percentiles, peer groups (segment and tenure band) and the distribution
 * of subjects by status band and by top / middle / bottom thirds.
 */
import { addMonths, type PlainDate } from '../../util/date.ts';
import { Dec, ZERO } from '../../util/money.ts';
import { pushTo } from '../../util/multimap.ts';
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
  const ranked = entries
    .filter((e): e is { id: string; value: Dec } => e.value !== null)
    .sort((a, b) => b.value.comparedTo(a.value) || cmpId(a.id, b.id));
  const of = ranked.length;
  const out: Ranked[] = [];
  for (let i = 0; i < of; i++) {
    const e = ranked[i] as { id: string; value: Dec };
    const prev = out[i - 1];
    const rank = prev?.value?.eq(e.value) ? (prev.rank as number) : i + 1;
    // Subjects strictly behind: everyone after the last one tied with this one.
    let lastTie = i;
    while (lastTie + 1 < of && (ranked[lastTie + 1] as { value: Dec }).value.eq(e.value)) lastTie++;
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

/**
 * Ranks within groups (each rep's team, region, or the whole org) in one pass: `groupOf` names the group of each
 * entry (null leaves it out). Returns each entry's rank in its own group.
 */
export function rankWithinGroups(
  entries: readonly RankInput[],
  groupOf: (id: string) => string | null,
): Map<string, Ranked & { group: string }> {
  const groups = new Map<string, RankInput[]>();
  for (const e of entries) {
    const g = groupOf(e.id);
    if (g === null) continue;
    pushTo(groups, g, e);
  }
  const out = new Map<string, Ranked & { group: string }>();
  for (const [group, list] of groups) for (const r of rankSubjects(list)) out.set(r.id, { ...r, group });
  return out;
}

export interface TenureBand {
  label: string;
  /** Months of tenure from (inclusive). */
  fromMonths: number;
  /** Months of tenure to (exclusive); null = no end. */
  toMonths: number | null;
}

export const DEFAULT_TENURE_BANDS: readonly TenureBand[] = [
  { label: '0-6m', fromMonths: 0, toMonths: 6 },
  { label: '6-12m', fromMonths: 6, toMonths: 12 },
  { label: '12-24m', fromMonths: 12, toMonths: 24 },
  { label: '24m+', fromMonths: 24, toMonths: null },
];

/** Whole months from `start` to `on`: the largest k with start + k months <= on; -1 before the start. */
export function monthsOfTenure(start: PlainDate, on: PlainDate): number {
  if (on < start) return -1;
  const [sy, sm] = [Number(start.slice(0, 4)), Number(start.slice(5, 7))];
  const [oy, om] = [Number(on.slice(0, 4)), Number(on.slice(5, 7))];
  let k = (oy - sy) * 12 + (om - sm);
  while (k > 0 && addMonths(start, k) > on) k--;
  return k;
}

export function tenureBand(start: PlainDate | null, asOf: PlainDate, bands = DEFAULT_TENURE_BANDS): string {
  if (start === null) return 'unknown';
  const m = monthsOfTenure(start, asOf);
  for (const b of bands) if (m >= b.fromMonths && (b.toMonths === null || m < b.toMonths)) return b.label;
  return 'unknown';
}

/** Peer groups: reps of the same segment and tenure band, keyed `segment|band`. Member ids sorted. */
export function peerGroups(
  reps: readonly { id: string; segment: string | null; startDate: PlainDate | null }[],
  asOf: PlainDate,
  bands = DEFAULT_TENURE_BANDS,
): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const r of reps) {
    const key = `${r.segment ?? '(none)'}|${tenureBand(r.startDate, asOf, bands)}`;
    const g = groups.get(key);
    if (g) g.push(r.id);
    else groups.set(key, [r.id]);
  }
  for (const g of groups.values()) g.sort(cmpId);
  return groups;
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
