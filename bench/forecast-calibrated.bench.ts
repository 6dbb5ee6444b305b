/**
 * The learned forecast on the medium sandbox org (seed 42, anchor 2026-11-15: 500 reps, 100,000 deals, eight ended
 * quarters of stage history drawn from the generator's known truth, src/sandbox/org/deal-life.ts), without the
 * database (its load is measured by recompute.bench.ts):
 * - one rep's forecast: 50 open deals at learned probabilities under the shared shock plus the new-pipeline term,
 *   10,000 trials; target under 50 ms (median of several runs);
 * - the full org forecast: learning the calibration from the history, then every rep's trials (informative);
 * - the backtest over every ended quarter and week: target at most 3 minutes and under 1 GB (peak RSS sampled).
 */
import { runBacktest } from '../src/metrics/math/backtest.ts';
import {
  DEFAULT_CALIBRATION,
  dealProbability,
  learnCalibration,
  newPipelineTerms,
  openOn,
  periodSnapshots,
  weekIndex,
} from '../src/metrics/math/calibration.ts';
import {
  addNewPipelineTrials,
  addShockedDealTrials,
  dealStreamSeed,
  forecastFromTotals,
  shockTable,
} from '../src/metrics/math/forecast.ts';
import { generateOrg } from '../src/sandbox/org/index.ts';
import { Dec } from '../src/util/money.ts';
import { orgPeriods, orgTimelines } from '../test/sandbox/org/forecast-truth.ts';

const ONE_REP_TARGET_MS = 50;
const BACKTEST_TARGET_S = 180;
const MEMORY_TARGET_MB = 1024;
const AS_OF = '2026-11-15';
const TRIALS = 10_000;

const cents = (d: Dec | null) => (d === null ? 0 : d.times(100).round().toNumber());

export async function run(): Promise<{ name: string; ok: boolean; summary: string; metrics: Record<string, number> }> {
  let t0 = performance.now();
  const org = generateOrg({ seed: 42, size: 'medium', anchorDate: AS_OF });
  const timelines = orgTimelines(org);
  const generateMs = performance.now() - t0;
  // The quarters up to the anchor's: the ended ones are learned from, the anchor's is forecast.
  const all = orgPeriods(org).filter((p) => p.start <= AS_OF);
  const current = all[all.length - 1] as (typeof all)[number];
  const ended = all.slice(0, -1);

  // The full org forecast: learn, then each rep's open deals and new pipeline.
  t0 = performance.now();
  const cal = learnCalibration(
    ended.map((p) => periodSnapshots(timelines, p)),
    DEFAULT_CALIBRATION,
  );
  const learnMs = performance.now() - t0;
  const week = weekIndex(current, AS_OF);
  const terms = newPipelineTerms(timelines, ended, week);
  const shocks = shockTable(1, TRIALS, cal.sigma);
  const byRep = new Map<string, { cents: number; p: number; id: string }[]>();
  for (const t of timelines) {
    const open = openOn(t, current, AS_OF);
    if (!open) continue;
    const list = byRep.get(t.ownerId) ?? [];
    list.push({
      id: t.id,
      cents: cents(t.amount),
      p: dealProbability(cal, open.stage, open.weeksLeft, open.crmProbability).p,
    });
    byRep.set(t.ownerId, list);
  }
  const simulate = (rep: string) => {
    const totals = new Float64Array(TRIALS);
    for (const d of byRep.get(rep) ?? []) addShockedDealTrials(totals, dealStreamSeed(1, d.id), d.cents, d.p, shocks);
    const term = terms.get(rep);
    if (term) addNewPipelineTrials(totals, dealStreamSeed(1, `new:${rep}`), term.lambda, term.amounts.map(cents));
    return forecastFromTotals(new Dec(0), new Dec(100_000), totals, 1);
  };
  t0 = performance.now();
  for (const rep of byRep.keys()) simulate(rep);
  const orgMs = performance.now() - t0 + learnMs;
  const openDeals = [...byRep.values()].reduce((s, l) => s + l.length, 0);

  // One rep with 50 open deals (the largest pipeline padded to 50 with copies under new ids).
  const biggest = [...byRep.entries()].sort((a, b) => b[1].length - a[1].length)[0] as [
    string,
    { cents: number; p: number; id: string }[],
  ];
  const fifty = Array.from({ length: 50 }, (_, i) => ({
    ...(biggest[1][i % biggest[1].length] as { cents: number; p: number; id: string }),
    id: `x${i}`,
  }));
  byRep.set('bench-rep', fifty);
  if (terms.has(biggest[0])) terms.set('bench-rep', terms.get(biggest[0]) as never);
  const times: number[] = [];
  for (let r = 0; r < 26; r++) {
    const s = performance.now();
    simulate('bench-rep');
    if (r >= 5) times.push(performance.now() - s);
  }
  times.sort((a, b) => a - b);
  const oneRep = times[Math.floor(times.length / 2)] as number;

  // The backtest, with its peak memory sampled while it runs.
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  t0 = performance.now();
  // Sampling needs the event loop: the backtest runs in one synchronous call, so sample around it too.
  await new Promise((r) => setTimeout(r, 60));
  const bt = runBacktest({
    timelines,
    periods: all,
    asOf: AS_OF,
    settings: DEFAULT_CALIBRATION,
    trials: 1000,
    seed: 1,
    runRateWindowDays: 30,
  });
  const backtestS = (performance.now() - t0) / 1000;
  peak = Math.max(peak, process.memoryUsage().rss);
  clearInterval(sampler);
  const peakMb = peak / 1024 / 1024;

  const ok = oneRep < ONE_REP_TARGET_MS && backtestS <= BACKTEST_TARGET_S && peakMb < MEMORY_TARGET_MB;
  return {
    name: 'learned forecast on the medium sandbox org: one rep, the org, and the backtest',
    ok,
    summary:
      `one rep ${oneRep.toFixed(2)} ms (target < ${ONE_REP_TARGET_MS}, ratio ${(oneRep / ONE_REP_TARGET_MS).toFixed(3)}); ` +
      `org ${byRep.size - 1} reps, ${openDeals} open deals: ${(orgMs / 1000).toFixed(2)} s (learning ${(learnMs / 1000).toFixed(2)} s); ` +
      `backtest ${bt.periods} quarters, ${bt.origins} origins: ${backtestS.toFixed(1)} s (target <= ${BACKTEST_TARGET_S}, ratio ${(backtestS / BACKTEST_TARGET_S).toFixed(3)}), ` +
      `peak RSS ${peakMb.toFixed(0)} MB (target < ${MEMORY_TARGET_MB}, ratio ${(peakMb / MEMORY_TARGET_MB).toFixed(3)}); ` +
      `P10 held ${((bt.model.p10Held ?? 0) * 100).toFixed(1)}% (CRM ${((bt.baselines.crm.p10Held ?? 0) * 100).toFixed(1)}%), ` +
      `P10-P90 ${((bt.model.p10p90Covered ?? 0) * 100).toFixed(1)}% (CRM ${((bt.baselines.crm.p10p90Covered ?? 0) * 100).toFixed(1)}%)`,
    metrics: {
      one_rep_ms: oneRep,
      one_rep_ratio: oneRep / ONE_REP_TARGET_MS,
      org_forecast_ms: orgMs,
      learn_ms: learnMs,
      generate_ms: generateMs,
      backtest_s: backtestS,
      backtest_ratio: backtestS / BACKTEST_TARGET_S,
      peak_rss_mb: peakMb,
      memory_ratio: peakMb / MEMORY_TARGET_MB,
      model_brier: bt.model.brier ?? -1,
      crm_brier: bt.baselines.crm.brier ?? -1,
      model_p10_held: bt.model.p10Held ?? -1,
      model_p10_p90: bt.model.p10p90Covered ?? -1,
      crm_p10_held: bt.baselines.crm.p10Held ?? -1,
      sigma: bt.sigma,
    },
  };
}
