/**
 * Golden test: the committed warehouse fixture gives the committed `report rep` JSON for Sarah Chen, FY2026-Q2,
 * as of 2026-06-12 (day 73 of 91). The seed's first example, worked with the definitions:
 *
 * - A = 100,000 + 120,000 + 86,000 + 100,000 (92,000 EUR at 0.92, the rate on its close date) + 66,000 + 50,000
 *   = 522,000. Deal 006S7 is won today but was open on D (stage history), so it is pipeline, not actual; 006S8 was
 *   created after D and does not exist yet.
 * - E = 600,000 x 73/91 = 481,318.68; variance 40,681.32 (0.0845); required 78,000 / 18 = 4,333.33 a day.
 * - run rate = (100,000 + 66,000 + 50,000) / 30 = 7,200; projected 522,000 + 7,200 x 18 = 651,600 (1.0860).
 * - pipeline = 150,000 + 100,000 (80,000 EUR at D's rate 0.80) + 40,000 = 290,000; weighted 90,000 + 50,000 +
 *   28,000 = 168,000; coverage 290,000 / 78,000 = 3.7179 (strong); 006O4 (30,000) is overdue.
 * - win rate (12 months) 7 won / 8 closed = 0.8750; average 602,000 / 7 = 86,000; cycle 60 days; velocity
 *   3 x 0.875 x 86,000 / 60 = 3,762.50.
 * - commission: 10% of 522,000 = 52,200; at 651,600: 60,000 + 51,600 x 16% = 68,256.
 * - activity score: 100 x (1 x 10/120 + 2 x 3/20 + 0.5 x 20/200) / 3.5 = 12.38.
 * - ranks on D: org Emily 0.90, Sarah 0.87, Tom (500,000 / 600,000) 0.8333; team West Enterprise (Sarah, Tom).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { buildReport } from '../../src/reports/report.ts';
import { insertFixture, readFixture } from '../fixtures/warehouse/load.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const fixturePath = fileURLToPath(new URL('../fixtures/warehouse/golden.json', import.meta.url));
const goldenPath = fileURLToPath(new URL('../fixtures/warehouse/golden-report-rep.json', import.meta.url));

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await insertFixture(t.db, await readFixture(fixturePath));
});
afterAll(() => t.drop());

const config = validateConfig({ calendar: { timezone: 'America/New_York', baseCurrency: 'USD' } });

describe('report rep on the golden warehouse', () => {
  it('prints the committed JSON for Sarah Chen as of 2026-06-12', async () => {
    const engine = new MetricsEngine({ db: t.db, config });
    await engine.recomputeAll('2026-06-12');
    const doc = await buildReport(t.db, engine, {
      kind: 'rep',
      rep: 'sarah.chen@example.com',
      period: 'FY2026-Q2',
      asOf: '2026-06-12',
    });
    const text = `${JSON.stringify(doc, null, 2)}\n`;
    if (process.env.UPDATE_GOLDEN === '1') await writeFile(goldenPath, text);
    expect(text).toBe(await readFile(goldenPath, 'utf8'));
  });

  it('has the hand-worked figures', async () => {
    const golden = JSON.parse(await readFile(goldenPath, 'utf8'));
    expect(golden.period).toEqual({
      id: 'FY2026-Q2',
      start: '2026-04-01',
      end: '2026-06-30',
      daysTotal: 91,
      daysElapsed: 73,
      daysRemaining: 18,
    });
    expect(golden).toMatchObject({
      quota: '600000.00',
      actual: '522000.00',
      attainment: '0.8700',
      remaining: '78000.00',
      expectedToDate: '481318.68',
      paceVariance: '40681.32',
      paceVariancePct: '0.0845',
      paceStatus: 'ahead',
      requiredDailyRunRate: '4333.33',
      currentRunRate: '7200.00',
      projectedTotal: '651600.00',
      projectedAttainment: '1.0860',
      status: 'on_track',
      pipeline: {
        open: '290000.00',
        weighted: '168000.00',
        coverage: '3.7179',
        coverageBand: 'strong',
        openDeals: 3,
        overdue: '30000.00',
      },
      winRate: '0.8750',
      avgDealSize: '86000.00',
      salesCycleDays: '60.00',
      velocity: '3762.50',
      activities: { counts: { call: 10, meeting: 3, email: 20, task: 0 }, score: '12.38' },
      commission: { atActual: '52200.00', atProjected: '68256.00', nextTier: '1.0000', bookingsToNextTier: '78000.00' },
      rank: { team: { rank: 1, of: 2 }, region: { rank: 2, of: 3 }, org: { rank: 2, of: 3 } },
      subject: {
        name: 'Sarah Chen',
        email: 'sarah.chen@example.com',
        team: 'West Enterprise',
        region: 'West',
        manager: 'Dana Brooks',
      },
    });
    // Eight quarters back (metrics.historyPeriods); only FY2026-Q1 has a quota, the won 006S0 (80,000).
    expect(golden.history).toHaveLength(8);
    expect(golden.history[7]).toEqual({
      period: 'FY2026-Q1',
      quota: '500000.00',
      actual: '80000.00',
      attainment: '0.1600',
      qoqChange: null,
      qoqChangeReason: 'no_quota_before',
    });
    expect(golden.history[6]).toEqual({
      period: 'FY2025-Q4',
      quota: null,
      quotaReason: 'no_quota',
      actual: '0.00',
      attainment: null,
      attainmentReason: 'no_quota',
      qoqChange: null,
      qoqChangeReason: 'no_quota',
    });
    // Scorecard: 10% of the 600,000 quota at 100%; the gap of 78,000 closed by the likeliest open deals, 006S7
    // (70%, 40,000) then 006O1 (60%, 150,000): 190,000 running; one quarter with a quota is too few for a slope.
    expect(golden.commission.atQuota).toBe('60000.00');
    expect(golden.gapDeals).toMatchObject({ gap: '78000.00', dealsNeeded: 2, shortfall: '0.00' });
    expect(golden.gapDeals.deals.map((d: { id: string; runningTotal: string }) => [d.id, d.runningTotal])).toEqual([
      ['006S7', '40000.00'],
      ['006O1', '190000.00'],
    ]);
    expect(golden.trend).toEqual({ periods: ['FY2026-Q1'], slope: null, slopeReason: 'too_few_periods' });
    expect(golden.rank.team).toMatchObject({ rank: 1, of: 2, group: 'West Enterprise', groupSize: 2 });
    // Sarah's win rate 7/8 against West Enterprise's 8/9; coverage 3.7179 is strong; 12.38 is under 100.
    expect(golden.strengths.map((x: { rule: string }) => x.rule)).toEqual([
      'coverage_strong',
      'ahead_of_pace',
      'projected_to_hit',
    ]);
    expect(golden.focusAreas.map((x: { rule: string }) => x.rule)).toEqual([
      'win_rate_below_team',
      'activity_below_target',
    ]);
    // The Monte Carlo stays between "nothing more closes" and "everything in the pipeline closes".
    for (const k of ['p10', 'p25', 'p50', 'p90']) {
      expect(Number(golden.forecast[k])).toBeGreaterThanOrEqual(522000);
      expect(Number(golden.forecast[k])).toBeLessThanOrEqual(812000);
    }
  });
});
