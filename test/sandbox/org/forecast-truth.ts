/**
 * The generated org as the forecast sees it, without a warehouse in between: each deal's stage history as
 * timelines (amounts in the corporate currency at the anchor's rates), the quarters, and the calibration and
 * backtest run on them, with the generator's true win probabilities beside the learned ones.
 */
import { runBacktest } from '../../../src/metrics/math/backtest.ts';
import {
  DEFAULT_CALIBRATION,
  type DealTimeline,
  dealProbability,
  learnCalibration,
  periodSnapshots,
} from '../../../src/metrics/math/calibration.ts';
import type { Period } from '../../../src/metrics/math/types.ts';
import { trueWinProbability } from '../../../src/sandbox/org/deal-life.ts';
import { OPEN_STAGES, type OrgModel, rateOn } from '../../../src/sandbox/org/index.ts';
import { Dec } from '../../../src/util/money.ts';

export function orgTimelines(org: OrgModel): DealTimeline[] {
  const rates = new Map(org.currencies.map((c) => [c.code, rateOn(c, org.anchorDate)]));
  return org.deals.map((d) => {
    const rate = rates.get(d.currency);
    return {
      id: d.key,
      ownerId: d.ownerKey,
      createdDate: d.createdAt.slice(0, 10),
      amount: d.amount === null || rate === undefined ? null : new Dec(d.amount).div(rate),
      rows: d.history.map((h) => ({
        date: h.at.slice(0, 10),
        stage: h.stage,
        category: h.stage === 'Closed Won' ? 'won' : h.stage === 'Closed Lost' ? 'lost' : 'open',
        closeDate: h.closeDate,
        probability: h.probability / 100,
      })),
    };
  });
}

/** The org's quarters as forecast periods, oldest first. */
export function orgPeriods(org: OrgModel): Period[] {
  return org.quarters.map((q) => ({ id: q.id, start: q.start, end: q.end }));
}

export interface StageRecovery {
  stage: string;
  snapshots: number;
  /** Mean over the stage's snapshots of |learned - true|. */
  mae: number;
  /** The same for the CRM's stage probability. */
  crmMae: number;
  meanTrue: number;
  meanLearned: number;
}

/**
 * Learns the calibration from every ended quarter and scores it against the truth on the same snapshots: for each
 * stage, the mean absolute difference between a snapshot's calibrated probability and the generator's true chance
 * for that deal on that origin.
 */
export function recoveryByStage(org: OrgModel, timelines: readonly DealTimeline[]): StageRecovery[] {
  const ended = orgPeriods(org).filter((p) => p.end < org.anchorDate);
  const snaps = ended.map((p) => periodSnapshots(timelines, p));
  const cal = learnCalibration(snaps, DEFAULT_CALIBRATION);
  if (cal.basis !== 'calibrated') throw new Error(`the sandbox org did not calibrate: ${cal.wins}/${cal.losses}`);
  return OPEN_STAGES.map((stage) => {
    let n = 0;
    let err = 0;
    let crmErr = 0;
    let truth = 0;
    let learned = 0;
    ended.forEach((p, i) => {
      for (const s of snaps[i] ?? []) {
        if (s.stage !== stage) continue;
        const t = trueWinProbability(s.stage, s.origin, p.end);
        const l = dealProbability(cal, s.stage, s.weeksLeft, s.crmProbability).p;
        n++;
        err += Math.abs(l - t);
        crmErr += Math.abs((s.crmProbability ?? 0) - t);
        truth += t;
        learned += l;
      }
    });
    return { stage, snapshots: n, mae: err / n, crmMae: crmErr / n, meanTrue: truth / n, meanLearned: learned / n };
  });
}

export function orgBacktest(org: OrgModel, timelines: readonly DealTimeline[], trials = 1000) {
  return runBacktest({
    timelines,
    periods: orgPeriods(org),
    asOf: org.anchorDate,
    settings: DEFAULT_CALIBRATION,
    trials,
    seed: org.seed,
    runRateWindowDays: 30,
  });
}
