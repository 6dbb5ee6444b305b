/**
 * Each rep's chance to hit quota beside its run-rate projection, on the generated org without a warehouse in
 * between: today's, and at every week origin of every ended quarter (learning only from the quarters ended
 * before it), with what the quarter then brought. The backtest half says what a chance shown to a rep projected
 * under 70% is worth.
 */
import {
  DEFAULT_CALIBRATION,
  type DealTimeline,
  dealProbability,
  learnCalibration,
  newPipelineTerms,
  openOn,
  periodSnapshots,
  weekIndex,
  weekOrigins,
  weeksLeft,
  wonDay,
} from '../../../src/metrics/math/calibration.ts';
import {
  addNewPipelineTrials,
  addShockedDealTrials,
  dealStreamSeed,
  shockTable,
} from '../../../src/metrics/math/forecast.ts';
import type { Period } from '../../../src/metrics/math/types.ts';
import { type OrgModel, rateOn } from '../../../src/sandbox/org/index.ts';
import { addDays, diffDays, type PlainDate } from '../../../src/util/date.ts';
import { Dec } from '../../../src/util/money.ts';
import { orgPeriods } from './forecast-truth.ts';

export interface RepChance {
  period: string;
  week: number;
  owner: string;
  /** Run-rate projection over quota. */
  projected: number;
  chance: number;
  /** Open deals' expected value at calibrated probabilities over the gap to quota (>= 1 covers it). */
  openCover: number;
  /** Whether the quarter ended at or above quota (backtest rows only). */
  hit: boolean;
}

const cents = (d: Dec | null) => (d === null ? 0 : d.times(100).toDecimalPlaces(0).toNumber());

export function repChances(org: OrgModel, timelines: readonly DealTimeline[], trials = 1000) {
  const periods = orgPeriods(org);
  const rates = new Map(org.currencies.map((c) => [c.code, rateOn(c, org.anchorDate)]));
  const quota = new Map<string, number>();
  for (const q of org.quotas) {
    const rate = rates.get(q.currency);
    if (rate) quota.set(`${q.personKey}|${q.periodId}`, new Dec(q.amount).div(rate).times(100).toNumber());
  }
  const won = [...timelines].flatMap((t) => {
    const day = wonDay(t);
    return day === null ? [] : [{ day, cents: cents(t.amount), owner: t.ownerId }];
  });
  const ended = periods.filter((p) => p.end < org.anchorDate);
  const snaps = new Map(ended.map((p) => [p.id, periodSnapshots(timelines, p)]));
  const at = (period: Period, origin: PlainDate, week: number, train: readonly Period[]): RepChance[] => {
    const cal = learnCalibration(
      train.map((p) => snaps.get(p.id) ?? []),
      DEFAULT_CALIBRATION,
    );
    const terms = newPipelineTerms(timelines, train, week);
    const cellWeeks = weeksLeft(addDays(period.start, 7 * week), period.end);
    const seed = (org.seed ^ Math.imul(week + 1, 0x9e3779b1)) >>> 0;
    const shocks = shockTable(seed, trials, cal.sigma);
    const reps = new Map<
      string,
      { totals: Float64Array; before: number; outcome: number; recent: number; ev: number }
    >();
    const rep = (o: string) => {
      let r = reps.get(o);
      if (!r) {
        r = { totals: new Float64Array(trials), before: 0, outcome: 0, recent: 0, ev: 0 };
        reps.set(o, r);
      }
      return r;
    };
    for (const t of timelines) {
      const open = openOn(t, period, origin);
      if (!open) continue;
      const r = rep(t.ownerId);
      const c = cents(t.amount);
      // Today's deals read their week origin's cell, as the engine's forecast does.
      const p = dealProbability(cal, open.stage, cellWeeks, open.crmProbability).p;
      r.ev += p * c;
      addShockedDealTrials(r.totals, dealStreamSeed(seed, t.id), c, p, shocks);
    }
    const recentFrom = addDays(origin, -29);
    for (const w of won) {
      if (w.day >= period.start && w.day <= period.end) {
        const r = rep(w.owner);
        r.outcome += w.cents;
        if (w.day <= origin) r.before += w.cents;
      }
      if (w.day >= recentFrom && w.day <= origin) {
        const r = reps.get(w.owner);
        if (r) r.recent += w.cents;
      }
    }
    const daysLeft = diffDays(origin, period.end);
    const out: RepChance[] = [];
    for (const [owner, r] of reps) {
      const q = quota.get(`${owner}|${period.id}`);
      if (!q) continue;
      const term = terms.get(owner);
      if (term)
        addNewPipelineTrials(r.totals, dealStreamSeed(seed, `new:${owner}`), term.lambda, term.amounts.map(cents));
      let reached = 0;
      for (const x of r.totals) if (x + r.before >= q) reached++;
      out.push({
        period: period.id,
        week,
        owner,
        projected: (r.before + (r.recent / 30) * daysLeft) / q,
        chance: reached / trials,
        openCover: q > r.before ? r.ev / (q - r.before) : Number.POSITIVE_INFINITY,
        hit: r.outcome >= q,
      });
    }
    return out;
  };
  const current = periods.find((p) => p.start <= org.anchorDate && org.anchorDate <= p.end);
  if (!current) throw new Error('the org has no quarter around its anchor');
  const week = weekIndex(current, org.anchorDate);
  const today = at(current, org.anchorDate, week, ended);
  const past: RepChance[] = [];
  for (const p of ended) {
    const origins = weekOrigins(p);
    origins.forEach((origin, w) => {
      const train = ended.filter((x) => x.end < origin);
      if (train.length >= 2) past.push(...at(p, origin, w, train));
    });
  }
  return { week, today, past };
}
