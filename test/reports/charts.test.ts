/** The report charts: what each draws from a document's strings, and what it leaves out when a figure is missing. */
import { describe, expect, it } from 'vitest';
import { burnUpSvg, distributionSvg, shortMoney } from '../../src/reports/charts.ts';

const base = {
  period: { start: '2026-04-01', end: '2026-06-30' },
  asOf: '2026-06-12',
  points: [
    { date: '2026-04-07', actual: '0.00' },
    { date: '2026-06-12', actual: '522000.00' },
  ],
  quota: '600000.00',
  expectedToDate: '481318.68',
  projectedTotal: '651600.00',
  p10: '540000.00',
  p90: '700000.00',
};

describe('burn-up', () => {
  it('draws actual, expected pace, projection, quota and the P10-P90 wedge on a 91-day axis', () => {
    const svg = burnUpSvg(base);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    // y tops out 8% above the highest figure (P90 700,000 -> 756,000); x: day 73 of 91 is D.
    const x = (day: number) => (56 + (day / 91) * (560 - 56 - 16)).toFixed(1);
    const y = (v: number) => (260 - 30 - (v / 756_000) * (260 - 16 - 30)).toFixed(1);
    expect(svg).toContain(`<polyline points="${x(0)},${y(0)} ${x(7)},${y(0)} ${x(73)},${y(522_000)}"`);
    expect(svg).toContain(`<polygon points="${x(73)},${y(522_000)} ${x(91)},${y(700_000)} ${x(91)},${y(540_000)}"`);
    expect(svg).toContain('quota</text>');
    expect(svg).toContain('<title>projection</title>');
    expect(svg).toContain('<title>expected pace</title>');
  });

  it('leaves out what a subject without quota or forecast does not have', () => {
    const svg = burnUpSvg({ ...base, quota: null, expectedToDate: null, p10: null, p90: null, projectedTotal: null });
    expect(svg).not.toContain('<polygon');
    expect(svg).not.toContain('quota</text>');
    expect(svg).not.toContain('expected pace');
    expect(svg).not.toContain('projection');
    expect(svg).toContain('aria-label="Pacing burn-up 2026-04-01 to 2026-06-30: actual 522k on 2026-06-12"');
  });

  it('writes axis money short', () => {
    expect([
      shortMoney(950),
      shortMoney(1_500),
      shortMoney(350_000),
      shortMoney(1_250_000),
      shortMoney(12_000_000),
    ]).toEqual(['950', '1.5k', '350k', '1.3M', '12M']);
  });
});

describe('status distribution', () => {
  it('one bar per band, widths by count, every text escaped', () => {
    const svg = distributionSvg([
      { status: 'on_track', reps: 4 },
      { status: 'at_risk', reps: 2 },
      { status: '<b>', reps: 0 },
    ]);
    expect(svg).toContain('aria-label="Status distribution of 6 reps: on track 4, at risk 2, &lt;b&gt; 0"');
    expect([...svg.matchAll(/<rect [^>]*width="([\d.]+)"/g)].map((m) => m[1])).toEqual(['300.0', '150.0', '0.0']);
    expect(svg).not.toContain('<b>');
  });
});
