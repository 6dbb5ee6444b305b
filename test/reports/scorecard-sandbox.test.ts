/**
 * The rep scorecard and the team dashboard on a synced Salesforce sandbox org (small, seed 1, anchored and clocked
 * on 2026-11-20): every section in every format, each format's figures those of the JSON, and the JSON equal to the
 * sandbox's oracle where it has the figure: quotas and bookings (`expectedRepFigures`, worked from the store by plain
 * arithmetic), each rep's open pipeline and activity counts (`salesforceFigures`), each rep's leads by cohort month
 * (counted here from the store's Lead rows), and the people who are not reps (managers, VPs, directors, the
 * integration user) absent from the dashboard's rep rows. Today's rep scorecard from the web's read model (stored
 * snapshots, calibrated forecast) is the same JSON.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock, setClock } from '../../src/clock.ts';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { validateConfig } from '../../src/config/load.ts';
import type { JsonObject } from '../../src/metrics/document.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { syncOrgModel } from '../../src/metrics/engine/org-model.ts';
import { toCsv } from '../../src/reports/csv.ts';
import { ReportReader } from '../../src/reports/read-model.ts';
import { renderReport } from '../../src/reports/render.ts';
import { buildReport } from '../../src/reports/report.ts';
import type { OrgModel } from '../../src/sandbox/org/index.ts';
import { salesforceFigures } from '../../src/sandbox/salesforce/figures.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { expectedRepFigures, type RepFigures } from '../../src/sandbox/salesforce/oracle-figures.ts';
import { runSync } from '../../src/sync/run.ts';
import { Dec } from '../../src/util/money.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnector } from '../helpers/sandbox.ts';
import { htmlText, jsonNumbers, textNumbers } from './numbers.ts';

const AS_OF = '2026-11-20';
const PERIOD = { id: 'FY2026-Q4', start: '2026-10-01', end: '2026-12-31' };
let sb: SalesforceSandbox;
let t: TestDatabase;
let engine: MetricsEngine;
let oracle: Map<string, RepFigures>;

beforeAll(async () => {
  setClock(fixedClock(`${AS_OF}T15:00:00Z`));
  t = await createTestDatabase();
  sb = await startSalesforceSandbox({ seed: 1, size: 'small', anchorDate: AS_OF });
  const connector = sandboxConnector(sb);
  const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
  for (const s of connector.streams())
    await runSync({ db: t.db, connector, connectionId: 'sf', stream: s.name, calendar, now: () => sb.store.now() });
  await syncOrgModel(t.db, { orgFile: null, asOf: AS_OF, periodId: PERIOD.id });
  engine = new MetricsEngine({
    db: t.db,
    config: validateConfig({ calendar: { timezone: 'UTC' }, forecast: { trials: 1000 } }),
  });
  await engine.recomputeAll(AS_OF);
  oracle = expectedRepFigures(sb.store, { start: PERIOD.start, end: PERIOD.end, asOf: AS_OF });
}, 600_000);
afterAll(async () => {
  setClock(undefined);
  await sb?.close();
  await t?.drop();
});

// biome-ignore lint/suspicious/noExplicitAny: a report document read in a test
type Doc = JsonObject & Record<string, any>;
const report = async (kind: 'rep' | 'team', who: Record<string, string>) =>
  (await buildReport(t.db, engine, { kind, ...who, period: PERIOD.id, asOf: AS_OF })) as Doc;

/** Every format's numbers are the JSON's, and each section heading is in the text, md and html. */
function formatsAgree(kind: 'rep' | 'team', doc: Doc, headings: readonly string[]): void {
  const allowed = jsonNumbers(doc);
  const text = renderReport('text', kind, doc);
  const md = renderReport('md', kind, doc);
  const html = renderReport('html', kind, doc);
  for (const printed of [text, md, htmlText(html)]) {
    const figures = textNumbers(printed);
    expect(figures.length).toBeGreaterThan(40);
    expect(figures.filter((n) => !allowed.has(n))).toEqual([]);
  }
  for (const h of headings) {
    expect(text).toContain(`\n${h.toUpperCase()}\n`);
    expect(md).toContain(`\n## ${h}\n`);
    expect(html).toContain(`<h2>${h}</h2>`);
  }
  // The CSV's cells are the JSON's strings, unformatted.
  const csv = toCsv(kind, doc).split('\n');
  const cells = csv.slice(1).flatMap((l) => l.split(','));
  for (const c of cells) if (/^-?\d/.test(c)) expect(allowed.has(c.replace(/^-/, '')), c).toBe(true);
}

describe('rep scorecard and team dashboard on the small sandbox org', () => {
  let team: Doc;
  let teamName: string;

  it('team: the dashboard sections, the same figures in every format, the oracle quotas and bookings', async () => {
    const all = (await buildReport(t.db, engine, { kind: 'org', asOf: AS_OF, period: PERIOD.id })) as Doc;
    const busiest = (all.teams as Doc[])
      .filter((x) => x.actual !== '0.00')
      .sort((a, b) => Number(b.actual) - Number(a.actual))[0] as Doc;
    teamName = busiest.subject.name;
    team = await report('team', { team: teamName });
    formatsAgree('team', team, [
      'Status distribution',
      'Gap analysis',
      'Pipeline coverage',
      `Activity against targets (${team.activityTable.window})`,
      'Scenarios',
      'Alerts',
      'By product line',
      'By segment',
    ]);
    const people = new Map((sb.model?.people ?? []).map((p) => [p.email.toLowerCase(), p]));
    const rows = team.coverageTable.reps as Doc[];
    expect(rows.length).toBeGreaterThan(1);
    // Managers, VPs, directors and the integration user are people of the org, never a rep of the dashboard.
    const integration = String(sb.store.get('User', sb.store.integrationUserId)?.Email ?? '').toLowerCase();
    for (const r of [...rows, ...(team.activityTable.reps as Doc[])]) {
      expect(people.get(r.rep.email)?.role, r.rep.email).toBe('rep');
      expect(r.rep.email).not.toBe(integration);
    }
    const notReps = (team.reps as Doc[]).filter((r) => people.get(r.subject.email)?.role !== 'rep');
    for (const r of notReps) expect(rows.map((x) => x.rep.email)).not.toContain(r.subject.email);
    // Remaining per rep = max(quota - actual, 0) from the oracle; the band sums are the oracle's quotas.
    let quotaSum = new Dec(0);
    for (const r of rows) {
      const o = oracle.get(r.rep.email) as RepFigures;
      expect(o, r.rep.email).toBeDefined();
      const want = o.quota === null ? null : Dec.max(new Dec(o.quota).minus(o.actual), 0).toFixed(2);
      expect(r.remaining).toBe(want);
      if (o.quota !== null) quotaSum = quotaSum.plus(o.quota);
    }
    // The open pipeline and the activity counts per rep: the figures oracle's (worked from the store's records).
    const figures = salesforceFigures(sb.store, sb.model as OrgModel, { asOf: AS_OF, forecastTrials: 100 });
    for (const r of rows) {
      const want = figures.reps[r.rep.email] ?? {};
      expect([r.open, r.openDeals], r.rep.email).toEqual([want.openPipeline, want.openDeals]);
    }
    for (const r of team.activityTable.reps as Doc[]) {
      const want = figures.reps[r.rep.email] ?? {};
      expect([r.calls, r.meetings, r.emails, r.tasks], r.rep.email).toEqual([
        want['activities.call'],
        want['activities.meeting'],
        want['activities.email'],
        want['activities.task'],
      ]);
    }
    const bands = team.distribution as Doc[];
    expect(bands.reduce((s, b) => s.plus(b.quota), new Dec(0)).toFixed(2)).toBe(quotaSum.toFixed(2));
    expect(bands.reduce((s, b) => s + (b.reps as number), 0)).toBe(rows.length);
    // The gap analysis: the team's remaining; surplus and gap from the reps' projected totals against quota.
    const g = team.gapAnalysis;
    expect(g.gapToQuota).toBe(team.totals.remaining);
    let surplus = new Dec(0);
    let short = new Dec(0);
    for (const r of team.reps as Doc[]) {
      if (typeof r.status !== 'string' || people.get(r.subject.email)?.role !== 'rep') continue;
      const d = new Dec(r.projectedTotal).minus(r.quota);
      if (r.status === 'on_track' || r.status === 'likely_to_hit') surplus = surplus.plus(Dec.max(d, 0));
      else short = short.plus(Dec.max(d.neg(), 0));
    }
    expect([g.onTrack.surplus, g.behind.gap]).toEqual([surplus.toFixed(2), short.toFixed(2)]);
    // Scenarios are the team forecast's P90 / P50 / P10.
    const f = team.totals.forecast;
    expect([team.scenarios.best.total, team.scenarios.base.total, team.scenarios.worst.total]).toEqual([
      f.p90,
      f.p50,
      f.p10,
    ]);
    // The CSV: a rep row per rep with a quota, then the team's total row.
    const csv = toCsv('team', team).split('\n');
    expect(csv[0]?.startsWith('type,name,')).toBe(true);
    expect(csv.find((l) => l.startsWith('total,'))).toMatch(new RegExp(`^total,${teamName},`));
    expect(csv.filter((l) => l.startsWith('rep,')).length).toBe(
      (team.reps as Doc[]).filter((r) => r.attainment != null).length,
    );
  }, 300_000);

  it('rep: the scorecard sections in every format, by name as by email, against the oracle', async () => {
    const rows = team.coverageTable.reps as Doc[];
    const email = (rows.find((r) => r.remaining !== null && r.remaining !== '0.00') ?? rows[0])?.rep.email as string;
    const doc = await report('rep', { rep: email });
    const byName = await report('rep', { rep: ` ${(doc.subject.name as string).toUpperCase()} ` });
    expect(byName).toEqual(doc);
    formatsAgree('rep', doc, [
      'Deals that close the gap',
      'Lead conversion',
      'Strengths',
      'Focus areas',
      'History',
      'By product line',
      'By segment',
    ]);
    const o = oracle.get(email) as RepFigures;
    // By segment (Opportunity.Segment__c, which the connector reads when fields.segment is not set): each segment's
    // actual is the oracle's bookings of the rep's won opportunities of that segment; the shares add up to the whole.
    const segments = doc.bySegment as Doc[];
    expect(segments.length).toBeGreaterThan(0);
    let sum = new Dec(0);
    for (const s of segments) {
      expect(['Enterprise', 'Mid-Market', 'SMB']).toContain(s.segment);
      const only = expectedRepFigures(sb.store, {
        start: PERIOD.start,
        end: PERIOD.end,
        asOf: AS_OF,
        only: (d) => d.Segment__c === s.segment,
      }).get(email) as RepFigures;
      expect(s.actual, s.segment).toBe(only.actual);
      expect(s.attainment).toBe(new Dec(s.actual).div(doc.quota).toFixed(4));
      sum = sum.plus(s.actual);
    }
    expect(sum.toFixed(2)).toBe(doc.actual);
    // By product line (the family of each deal's largest line item): families of the sandbox's products, adding up.
    const lines = doc.byProductLine as Doc[];
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(['Platform', 'Analytics', 'Services', 'Support', '(none)']).toContain(l.productLine);
    expect(lines.reduce((a, l) => a.plus(l.actual), new Dec(0)).toFixed(2)).toBe(doc.actual);
    expect([doc.quota, doc.actual]).toEqual([o.quota, o.actual]);
    // The burn-up: weekly cumulative actual, its last point on D the actual itself, drawn as an SVG in the HTML.
    const points = doc.burnup.points as { date: string; actual: string }[];
    expect(points.at(-1)).toEqual({ date: AS_OF, actual: doc.actual });
    expect(points.map((p) => p.date)).toEqual([...points.map((p) => p.date)].sort());
    for (let i = 1; i < points.length; i++)
      expect(Number(points[i]?.actual)).toBeGreaterThanOrEqual(Number(points[i - 1]?.actual));
    const html = renderReport('html', 'rep', doc);
    expect(html).toMatch(/<h2>Pacing burn-up<\/h2>\n<figure><svg [^>]*role="img"/);
    expect(renderReport('html', 'team', team)).toMatch(/<h2>Status distribution<\/h2>\n<figure><svg /);
    // Commission at 100%: the default plan's 10% of quota.
    expect(doc.commission.atQuota).toBe(new Dec(o.quota as string).times('0.1').toFixed(2));
    // Gap deals: most likely first, running totals of their amounts, stopping once the gap is closed.
    const g = doc.gapDeals;
    expect(g.gap).toBe(doc.remaining);
    let run = new Dec(0);
    let last = new Dec(2);
    for (const d of g.deals as Doc[]) {
      run = run.plus(d.amount);
      expect(d.runningTotal).toBe(run.toFixed(2));
      expect(new Dec(d.probability).lte(last)).toBe(true);
      last = new Dec(d.probability);
    }
    if (g.dealsNeeded === null) expect(run.toFixed(2)).toBe(doc.pipeline.open);
    else expect(run.gte(g.gap)).toBe(true);
    // Peer groups: the team's size is the team's people on D.
    expect(doc.rank.team.group).toBe(teamName);
    expect(doc.rank.team.groupSize).toBe((team.reps as Doc[]).length);
    // Leads by cohort month, counted from the store: the rep's user owns them, created in the window.
    const user = sb.store.all('User').find((u) => String(u.Email).toLowerCase() === email);
    const from = (doc.leadConversion.window as string).slice(0, 10);
    const cohorts = new Map<string, { created: number; converted: number }>();
    for (const l of sb.store.all('Lead')) {
      const created = String(l.CreatedDate).slice(0, 10);
      if (l.OwnerId !== user?.Id || created < from || created > AS_OF) continue;
      const c = cohorts.get(created.slice(0, 7)) ?? { created: 0, converted: 0 };
      c.created++;
      if (l.IsConverted === true && String(l.ConvertedDate) <= AS_OF) c.converted++;
      cohorts.set(created.slice(0, 7), c);
    }
    expect((doc.leadConversion.cohorts as Doc[]).map((c) => [c.month, c.created, c.converted])).toEqual(
      [...cohorts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([m, c]) => [m, c.created, c.converted]),
    );
    // History: qoqChange is the change of attainment on the period before; the trend covers up to four periods.
    const h = doc.history as Doc[];
    for (let i = 1; i < h.length; i++)
      if (h[i]?.attainment != null && h[i - 1]?.attainment != null)
        expect(h[i]?.qoqChange).toBe(new Dec(h[i]?.attainment).minus(h[i - 1]?.attainment).toFixed(4));
    expect(doc.trend.periods.length).toBeLessThanOrEqual(4);
    for (const x of [...doc.strengths, ...doc.focusAreas]) expect(typeof x.rule).toBe('string');
    // The forecast is calibrated here, so the gap deals' order is the learned one: the web's read model, which
    // answers today's rep report from the stored snapshots, learns the same forecast and prints the same JSON.
    expect(doc.forecast.calibration.basis).toBe('calibrated');
    const reader = new ReportReader({ db: t.db, config: engine.config });
    const answer = await reader.read({ kind: 'rep', rep: email });
    expect(answer.source).toBe('snapshots');
    expect(answer.json).toBe(renderReport('json', 'rep', doc));
  }, 300_000);
});

describe('report rep --explain on the small sandbox org', () => {
  it('lists each deal once, with the figures using it summing to the report’s figures, in every format', async () => {
    const [email, o] = [...oracle.entries()].find(([, f]) => f.quota !== null && f.actual !== '0.00') as [
      string,
      RepFigures,
    ];
    const doc = (await buildReport(t.db, engine, {
      kind: 'rep',
      rep: email,
      period: PERIOD.id,
      asOf: AS_OF,
      explain: true,
    })) as Doc;
    expect(doc.actual).toBe(o.actual);
    const deals = doc.explain.deals as { id: string; amount: string; usedBy: string[]; conversion?: string }[];
    expect(new Set(deals.map((d) => d.id)).size).toBe(deals.length);
    const sum = (use: string) =>
      deals
        .filter((d) => d.usedBy.includes(use))
        .reduce((s, d) => s.plus(d.amount), new Dec(0))
        .toFixed(2);
    expect(sum('actual')).toBe(doc.actual);
    expect(sum('pipeline')).toBe(doc.pipeline.open);
    expect(deals.filter((d) => d.usedBy.includes('pipeline')).length).toBe(doc.pipeline.openDeals);
    const won = deals.filter((d) => d.conversion === 'won').length;
    const lost = deals.filter((d) => d.conversion === 'lost').length;
    expect(new Dec(won).div(won + lost).toFixed(4)).toBe(doc.winRate);
    const figures = doc.explain.figures as Record<string, { sums?: { deals: string[] }[] }>;
    const named = new Set(Object.values(figures).flatMap((f) => (f.sums ?? []).flatMap((s) => s.deals)));
    expect([...named].sort()).toEqual(deals.map((d) => d.id).sort());
    formatsAgree('rep', doc, ['Working']);
    // A sum of many deals points to the deal table's column instead of listing every id, and long workings wrap:
    // only the deal table's rows are wider than the text's 120 columns (before, one line held 520 characters).
    const text = renderReport('text', 'rep', doc);
    const working = text.slice(text.indexOf('\nWORKING\n'), text.lastIndexOf('Deals, each once')).split('\n');
    const longest = Math.max(...working.map((l) => l.length));
    console.log(`working: ${working.length} lines above the deal table, the longest ${longest} characters`);
    expect(longest).toBeLessThanOrEqual(120);
  }, 120_000);
});
