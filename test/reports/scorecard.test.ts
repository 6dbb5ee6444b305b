/**
 * The rep scorecard and the team dashboard on the golden warehouse (FY2026-Q2 as of 2026-06-12, the clock pinned),
 * hand-worked: Sarah Chen's leads by cohort month, West Enterprise's dashboard with its manager and an integration
 * user placed in the team (people of the team, never its reps), `--rep` by name (an ambiguous name exits 2 naming
 * the matches), and a rep whose CRM name is a formula reaching the CSV as text.
 */
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.ts';
import { fixedClock, setClock } from '../../src/clock.ts';
import { validateConfig } from '../../src/config/load.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { toCsv } from '../../src/reports/csv.ts';
import { renderReport } from '../../src/reports/render.ts';
import { buildReport } from '../../src/reports/report.ts';
import { Dec } from '../../src/util/money.ts';
import { COMMAND_TABLE_FOR_TESTS } from '../e2e/command-table.ts';
import { goldenWarehouse } from '../fixtures/warehouse/load.ts';
import type { TestDatabase } from '../helpers/db.ts';
import { htmlText, jsonNumbers, textNumbers } from './numbers.ts';

const at = { period: 'FY2026-Q2', asOf: '2026-06-12' } as const;
const config = validateConfig({ calendar: { timezone: 'America/New_York' }, forecast: { trials: 2000 } });
let t: TestDatabase;
let configPath: string;

const lead = (id: string, owner: string, created: string, converted: string | null) => ({
  connection_id: 'sf',
  external_id: id,
  content_hash: `h-${id}`,
  owner_external_id: owner,
  created_date: created,
  status: converted === null ? 'Working' : 'Converted',
  is_converted: converted !== null,
  converted_date: converted,
});

beforeAll(async () => {
  setClock(fixedClock('2026-06-12T16:00:00Z'));
  t = await goldenWarehouse();
  // Dana Brooks (the manager, no quota) and an integration user placed in West Enterprise, as a CRM's role
  // hierarchy can place them.
  await t.db
    .insertInto('persons')
    .values({ id: 5, email: 'integration@example.com', name: 'Integration User' })
    .execute();
  await t.db
    .insertInto('reps')
    .values({
      connection_id: 'sf',
      external_id: '005INTEG',
      content_hash: 'h-005INTEG',
      person_id: 5,
      name: 'Integration User',
      email: 'integration@example.com',
      is_active: true,
      quota_carrying: false,
    })
    .execute();
  await t.db
    .insertInto('memberships')
    .values([
      { person_id: 4, org_unit_id: 3, valid_from: '2020-01-01', valid_to: null, source: 'file' },
      { person_id: 5, org_unit_id: 3, valid_from: '2020-01-01', valid_to: null, source: 'file' },
    ])
    .execute();
  // Sarah's leads: three created in May 2026 (two converted by D, one after it), one created after D and one
  // the day before the 12-month window (both left out), one on its first day; one of Tom's.
  await t.db
    .insertInto('leads')
    .values([
      lead('00QS1', '005SARAH', '2026-05-02', '2026-05-20'),
      lead('00QS2', '005SARAH', '2026-05-10', '2026-06-01'),
      lead('00QS3', '005SARAH', '2026-05-28', '2026-06-20'),
      lead('00QS4', '005SARAH', '2026-06-13', null),
      lead('00QS5', '005SARAH', '2025-06-30', '2025-07-02'),
      lead('00QS6', '005SARAH', '2025-07-01', null),
      lead('00QT1', '005TOM', '2026-05-03', '2026-05-04'),
    ])
    .execute();
  configPath = join(tmpdir(), `qt-scorecard-${process.pid}.yaml`);
  await writeFile(configPath, 'calendar: { timezone: America/New_York }\nforecast: { trials: 2000 }\nlogLevel: warn\n');
});
afterAll(async () => {
  setClock(undefined);
  await t.drop();
});

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const saved = process.env.DATABASE_URL;
  process.env.DATABASE_URL = t.url;
  try {
    const code = await runCli(['--config', configPath, ...args], COMMAND_TABLE_FOR_TESTS, {
      io: { stdout: (x) => out.push(x), stderr: (x) => err.push(x) },
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    if (saved === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = saved;
  }
}

// biome-ignore lint/suspicious/noExplicitAny: a report document read in a test
type Doc = Record<string, any>;
const build = async (kind: 'rep' | 'team', who: Record<string, string>) =>
  (await buildReport(t.db, new MetricsEngine({ db: t.db, config }), { kind, ...who, ...at })) as Doc;

describe('rep scorecard', () => {
  it('counts the rep’s leads by the month they were created, converted by D, over the 12 months to D', async () => {
    const doc = await build('rep', { rep: 'sarah.chen@example.com' });
    expect(doc.leadConversion).toEqual({
      window: '2025-07-01..2026-06-12',
      cohorts: [
        { month: '2025-07', created: 1, converted: 0, rate: '0.0000' },
        { month: '2026-05', created: 3, converted: 2, rate: '0.6667' },
      ],
      created: 4,
      converted: 2,
      rate: '0.5000',
    });
    const text = renderReport('text', 'rep', doc);
    expect(text).toContain('\nLEAD CONVERSION\n');
    expect(text).toMatch(/ {2}2026-05 +3 +2 +66\.67%/);
    expect(text).toMatch(/ {2}Total +4 +2 +50\.00%/);
  });

  it('burns up: the won amount to the end of each week of the quarter, and on D, drawn in the HTML', async () => {
    const doc = await build('rep', { rep: 'sarah.chen@example.com' });
    // Sarah's wins in FY2026-Q2 (golden.json): 100,000 on 04-10, 120,000 on 04-28, 86,000 on 05-05, 92,000 EUR on
    // 05-20 (100,000.00 USD at its rate), 66,000 on 06-01, 50,000 on 06-10; 45,000 on 06-14 is after D (06-12).
    const weeks = ['04-07', '04-14', '04-21', '04-28', '05-05', '05-12', '05-19', '05-26', '06-02', '06-09', '06-12'];
    const actual = [0, 100_000, 100_000, 220_000, 306_000, 306_000, 306_000, 406_000, 472_000, 472_000, 522_000];
    expect(doc.burnup.points).toEqual(weeks.map((w, i) => ({ date: `2026-${w}`, actual: `${actual[i]}.00` })));
    expect(doc.actual).toBe('522000.00');
    const html = renderReport('html', 'rep', doc);
    const svg = /<svg[\s\S]*?<\/svg>/.exec(html)?.[0] ?? '';
    expect(svg).toContain(
      'aria-label="Pacing burn-up 2026-04-01 to 2026-06-30: actual 522k on 2026-06-12 against a quota of 600k',
    );
    // The actual line: the origin, then one vertex per point.
    expect(/<polyline points="([^"]+)" fill="none" stroke="#1a7f37"/.exec(svg)?.[1]?.split(' ')).toHaveLength(12);
    expect(renderReport('text', 'rep', doc)).toMatch(/\nPACING BURN-UP\n[\s\S]*2026-06-12 +522,000\.00/);
  });

  it('an email two persons have through their CRM users exits 2 naming both', async () => {
    const ids = await t.db
      .selectFrom('persons')
      .select(['id', 'email'])
      .where('email', 'in', ['sarah.chen@example.com', 'tom.anderson@example.com'])
      .execute();
    expect(ids).toHaveLength(2);
    const shared = ids.map((p) => ({
      connection_id: 'sf',
      external_id: `005SHARED${p.id}`,
      content_hash: `h-shared-${p.id}`,
      person_id: p.id,
      name: 'Shared Inbox',
      email: 'sales@example.com',
      is_active: false,
      quota_carrying: false,
    }));
    await t.db.insertInto('reps').values(shared).execute();
    try {
      const r = await cli('report', 'rep', '--rep', 'sales@example.com', '--as-of', at.asOf);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(
        /^2 people have a CRM user with the email sales@example\.com: .*Sarah Chen <sarah\.chen@example\.com>.*Tom Anderson <tom\.anderson@example\.com>/,
      );
    } finally {
      await t.db
        .deleteFrom('reps')
        .where(
          'external_id',
          'in',
          shared.map((x) => x.external_id),
        )
        .execute();
    }
  });

  it('finds a rep by name, case-insensitive; an ambiguous name exits 2 naming each match', async () => {
    const byName = await cli('report', 'rep', '--rep', '  tom ANDERSON ', '--format', 'json', '--as-of', at.asOf);
    expect(byName.code, byName.err).toBe(0);
    expect(JSON.parse(byName.out).subject.email).toBe('tom.anderson@example.com');
    const unknown = await cli('report', 'rep', '--rep', 'Nobody Here');
    expect([unknown.code, unknown.err]).toEqual([2, 'no rep is named "Nobody Here" (at --rep)']);
    await t.db
      .insertInto('reps')
      .values({
        connection_id: 'sf',
        external_id: '005SARAH2',
        content_hash: 'h-005SARAH2',
        person_id: null,
        name: 'SARAH CHEN',
        email: 'sarah.chen2@example.com',
        is_active: true,
        quota_carrying: true,
      })
      .execute();
    try {
      const twice = await cli('report', 'rep', '--rep', 'Sarah Chen', '--as-of', at.asOf);
      expect(twice.code).toBe(2);
      expect(twice.err).toBe(
        '2 people are named "Sarah Chen": SARAH CHEN <sarah.chen2@example.com>, Sarah Chen <sarah.chen@example.com> (West Enterprise); give --rep EMAIL (at --rep)',
      );
      // The email still names one.
      const one = await cli(
        'report',
        'rep',
        '--rep',
        'sarah.chen2@example.com',
        '--format',
        'json',
        '--as-of',
        at.asOf,
      );
      expect(one.code, one.err).toBe(0);
    } finally {
      await t.db.deleteFrom('reps').where('external_id', '=', '005SARAH2').execute();
    }
  });
});

describe('team dashboard', () => {
  it('West Enterprise: its two reps in every table, never its manager or the integration user', async () => {
    const doc = await build('team', { team: 'West Enterprise' });
    // Both are people of the team (named once below the reps, without a quota) ...
    expect((doc.reps as Doc[]).map((r) => r.subject.name)).toEqual([
      'Dana Brooks',
      'Integration User',
      'Sarah Chen',
      'Tom Anderson',
    ]);
    // ... and none of the dashboard's reps.
    const reps = ['Sarah Chen', 'Tom Anderson'];
    expect(doc.coverageTable.reps.map((r: Doc) => r.rep.name)).toEqual(reps);
    expect(doc.activityTable.reps.map((r: Doc) => r.rep.name)).toEqual(reps);
    // Sarah projects 651,600 of 600,000 and Tom 620,000 of 600,000: both on track, 51,600 + 20,000 over. The
    // team's own projection (971,600) counts only what Tom booked since he joined on 2026-05-15, so its gap to 100%
    // (228,400 projected) is not the reps' surplus netted: the dashboard shows both.
    expect(doc.distribution[0]).toEqual({ status: 'on_track', reps: 2, quota: '1200000.00', projected: '1271600.00' });
    expect((doc.distribution as Doc[]).slice(1).every((b) => b.reps === 0 && b.quota === '0.00')).toBe(true);
    expect(doc.gapAnalysis).toEqual({
      quota: '1200000.00',
      actual: '722000.00',
      gapToQuota: '478000.00',
      projected: '971600.00',
      projectedGap: '228400.00',
      onTrack: { reps: 2, surplus: '71600.00' },
      behind: { reps: 0, gap: '0.00' },
    });
    expect(doc.coverageTable.reps[0]).toMatchObject({
      remaining: '78000.00',
      open: '290000.00',
      openDeals: 3,
      coverage: '3.7179',
      coverageBand: 'strong',
    });
    expect(doc.activityTable.targets).toEqual({ call: '120', meeting: '20', email: '200', task: null, score: '100' });
    expect(doc.activityTable.reps[0]).toMatchObject({ calls: 10, meetings: 3, score: '12.38' });
    // P90 / P50 / P10 of the team's forecast against its 1,200,000: 1,132,000 is 94.33%, 68,000 short.
    const f = doc.totals.forecast;
    expect([doc.scenarios.best.total, doc.scenarios.base.total, doc.scenarios.worst.total]).toEqual([
      f.p90,
      f.p50,
      f.p10,
    ]);
    expect(doc.scenarios.best).toEqual({
      total: f.p90,
      attainment: new Dec(f.p90).div(1_200_000).toDecimalPlaces(4).toFixed(4),
      gap: Dec.max(new Dec(1_200_000).minus(f.p90), 0).toFixed(2),
    });
    // Every format prints the JSON's figures only, each dashboard section in each.
    const allowed = jsonNumbers(doc);
    const text = renderReport('text', 'team', doc);
    const md = renderReport('md', 'team', doc);
    const html = renderReport('html', 'team', doc);
    for (const printed of [text, md, htmlText(html)])
      expect(textNumbers(printed).filter((n) => !allowed.has(n))).toEqual([]);
    for (const h of ['Status distribution', 'Gap analysis', 'Pipeline coverage', 'Scenarios']) {
      expect(text).toContain(`\n${h.toUpperCase()}\n`);
      expect(md).toContain(`\n## ${h}\n`);
      expect(html).toContain(`<h2>${h}</h2>`);
    }
    expect(html).toContain('<td class="tone-good">strong</td>');
    // The CSV: the reps with a quota, then the team's total row; no manager or integration user.
    const csv = toCsv('team', doc).split('\n');
    expect(csv.map((l) => l.split(',').slice(0, 2).join(','))).toEqual([
      'type,name',
      'rep,Sarah Chen',
      'rep,Tom Anderson',
      'total,West Enterprise',
      // The golden warehouse maps no product line or segment: each breakdown is one (none) row.
      'product_line,(none)',
      'segment,(none)',
    ]);
  });

  it('a rep named as a formula reaches the CSV as text', async () => {
    await t.db.updateTable('persons').set({ name: '=HYPERLINK("http://x","y")' }).where('id', '=', 2).execute();
    try {
      const r = await cli('report', 'team', '--team', 'West Enterprise', '--format', 'csv', '--as-of', at.asOf);
      expect(r.code, r.err).toBe(0);
      expect(r.out.split('\n')).toContain(
        r.out.split('\n').find((l) => l.startsWith('rep,"\'=HYPERLINK(""http://x"",""y"")",tom.anderson@example.com,')),
      );
      expect(r.out).not.toMatch(/(^|,)=HYPERLINK/m);
    } finally {
      await t.db.updateTable('persons').set({ name: 'Tom Anderson' }).where('id', '=', 2).execute();
    }
  });
});
