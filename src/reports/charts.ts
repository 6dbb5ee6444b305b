/**
 * Inline SVG charts drawn from report documents' own strings: the pacing burn-up of a rep or group (actual to date,
 * the expected pace, the projection and the forecast's P10-P90 band at period end, the quota line) and the status-
 * band distribution of a team. Self-contained markup (no script, no external resource, no CSS class), so the HTML
 * reports, the delivered files and the dashboard pages embed the same chart. Every text is escaped; each chart
 * carries a `<title>` and an `aria-label`, and the report prints the same figures in a table beside it.
 */

import { diffDays } from '../util/date.ts';

/** Escapes text for SVG markup (the same five characters as HTML). */
function esc(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const num = (v: unknown): number | null => {
  if (typeof v !== 'string' && typeof v !== 'number') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
};

/** Money for an axis: 1.2M, 350k, 900. */
export function shortMoney(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(a >= 1e4 ? 0 : 1)}k`;
  return v.toFixed(0);
}

export interface BurnUpInput {
  period: { start: string; end: string };
  asOf: string;
  /** Cumulative actual at each date, ascending, the last at the as-of date. */
  points: readonly { date: string; actual: string }[];
  quota: string | null;
  expectedToDate: string | null;
  projectedTotal: string | null;
  p10: string | null;
  p90: string | null;
}

const W = 560;
const H = 260;
const PAD = { left: 56, right: 16, top: 16, bottom: 30 };

/**
 * The burn-up: x is the period's days, y money from 0. Actual to date is a solid line; the expected pace a dashed
 * line from 0 through the expected figure on the as-of date to the quota at period end (so it follows the pacing
 * basis where the report's figure does); the projection a dotted line from today's actual to the projected total;
 * the P10-P90 band a shaded wedge from today's actual to the two percentiles at period end; the quota a level line.
 */
export function burnUpSvg(o: BurnUpInput): string {
  const total = Math.max(diffDays(o.period.start, o.period.end) + 1, 1);
  const today = Math.min(Math.max(diffDays(o.period.start, o.asOf) + 1, 0), total);
  const quota = num(o.quota);
  const actual = num(o.points[o.points.length - 1]?.actual) ?? 0;
  const projected = num(o.projectedTotal);
  const p10 = num(o.p10);
  const p90 = num(o.p90);
  const top = Math.max(quota ?? 0, projected ?? 0, p90 ?? 0, actual, 1) * 1.08;
  const x = (day: number) => PAD.left + (day / total) * (W - PAD.left - PAD.right);
  const y = (v: number) => H - PAD.bottom - (v / top) * (H - PAD.top - PAD.bottom);
  const xy = (day: number, v: number) => `${x(day).toFixed(1)},${y(v).toFixed(1)}`;
  const label = `Pacing burn-up ${o.period.start} to ${o.period.end}: actual ${shortMoney(actual)} on ${o.asOf}${
    quota !== null ? ` against a quota of ${shortMoney(quota)}` : ''
  }${projected !== null ? `, projected ${shortMoney(projected)}` : ''}${
    p10 !== null && p90 !== null ? `, P10-P90 ${shortMoney(p10)}-${shortMoney(p90)}` : ''
  }`;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(label)}">`,
    `<title>${esc(label)}</title>`,
    `<line x1="${x(0)}" y1="${y(0)}" x2="${x(total)}" y2="${y(0)}" stroke="#8c959f"/>`,
    `<line x1="${x(0)}" y1="${y(0)}" x2="${x(0)}" y2="${PAD.top}" stroke="#8c959f"/>`,
  ];
  for (const f of [0.25, 0.5, 0.75, 1]) {
    const v = (top / 1.08) * f;
    parts.push(
      `<text x="${PAD.left - 6}" y="${(y(v) + 4).toFixed(1)}" font-size="10" text-anchor="end" fill="#57606a">${esc(shortMoney(v))}</text>`,
    );
  }
  parts.push(
    `<text x="${x(0)}" y="${H - 10}" font-size="10" fill="#57606a">${esc(o.period.start)}</text>`,
    `<text x="${x(total)}" y="${H - 10}" font-size="10" text-anchor="end" fill="#57606a">${esc(o.period.end)}</text>`,
  );
  if (p10 !== null && p90 !== null)
    parts.push(
      `<polygon points="${xy(today, actual)} ${xy(total, p90)} ${xy(total, p10)}" fill="#54aeff" fill-opacity="0.18" stroke="none"><title>${esc(`P10-P90 at period end: ${shortMoney(p10)}-${shortMoney(p90)}`)}</title></polygon>`,
    );
  if (quota !== null)
    parts.push(
      `<line x1="${x(0)}" y1="${y(quota).toFixed(1)}" x2="${x(total)}" y2="${y(quota).toFixed(1)}" stroke="#cf222e" stroke-width="1"/>`,
      `<text x="${x(total) - 4}" y="${(y(quota) - 4).toFixed(1)}" font-size="10" text-anchor="end" fill="#cf222e">quota</text>`,
    );
  const expected = num(o.expectedToDate);
  if (quota !== null && expected !== null)
    parts.push(
      `<polyline points="${xy(0, 0)} ${xy(today, expected)} ${xy(total, quota)}" fill="none" stroke="#8c959f" stroke-dasharray="5 4"><title>expected pace</title></polyline>`,
    );
  if (projected !== null)
    parts.push(
      `<line x1="${x(today).toFixed(1)}" y1="${y(actual).toFixed(1)}" x2="${x(total).toFixed(1)}" y2="${y(projected).toFixed(1)}" stroke="#0969da" stroke-dasharray="2 3" stroke-width="2"><title>projection</title></line>`,
    );
  const line = [xy(0, 0)];
  for (const p of o.points) {
    const v = num(p.actual);
    if (v !== null) line.push(xy(Math.min(diffDays(o.period.start, p.date) + 1, total), v));
  }
  parts.push(
    `<polyline points="${line.join(' ')}" fill="none" stroke="#1a7f37" stroke-width="2.5"><title>actual to date</title></polyline>`,
  );
  parts.push('</svg>');
  return parts.join('');
}

/** Band colours, best to worst, as the HTML tables colour the same words. */
const BAND_COLOURS: Readonly<Record<string, string>> = {
  on_track: '#1a7f37',
  likely_to_hit: '#4ac26b',
  at_risk: '#bf8700',
  likely_miss: '#fb8f44',
  significant_gap: '#cf222e',
  major_gap: '#82071e',
  no_quota: '#8c959f',
};

/** The status-band distribution: one horizontal bar per band with its rep count (bands without reps drawn empty). */
export function distributionSvg(rows: readonly { status: string; reps: number }[]): string {
  const rowH = 22;
  const labelW = 130;
  const barW = 300;
  const max = Math.max(1, ...rows.map((r) => r.reps));
  const height = rows.length * rowH + 8;
  const total = rows.reduce((s, r) => s + r.reps, 0);
  const label = `Status distribution of ${total} reps: ${rows.map((r) => `${r.status.replace(/_/g, ' ')} ${r.reps}`).join(', ')}`;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${labelW + barW + 40}" height="${height}" viewBox="0 0 ${labelW + barW + 40} ${height}" role="img" aria-label="${esc(label)}">`,
    `<title>${esc(label)}</title>`,
  ];
  rows.forEach((r, i) => {
    const top = 4 + i * rowH;
    const w = (r.reps / max) * barW;
    parts.push(
      `<text x="${labelW - 6}" y="${top + 15}" font-size="11" text-anchor="end" fill="#1f2328">${esc(r.status.replace(/_/g, ' '))}</text>`,
      `<rect x="${labelW}" y="${top + 3}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${BAND_COLOURS[r.status] ?? '#8c959f'}"/>`,
      `<text x="${(labelW + w + 4).toFixed(1)}" y="${top + 15}" font-size="11" fill="#1f2328">${r.reps}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}

/** One bin of the attainment histogram: its label (`80-90%`) and its reps by status band. */
export interface HistogramBin {
  label: string;
  byStatus: Readonly<Record<string, number>>;
}

/** Status bands in drawing order (best at the bottom of a bar), as BAND_COLOURS lists them. */
export const BAND_ORDER = Object.keys(BAND_COLOURS);

export function bandColour(status: string): string {
  return BAND_COLOURS[status] ?? '#8c959f';
}

/**
 * The attainment histogram: one bar per bin (never per rep, so 5,000 reps draw as many bars as 5), each stacked by
 * the status bands of its reps in their colours.
 */
export function histogramSvg(bins: readonly HistogramBin[]): string {
  const w = 560;
  const hgt = 240;
  const pad = { left: 40, right: 8, top: 12, bottom: 46 };
  const totals = bins.map((b) => Object.values(b.byStatus).reduce((s, n) => s + n, 0));
  const max = Math.max(1, ...totals);
  const slot = (w - pad.left - pad.right) / Math.max(bins.length, 1);
  const y = (v: number) => hgt - pad.bottom - (v / max) * (hgt - pad.top - pad.bottom);
  const all = totals.reduce((s, n) => s + n, 0);
  const label = `Attainment of ${all} reps in ${bins.length} bins: ${bins.map((b, i) => `${b.label} ${totals[i]}`).join(', ')}`;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${hgt}" viewBox="0 0 ${w} ${hgt}" role="img" aria-label="${esc(label)}">`,
    `<title>${esc(label)}</title>`,
    `<line x1="${pad.left}" y1="${y(0)}" x2="${w - pad.right}" y2="${y(0)}" stroke="#8c959f"/>`,
  ];
  for (const f of [0.5, 1]) {
    const v = Math.round(max * f);
    parts.push(
      `<text x="${pad.left - 6}" y="${(y(v) + 4).toFixed(1)}" font-size="10" text-anchor="end" fill="#57606a">${v}</text>`,
      `<line x1="${pad.left}" y1="${y(v).toFixed(1)}" x2="${w - pad.right}" y2="${y(v).toFixed(1)}" stroke="#eaeef2"/>`,
    );
  }
  bins.forEach((b, i) => {
    const x = pad.left + i * slot + 2;
    let base = 0;
    for (const status of BAND_ORDER) {
      const n = b.byStatus[status] ?? 0;
      if (n === 0) continue;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y(base + n).toFixed(1)}" width="${(slot - 4).toFixed(1)}" height="${(y(base) - y(base + n)).toFixed(1)}" fill="${bandColour(status)}"><title>${esc(`${b.label}: ${n} ${status.replace(/_/g, ' ')}`)}</title></rect>`,
      );
      base += n;
    }
    const cx = x + (slot - 4) / 2;
    parts.push(
      `<text x="${cx.toFixed(1)}" y="${hgt - pad.bottom + 12}" font-size="9" text-anchor="end" fill="#57606a" transform="rotate(-40 ${cx.toFixed(1)} ${hgt - pad.bottom + 12})">${esc(b.label)}</text>`,
    );
    if (totals[i])
      parts.push(
        `<text x="${cx.toFixed(1)}" y="${(y(totals[i] as number) - 3).toFixed(1)}" font-size="9" text-anchor="middle" fill="#1f2328">${totals[i]}</text>`,
      );
  });
  parts.push('</svg>');
  return parts.join('');
}

const SERIES_COLOURS = ['#0969da', '#1a7f37', '#bf8700', '#8250df', '#cf222e', '#1b7c83', '#bc4c00', '#57606a'];

/**
 * Scopes side by side over periods: one line of attainment (percent) per scope, a dashed level at 100%. A period
 * without a quota leaves a gap in its line.
 */
export function trendLinesSvg(
  periods: readonly string[],
  series: readonly { name: string; values: readonly (number | null)[] }[],
): string {
  const w = 620;
  const hgt = 280;
  const pad = { left: 44, right: 150, top: 14, bottom: 30 };
  const vals = series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const top = Math.max(1.2, ...vals) * 1.05;
  const bottom = Math.min(0, ...vals);
  const x = (i: number) =>
    pad.left + (periods.length <= 1 ? 0.5 : i / (periods.length - 1)) * (w - pad.left - pad.right);
  const y = (v: number) => hgt - pad.bottom - ((v - bottom) / (top - bottom)) * (hgt - pad.top - pad.bottom);
  const label = `Attainment by period, ${periods[0] ?? ''} to ${periods[periods.length - 1] ?? ''}: ${series
    .map((s) => `${s.name} ${s.values.map((v) => (v === null ? 'n/a' : `${(v * 100).toFixed(1)}%`)).join(', ')}`)
    .join('; ')}`;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${hgt}" viewBox="0 0 ${w} ${hgt}" role="img" aria-label="${esc(label)}">`,
    `<title>${esc(label)}</title>`,
    `<line x1="${pad.left}" y1="${y(bottom)}" x2="${w - pad.right}" y2="${y(bottom)}" stroke="#8c959f"/>`,
    `<line x1="${pad.left}" y1="${y(1).toFixed(1)}" x2="${w - pad.right}" y2="${y(1).toFixed(1)}" stroke="#cf222e" stroke-dasharray="4 3"/>`,
    `<text x="${pad.left - 6}" y="${(y(1) + 4).toFixed(1)}" font-size="10" text-anchor="end" fill="#cf222e">100%</text>`,
    `<text x="${pad.left - 6}" y="${(y(0.5) + 4).toFixed(1)}" font-size="10" text-anchor="end" fill="#57606a">50%</text>`,
  ];
  periods.forEach((p, i) => {
    parts.push(
      `<text x="${x(i).toFixed(1)}" y="${hgt - 10}" font-size="10" text-anchor="middle" fill="#57606a">${esc(p)}</text>`,
    );
  });
  series.forEach((s, si) => {
    const colour = SERIES_COLOURS[si % SERIES_COLOURS.length] as string;
    let run: string[] = [];
    const flush = () => {
      if (run.length > 1)
        parts.push(`<polyline points="${run.join(' ')}" fill="none" stroke="${colour}" stroke-width="2"/>`);
      run = [];
    };
    s.values.forEach((v, i) => {
      if (v === null) {
        flush();
        return;
      }
      run.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
      parts.push(
        `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${colour}"><title>${esc(`${s.name} ${periods[i] ?? ''}: ${(v * 100).toFixed(2)}%`)}</title></circle>`,
      );
    });
    flush();
    const ly = pad.top + 6 + si * 16;
    parts.push(
      `<rect x="${w - pad.right + 12}" y="${ly - 8}" width="10" height="10" fill="${colour}"/>`,
      `<text x="${w - pad.right + 26}" y="${ly + 1}" font-size="11" fill="#1f2328">${esc(s.name.length > 20 ? `${s.name.slice(0, 19)}…` : s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}
