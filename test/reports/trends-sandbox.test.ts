/**
 * `report trends --by region` over four quarters on a synced Salesforce sandbox org (small, seed 1, anchored and
 * clocked on 2026-11-20): each region's quota, actual and attainment per quarter equal the sandbox's figures oracle
 * (`computeFigures`, worked from the store without the connector or the warehouse) as of each past quarter's last
 * day and as of the as-of date for the current one, which is marked partial with its projection; qoq and yoy are
 * the differences of the printed ratios; the text, md, html and csv print the JSON's figures and nothing else. The
 * web API's trends with the same query parameters are the same JSON.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock, setClock } from '../../src/clock.ts';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { validateConfig } from '../../src/config/load.ts';
import type { JsonObject } from '../../src/metrics/document.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { syncOrgModel } from '../../src/metrics/engine/org-model.ts';
import { toCsv } from '../../src/reports/csv.ts';
import { renderReport } from '../../src/reports/render.ts';
import { buildReport } from '../../src/reports/report.ts';
import { computeFigures, type Figures } from '../../src/sandbox/figures.ts';
import type { OrgModel } from '../../src/sandbox/org/index.ts';
import { salesforceRecords } from '../../src/sandbox/salesforce/figures.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { runSync } from '../../src/sync/run.ts';
import { Dec } from '../../src/util/money.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnector } from '../helpers/sandbox.ts';
import { htmlText, jsonNumbers, textNumbers } from './numbers.ts';

const AS_OF = '2026-11-20';
const QUARTERS = [
  { id: 'FY2026-Q1', end: '2026-03-31' },
  { id: 'FY2026-Q2', end: '2026-06-30' },
  { id: 'FY2026-Q3', end: '2026-09-30' },
  { id: 'FY2026-Q4', end: AS_OF },
];
let sb: SalesforceSandbox;
let t: TestDatabase;
let engine: MetricsEngine;
let org: OrgModel;
const oracle = new Map<string, Figures>();

beforeAll(async () => {
  setClock(fixedClock(`${AS_OF}T15:00:00Z`));
  t = await createTestDatabase();
  sb = await startSalesforceSandbox({ seed: 1, size: 'small', anchorDate: AS_OF });
  const connector = sandboxConnector(sb);
  const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
  for (const s of connector.streams())
    await runSync({ db: t.db, connector, connectionId: 'sf', stream: s.name, calendar, now: () => sb.store.now() });
  await syncOrgModel(t.db, { orgFile: null, asOf: AS_OF, periodId: 'FY2026-Q4' });
  engine = new MetricsEngine({
    db: t.db,
    config: validateConfig({ calendar: { timezone: 'UTC' }, forecast: { trials: 100 } }),
  });
  org = sb.model as OrgModel;
  // Deals keyed by Salesforce id: only the forecast's draws depend on the key, and this test compares no forecast.
  const records = salesforceRecords(sb.store);
  for (const q of QUARTERS) oracle.set(q.id, computeFigures(org, records, { asOf: q.end, forecastTrials: 10 }));
}, 600_000);
afterAll(async () => {
  setClock(undefined);
  await sb?.close();
  await t?.drop();
});

// biome-ignore lint/suspicious/noExplicitAny: a report document read in a test
type Doc = JsonObject & Record<string, any>;

describe('report trends --by region over four quarters on the small sandbox org', () => {
  let doc: Doc;

  it('each region and quarter equals the oracle; the current quarter is partial with its projection', async () => {
    doc = (await buildReport(t.db, engine, { kind: 'trends', trendBy: 'region', periods: 4, asOf: AS_OF })) as Doc;
    expect(doc.by).toBe('region');
    expect(doc.periods.map((p: Doc) => p.period)).toEqual(QUARTERS.map((q) => q.id));
    const regions = (doc.series as Doc[]).slice(1);
    expect(regions.map((s) => s.scope.name).sort()).toEqual(org.regions.map((r) => r.name).sort());
    let compared = 0;
    for (const s of regions) {
      const key = org.regions.find((r) => r.name === s.scope.name)?.key as string;
      for (const [i, q] of QUARTERS.entries()) {
        const want = oracle.get(q.id)?.regions[key];
        const got = s.periods[i] as Doc;
        expect(got.period).toBe(q.id);
        expect(got.partial).toBe(q.id === 'FY2026-Q4');
        if (!want) continue;
        expect({ quota: got.quota, actual: got.actual, attainment: got.attainment }, `${s.scope.name} ${q.id}`).toEqual(
          {
            quota: want.quota,
            actual: want.actual,
            attainment: want.attainment,
          },
        );
        if (got.partial) {
          expect(got.projectedActual).toBe(want.projectedTotal);
          expect(got.projectedAttainment).toBe(want.projectedAttainment);
        }
        compared++;
        // qoq: this quarter's printed ratio (the projection's for the partial one) less the one before.
        const before = i === 0 ? null : (s.periods[i - 1] as Doc).attainment;
        const now = got.partial ? got.projectedAttainment : got.attainment;
        if (i > 0 && now !== null && before !== null) expect(got.qoq).toBe(new Dec(now).minus(before).toFixed(4));
      }
    }
    expect(compared).toBeGreaterThanOrEqual(regions.length * 4);
    // The org's own row equals the oracle's org.
    for (const [i, q] of QUARTERS.entries()) {
      const want = oracle.get(q.id)?.org as Doc;
      const got = doc.periods[i] as Doc;
      expect({ quota: got.quota, actual: got.actual, attainment: got.attainment }, q.id).toEqual({
        quota: want.quota,
        actual: want.actual,
        attainment: want.attainment,
      });
    }
  });

  it('the consistent performers are reps with a quota in each complete quarter, their mean and spread as defined', () => {
    const c = doc.consistency as Doc;
    expect(c.periods).toEqual(['FY2026-Q1', 'FY2026-Q2', 'FY2026-Q3']);
    for (const x of [...c.top, ...c.bottom] as Doc[]) {
      const a = (x.attainments as Doc[]).map((y) => new Dec(y.attainment));
      const mean = a.reduce((s, v) => s.plus(v), new Dec(0)).div(a.length);
      expect(x.mean).toBe(mean.toFixed(4));
      const sd = a
        .reduce((s, v) => s.plus(v.minus(mean).pow(2)), new Dec(0))
        .div(a.length)
        .sqrt();
      expect(x.spread).toBe(sd.toFixed(4));
    }
    for (const x of [...c.top, ...c.bottom] as Doc[]) expect(new Dec(x.spread).lte('0.25')).toBe(true);
    expect(c.top.length + c.bottom.length).toBeGreaterThan(0);
    for (const x of c.top as Doc[]) expect(new Dec(x.mean).gte(1)).toBe(true);
    for (const x of c.bottom as Doc[]) expect(new Dec(x.mean).lt(0.7)).toBe(true);
  });

  it('text, md, html and csv print the JSON figures', () => {
    const allowed = jsonNumbers(doc);
    const text = renderReport('text', 'trends', doc);
    const md = renderReport('md', 'trends', doc);
    const html = renderReport('html', 'trends', doc);
    for (const printed of [text, md, htmlText(html)]) {
      const figures = textNumbers(printed);
      expect(figures.length).toBeGreaterThan(40);
      expect(figures.filter((n) => !allowed.has(n))).toEqual([]);
    }
    // Every region's attainment of every quarter is printed, as a percent.
    for (const s of doc.series as Doc[])
      for (const p of s.periods as Doc[])
        if (p.attainment !== null) expect(text).toContain(`${(Number(p.attainment) * 100).toFixed(2)}%`);
    for (const h of ['Attainment by period', 'Side by side', 'Consistent performers']) {
      expect(text).toContain(`\n${h.toUpperCase()}\n`);
      expect(md).toContain(`\n## ${h}\n`);
      expect(html).toContain(`<h2>${h}</h2>`);
    }
    expect(text).toContain('FY2026-Q4 (to date)');
    const csv = toCsv('trends', doc).split('\n');
    const rows = csv.slice(1).filter((l) => l.startsWith('period,'));
    expect(rows.length).toBe((doc.series as Doc[]).length * 4);
    for (const c of csv.slice(1).flatMap((l) => l.split(',')))
      if (/^-?\d/.test(c)) expect(allowed.has(c.replace(/^-/, '')), c).toBe(true);
  });
});
