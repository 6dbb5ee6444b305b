/**
 * Layouts of `report forecast` (the subject's forecast and its inputs) and `report forecast --backtest` (scores of
 * the model and the baselines, the reliability table and its diagram as an SVG), and their text form.
 */
import type { ForecastCalibrationFigures } from '../metrics/document.ts';
import { forecastBasisLine } from '../metrics/forecast-basis.ts';
import { list, money, na, type Obj, obj, pct, str } from './format.ts';
import type { Block, Layout, Section } from './layout.ts';
import { sectionLines } from './text-lines.ts';

const figures = (heading: string, rows: [string, string][]): Section => ({
  heading,
  blocks: [{ type: 'figures', rows }],
});

function table(heading: string, columns: [string, boolean][], rows: string[][], empty: string): Section {
  const blocks: Block[] =
    rows.length === 0
      ? [{ type: 'paragraph', text: empty }]
      : [{ type: 'table', columns: columns.map(([h, n]) => ({ heading: h, numeric: n })), rows }];
  return { heading, blocks };
}

function forecastLayout(o: Obj): Layout {
  const s = obj(o.subject);
  const f = obj(o.forecast);
  const n = obj(o.newPipeline);
  const deals = list(o.deals);
  return {
    title: `Forecast: ${str(s.name) ?? ''}, ${str(obj(o.period).id) ?? ''} as of ${str(o.asOf) ?? ''}`,
    context: forecastBasisLine(f.calibration as ForecastCalibrationFigures | undefined),
    sections: [
      figures('Forecast', [
        ['Quota', money(o.quota, o.quotaReason)],
        ['Actual to date', money(o.actual)],
        ['P10 / P25', `${money(f.p10)} / ${money(f.p25)}`],
        ['P50 / P90', `${money(f.p50)} / ${money(f.p90)}`],
        ['Chance to hit quota', pct(f.probabilityToHitQuota, f.probabilityToHitQuotaReason)],
        ['Commission at P50', o.commissionAtP50 == null ? na('no_quota') : money(o.commissionAtP50)],
        ['Run-rate projection', `${money(o.projectedTotal)} (${pct(o.projectedAttainment, 'no_quota')})`],
        ['Basis', forecastBasisLine(f.calibration as ForecastCalibrationFigures | undefined)],
      ]),
      table(
        'Open deals in the period',
        [
          ['Deal', false],
          ['Owner', false],
          ['Amount', true],
          ['Close', false],
          ['Stage', false],
          ['CRM', true],
          ['Learned', true],
          ['From', false],
          ['Expected', true],
        ],
        deals.map((d) => {
          const c = obj(d.cell);
          const from =
            str(c.source) === 'crm'
              ? 'CRM probability'
              : `${str(c.source) ?? ''} ${str(c.stage) ?? ''}, ${str(c.weeksLeft) ?? ''} wk left (${str(c.snapshots) ?? '0'} snapshots)`;
          return [
            `${str(d.name) ?? ''} (${str(d.id) ?? ''})`,
            str(d.owner) ?? '',
            money(d.amount),
            str(d.closeDate) ?? '',
            str(d.stage) ?? '',
            pct(d.crmProbability, 'none'),
            pct(d.probability, 'none'),
            from,
            money(d.expected),
          ];
        }),
        'No open deals close inside the period.',
      ),
      figures('Pipeline not created yet', [
        [
          'Included',
          n.included === true ? `yes (week ${str(n.week) ?? ''} of the period)` : 'no (not enough history to learn it)',
        ],
        ['Expected new won deals', str(n.expectedDeals) ?? '0'],
        ['Expected amount', money(n.expectedAmount)],
      ]),
      {
        heading: 'Why the forecast and the projection differ',
        blocks: [{ type: 'paragraph', text: str(o.whyDiffers) ?? '' }],
      },
    ],
  };
}

/** The reliability diagram: mean probability (x) against win rate (y) per decile, the diagonal for reference. */
export function reliabilitySvg(series: { name: string; colour: string; bins: Obj[] }[]): string {
  const size = 240;
  const pad = 30;
  const at = (v: number) => pad + v * size;
  const y = (v: number) => pad + (1 - v) * size;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size + 2 * pad + 120}" height="${size + 2 * pad}" role="img" aria-label="Reliability diagram">`,
    `<rect x="${pad}" y="${pad}" width="${size}" height="${size}" fill="none" stroke="#999"/>`,
    `<line x1="${at(0)}" y1="${y(0)}" x2="${at(1)}" y2="${y(1)}" stroke="#ccc" stroke-dasharray="4 3"/>`,
    `<text x="${pad}" y="${size + 2 * pad - 6}" font-size="11">predicted probability</text>`,
    `<text x="4" y="${pad - 10}" font-size="11">win rate</text>`,
  ];
  series.forEach((s, i) => {
    const pts = s.bins
      .filter((b) => b.meanProbability != null && b.winRate != null)
      .map((b) => `${at(Number(b.meanProbability)).toFixed(1)},${y(Number(b.winRate)).toFixed(1)}`);
    if (pts.length > 0)
      parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${s.colour}" stroke-width="2"/>`);
    for (const p of pts) {
      const [cx, cy] = p.split(',');
      parts.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${s.colour}"/>`);
    }
    parts.push(
      `<text x="${size + pad + 10}" y="${pad + 14 + i * 16}" font-size="11" fill="${s.colour}">${s.name}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}

function backtestLayout(o: Obj): Layout {
  const m = obj(o.model);
  const crm = obj(obj(o.baselines).crm);
  const rr = obj(obj(o.baselines).runRate);
  const row = (name: string, x: Obj) => [
    name,
    x.brier == null ? 'n/a' : (str(x.brier) ?? ''),
    x.ece == null ? 'n/a' : (str(x.ece) ?? ''),
    pct(x.p10Held, 'none'),
    pct(x.p10p90Covered, 'none'),
    money(obj(x.pinball).p10),
    money(obj(x.pinball).p50),
    money(obj(x.pinball).p90),
    money(x.crps),
  ];
  const rel = (x: Obj) => list(x.reliability);
  const relRows = rel(m).map((b, i) => {
    const c = rel(crm)[i] ?? {};
    return [
      `${pct(b.from, '')} to ${pct(b.to, '')}`,
      str(b.count) ?? '0',
      b.meanProbability == null ? '-' : pct(b.meanProbability, ''),
      b.winRate == null ? '-' : pct(b.winRate, ''),
      str(c.count) ?? '0',
      c.meanProbability == null ? '-' : pct(c.meanProbability, ''),
      c.winRate == null ? '-' : pct(c.winRate, ''),
    ];
  });
  const svg = reliabilitySvg([
    { name: 'calibrated model', colour: '#1f6feb', bins: rel(m) },
    { name: 'CRM probabilities', colour: '#cf222e', bins: rel(crm) },
  ]);
  return {
    title: `Forecast backtest as of ${str(o.asOf) ?? ''}`,
    context: `${str(o.periods) ?? '0'} ${str(o.periodKind) ?? ''} periods, ${str(o.origins) ?? '0'} weekly origins, ${str(m.outcomes) ?? '0'} rep-period outcomes, ${str(o.trials) ?? ''} trials each; basis today: ${str(o.basis) === 'calibrated' ? 'calibrated' : 'not enough history to calibrate (CRM probabilities)'}; shared shock ${str(o.shock) ?? ''}`,
    sections: [
      table(
        'Scores (lower is better, except coverage: P10 held should be near 90%, P10-P90 near 80%)',
        [
          ['Forecaster', false],
          ['Brier', true],
          ['ECE', true],
          ['P10 held', true],
          ['P10-P90 covered', true],
          ['Pinball P10', true],
          ['Pinball P50', true],
          ['Pinball P90', true],
          ['CRPS', true],
        ],
        [row('Calibrated model', m), row('CRM stage probabilities', crm), row('Run-rate projection (point)', rr)],
        'No period could be backtested: the history has no ended period before any origin.',
      ),
      table(
        'Reliability of deal probabilities (by decile)',
        [
          ['Probability', false],
          ['Model deals', true],
          ['Model mean p', true],
          ['Model win rate', true],
          ['CRM deals', true],
          ['CRM mean p', true],
          ['CRM win rate', true],
        ],
        relRows,
        'No deal snapshots.',
      ),
      {
        heading: 'Reliability diagram',
        blocks: [
          {
            type: 'svg',
            svg,
            alt: 'Mean predicted probability against win rate per decile; on the diagonal is perfectly calibrated.',
          },
        ],
      },
    ],
  };
}

/** The layout of `forecast` or `forecast-backtest`, or null for another kind. */
export function forecastKindLayout(kind: string, o: Obj): Layout | null {
  if (kind === 'forecast') return forecastLayout(o);
  if (kind === 'forecast-backtest') return backtestLayout(o);
  return null;
}

/** Plain text of a layout: figure rows, tables with padded columns, wrapped paragraphs; an SVG by its description. */
export function layoutText(layout: Layout): string {
  const lines = [layout.title];
  if (layout.context !== null) lines.push(layout.context);
  for (const section of layout.sections) lines.push(...sectionLines(section));
  return lines.join('\n');
}
