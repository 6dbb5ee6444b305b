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
    'TRENDS - Organization as of 2026-11-26, in USD',
    '',
    '  Period                   Quota            Actual          Attainment',
    '  FY2025-Q3                    -              0.00            no quota',
    '  FY2025-Q4         3,067,748.66      3,103,623.35             101.17%',
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
