/**
 * The forecast's backtest (docs/metrics.md, "Backtest"): proper scores of deal probabilities and of period-total
 * distributions, and the rolling-origin run over the history that produces them for the calibrated model and the
 * two baselines. Money inside is integer cents in float64 (exact below 2^53); callers format on output.
 */
import { addDays, diffDays, type PlainDate } from '../../util/date.ts';
import { Dec } from '../../util/money.ts';
import {
  type CalibrationSettings,
  type DealTimeline,
  dealProbability,
  learnCalibration,
  newPipelineTerms,
  openOn,
  periodSnapshots,
  type Snapshot,
  weekOrigins,
  wonDay,
} from './calibration.ts';
import {
  addNewPipelineTrials,
  addShockedDealTrials,
  dealStreamSeed,
  nearestRankIndex,
  shockTable,
} from './forecast.ts';
import type { Period } from './types.ts';

/** `mean (p - y)^2`; null with no pairs. */
export function brierScore(pairs: readonly { p: number; y: number }[]): number | null {
  if (pairs.length === 0) return null;
  let s = 0;
  for (const { p, y } of pairs) s += (p - y) ** 2;
  return s / pairs.length;
}

export interface ReliabilityBin {
  from: number;
  to: number;
  count: number;
  meanP: number | null;
  rate: number | null;
}

/**
 * Reliability by decile of p (bin b holds `b/10 <= p < (b+1)/10`, p = 1 in the last) and the expected calibration
 * error `sum (n_b / n) |mean p_b - rate_b|`.
 */
export function reliability(pairs: readonly { p: number; y: number }[]): {
  bins: ReliabilityBin[];
  ece: number | null;
} {
  const sums = Array.from({ length: 10 }, () => ({ n: 0, p: 0, y: 0 }));
  for (const { p, y } of pairs) {
    const b = sums[Math.min(Math.floor(p * 10), 9)] as { n: number; p: number; y: number };
    b.n++;
    b.p += p;
    b.y += y;
  }
  let ece = 0;
  const bins = sums.map((b, i) => {
    if (b.n > 0) ece += (b.n / pairs.length) * Math.abs(b.p / b.n - b.y / b.n);
    return {
      from: i / 10,
      to: (i + 1) / 10,
      count: b.n,
      meanP: b.n === 0 ? null : b.p / b.n,
      rate: b.n === 0 ? null : b.y / b.n,
    };
  });
  return { bins, ece: pairs.length === 0 ? null : ece };
}

/** Pinball loss of quantile q's value x against the outcome y: `max(q (y - x), (q - 1)(y - x))`. */
export function pinballLoss(q: number, x: number, y: number): number {
  const d = y - x;
  return Math.max(q * d, (q - 1) * d);
}

/**
 * CRPS of the sample distribution (ascending) against y: `mean |X - y| - (1/2) mean |X - X'|`, the second term as
 * `(1 / n^2) sum_i (2i - n - 1) x_(i)` over 1-based ranks.
 */
export function crpsFromSorted(sorted: Float64Array | readonly number[], y: number): number {
  const n = sorted.length;
  let abs = 0;
  let spread = 0;
  for (let i = 0; i < n; i++) {
    const x = sorted[i] as number;
    abs += Math.abs(x - y);
    spread += (2 * (i + 1) - n - 1) * x;
  }
  return abs / n - spread / (n * n);
}

export const QUANTILES = [0.1, 0.25, 0.5, 0.9] as const;

/** Scores of one forecaster's period-total distributions. */
export interface DistributionScores {
  outcomes: number;
  p10Held: number | null;
  p10p90Covered: number | null;
  /** Mean pinball loss per quantile, in base currency. */
  pinball: Record<'p10' | 'p25' | 'p50' | 'p90', number | null>;
  crps: number | null;
}

/** Accumulates outcome-vs-distribution scores; a point forecast is a one-sample distribution. */
export class DistributionScorer {
  private n = 0;
  private held = 0;
  private covered = 0;
  private readonly pin = [0, 0, 0, 0];
  private crps = 0;

  /** `sorted` holds trial totals in cents, ascending; `y` is the outcome in cents. */
  add(sorted: Float64Array | readonly number[], y: number): void {
    const n = sorted.length;
    const at = (q: number) => sorted[nearestRankIndex(q * 100, n)] as number;
    const p10 = at(0.1);
    const p90 = at(0.9);
    this.n++;
    if (y >= p10) this.held++;
    if (y >= p10 && y <= p90) this.covered++;
    QUANTILES.forEach((q, i) => {
      this.pin[i] = (this.pin[i] as number) + pinballLoss(q, at(q), y);
    });
    this.crps += crpsFromSorted(sorted, y);
  }

  scores(): DistributionScores {
    const mean = (v: number) => (this.n === 0 ? null : v / this.n);
    return {
      outcomes: this.n,
      p10Held: mean(this.held),
      p10p90Covered: mean(this.covered),
      pinball: {
        p10: mean(this.pin[0] as number),
        p25: mean(this.pin[1] as number),
        p50: mean(this.pin[2] as number),
        p90: mean(this.pin[3] as number),
      },
      crps: mean(this.crps),
    };
  }
}

export interface ForecasterScores extends DistributionScores {
  /** Deal-probability scores; null for the run-rate point (it has none). */
  brier: number | null;
  ece: number | null;
  reliability: ReliabilityBin[] | null;
}

export interface BacktestResult {
  /** Periods with at least one origin scored. */
  periods: number;
  /** Origins (period, week) scored. */
  origins: number;
  model: ForecasterScores;
  baselines: { crm: ForecasterScores; runRate: ForecasterScores };
  /** The shared-shock size fitted on the whole history (what today's forecast uses). */
  sigma: number;
}

export interface BacktestInput {
  timelines: readonly DealTimeline[];
  /** Periods of the forecast's kind, in time order; those ended before `asOf` are backtested. */
  periods: readonly Period[];
  asOf: PlainDate;
  settings: CalibrationSettings;
  trials: number;
  seed: number;
  runRateWindowDays: number;
}

const cents = (d: Dec | null) => (d === null ? 0 : d.times(100).toDecimalPlaces(0, Dec.ROUND_HALF_UP).toNumber());

/**
 * Rolling origin: for each ended period and week origin, learn from the periods ended before the origin, forecast
 * each rep's period total from what stood on the origin, and score against what the period ended with. Reps
 * scored at an origin are those with an open deal then or a win in the period.
 */
export function runBacktest(input: BacktestInput): BacktestResult {
  const ended = input.periods.filter((p) => p.end < input.asOf);
  const snaps = new Map<string, Snapshot[]>();
  for (const p of ended) snaps.set(p.id, periodSnapshots(input.timelines, p));
  const won = new Map<string, { day: PlainDate; cents: number; owner: string }>();
  for (const t of input.timelines) {
    const d = wonDay(t);
    if (d !== null) won.set(t.id, { day: d, cents: cents(t.amount), owner: t.ownerId });
  }
  const model = new DistributionScorer();
  const crm = new DistributionScorer();
  const runRate = new DistributionScorer();
  const modelPairs: { p: number; y: number }[] = [];
  const crmPairs: { p: number; y: number }[] = [];
  const periodsScored = new Set<string>();
  let origins = 0;
  // The periods ended before an origin are the same for every origin of a period: learn once per training set.
  const learned = new Map<string, ReturnType<typeof learnCalibration>>();
  for (const period of ended) {
    const origins_ = weekOrigins(period);
    for (let week = 0; week < origins_.length; week++) {
      const origin = origins_[week] as PlainDate;
      const train = ended.filter((p) => p.end < origin);
      const trainSnaps = train.map((p) => snaps.get(p.id) ?? []);
      if (trainSnaps.every((s) => s.length === 0)) continue;
      const trainKey = train.map((p) => p.id).join('|');
      let cal = learned.get(trainKey);
      if (!cal) {
        cal = learnCalibration(trainSnaps, input.settings);
        learned.set(trainKey, cal);
      }
      const terms = cal.basis === 'calibrated' ? newPipelineTerms(input.timelines, train, week) : new Map();
      origins++;
      periodsScored.add(period.id);
      for (const s of snaps.get(period.id) ?? []) {
        if (s.week !== week) continue;
        modelPairs.push({ p: dealProbability(cal, s.stage, s.weeksLeft, s.crmProbability).p, y: s.won ? 1 : 0 });
        crmPairs.push({ p: s.crmProbability ?? 0, y: s.won ? 1 : 0 });
      }
      const seed = (input.seed ^ Math.imul(origins, 0x9e3779b1)) >>> 0;
      const shocks = shockTable(seed, input.trials, cal.sigma);
      const noShock = new Float64Array(input.trials);
      const reps = new Map<
        string,
        { model: Float64Array; crm: Float64Array; before: number; outcome: number; recent: number }
      >();
      const rep = (owner: string) => {
        let r = reps.get(owner);
        if (!r) {
          r = {
            model: new Float64Array(input.trials),
            crm: new Float64Array(input.trials),
            before: 0,
            outcome: 0,
            recent: 0,
          };
          reps.set(owner, r);
        }
        return r;
      };
      for (const t of input.timelines) {
        const open = openOn(t, period, origin);
        if (!open) continue;
        const r = rep(t.ownerId);
        const c = cents(t.amount);
        const streamSeed = dealStreamSeed(seed, t.id);
        addShockedDealTrials(
          r.model,
          streamSeed,
          c,
          dealProbability(cal, open.stage, open.weeksLeft, open.crmProbability).p,
          shocks,
        );
        addShockedDealTrials(r.crm, streamSeed, c, open.crmProbability ?? 0, noShock);
      }
      const recentFrom = addDays(origin, -(input.runRateWindowDays - 1));
      for (const w of won.values()) {
        if (w.day < period.start || w.day > period.end) continue;
        const r = rep(w.owner);
        r.outcome += w.cents;
        if (w.day <= origin) r.before += w.cents;
      }
      for (const w of won.values()) {
        if (w.day < recentFrom || w.day > origin) continue;
        const r = reps.get(w.owner);
        if (r) r.recent += w.cents;
      }
      const daysLeft = diffDays(origin, period.end);
      for (const [owner, r] of reps) {
        const term = terms.get(owner);
        if (term)
          addNewPipelineTrials(r.model, dealStreamSeed(seed, `new:${owner}`), term.lambda, term.amounts.map(cents));
        for (const totals of [r.model, r.crm])
          for (let i = 0; i < totals.length; i++) totals[i] = (totals[i] as number) + r.before;
        model.add(r.model.sort(), r.outcome);
        crm.add(r.crm.sort(), r.outcome);
        runRate.add([r.before + (r.recent / input.runRateWindowDays) * daysLeft], r.outcome);
      }
    }
  }
  const allSnaps = ended.map((p) => snaps.get(p.id) ?? []);
  const today = learnCalibration(allSnaps, input.settings);
  const withDeals = (pairs: { p: number; y: number }[], d: DistributionScores): ForecasterScores => {
    const rel = reliability(pairs);
    return { ...d, brier: brierScore(pairs), ece: rel.ece, reliability: rel.bins };
  };
  return {
    periods: periodsScored.size,
    origins,
    model: withDeals(modelPairs, model.scores()),
    baselines: {
      crm: withDeals(crmPairs, crm.scores()),
      runRate: { ...runRate.scores(), brier: null, ece: null, reliability: null },
    },
    sigma: today.sigma,
  };
}
