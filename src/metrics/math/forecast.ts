/**
 * Forecast confidence: a seeded Monte Carlo over the open in-period deals. Each trial closes each deal won with
 * probability `pWin * pInPeriod`; the trial's total is `A + sum(won amounts)`.
 *
 * - Inside the loop amounts are integer cents (each deal's base amount rounded half away from zero to the cent),
 *   held in float64, which is exact for integers below 2^53 (90 trillion in money).
 * - Each deal draws from its own mulberry32 stream, seeded by `seed` mixed with the deal id (`dealStreamSeed`), one
 *   draw per trial: a deal's outcome in trial t is the same in every subject it counts for, so a group's trial
 *   totals are the per-trial sums of its members' (`forecastFromTotals`). The order deals arrive in never changes a
 *   result, and the same inputs and seed always give the same answer.
 * - Percentiles are nearest-rank: with the n trial totals sorted ascending, P_k is the value at 1-based rank
 *   `ceil(k * n / 100)`. So at least k% of trials ended at or under P_k; "90% confident to exceed X" means X = P10.
 */
import { AppError } from '../../errors.ts';
import { Dec } from '../../util/money.ts';
import { mulberry32 } from '../../util/random.ts';
import type { Maybe } from './types.ts';
import { none, some } from './types.ts';

export interface ForecastDeal {
  id: string;
  /** Credited amount in base currency. */
  amount: Dec;
  /** Probability the deal is won (0..1). */
  pWin: number;
  /** Probability it closes within the period (0..1). */
  pInPeriod: number;
}

export interface ForecastInput {
  actual: Dec;
  quota: Dec | null;
  deals: readonly ForecastDeal[];
  trials?: number;
  seed?: number;
}

export interface ForecastResult {
  trials: number;
  seed: number;
  p10: Dec;
  p25: Dec;
  p50: Dec;
  p90: Dec;
  /** Mean simulated total. */
  mean: Dec;
  probabilityToHitQuota: Maybe<Dec>;
}

export { mulberry32 };

/** 1-based nearest rank of percentile k among n sorted values, as an index. */
export function nearestRankIndex(k: number, n: number): number {
  return Math.max(Math.ceil((k * n) / 100), 1) - 1;
}

function checkProbability(p: number, what: string, id: string): number {
  if (!Number.isFinite(p) || p < 0 || p > 1)
    throw new AppError('RECORD_INVALID', `${what} of deal ${id} must be a probability in [0, 1], got ${p}`, {
      where: `deal ${id}`,
    });
  return p;
}

/** FNV-1a over a string, continuing from `h`, with a final avalanche so near-identical ids seed distant streams. */
function hashInto(h: number, text: string): number {
  let x = h >>> 0;
  for (let i = 0; i < text.length; i++) {
    x ^= text.charCodeAt(i);
    x = Math.imul(x, 0x01000193) >>> 0;
  }
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b) >>> 0;
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * The seed of one deal's own stream: the forecast seed mixed with the deal id. A deal therefore draws the same
 * outcome in trial t wherever it is simulated (a rep, its team, a split partner), which is what lets a group's
 * trial totals be the per-trial sums of its members' totals.
 */
export function dealStreamSeed(seed: number, dealId: string): number {
  return hashInto(Math.imul((0x811c9dc5 ^ seed) >>> 0, 0x01000193) >>> 0, dealId);
}

/** A deal's credited amount as integer cents (half away from zero) and its win threshold against a uint32 draw. */
export function dealCentsAndThreshold(d: ForecastDeal): { cents: number; threshold: number } {
  const p = checkProbability(d.pWin, 'pWin', d.id) * checkProbability(d.pInPeriod, 'pInPeriod', d.id);
  // Won when a uniform uint32 falls under p * 2^32; p = 1 gives 2^32, above every uint32.
  return {
    cents: d.amount.times(100).toDecimalPlaces(0, Dec.ROUND_HALF_UP).toNumber(),
    threshold: Math.floor(p * 4294967296),
  };
}

/**
 * Adds one deal's won cents to each trial's total, drawing from the deal's own mulberry32 stream (inlined: this
 * is the hot loop). Totals are integers held in float64, exact below 2^53, so the order deals are added in never
 * changes a total.
 */
export function addDealTrials(totals: Float64Array, streamSeed: number, cents: number, threshold: number): void {
  if (threshold <= 0 || cents === 0) return;
  let state = streamSeed >>> 0;
  const n = totals.length;
  for (let t = 0; t < n; t++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = Math.imul(state ^ (state >>> 15), state | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    if ((x ^ (x >>> 14)) >>> 0 < threshold) totals[t] = (totals[t] as number) + cents;
  }
}

function checkTrials(trials: number): void {
  if (!Number.isInteger(trials) || trials < 1)
    throw new AppError('CONFIG_INVALID', `forecast trials must be a whole number >= 1, got ${trials}`, {
      where: 'forecast.trials',
    });
}

/**
 * Each trial's won cents over the deals (before the actual is added), one stream per deal; with `shocks` (one per
 * trial, `shockTable`) every deal's log-odds move by the trial's shared shock.
 */
export function trialTotals(
  deals: readonly ForecastDeal[],
  trials: number,
  seed: number,
  shocks?: Float64Array,
): Float64Array {
  checkTrials(trials);
  if (shocks !== undefined && shocks.length !== trials)
    throw new AppError('INTERNAL', `the forecast has ${trials} trials and ${shocks.length} shocks`);
  const totals = new Float64Array(trials);
  for (const d of deals) {
    const { cents, threshold } = dealCentsAndThreshold(d);
    if (shocks === undefined) addDealTrials(totals, dealStreamSeed(seed, d.id), cents, threshold);
    else addShockedDealTrials(totals, dealStreamSeed(seed, d.id), cents, d.pWin * d.pInPeriod, shocks);
  }
  return totals;
}

/**
 * Puts the value of 0-based rank `k` among `a[lo..hi]` (ascending) at `a[k]`, with nothing larger before it and
 * nothing smaller after it (Hoare's selection, median-of-three pivots; runs of equal values split evenly).
 */
function selectRank(a: Float64Array, k: number, lo: number, hi: number): void {
  while (hi > lo) {
    const x = a[lo] as number;
    const y = a[(lo + hi) >>> 1] as number;
    const z = a[hi] as number;
    const pivot = Math.max(Math.min(x, y), Math.min(Math.max(x, y), z));
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((a[i] as number) < pivot) i++;
      while ((a[j] as number) > pivot) j--;
      if (i <= j) {
        const t = a[i] as number;
        a[i] = a[j] as number;
        a[j] = t;
        i++;
        j--;
      }
    }
    // a[lo..j] <= pivot <= a[i..hi], and whatever lies between equals the pivot.
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

/**
 * The forecast figures from each trial's won cents (not modified): percentiles by nearest rank, the mean and the
 * share of trials reaching quota. A group passes the per-trial sums of its members' totals here. The four ranks
 * are selected rather than sorted for (this runs for every subject a change touches); the totals are integers,
 * so their sum is the same in any order.
 */
export function forecastFromTotals(actual: Dec, quota: Dec | null, totals: Float64Array, seed: number): ForecastResult {
  const trials = totals.length;
  checkTrials(trials);
  const ranked = totals.slice();
  const value = new Map<number, number>();
  let from = 0;
  for (const k of [10, 25, 50, 90]) {
    const i = nearestRankIndex(k, trials);
    selectRank(ranked, i, from, trials - 1);
    value.set(k, ranked[i] as number);
    from = i;
  }
  let grand = 0;
  for (let t = 0; t < trials; t++) grand += totals[t] as number;
  const at = (k: number) => actual.plus(new Dec(value.get(k) as number).div(100));
  let probabilityToHitQuota: Maybe<Dec>;
  if (quota === null || quota.isZero()) probabilityToHitQuota = none('no_quota');
  else {
    // A + won >= Q  <=>  won cents >= ceil((Q - A) * 100), exact in integers.
    const needed = quota.minus(actual).times(100).ceil().toNumber();
    let hits = 0;
    for (let t = 0; t < trials; t++) if ((totals[t] as number) >= needed) hits++;
    probabilityToHitQuota = some(new Dec(hits).div(trials));
  }
  return {
    trials,
    seed,
    p10: at(10),
    p25: at(25),
    p50: at(50),
    p90: at(90),
    mean: actual.plus(new Dec(grand).div(trials).div(100)),
    probabilityToHitQuota,
  };
}

export function simulateForecast(input: ForecastInput): ForecastResult {
  const trials = input.trials ?? 10_000;
  const seed = input.seed ?? 1;
  return forecastFromTotals(input.actual, input.quota, trialTotals(input.deals, trials, seed), seed);
}

/**
 * The shared period shock of each trial, `sigma * z_t` with `z_t` standard normal (Box-Muller over one mulberry32
 * stream seeded by the forecast seed alone): the same in every subject of a period, so groups still add up.
 */
export function shockTable(seed: number, trials: number, sigma: number): Float64Array {
  checkTrials(trials);
  const out = new Float64Array(trials);
  if (sigma === 0) return out;
  const next = mulberry32(hashInto(seed ^ 0x5bd1e995, 'shock'));
  const rand = () => next() / 4294967296;
  for (let t = 0; t < trials; t += 2) {
    // 1 - u keeps the logarithm's argument in (0, 1].
    const r = Math.sqrt(-2 * Math.log(1 - rand()));
    const a = 2 * Math.PI * rand();
    out[t] = sigma * r * Math.cos(a);
    if (t + 1 < trials) out[t + 1] = sigma * r * Math.sin(a);
  }
  return out;
}

/** `exp(-shock)` per trial, worked out once per shock table (every deal of a period shares it: the hot loop). */
const expNegCache = new WeakMap<Float64Array, Float64Array>();
function expNegOf(shocks: Float64Array): Float64Array {
  let f = expNegCache.get(shocks);
  if (!f) {
    f = shocks.map((s) => Math.exp(-s));
    expNegCache.set(shocks, f);
  }
  return f;
}

/** `sigmoid(logit(p) + shock)`; 0 and 1 stay where they are. */
export function shockedProbability(p: number, shock: number): number {
  if (p <= 0 || p >= 1 || shock === 0) return p;
  return 1 / (1 + ((1 - p) / p) * Math.exp(-shock));
}

/**
 * Adds one deal's won cents to each trial's total under the shared shock: in trial t it wins when its own uniform
 * draw falls under `sigmoid(logit(p) + shocks[t])`. With no shock this is `addDealTrials`, draw for draw.
 */
export function addShockedDealTrials(
  totals: Float64Array,
  streamSeed: number,
  cents: number,
  p: number,
  shocks: Float64Array,
): void {
  if (cents === 0 || p <= 0) return;
  let state = streamSeed >>> 0;
  const n = totals.length;
  const odds = (1 - p) / p;
  const factors = expNegOf(shocks);
  for (let t = 0; t < n; t++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = Math.imul(state ^ (state >>> 15), state | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    const f = factors[t] as number;
    const pt = p >= 1 || f === 1 ? p : 1 / (1 + odds * f);
    if ((x ^ (x >>> 14)) >>> 0 < Math.floor(pt * 4294967296)) totals[t] = (totals[t] as number) + cents;
  }
}

/** Knuth's product-of-uniforms Poisson draw (the means here are a rep's deals a period: small). */
function poisson(lambda: number, rand: () => number): number {
  const limit = Math.exp(-lambda);
  let k = 0;
  let prod = rand();
  while (prod > limit) {
    k++;
    prod *= rand();
  }
  return k;
}

/**
 * Adds a compound Poisson term to each trial: a Poisson(lambda) count of amounts drawn uniformly from `cents`.
 * One stream per term (seed it with the owner), so the term is the same wherever the owner is summed.
 */
export function addNewPipelineTrials(
  totals: Float64Array,
  streamSeed: number,
  lambda: number,
  cents: readonly number[],
): void {
  if (!(lambda > 0) || cents.length === 0) return;
  if (!Number.isFinite(lambda) || lambda > 500)
    throw new AppError('INTERNAL', `new-pipeline mean ${lambda} is outside what one rep's history can give`);
  const next = mulberry32(streamSeed);
  const rand = () => next() / 4294967296;
  for (let t = 0; t < totals.length; t++) {
    const count = poisson(lambda, rand);
    let add = 0;
    for (let i = 0; i < count; i++) add += cents[Math.floor(rand() * cents.length)] as number;
    totals[t] = (totals[t] as number) + add;
  }
}
