/**
 * `--format md` and `--format html`: real Markdown tables and one self-contained HTML page, with the text format's
 * values, names from the CRM escaped, and people without a quota named once below the board.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/metrics/document.ts';
import { reportHtml } from '../../src/reports/html.ts';
import { reportMarkdown } from '../../src/reports/md.ts';
import { reportText } from '../../src/reports/text.ts';
import { htmlText, jsonNumbers, textNumbers } from './numbers.ts';

const EVIL = '<script>alert(1)</script> & "Co"';

const board = {
  period: { id: 'FY2026-Q4' },
  asOf: '2026-11-26',
  scope: { name: 'Organization' },
  by: 'attainment',
  entries: [
    {
      rank: 1,
      subject: { name: 'Zoe *Star* Larsen', team: 'West|East' },
      attainment: '0.6795',
      actual: '202140.27',
      quota: '297497.67',
      projectedAttainment: '1.1470',
      status: 'on_track',
    },
    {
      rank: 2,
      subject: { name: EVIL, team: 'North_1' },
      attainment: '-0.0500',
      actual: '-1000.00',
      quota: '20000.00',
      projectedAttainment: '0.0000',
      status: 'major_gap',
    },
    {
      rank: null,
      subject: { name: 'Ben `Brown`', team: 'West|East' },
      attainment: null,
      attainmentReason: 'no_quota',
      actual: '0.00',
      quota: null,
      quotaReason: 'no_quota',
      projectedAttainment: null,
      projectedAttainmentReason: 'no_quota',
      status: null,
      statusReason: 'no_quota',
    },
  ],
} as unknown as JsonObject;

const trends = {
  scope: { name: 'West' },
  asOf: '2026-06-12',
  currency: 'USD',
  periods: [
    { period: 'FY2026-Q1', quota: null, quotaReason: 'no_quota', actual: '0.00', attainment: null },
    { period: 'FY2026-Q2', quota: '3067748.66', actual: '3103623.35', attainment: '1.0117' },
  ],
} as unknown as JsonObject;

const alerts = {
  period: { id: 'FY2026-Q2' },
  asOf: '2026-06-12',
  alerts: [
    {
      rule: 'pace_deterioration',
      severity: 'critical',
      status: 'open',
      message: 'Pace index fell to 0.71 | was 0.90',
      subject: { name: EVIL },
    },
  ],
} as unknown as JsonObject;

const goldenRep = async (): Promise<JsonObject> =>
  JSON.parse(
    await readFile(fileURLToPath(new URL('../fixtures/warehouse/golden-report-rep.json', import.meta.url)), 'utf8'),
  );

/** A team of the golden rep and two people without a quota (a VP and the integration user). */
async function goldenTeam(): Promise<JsonObject> {
  const rep = await goldenRep();
  const noQuota = (name: string): JsonObject => ({
    ...rep,
    subject: { ...(rep.subject as JsonObject), name },
    quota: null,
    quotaReason: 'no_quota',
    attainment: null,
    attainmentReason: 'no_quota',
    remaining: null,
    remainingReason: 'no_quota',
    projectedAttainment: null,
    projectedAttainmentReason: 'no_quota',
    status: null,
    statusReason: 'no_quota',
  });
  const totals = { ...rep, subject: { ...(rep.subject as JsonObject), type: 'team', name: 'West Enterprise' } };
  return { totals, reps: [rep, noQuota('Dana Brooks'), noQuota(EVIL)] } as unknown as JsonObject;
}

/** The lines of one `## heading` section of a Markdown report, up to the next section. */
function mdSection(md: string, heading: string): string[] {
  const lines = md.split('\n');
  const at = lines.indexOf(`## ${heading}`);
  expect(at).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((l, i) => i > at && l.startsWith('## '));
  return lines.slice(at, end < 0 ? undefined : end).filter((l) => l !== '');
}

describe('report --format md', () => {
  it('prints a leaderboard as a table, escaped names, the unranked named once below', () => {
    expect(reportMarkdown('leaderboard', board)).toBe(
      [
        '# Leaderboard by attainment - Organization, FY2026-Q4 as of 2026-11-26',
        '',
        '## Ranking',
        '',
        '| Rank | Name | Team | Attainment | Actual | Quota | Projected | Status |',
        '| ---: | --- | --- | ---: | ---: | ---: | ---: | --- |',
        '| #1 | Zoe \\*Star\\* Larsen | West\\|East | 67.95% | 202,140.27 | 297,497.67 | 114.70% | on track |',
        '| #2 | \\<script\\>alert(1)\\</script\\> & "Co" | North\\_1 | -5.00% | -1,000.00 | 20,000.00 | 0.00% | major gap |',
        '',
        'Not ranked (no quota): Ben \\`Brown\\`',
        '',
      ].join('\n'),
    );
  });

  it('prints trends with a dash and "no quota" for a period before any quota, as the text does', () => {
    expect(reportMarkdown('trends', trends)).toBe(
      [
        '# Trends - West, FY2026-Q1 to FY2026-Q2 as of 2026-06-12, in USD',
        '',
        '## Attainment by period',
        '',
        '| Period | Quota | Actual | Attainment | QoQ | YoY |',
        '| --- | ---: | ---: | ---: | ---: | ---: |',
        '| FY2026-Q1 | - | 0.00 | no quota | - | - |',
        '| FY2026-Q2 | 3,067,748.66 | 3,103,623.35 | 101.17% | - | - |',
        '',
      ].join('\n'),
    );
  });

  it('prints alerts in one table, a | in a message kept inside its cell', () => {
    expect(reportMarkdown('alerts', alerts).split('\n').slice(4)).toEqual([
      '| Severity | Rule | Name | Status | Message |',
      '| --- | --- | --- | --- | --- |',
      '| critical | pace\\_deterioration | \\<script\\>alert(1)\\</script\\> & "Co" | open | Pace index fell to 0.71 \\| was 0.90 |',
      '',
    ]);
    expect(
      reportMarkdown('alerts', { ...alerts, alerts: [] })
        .split('\n')
        .slice(2),
    ).toEqual(['## Open alerts', '', 'none', '']);
  });

  it('prints a rep report with the text format figures under ## headings', async () => {
    const md = reportMarkdown('rep', await goldenRep());
    expect(md.split('\n').slice(0, 3)).toEqual([
      '# Sarah Chen (rep) - FY2026-Q2 as of 2026-06-12, in USD',
      '',
      'team West Enterprise, region West, manager Dana Brooks',
    ]);
    expect(md.match(/^## .*/gm)).toEqual([
      '## Summary',
      '## Pacing',
      '## Projection',
      '## Pipeline',
      '## Activity (2026-05-14..2026-06-12)',
      '## Ranking',
      '## History',
      '## Sources',
      '## Pacing burn-up',
      '## Deals that close the gap',
      '## Lead conversion',
      '## Strengths',
      '## Focus areas',
      '## Alerts',
      '## By product line',
      '## By segment',
    ]);
    expect(mdSection(md, 'By segment')).toEqual([
      '## By segment',
      '| Segment | Actual | Deals | Share of actual | Attainment |',
      '| --- | ---: | ---: | ---: | ---: |',
      '| (none) | 522,000.00 | 6 | 100.00% | 87.00% |',
      "A segment's attainment is its actual over the whole quota: the segments' add up to the total.",
    ]);
    expect(mdSection(md, 'Pacing')).toEqual([
      '## Pacing',
      '| Figure | Value |',
      '| --- | ---: |',
      '| Days elapsed | 73 of 91 (18 remaining) |',
      '| Expected to date | 481,318.68 |',
      '| Pace variance | +40,681.32 (+8.45%), ahead |',
      '| Required run rate | 4,333.33 a day, 30,333.33 a week |',
    ]);
    expect(mdSection(md, 'History')).toEqual([
      '## History',
      '| Figure | Value |',
      '| --- | ---: |',
      '| FY2026-Q1 | 16.00% (80,000.00 of 500,000.00) |',
      '| Trend (least squares) | n/a (too few periods) |',
    ]);
    expect(mdSection(md, 'Alerts')[3]).toBe(
      '| critical | activity\\_drop | open | Activity score is 12 and the last 14 days are down 48.1% on the prior 4 weeks. |',
    );
  });

  it('lists reps with a quota in the team table and the others once below it', async () => {
    const md = reportMarkdown('team', await goldenTeam());
    expect(md.split('\n')[0]).toBe('# West Enterprise (team) - FY2026-Q2 as of 2026-06-12, in USD');
    expect(mdSection(md, 'Reps')).toEqual([
      '## Reps',
      '| Name | Attainment | Projected | Status | Needs | Coverage | Calls | Meetings | Activity score |',
      '| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |',
      '| Sarah Chen | 87.00% | 108.60% | on track | 78,000.00 | 3.7179x | 10 | 3 | 12.38 |',
      'Not ranked (no quota): Dana Brooks, \\<script\\>alert(1)\\</script\\> & "Co"',
    ]);
  });

  it('prints n/a with its reason where the text does', async () => {
    const rep = await goldenRep();
    const md = reportMarkdown('rep', { ...rep, winRate: null, winRateReason: 'no_closed_deals' });
    expect(md).toContain('| Win rate | n/a (no closed deals) |');
    expect(reportText('rep', { ...rep, winRate: null, winRateReason: 'no_closed_deals' })).toContain(
      'Win rate                  n/a (no closed deals)',
    );
  });

  it('escapes an entity so that it is not decoded, and keeps a name with a line break on its row', () => {
    const md = reportMarkdown('leaderboard', {
      ...board,
      entries: [{ ...(board.entries as JsonObject[])[0], subject: { name: 'A &lt; B\nC', team: 'T' } }],
    } as JsonObject);
    expect(md).toContain('| #1 | A \\&lt; B C | T |');
  });
});

describe('report --format html', () => {
  it('prints one self-contained page: doctype, charset, inline style, no script or external resource', () => {
    const html = reportHtml('leaderboard', board);
    expect(html.startsWith('<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n')).toBe(true);
    expect(html).toMatch(/<style>[^<]*<\/style>/);
    expect(html.endsWith('</body>\n</html>\n')).toBe(true);
    expect(html).not.toMatch(/<script|<link|<img|src=|href=|url\(|@import/i);
  });

  it('prints the leaderboard as a table, every name escaped, numbers right-aligned, status as words and colours', () => {
    const html = reportHtml('leaderboard', board);
    expect(html.slice(html.indexOf('<body>')).split('\n')).toEqual([
      '<body>',
      '<h1>Leaderboard by attainment - Organization, FY2026-Q4 as of 2026-11-26</h1>',
      '<h2>Ranking</h2>',
      '<table>',
      '<thead><tr><th scope="col" class="num">Rank</th><th scope="col">Name</th><th scope="col">Team</th><th scope="col" class="num">Attainment</th><th scope="col" class="num">Actual</th><th scope="col" class="num">Quota</th><th scope="col" class="num">Projected</th><th scope="col">Status</th></tr></thead>',
      '<tbody>',
      '<tr><td class="num">#1</td><td>Zoe *Star* Larsen</td><td>West|East</td><td class="num">67.95%</td><td class="num">202,140.27</td><td class="num">297,497.67</td><td class="num">114.70%</td><td class="tone-good">on track</td></tr>',
      '<tr><td class="num">#2</td><td>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;</td><td>North_1</td><td class="num">-5.00%</td><td class="num">-1,000.00</td><td class="num">20,000.00</td><td class="num">0.00%</td><td class="tone-poor">major gap</td></tr>',
      '</tbody>',
      '</table>',
      '<p>Not ranked (no quota): Ben `Brown`</p>',
      '</body>',
      '</html>',
      '',
    ]);
  });

  it('escapes a CRM name in the title, the alerts and the not-ranked line', async () => {
    const team = await goldenTeam();
    (team.totals as JsonObject).subject = { type: 'team', name: EVIL };
    const html = [reportHtml('team', team), reportHtml('alerts', alerts)].join('\n');
    expect(html).not.toContain('<script');
    expect(html).toContain('<title>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot; (team) - FY2026-Q2');
    expect(html).toContain(
      '<p>Not ranked (no quota): Dana Brooks, &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;</p>',
    );
    expect(html).toContain('<td>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;</td><td>open</td>');
  });

  it('prints the rep figures as labelled rows with the values right-aligned', async () => {
    const html = reportHtml('rep', await goldenRep());
    expect(html).toContain(
      [
        '<h2>Summary</h2>',
        '<table>',
        '<tr><th scope="row">Quota</th><td class="num">600,000.00</td></tr>',
        '<tr><th scope="row">Actual to date</th><td class="num">522,000.00 (6 won deals)</td></tr>',
        '<tr><th scope="row">Attainment</th><td class="num">87.00%</td></tr>',
        '<tr><th scope="row">Remaining to goal</th><td class="num">78,000.00</td></tr>',
        '<tr><th scope="row">Status</th><td class="num tone-good">on track</td></tr>',
        '</table>',
      ].join('\n'),
    );
  });
});

describe('md and html print only numbers of the JSON', () => {
  const explain = {
    figures: {
      attainment: {
        formula: 'A / Q',
        working: '522000.00 / 600000.00 = 0.8700',
        value: '0.8700',
        sums: [{ label: 'won in period', column: 'actual', total: '522000.00', deals: ['006S1'] }],
      },
    },
    deals: [
      {
        id: '006S1',
        name: 'Acme',
        owner: 'Sarah Chen',
        amount: '100000.00',
        createdDate: '2026-02-09',
        closeDate: '2026-04-20',
        stage: 'Closed Won',
        usedBy: ['actual'],
      },
    ],
  };

  for (const kind of ['rep', 'team', 'leaderboard', 'trends', 'alerts']) {
    it(`for ${kind}`, async () => {
      const doc =
        kind === 'rep'
          ? ({ ...(await goldenRep()), explain } as JsonObject)
          : kind === 'team'
            ? await goldenTeam()
            : kind === 'leaderboard'
              ? board
              : kind === 'trends'
                ? trends
                : alerts;
      const allowed = jsonNumbers(doc);
      for (const printed of [reportMarkdown(kind, doc), htmlText(reportHtml(kind, doc))]) {
        const figures = textNumbers(printed);
        expect(figures.length).toBeGreaterThanOrEqual(kind === 'rep' || kind === 'team' ? 40 : 3);
        expect(figures.filter((n) => !allowed.has(n))).toEqual([]);
      }
    });
  }
});
