/**
 * The scale-reports bench's verdict: a report that prints other bytes from the snapshots than computed fails the
 * run, and the growth row is on CPU seconds (wall time on a shared machine is its load as much as the report).
 */
import { describe, expect, it } from 'vitest';
import { reportRows, type SizeFigures, type Timed } from '../../bench/scale-reports.bench.ts';

const timed = (s: number, cpuS: number, sha = 'x'): Timed => ({ s, cpuS, rssMb: 1, bytes: 1, sha, load: 1 });
const size = (reps: number, org: Timed, same = true): SizeFigures => ({
  reps,
  deals: reps * 200,
  generateS: 1,
  recomputeS: 1,
  org,
  orgComputed: org,
  orgSameJson: same,
  team: [timed(0.5, 0.5)],
  teamComputed: timed(0.5, 0.5),
  teamSameJson: same,
});

describe('scale-reports rows', () => {
  it('grows by CPU seconds, not wall', () => {
    // 4x the reps: wall 0.5x (a loaded first run), CPU 6x: not linear.
    const rows = reportRows(size(500, timed(80, 10)), size(2000, timed(40, 60)));
    expect(rows.orgReportGrowth?.value).toBe(6);
    expect(rows.orgReportGrowth?.met).toBe(false);
    expect(reportRows(size(500, timed(10, 10)), size(2000, timed(90, 40))).orgReportGrowth?.met).toBe(true);
  });

  it('fails on a byte mismatch between snapshots and computed', () => {
    expect(reportRows(size(500, timed(1, 1)), size(2000, timed(4, 4))).sameBytes?.met).toBe(true);
    const team = { ...size(2000, timed(4, 4)), teamSameJson: false };
    expect(reportRows(size(500, timed(1, 1)), team).sameBytes?.met).toBe(false);
    expect(reportRows(size(500, timed(1, 1), false), size(2000, timed(4, 4))).sameBytes?.met).toBe(false);
  });
});
