/**
 * Forecast confidence: a seeded Monte Carlo over the open in-period deals. Each trial closes each deal won with
 * probability `pWin * pInPeriod`; the trial's total is `A + sum(won amounts)`.
 *
 * - Inside the loop amounts are integer cents (each deal's base amount rounded half away from zero to the cent),
 *   held in float64, which is exact for integers below 2^53 (90 trillion in money).
 * - The PRNG is mulberry32, seeded by `seed`; deals are sorted by id first, so the order they arrive in never
 *   changes a result, and the same inputs and seed always give the same answer.
 * - Percentiles are nearest-rank: with the n trial totals sorted ascending, P_k is the value at 1-based rank
 *   `ceil(k * n / 100)`. So at least k% of trials ended at or under P_k; "90% confident to exceed X" means X = P10.
 */
import { AppError } from '../../errors.ts';
import { Dec } from '../../util/money.ts';
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

/** mulberry32: a tiny, fast 32-bit PRNG with a full 2^32 period, good enough for sampling and exactly repeatable. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

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

export function simulateForecast(input: ForecastInput): ForecastResult {
  const trials = input.trials ?? 10_000;
  const seed = input.seed ?? 1;
  if (!Number.isInteger(trials) || trials < 1)
    throw new AppError('CONFIG_INVALID', `forecast trials must be a whole number >= 1, got ${trials}`, {
      where: 'forecast.trials',
    });
  const deals = [...input.deals].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const n = deals.length;
  const cents = new Float64Array(n);
  // Won when a uniform uint32 falls under p * 2^32; p = 1 gives 2^32, above every uint32.
  const thresholds = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const d = deals[i] as ForecastDeal;
    cents[i] = d.amount.times(100).toDecimalPlaces(0, Dec.ROUND_HALF_UP).toNumber();
    const p = checkProbability(d.pWin, 'pWin', d.id) * checkProbability(d.pInPeriod, 'pInPeriod', d.id);
    thresholds[i] = Math.floor(p * 4294967296);
  }
  const totals = new Float64Array(trials);
  let grand = 0;
  // mulberry32 inlined (the same sequence as `mulberry32(seed)`): this is the hot loop, trials x deals draws.
  let state = seed >>> 0;
  for (let t = 0; t < trials; t++) {
    let s = 0;
    for (let i = 0; i < n; i++) {
      state = (state + 0x6d2b79f5) >>> 0;
      let x = Math.imul(state ^ (state >>> 15), state | 1);
      x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
      if ((x ^ (x >>> 14)) >>> 0 < (thresholds[i] as number)) s += cents[i] as number;
    }
    totals[t] = s;
    grand += s;
  }
  totals.sort();
  const at = (k: number) => input.actual.plus(new Dec(totals[nearestRankIndex(k, trials)] as number).div(100));
  let probabilityToHitQuota: Maybe<Dec>;
  if (input.quota === null || input.quota.isZero()) probabilityToHitQuota = none('no_quota');
  else {
    // A + won >= Q  <=>  won cents >= ceil((Q - A) * 100), exact in integers.
    const needed = input.quota.minus(input.actual).times(100).ceil().toNumber();
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
    mean: input.actual.plus(new Dec(grand).div(trials).div(100)),
    probabilityToHitQuota,
  };
}
