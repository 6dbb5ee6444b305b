/**
 * `report rep --explain` on the golden warehouse (Sarah Chen, FY2026-Q2 as of 2026-06-12; the figures are worked by
 * hand in golden.test.ts): every figure of the report has its working with the hand-worked numbers, each deal is in
 * the deal table exactly once with the figures that use it, the figures name their deals by id, and text, md and
 * html print the same working as the JSON.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.ts';
import type { JsonObject } from '../../src/metrics/document.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { escapeMarkdown } from '../../src/reports/md.ts';
import { renderReport } from '../../src/reports/render.ts';
import { buildReport } from '../../src/reports/report.ts';
import { goldenWarehouse } from '../fixtures/warehouse/load.ts';
import type { TestDatabase } from '../helpers/db.ts';
import { htmlText, jsonNumbers, textNumbers } from './numbers.ts';

interface Figure {
  formula: string;
  working: string;
  value: unknown;
  sums?: { label: string; column: string; total: string; count: number; deals: string[] }[];
  [k: string]: unknown;
}
interface DealRow {
  id: string;
  amount: string;
  usedBy: string[];
  conversion?: string;
  gapOrder?: number;
  forecast?: { probability: string | null; cell: { source: string } };
}
interface Explain {
  figures: Record<string, Figure>;
  deals: DealRow[];
}

let t: TestDatabase;
let doc: JsonObject;
let explain: Explain;
beforeAll(async () => {
  t = await goldenWarehouse();
  const engine = new MetricsEngine({
    db: t.db,
    config: validateConfig({ calendar: { timezone: 'America/New_York', baseCurrency: 'USD' } }),
  });
  doc = await buildReport(t.db, engine, {
    kind: 'rep',
    rep: 'sarah.chen@example.com',
    period: 'FY2026-Q2',
    asOf: '2026-06-12',
    explain: true,
  });
  explain = doc.explain as unknown as Explain;
});
afterAll(() => t.drop());

describe('report rep --explain on the golden warehouse', () => {
  it('explains every figure of the report, each keyed by its JSON path with the value the report prints', () => {
    expect(Object.keys(explain.figures)).toEqual([
      'actual',
      'attainment',
      'remaining',
      'expectedToDate',
      'paceVariance',
      'paceVariancePct',
      'requiredDailyRunRate',
      'currentRunRate',
      'projectedTotal',
      'projectedAttainment',
      'pipeline.open',
      'pipeline.weighted',
      'pipeline.coverage',
      'winRate',
      'winRateByValue',
      'avgDealSize',
      'salesCycleDays',
      'velocity',
      'activities.score',
      'forecast',
      'forecast.probabilityToHitQuota',
      'commission.atActual',
      'commission.atProjected',
      'commission.atP50',
      'commission.nextTier',
      'rank',
      'history',
      'commission.atQuota',
      'trend.slope',
      'gapDeals',
    ]);
    const at = (path: string) => path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], doc);
    for (const [k, f] of Object.entries(explain.figures)) {
      if (['forecast', 'rank', 'history', 'gapDeals'].includes(k)) continue;
      expect(f.value, k).toEqual(at(k) ?? null);
    }
    expect(explain.figures.gapDeals?.value).toBe(2);
  });

  it('has the hand-worked numbers in each working', () => {
    const w = (k: string) => explain.figures[k]?.working;
    expect(w('attainment')).toBe('522000.00 / 600000.00 = 0.8700');
    expect(w('projectedTotal')).toBe('522000.00 + 7200.00 * 18 = 651600.00');
    expect(w('pipeline.coverage')).toBe('290000.00 / 78000.00 = 3.7179');
    expect(w('winRate')).toBe('7 / (7 + 1) = 0.8750');
    // Velocity = open deals x win rate x average deal size / cycle: 3 x 0.875 x 86,000 / 60 = 3,762.50 a day.
    expect(w('velocity')).toBe('3 * 0.8750 * 86000.00 / 60.0000 = 3762.50');
    expect(explain.figures.velocity?.value).toBe('3762.50');
    // 100 x (1 x 10/120 + 2 x 3/20 + 0.5 x 20/200) / 3.5 = 12.38, each ratio capped at 1.5.
    expect(w('activities.score')).toBe(
      '100 * (1 * min(10 call / 120, 1.5) + 2 * min(3 meeting / 20, 1.5) + 0.5 * min(20 email / 200, 1.5)) / 3.5 = 12.38',
    );
    expect(explain.figures['activities.score']).toMatchObject({ value: '12.38', cap: '1.5' });
    // Commission: 10% up to quota, 1.6 x 10% above it.
    expect(w('commission.atActual')).toBe('522000.00 * 0.1000 [0.00, 600000.00) = 52200.00');
    expect(w('commission.atProjected')).toBe(
      '600000.00 * 0.1000 [0.00, 600000.00) + 51600.00 * 0.1600 [600000.00, up) = 68256.00',
    );
    expect(w('commission.atQuota')).toBe('600000.00 * 0.1000 [0.00, 600000.00) = 60000.00');
    expect(w('commission.nextTier')).toBe('600000.00 * 1.0000 - 522000.00 = 78000.00');
    // The chance is the share of the 10,000 trials reaching 600,000.
    const chance = explain.figures['forecast.probabilityToHitQuota'];
    const p = chance?.value as string;
    expect(chance?.working).toBe(
      `${Math.round(Number(p) * 10000)} of 10000 trials (seed ${String(explain.figures.forecast?.seed)}) reach 600000.00 = ${p}`,
    );
    expect(w('forecast')).toContain('522000.00 + open deals 168000.00 expected');
    expect(explain.figures.forecast).toMatchObject({ trials: 10000, basis: 'crm_fallback', shock: '1.0000' });
    // Ranks on D: Emily 0.90, Sarah 0.87, Tom 500,000 / 600,000.
    expect(w('rank')).toContain('team West Enterprise: #1 Sarah Chen 0.8700, #2 Tom Anderson 0.8333');
    expect(w('rank')).toContain('org Acme Sales: #1 Emily White 0.9000, #2 Sarah Chen 0.8700, #3 Tom Anderson 0.8333');
    expect(w('history')).toContain('FY2026-Q1: 80000.00 / 500000.00 = 0.1600');
    expect(w('gapDeals')).toBe('gap 78000.00: 006S7 40000.00 + 006O1 150000.00 = 190000.00; shortfall 0.00');
  });

  it('lists each deal once, with the figures that use it, and the figures name deals by id', () => {
    const ids = explain.deals.map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
    const referenced = new Set(Object.values(explain.figures).flatMap((f) => (f.sums ?? []).flatMap((s) => s.deals)));
    expect([...referenced].sort()).toEqual([...ids].sort());
    const row = (id: string) => explain.deals.find((d) => d.id === id);
    expect(row('006S4')).toMatchObject({
      amount: '100000.00',
      usedBy: ['actual', 'runRate', 'winRate', 'salesCycle'],
      conversion: 'won',
    });
    expect(row('006S0')?.usedBy).toEqual(['winRate', 'salesCycle']);
    expect(row('006SL')).toMatchObject({ usedBy: ['winRate'], conversion: 'lost' });
    expect(row('006O4')?.usedBy).toEqual(['overdue']);
    expect(row('006S7')).toMatchObject({ usedBy: ['pipeline', 'forecast', 'gapDeals'], gapOrder: 1 });
    expect(row('006S7')?.forecast).toMatchObject({ probability: '0.7000', cell: { source: 'crm' } });
    expect(row('006O2')?.usedBy).toEqual(['pipeline', 'forecast']);
    expect(explain.figures.actual?.sums?.[0]?.deals).toEqual(['006S1', '006S2', '006S3', '006S4', '006S5', '006S6']);
    expect(explain.figures.velocity?.sums?.map((s) => s.deals.length)).toEqual([3, 7]);
    expect(explain.figures.gapDeals?.sums?.[0]?.deals).toEqual(['006S7', '006O1']);
  });

  it('prints the same working in text, md and html, each deal on one row of one table', () => {
    const allowed = jsonNumbers(doc);
    const printed = {
      text: renderReport('text', 'rep', doc),
      md: renderReport('md', 'rep', doc),
      html: htmlText(renderReport('html', 'rep', doc)),
    };
    for (const [format, out] of Object.entries(printed)) {
      // Markdown escapes `*`, `_` and brackets in a paragraph.
      const as = (x: string) => (format === 'md' ? escapeMarkdown(x) : x);
      // The text wraps a long paragraph at 120 columns: compare its words, not its line breaks.
      const words = (x: string) => x.replace(/\s+/g, ' ');
      for (const [k, f] of Object.entries(explain.figures)) {
        expect(words(out), `${format} ${k}`).toContain(words(as(`${k} = ${f.formula}`)));
        expect(words(out), `${format} ${k}`).toContain(words(as(f.working)));
      }
      // The deal table is the working's last block (the gap-deal table above it lists some deals too).
      const table = out.slice(out.lastIndexOf('Deals, each once'));
      for (const d of explain.deals) {
        const rows = table.split('\n').filter((l) => new RegExp(`^\\s*\\|?\\s*${d.id}\\s`).test(l));
        expect(rows.length, `${format} ${d.id}`).toBe(1);
      }
      expect(textNumbers(out).filter((n) => !allowed.has(n))).toEqual([]);
    }
    // The working is one line per figure's formula and working, a line per sum not shown before, and the deal table
    // (82 lines for Sarah Chen; 119 when each figure repeated its deal list), counting a wrapped paragraph once: its
    // continuation lines are the ones indented six.
    const at = printed.text.indexOf('\nWORKING\n');
    expect(at).toBeGreaterThan(0);
    const working = printed.text
      .slice(at)
      .split('\n')
      .filter((l) => !l.startsWith('      ')).length;
    expect(working).toBeGreaterThan(50);
    expect(working).toBeLessThan(100);
  });
});
