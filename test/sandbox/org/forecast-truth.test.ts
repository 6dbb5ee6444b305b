/**
 * The learned forecast against the sandbox's known truth (src/sandbox/org/deal-life.ts): the calibrated deal
 * probabilities recover the generator's true chances stage by stage, the backtest's P10 holds and its P10-P90
 * band covers about as often as they promise, and the CRM's stage probabilities (which the generator writes on
 * every row, and which are not the truth) miss both.
 *
 * The default suite checks the small org (seed 42) with bounds its dozen reps can hold; the issue's bounds
 * (MAE <= 0.05 per stage, P10 held 90% +/- 5, band 80% +/- 7) are checked on the medium org with three seeds
 * under QT_HEAVY=1 (about three minutes a seed).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { generateOrg } from '../../../src/sandbox/org/index.ts';
import { orgBacktest, orgTimelines, recoveryByStage } from './forecast-truth.ts';

const ANCHOR = '2026-11-15';

function check(size: 'small' | 'medium', seed: number, trials: number) {
  const org = generateOrg({ seed, size, anchorDate: ANCHOR });
  const timelines = orgTimelines(org);
  const recovery = recoveryByStage(org, timelines);
  const backtest = orgBacktest(org, timelines, trials);
  // Printed so a run shows the figures, not only that the bounds held.
  console.log(
    `${size} seed ${seed}: ${recovery.map((r) => `${r.stage} MAE ${r.mae.toFixed(4)} (CRM ${r.crmMae.toFixed(3)})`).join('; ')}; ` +
      `P10 held ${backtest.model.p10Held?.toFixed(3)}, band ${backtest.model.p10p90Covered?.toFixed(3)}; ` +
      `CRM P10 held ${backtest.baselines.crm.p10Held?.toFixed(3)}, band ${backtest.baselines.crm.p10p90Covered?.toFixed(3)}; ` +
      `run rate P10 held ${backtest.baselines.runRate.p10Held?.toFixed(3)}, band ${backtest.baselines.runRate.p10p90Covered?.toFixed(3)}; ` +
      `${backtest.origins} origins, ${backtest.model.outcomes} outcomes`,
  );
  return { recovery, backtest };
}

describe('the small org (seed 42): the forecast learns the generator truth, not the CRM probabilities', () => {
  let recovery: ReturnType<typeof check>['recovery'];
  let backtest: ReturnType<typeof check>['backtest'];
  beforeAll(() => {
    ({ recovery, backtest } = check('small', 42, 500));
  }, 60_000);

  it('has eight ended quarters of history, enough to calibrate', () => {
    expect(backtest.periods).toBeGreaterThanOrEqual(7);
    expect(recovery.every((r) => r.snapshots > 1000)).toBe(true);
  });

  it('recovers the true win probability of every stage within 0.07 on average, where the CRM is 0.3 off late', () => {
    for (const r of recovery) expect(r.mae, r.stage).toBeLessThanOrEqual(0.07);
    const late = recovery.filter((r) => r.stage === 'Proposal/Price Quote' || r.stage === 'Negotiation/Review');
    for (const r of late) expect(r.crmMae, r.stage).toBeGreaterThan(0.3);
  });

  it('has a P10 that holds and a band that covers about as often as promised; the CRM baseline misses both', () => {
    const m = backtest.model;
    expect(m.p10Held).toBeGreaterThanOrEqual(0.8);
    expect(m.p10Held).toBeLessThanOrEqual(0.95);
    expect(m.p10p90Covered).toBeGreaterThanOrEqual(0.7);
    expect(m.p10p90Covered).toBeLessThanOrEqual(0.87);
    const crm = backtest.baselines.crm;
    expect(crm.p10Held).toBeLessThan(0.85);
    expect(crm.p10p90Covered).toBeLessThan(0.73);
    expect(crm.brier).toBeGreaterThan(m.brier as number);
  });
});

describe.skipIf(process.env.QT_HEAVY !== '1')('the medium org, three seeds (QT_HEAVY=1)', () => {
  it.each([1, 2, 3])(
    'seed %i: MAE <= 0.05 per stage, P10 held 90% +/- 5, band 80% +/- 7, the CRM baseline outside both',
    (seed) => {
      const { recovery, backtest } = check('medium', seed, 1000);
      for (const r of recovery) expect(r.mae, r.stage).toBeLessThanOrEqual(0.05);
      const m = backtest.model;
      expect(Math.abs((m.p10Held as number) - 0.9)).toBeLessThanOrEqual(0.05);
      expect(Math.abs((m.p10p90Covered as number) - 0.8)).toBeLessThanOrEqual(0.07);
      const crm = backtest.baselines.crm;
      expect(Math.abs((crm.p10Held as number) - 0.9)).toBeGreaterThan(0.05);
      expect(Math.abs((crm.p10p90Covered as number) - 0.8)).toBeGreaterThan(0.07);
    },
    900_000,
  );
});
