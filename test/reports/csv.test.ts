/**
 * `report trends|alerts --format csv` print their rows (they have no reps, and used to print the rep header alone).
 */
import { expect, it } from 'vitest';
import { toCsv } from '../../src/cli/commands/report.ts';

it('prints one row per period of a trends report, an empty cell where there was no quota', () => {
  const doc = {
    periods: [
      { period: 'FY2026-Q1', quota: null, actual: '0.00', attainment: null, quotaReason: 'no_quota' },
      { period: 'FY2026-Q2', quota: '600000.00', actual: '522000.00', attainment: '0.8700' },
    ],
  };
  expect(toCsv('trends', doc)).toBe(
    ['period,quota,actual,attainment', 'FY2026-Q1,,0.00,', 'FY2026-Q2,600000.00,522000.00,0.8700'].join('\n'),
  );
});

it('prints one row per alert of an alerts report, quoting a message with a comma', () => {
  const doc = {
    alerts: [
      {
        rule: 'coverage_gap',
        severity: 'warning',
        status: 'open',
        message: 'Pipeline covers 1.7x the remaining quota, under 2.5x, with 35 days left.',
        subject: { type: 'rep', id: 'person:7', name: 'Tara Johnson' },
      },
    ],
  };
  expect(toCsv('alerts', doc)).toBe(
    [
      'severity,rule,name,status,message',
      'warning,coverage_gap,Tara Johnson,open,"Pipeline covers 1.7x the remaining quota, under 2.5x, with 35 days left."',
    ].join('\n'),
  );
});

it('still prints one row per rep of a rep report', () => {
  const doc = {
    subject: { name: 'Tom Berg', email: 'tom.berg@example.com', team: 'NA Enterprise' },
    quota: '600000.00',
    actual: '395500.00',
    attainment: '0.6592',
    projectedAttainment: '1.4282',
    status: 'on_track',
    rank: { org: { rank: 3, of: 12 } },
  };
  expect(toCsv('rep', doc).split('\n')[1]).toBe(
    'Tom Berg,tom.berg@example.com,NA Enterprise,600000.00,395500.00,0.6592,1.4282,on_track,3',
  );
});
