/**
 * `byProductLine` and `bySegment` on the golden warehouse, hand-worked (docs/metrics.md, "Product lines and
 * segments"). Sarah Chen's FY2026-Q2 as of 2026-06-12: quota 600,000, actual 522,000 from six won deals; here S1
 * (100,000) and S2 (120,000) are Platform, S3 (86,000) Services, the other three (216,000) have no product line;
 * S1-S3 are Enterprise. Product-family quotas (as ForecastingQuota rows with a ProductFamily sync): Platform
 * 300,000 and Services 100,000. Then Platform 220,000 / 300,000 = 73.33%, Services 86,000 / 100,000 = 86.00%, the
 * rest 216,000 / 600,000 = 36.00% of her quota; Enterprise 306,000 / 600,000 = 51.00%, 58.62% of her actual. A quota
 * file's `product_line` column gives the same figures.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { validateConfig } from '../../src/config/load.ts';
import type { JsonObject } from '../../src/metrics/document.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { loadPlanningFiles } from '../../src/planning/files.ts';
import { toCsv } from '../../src/reports/csv.ts';
import { renderReport } from '../../src/reports/render.ts';
import { buildReport } from '../../src/reports/report.ts';
import { createLogger } from '../../src/util/log.ts';
import { goldenWarehouse } from '../fixtures/warehouse/load.ts';
import type { TestDatabase } from '../helpers/db.ts';

const WHEN = { period: 'FY2026-Q2', asOf: '2026-06-12' };
const config = validateConfig({ calendar: { timezone: 'America/New_York', baseCurrency: 'USD' } });
let t: TestDatabase;

// biome-ignore lint/suspicious/noExplicitAny: a report document read in a test
type Doc = JsonObject & Record<string, any>;

beforeAll(async () => {
  t = await goldenWarehouse();
  for (const [id, line] of [
    ['006S1', 'Platform'],
    ['006S2', 'Platform'],
    ['006S3', 'Services'],
  ] as const)
    await t.db
      .updateTable('deals')
      .set({ product_line: line, segment: 'Enterprise' })
      .where('external_id', '=', id)
      .execute();
  await t.db
    .insertInto('quotas')
    .values(
      (
        [
          ['0QSARAHQ2PLAT', 'Platform', '300000'],
          ['0QSARAHQ2SERV', 'Services', '100000'],
        ] as const
      ).map(([id, line, amount]) => ({
        source: 'crm' as const,
        connection_id: 'sf',
        external_id: id,
        owner_external_id: '005SARAH',
        period_start: '2026-04-01',
        period_end: '2026-06-30',
        amount,
        currency: 'USD',
        product_line: line,
        content_hash: id,
      })),
    )
    .execute();
});
afterAll(() => t.drop());

const EXPECTED_LINES = [
  { productLine: 'Platform', quota: '300000.00', actual: '220000.00', deals: 2, attainment: '0.7333' },
  { productLine: 'Services', quota: '100000.00', actual: '86000.00', deals: 1, attainment: '0.8600' },
  { productLine: '(none)', quota: null, actual: '216000.00', deals: 3, attainment: '0.3600' },
];

function lines(doc: Doc) {
  return (doc.byProductLine as Doc[]).map(({ productLine, quota, actual, deals, attainment }) => ({
    productLine,
    quota,
    actual,
    deals,
    attainment,
  }));
}

describe('product lines and segments', () => {
  it("a rep's: her product-family quotas, the rest against her quota; segments against her quota", async () => {
    const engine = new MetricsEngine({ db: t.db, config });
    const doc = (await buildReport(t.db, engine, { kind: 'rep', rep: 'sarah.chen@example.com', ...WHEN })) as Doc;
    // Her quota is the rep quota alone: product-family rows are not added to it.
    expect([doc.quota, doc.actual, doc.attainment]).toEqual(['600000.00', '522000.00', '0.8700']);
    expect(lines(doc)).toEqual(EXPECTED_LINES);
    expect((doc.byProductLine as Doc[]).map((x) => x.attainmentBasis)).toEqual([
      'own_quota',
      'own_quota',
      'subject_quota',
    ]);
    expect(doc.bySegment).toEqual([
      { segment: 'Enterprise', actual: '306000.00', deals: 3, shareOfActual: '0.5862', attainment: '0.5100' },
      { segment: '(none)', actual: '216000.00', deals: 3, shareOfActual: '0.4138', attainment: '0.3600' },
    ]);
    // Every format prints them.
    const text = renderReport('text', 'rep', doc);
    expect(text).toContain('\nBY PRODUCT LINE\n');
    expect(text).toMatch(/Platform\s+300,000.00\s+220,000.00\s+2\s+42.15%\s+73.33%/);
    expect(text).toMatch(/Enterprise\s+306,000.00\s+3\s+58.62%\s+51.00%/);
    expect(renderReport('md', 'rep', doc)).toContain('| Services | 100,000.00 | 86,000.00 | 1 | 16.48% | 86.00% |');
    expect(renderReport('html', 'rep', doc)).toContain('<h2>By segment</h2>');
    expect(toCsv('rep', doc).split('\n').slice(2)).toEqual([
      'product_line,Platform,,,300000.00,220000.00,0.7333,,,,,,,,,,,,,',
      'product_line,Services,,,100000.00,86000.00,0.8600,,,,,,,,,,,,,',
      'product_line,(none),,,,216000.00,0.3600,,,,,,,,,,,,,',
      'segment,Enterprise,,,,306000.00,0.5100,,,,,,,,,,,,,',
      'segment,(none),,,,216000.00,0.3600,,,,,,,,,,,,,',
    ]);
  });

  it("a team's product-line quota is its members' (Tom has none); trends by product line use it", async () => {
    const engine = new MetricsEngine({ db: t.db, config });
    const team = (await buildReport(t.db, engine, { kind: 'team', team: 'West Enterprise', ...WHEN })) as Doc;
    const platform = (team.byProductLine as Doc[]).find((x) => x.productLine === 'Platform');
    expect(platform).toMatchObject({ quota: '300000.00', actual: '220000.00', attainment: '0.7333' });
    const org = (await buildReport(t.db, engine, { kind: 'org', ...WHEN })) as Doc;
    expect((org.byProductLine as Doc[]).find((x) => x.productLine === 'Services')).toMatchObject({
      quota: '100000.00',
      attainment: '0.8600',
    });
    const trends = (await buildReport(t.db, engine, {
      kind: 'trends',
      rep: 'sarah.chen@example.com',
      trendBy: 'product-line',
      periods: 2,
      ...WHEN,
    })) as Doc;
    const series = Object.fromEntries((trends.series as Doc[]).map((s) => [s.scope.name, s]));
    expect(Object.keys(series)).toEqual(['Sarah Chen', 'Platform', 'Services', '(none)']);
    // Q1 had no Platform quota: no attainment then; Q2 the line's own.
    expect(series.Platform.attainmentBasis).toBe('own_quota');
    expect(series.Platform.periods.map((p: Doc) => [p.period, p.quota, p.attainment])).toEqual([
      ['FY2026-Q1', null, null],
      ['FY2026-Q2', '300000.00', '0.7333'],
    ]);
    // The (none) line is a share of her quota: 216,000 / 600,000 in Q2.
    expect(series['(none)'].attainmentBasis).toBe('scope_quota');
    expect(series['(none)'].periods[1].attainment).toBe('0.3600');
  });

  it('trends for Sarah over four quarters: the two before her first quota left out, Q2 partial, qoq on its projection', async () => {
    const engine = new MetricsEngine({ db: t.db, config });
    const doc = (await buildReport(t.db, engine, {
      kind: 'trends',
      rep: 'sarah.chen@example.com',
      periods: 4,
      ...WHEN,
    })) as Doc;
    // FY2025-Q3 and FY2025-Q4 had no quota for her: left out. Q1: 80,000 of 500,000 = 16.00%.
    expect(doc.periods).toEqual([
      {
        period: 'FY2026-Q1',
        start: '2026-01-01',
        end: '2026-03-31',
        quota: '500000.00',
        actual: '80000.00',
        attainment: '0.1600',
        qoq: null,
        yoy: null,
        partial: false,
        qoqReason: 'no_quota_before',
        yoyReason: 'no_quota_a_year_before',
      },
      {
        period: 'FY2026-Q2',
        start: '2026-04-01',
        end: '2026-06-30',
        quota: '600000.00',
        actual: '522000.00',
        attainment: '0.8700',
        // Her projected attainment, 108.60%, less Q1's 16.00%.
        qoq: '0.9260',
        yoy: null,
        partial: true,
        yoyReason: 'no_quota_a_year_before',
        projectedActual: '651600.00',
        projectedAttainment: '1.0860',
      },
    ]);
    // One complete period shown: nobody can be consistent over it.
    expect(doc.consistency).toMatchObject({ periods: ['FY2026-Q1'], top: [], bottom: [] });
  });

  it("a quota file's product_line column gives the same figures", async () => {
    await t.db.deleteFrom('quotas').where('product_line', 'is not', null).execute();
    const dir = await mkdtemp(join(tmpdir(), 'qt-lines-'));
    const path = join(dir, 'quotas.csv');
    await writeFile(
      path,
      [
        'email,period,amount,currency,product_line',
        'sarah.chen@example.com,FY2026-Q2,600000,USD,',
        'sarah.chen@example.com,FY2026-Q2,300000,USD,Platform',
        'sarah.chen@example.com,FY2026-Q2,100000,USD,Services',
        'tom.anderson@example.com,FY2026-Q2,600000,USD,',
        '',
      ].join('\n'),
    );
    const fileConfig = validateConfig({
      calendar: { timezone: 'America/New_York', baseCurrency: 'USD' },
      quotas: { source: 'file', path },
    });
    await loadPlanningFiles(
      t.db,
      fileConfig,
      createFiscalCalendar(fileConfig.calendar),
      createLogger({ level: 'silent' }),
    );
    const engine = new MetricsEngine({ db: t.db, config: fileConfig });
    const doc = (await buildReport(t.db, engine, { kind: 'rep', rep: 'sarah.chen@example.com', ...WHEN })) as Doc;
    expect(doc.quota).toBe('600000.00');
    expect(lines(doc)).toEqual(EXPECTED_LINES);
  });
});
