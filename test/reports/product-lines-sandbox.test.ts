/**
 * Product-family quotas end to end: the Salesforce sandbox's `product-family-forecasts` profile writes, beside each
 * rep's revenue ForecastingQuota, one per product family (ProductFamily set, 50/25/15/10% of it); synced, they are
 * quotas with a product line. The rep's quota stays the revenue row (the oracle's), each family's quota in
 * `byProductLine` is the store's ForecastingQuota of that family converted as the rep's quota is, each line's
 * attainment is its actual over its own quota, and `trends --by product-line` uses the same quotas.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock, setClock } from '../../src/clock.ts';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { validateConfig } from '../../src/config/load.ts';
import type { JsonObject } from '../../src/metrics/document.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { syncOrgModel } from '../../src/metrics/engine/org-model.ts';
import { renderReport } from '../../src/reports/render.ts';
import { buildReport } from '../../src/reports/report.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { expectedRepFigures, type RepFigures } from '../../src/sandbox/salesforce/oracle-figures.ts';
import { PRODUCT_FAMILY_QUOTA_SHARES } from '../../src/sandbox/salesforce/profiles.ts';
import { runSync } from '../../src/sync/run.ts';
import { Dec } from '../../src/util/money.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnector } from '../helpers/sandbox.ts';

const AS_OF = '2026-11-20';
const PERIOD = { id: 'FY2026-Q4', start: '2026-10-01', end: '2026-12-31' };
let sb: SalesforceSandbox;
let t: TestDatabase;
let engine: MetricsEngine;

beforeAll(async () => {
  setClock(fixedClock(`${AS_OF}T15:00:00Z`));
  t = await createTestDatabase();
  sb = await startSalesforceSandbox({ seed: 1, size: 'small', anchorDate: AS_OF, profile: 'product-family-forecasts' });
  const connector = sandboxConnector(sb);
  const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
  for (const s of connector.streams())
    await runSync({ db: t.db, connector, connectionId: 'sf', stream: s.name, calendar, now: () => sb.store.now() });
  await syncOrgModel(t.db, { orgFile: null, asOf: AS_OF, periodId: PERIOD.id });
  engine = new MetricsEngine({
    db: t.db,
    config: validateConfig({ calendar: { timezone: 'UTC' }, forecast: { trials: 100 } }),
  });
}, 600_000);
afterAll(async () => {
  setClock(undefined);
  await sb?.close();
  await t?.drop();
});

// biome-ignore lint/suspicious/noExplicitAny: a report document read in a test
type Doc = JsonObject & Record<string, any>;

describe('product-family quotas on the sandbox org', () => {
  it("each rep's lines against their own family quotas, the rep's quota the revenue row", async () => {
    const oracle = expectedRepFigures(sb.store, { ...PERIOD, asOf: AS_OF });
    const reps = [...oracle.values()].filter((o) => o.quota !== null && o.actual !== '0.00').slice(0, 4);
    expect(reps.length).toBe(4);
    for (const o of reps as RepFigures[]) {
      const doc = (await buildReport(t.db, engine, {
        kind: 'rep',
        rep: o.email,
        period: PERIOD.id,
        asOf: AS_OF,
      })) as Doc;
      expect([doc.quota, doc.actual], o.email).toEqual([o.quota, o.actual]);
      const lines = new Map((doc.byProductLine as Doc[]).map((l) => [l.productLine, l]));
      let quotas = new Dec(0);
      for (const [family, share] of PRODUCT_FAMILY_QUOTA_SHARES) {
        const l = lines.get(family) as Doc;
        expect(l.attainmentBasis, `${o.email} ${family}`).toBe('own_quota');
        // The family's share of the rep's quota, to the cent the conversion leaves (each row converts alone).
        expect(
          new Dec(l.quota)
            .minus(new Dec(o.quota as string).times(share))
            .abs()
            .lte('0.02'),
          family,
        ).toBe(true);
        expect(l.attainment).toBe(new Dec(l.actual).div(l.quota).toFixed(4));
        quotas = quotas.plus(l.quota);
      }
      expect(
        quotas
          .minus(o.quota as string)
          .abs()
          .lte('0.05'),
      ).toBe(true);
      const sum = (doc.byProductLine as Doc[]).reduce((a, l) => a.plus(l.actual), new Dec(0));
      // Each line's actual is rounded to the cent alone: the sum is the actual within a cent a line.
      expect(sum.minus(doc.actual).abs().lte(new Dec('0.01').times(lines.size))).toBe(true);
    }
  });

  it('the org by product line: trends on the families own quotas, each period the same as the org report', async () => {
    const org = (await buildReport(t.db, engine, { kind: 'org', period: PERIOD.id, asOf: AS_OF })) as Doc;
    const trends = (await buildReport(t.db, engine, {
      kind: 'trends',
      trendBy: 'product-line',
      periods: 4,
      period: PERIOD.id,
      asOf: AS_OF,
    })) as Doc;
    for (const line of org.byProductLine as Doc[]) {
      const s = (trends.series as Doc[]).find((x) => x.scope.name === line.productLine) as Doc;
      const q4 = (s.periods as Doc[]).at(-1) as Doc;
      expect([q4.period, q4.quota, q4.actual, q4.attainment], line.productLine).toEqual([
        PERIOD.id,
        line.quota,
        line.actual,
        line.attainment,
      ]);
      if (line.productLine !== '(none)') expect(s.attainmentBasis).toBe('own_quota');
    }
    expect(renderReport('text', 'trends', trends)).toContain('Platform');
  });
});
