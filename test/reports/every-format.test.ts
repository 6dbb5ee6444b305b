/**
 * Every report kind in every format prints the JSON's figures and no other: text, Markdown, the HTML page's text
 * and the CSV cells, each held against the numbers of the same report's JSON, on the golden warehouse (pinned
 * period and date). The rep, team and trends reports are also checked against the sandbox oracle elsewhere
 * (scorecard-sandbox, trends-sandbox); this is the breadth: region, org, leaderboard and alerts too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { toCsv } from '../../src/reports/csv.ts';
import { renderReport } from '../../src/reports/render.ts';
import { buildReport, type ReportRequest } from '../../src/reports/report.ts';
import { goldenWarehouse } from '../fixtures/warehouse/load.ts';
import type { TestDatabase } from '../helpers/db.ts';
import { htmlText, jsonNumbers, textNumbers } from './numbers.ts';

const config = validateConfig({ calendar: { timezone: 'America/New_York' }, forecast: { trials: 500 } });
const WHEN = { period: 'FY2026-Q2', asOf: '2026-06-12' };
let t: TestDatabase;
let engine: MetricsEngine;

beforeAll(async () => {
  t = await goldenWarehouse();
  engine = new MetricsEngine({ db: t.db, config });
  await engine.recomputeAll(WHEN.asOf);
}, 60_000);
afterAll(() => t.drop());

const CASES: Array<Omit<ReportRequest, 'period' | 'asOf'>> = [
  { kind: 'rep', rep: 'sarah.chen@example.com' },
  { kind: 'team', team: 'West Enterprise' },
  { kind: 'region', region: 'West' },
  { kind: 'org' },
  { kind: 'leaderboard' },
  { kind: 'trends', region: 'West' },
  { kind: 'alerts' },
];

describe('every report kind, every format', () => {
  it.each(CASES.map((c) => [c.kind, c] as const))(
    '%s: text, md, html and csv print only the JSON’s figures',
    async (_k, c) => {
      const doc = await buildReport(t.db, engine, { ...c, ...WHEN });
      const allowed = jsonNumbers(doc);
      const printed = {
        text: renderReport('text', c.kind, doc),
        md: renderReport('md', c.kind, doc),
        html: htmlText(renderReport('html', c.kind, doc)),
        // Each cell alone: a CSV prints a ratio as the JSON does.
        csv: toCsv(c.kind, doc).split(/[,\n]/).join(' '),
      };
      for (const [format, out] of Object.entries(printed)) {
        const figures = textNumbers(out);
        expect(figures.length, `${c.kind} ${format}`).toBeGreaterThan(0);
        expect(
          figures.filter((n) => !allowed.has(n)),
          `${c.kind} ${format}`,
        ).toEqual([]);
      }
    },
  );
});
