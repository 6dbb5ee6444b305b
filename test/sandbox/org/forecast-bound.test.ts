/**
 * Issue 17's bound over every rep of the medium org (QT_HEAVY=1, about four minutes): a rep projected well below
 * quota (run rate under 70%) shows a chance to hit quota above 50% only where the history supports it. What the
 * backtest supports is checked: among the past rep-weeks projected under 70% with a chance above 50%, the quarter
 * ended at or above quota about as often as the chance said. The issue's own figure (at most 10% of the reps
 * projected under 70% today) is printed, not asserted: on this org the truth makes it unreachable for an honest
 * forecast (see the closing note of stop 27: even the chances recalibrated to the backtest give 11.6%).
 */
import { describe, expect, it } from 'vitest';
import { generateOrg } from '../../../src/sandbox/org/index.ts';
import { repChances } from './forecast-bound.ts';
import { orgTimelines } from './forecast-truth.ts';

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe.skipIf(process.env.QT_HEAVY !== '1')(
  'chance to hit quota against the run-rate projection (medium, seed 42)',
  () => {
    it('is what the backtest supports for reps projected under 70%', () => {
      const org = generateOrg({ seed: 42, size: 'medium', anchorDate: '2026-11-15' });
      const { week, today, past } = repChances(org, orgTimelines(org));
      const under = today.filter((r) => r.projected < 0.7);
      const high = under.filter((r) => r.chance > 0.5);
      const uncovered = high.filter((r) => r.openCover < 1);
      const pastUnder = past.filter((r) => r.projected < 0.7);
      const pastHigh = pastUnder.filter((r) => r.chance > 0.5);
      const shown = mean(pastHigh.map((r) => r.chance));
      const happened = mean(pastHigh.map((r) => (r.hit ? 1 : 0)));
      console.log(
        `week ${week}: ${high.length} of ${under.length} reps projected under 70% show a chance above 50% ` +
          `(${((100 * high.length) / under.length).toFixed(1)}%), ${uncovered.length} without open pipeline covering ` +
          `the gap (${uncovered.map((r) => r.openCover.toFixed(3)).join(', ')}); backtest: ${pastHigh.length} of ` +
          `${pastUnder.length} past rep-weeks under 70% showed above 50% (mean ${shown.toFixed(3)}), ` +
          `${(100 * happened).toFixed(1)}% hit quota; of all ${pastUnder.length} under 70%, ` +
          `${(100 * mean(pastUnder.map((r) => (r.hit ? 1 : 0)))).toFixed(1)}% hit quota`,
      );
      expect(pastHigh.length).toBeGreaterThan(500);
      // Supported: the shown chance is at most 10 points above what happened, and most such reps did hit quota.
      expect(shown - happened).toBeLessThanOrEqual(0.1);
      expect(happened).toBeGreaterThan(0.5);
      // Each rep shown above 50% has open pipeline covering at least 90% of its gap at calibrated probabilities
      // (the rest of its chance is the pipeline not created yet, from its own history).
      for (const r of high) expect(r.openCover, r.owner).toBeGreaterThanOrEqual(0.9);
    }, 900_000);
  },
);
