/**
 * The leaderboard and trends as text: a board of the people who are ranked, with those who carry no quota named
 * once at the end (not a row of "n/a (no quota)" each), the same for the reps of a team, and trends under column
 * headings.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import type { JsonObject } from '../../src/metrics/document.ts';
import { reportText } from '../../src/reports/text.ts';

it('ranks the reps with a quota and names the others on one line', () => {
  const doc = {
    period: { id: 'FY2026-Q4' },
    asOf: '2026-11-26',
    scope: { name: 'Organization' },
    by: 'attainment',
    entries: [
      {
        rank: 1,
        subject: { name: 'Zoe Larsen' },
        attainment: '0.6795',
        actual: '202140.27',
        quota: '297497.67',
        projectedAttainment: '1.1470',
      },
      {
        rank: null,
        subject: { name: 'Ben Brown' },
        attainment: null,
        attainmentReason: 'no_quota',
        actual: '0.00',
        quota: null,
        quotaReason: 'no_quota',
        projectedAttainment: null,
        projectedAttainmentReason: 'no_quota',
      },
      {
        rank: null,
        subject: { name: 'Sandbox Integration' },
        attainment: null,
        attainmentReason: 'no_quota',
        actual: '0.00',
        quota: null,
        quotaReason: 'no_quota',
        projectedAttainment: null,
        projectedAttainmentReason: 'no_quota',
      },
    ],
  } as unknown as JsonObject;
  expect(reportText('leaderboard', doc).split('\n')).toEqual([
    'LEADERBOARD by attainment - Organization, FY2026-Q4 as of 2026-11-26',
    '',
    '  #1   Zoe Larsen               67.95%      202,140.27 of     297,497.67  projected  114.70%',
    '',
    '  Not ranked (no quota): Ben Brown, Sandbox Integration',
  ]);
});

it('prints trends under headings, a period before any quota as "no quota" once', () => {
  const doc = {
    scope: { name: 'Organization' },
    asOf: '2026-11-26',
    currency: 'USD',
    periods: [
      { period: 'FY2025-Q3', quota: null, actual: '0.00', attainment: null, quotaReason: 'no_quota' },
      { period: 'FY2025-Q4', quota: '3067748.66', actual: '3103623.35', attainment: '1.0117' },
    ],
  } as unknown as JsonObject;
  expect(reportText('trends', doc).split('\n')).toEqual([
    'TRENDS - Organization, FY2025-Q3 to FY2025-Q4 as of 2026-11-26, in USD',
    '',
    'ATTAINMENT BY PERIOD',
    '  Period            Quota        Actual  Attainment  QoQ  YoY',
    '  FY2025-Q3             -          0.00    no quota    -    -',
    '  FY2025-Q4  3,067,748.66  3,103,623.35     101.17%    -    -',
  ]);
});

it('prints trends by region side by side, the partial period with its projection, the consistent performers', () => {
  const row = (period: string, quota: string, actual: string, attainment: string, qoq: string | null) => ({
    period,
    quota,
    actual,
    attainment,
    qoq,
    yoy: null,
    yoyReason: 'no_quota_a_year_before',
    partial: false,
  });
  const doc = {
    scope: { type: 'org', id: 'org', name: 'Org' },
    asOf: '2026-11-20',
    currency: 'USD',
    by: 'region',
    series: [
      {
        scope: { type: 'org', id: 'org', name: 'Org' },
        periods: [
          row('FY2026-Q3', '200.00', '150.00', '0.7500', null),
          {
            ...row('FY2026-Q4', '200.00', '60.00', '0.3000', '0.1500'),
            partial: true,
            projectedActual: '180.00',
            projectedAttainment: '0.9000',
          },
        ],
      },
      {
        scope: { type: 'region', id: '2', name: 'West' },
        periods: [
          row('FY2026-Q3', '100.00', '100.00', '1.0000', null),
          {
            ...row('FY2026-Q4', '100.00', '40.00', '0.4000', '0.1000'),
            partial: true,
            projectedActual: '110.00',
            projectedAttainment: '1.1000',
          },
        ],
      },
    ],
    consistency: {
      periods: ['FY2026-Q2', 'FY2026-Q3'],
      topMeanAtLeast: '1.0000',
      bottomMeanBelow: '0.7000',
      spreadAtMost: '0.2500',
      top: [
        {
          rep: { name: 'Ana Ito', team: 'West 1' },
          mean: '1.1000',
          spread: '0.1000',
          attainments: [
            { period: 'FY2026-Q2', attainment: '1.0000' },
            { period: 'FY2026-Q3', attainment: '1.2000' },
          ],
        },
      ],
      bottom: [],
    },
  } as unknown as JsonObject;
  expect(reportText('trends', doc).split('\n')).toEqual([
    'TRENDS - Org by region, FY2026-Q3 to FY2026-Q4 as of 2026-11-20, in USD',
    '',
    'ATTAINMENT BY PERIOD',
    '  The period to date is partial: its QoQ and YoY compare its projected attainment.',
    '  Region  Period                Quota  Actual  Attainment         QoQ  YoY  Projected actual  Projected',
    '  Org     FY2026-Q3            200.00  150.00      75.00%           -    -',
    '  Org     FY2026-Q4 (to date)  200.00   60.00      30.00%  +15.00 pts    -            180.00     90.00%',
    '  West    FY2026-Q3            100.00  100.00     100.00%           -    -',
    '  West    FY2026-Q4 (to date)  100.00   40.00      40.00%  +10.00 pts    -            110.00    110.00%',
    '',
    'SIDE BY SIDE',
    '  Region  FY2026-Q3  FY2026-Q4 (to date)',
    '  Org        75.00%               30.00%',
    '  West      100.00%               40.00%',
    '',
    'CONSISTENT PERFORMERS',
    '  Over FY2026-Q2, FY2026-Q3: a quota in each, a spread of at most 25.00 pts, mean attainment at least 100.00% (top) or',
    '      below 70.00% (bottom), lowest spread first.',
    '  List  Rep      Team       Mean     Spread  Attainment by period',
    '  top   Ana Ito  West 1  110.00%  10.00 pts  FY2026-Q2 100.00%, FY2026-Q3 120.00%',
  ]);
});

it('lists the reps of a team with a quota and names the others once below them', async () => {
  const rep = JSON.parse(
    await readFile(fileURLToPath(new URL('../fixtures/warehouse/golden-report-rep.json', import.meta.url)), 'utf8'),
  );
  const vp = { ...rep, subject: { name: 'Dana Brooks' }, attainment: null, attainmentReason: 'no_quota', status: null };
  const text = reportText('team', { totals: rep, reps: [rep, vp] } as unknown as JsonObject).split('\n');
  expect(text.slice(text.indexOf('REPS'))).toEqual([
    'REPS',
    '  Sarah Chen                 87.00% actual    108.60% projected  on track         needs 78,000.00  coverage 3.7179x  calls 10, meetings 3, score 12.38',
    '',
    '  Not ranked (no quota): Dana Brooks',
  ]);
});

it("counts a connection's won deals in the Sources section, one deal in the singular", async () => {
  const rep = JSON.parse(
    await readFile(fileURLToPath(new URL('../fixtures/warehouse/golden-report-rep.json', import.meta.url)), 'utf8'),
  );
  rep.sources.actual = [
    { connection: 'sf', amount: '500000.00', deals: 5 },
    { connection: 'hs', amount: '22000.00', deals: 1 },
  ];
  const text = reportText('rep', rep as JsonObject);
  expect(text).toMatch(/Actual from sf\s+500,000\.00 \(5 won deals\)/);
  expect(text).toMatch(/Actual from hs\s+22,000\.00 \(1 won deal\)/);
});
