/**
 * `report trends|alerts --format csv` print their rows (they have no reps, and used to print the rep header alone);
 * rep and group reports a first `type` column (`rep` rows, then a group's `total` row); no cell runs as a formula.
 */
import { expect, it } from 'vitest';
import { toCsv } from '../../src/cli/commands/report.ts';
import { neutralise } from '../../src/reports/csv.ts';

it('prints one row per period of a trends report, an empty cell where there was no quota', () => {
  const doc = {
    periods: [
      { period: 'FY2026-Q1', quota: null, actual: '0.00', attainment: null, quotaReason: 'no_quota' },
      { period: 'FY2026-Q2', quota: '600000.00', actual: '522000.00', attainment: '0.8700' },
    ],
  };
  expect(toCsv('trends', doc)).toBe(
    [
      'type,scope,period,partial,quota,actual,attainment,qoq,yoy,projectedActual,projectedAttainment,mean,spread',
      'period,,FY2026-Q1,,,0.00,,,,,,,',
      'period,,FY2026-Q2,,600000.00,522000.00,0.8700,,,,,,',
    ].join('\n'),
  );
});

it('prints a trends report by region: a period row per scope and period, then the consistent performers', () => {
  const doc = {
    series: [
      {
        scope: { name: 'West' },
        periods: [
          {
            period: 'FY2026-Q3',
            quota: '100.00',
            actual: '100.00',
            attainment: '1.0000',
            qoq: null,
            yoy: '-0.0500',
            partial: false,
          },
          {
            period: 'FY2026-Q4',
            quota: '100.00',
            actual: '40.00',
            attainment: '0.4000',
            qoq: '0.1000',
            yoy: null,
            partial: true,
            projectedActual: '110.00',
            projectedAttainment: '1.1000',
          },
        ],
      },
    ],
    consistency: {
      top: [{ rep: { name: '=Ana' }, mean: '1.1000', spread: '0.1000' }],
      bottom: [{ rep: { name: 'Bo' }, mean: '0.5000', spread: '0.0000' }],
    },
  };
  expect(toCsv('trends', doc).split('\n')).toEqual([
    'type,scope,period,partial,quota,actual,attainment,qoq,yoy,projectedActual,projectedAttainment,mean,spread',
    'period,West,FY2026-Q3,false,100.00,100.00,1.0000,,-0.0500,,,,',
    'period,West,FY2026-Q4,true,100.00,40.00,0.4000,0.1000,,110.00,1.1000,,',
    "top,'=Ana,,,,,,,,,,1.1000,0.1000",
    'bottom,Bo,,,,,,,,,,0.5000,0.0000',
  ]);
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

it('prints a rep report as one rep row under a first type column, with the columns the text shows', () => {
  const doc = {
    subject: { name: 'Tom Berg', email: 'tom.berg@example.com', team: 'NA Enterprise' },
    quota: '600000.00',
    actual: '395500.00',
    attainment: '0.6592',
    projectedTotal: '856920.00',
    projectedAttainment: '1.4282',
    status: 'on_track',
    remaining: '204500.00',
    pipeline: { open: '300000.00', coverage: '1.4670', coverageBand: 'critical' },
    activities: { counts: { call: 10, meeting: 2, email: 30, task: 4 }, score: '25.00' },
    rank: { org: { rank: 3, of: 12 } },
  };
  expect(toCsv('rep', doc).split('\n')).toEqual([
    'type,name,email,team,quota,actual,attainment,projectedTotal,projectedAttainment,status,remaining,openPipeline,coverage,coverageBand,calls,meetings,emails,tasks,activityScore,rank',
    'rep,Tom Berg,tom.berg@example.com,NA Enterprise,600000.00,395500.00,0.6592,856920.00,1.4282,on_track,204500.00,300000.00,1.4670,critical,10,2,30,4,25.00,3',
  ]);
});

it('prints a team report as its reps with a quota, then a total row of its totals', () => {
  const rep = (name: string, attainment: string | null) => ({
    subject: { name, email: null, team: 'West' },
    quota: attainment === null ? null : '100.00',
    actual: '50.00',
    attainment,
    rank: { org: { rank: 1, of: 1 } },
  });
  const doc = {
    totals: {
      subject: { name: 'West', email: null, team: null },
      quota: '100.00',
      actual: '50.00',
      attainment: '0.5000',
    },
    reps: [rep('Ann', '0.5000'), rep('Dana Manager', null)],
  };
  const lines = toCsv('team', doc).split('\n');
  expect(lines.map((l) => l.split(',').slice(0, 2).join(','))).toEqual(['type,name', 'rep,Ann', 'total,West']);
  // The total row has no rank: a team's totals are not one of its reps.
  expect(lines[2]?.endsWith(',')).toBe(true);
});

it('neutralises a cell a spreadsheet would run as a formula, and keeps negative figures as numbers', () => {
  const doc = {
    subject: { name: '=HYPERLINK("http://x","y")', email: '@sum(A1)', team: '+1-team' },
    quota: '100.00',
    actual: '-20.00',
    attainment: '-0.2000',
    status: '\tmajor_gap',
    rank: { org: { rank: 1, of: 1 } },
  };
  const row = toCsv('rep', doc).split('\n')[1] as string;
  expect(row.startsWith('rep,"\'=HYPERLINK(""http://x"",""y"")",\'@sum(A1),\'+1-team,100.00,-20.00,-0.2000,')).toBe(
    true,
  );
  expect(row).toContain(",'\tmajor_gap,");
  expect(neutralise('-1234.50')).toBe('-1234.50');
  expect(neutralise('-x')).toBe("'-x");
  expect(neutralise('\rcmd')).toBe("'\rcmd");
  expect(neutralise('Ann')).toBe('Ann');
});

it("prints a leaderboard ranked by a metric the usual columns lack with that metric's own column, before the rank", () => {
  const entry = (name: string, coverage: string | null, rank: number | null) => ({
    subject: { name, email: `${name.toLowerCase()}@x.example`, team: 'West' },
    quota: '100.00',
    actual: '50.00',
    attainment: '0.5000',
    projectedAttainment: '0.9000',
    status: 'on_track',
    coverage,
    rank,
  });
  const doc = { by: 'pipeline-coverage', entries: [entry('Ann', '2.50', 1), entry('Bo', null, null)] };
  expect(toCsv('leaderboard', doc)).toBe(
    [
      'name,email,team,quota,actual,attainment,projectedAttainment,status,coverage,rank',
      'Ann,ann@x.example,West,100.00,50.00,0.5000,0.9000,on_track,2.50,1',
      'Bo,bo@x.example,West,100.00,50.00,0.5000,0.9000,on_track,,',
    ].join('\n'),
  );
  // Ranked by attainment, the usual columns show it: no extra column.
  expect(toCsv('leaderboard', { ...doc, by: 'attainment' }).split('\n')[0]).toBe(
    'name,email,team,quota,actual,attainment,projectedAttainment,status,rank',
  );
});
