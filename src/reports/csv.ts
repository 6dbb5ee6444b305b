/**
 * `--format csv`: one table per report, the values as the JSON writes them (money and ratios as decimal strings),
 * safe to open in a spreadsheet. A rep, team, region or org report has a first `type` column: a `rep` row per rep
 * (the team's reps, or the rep itself) and, for a group, a `total` row of its totals; the columns are those the text
 * prints for a rep. The project has no CSV library: RFC 4180 quoting is written here, with the formula
 * neutralisation below.
 */
import type { Json } from '../metrics/document.ts';
import { leaderboardMetric } from './layout.ts';

/**
 * A cell a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a
 * leading single quote, OWASP's advice for CSV injection: `=HYPERLINK("x")` reaches the sheet as that text. A
 * plain decimal number (`-1234.50`, a JSON figure) is left as it is, so negative figures stay numbers.
 */
export function neutralise(s: string): string {
  if (/^-?\d+(\.\d+)?$/.test(s)) return s;
  return /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
}

export function csvCell(v: unknown): string {
  const raw = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  const s = neutralise(raw);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csvTable(cols: readonly string[], rows: readonly (readonly unknown[])[]): string {
  return [cols.join(','), ...rows.map((r) => r.map(csvCell).join(','))].join('\n');
}

type Row = Record<string, unknown>;
const o = (v: unknown): Row => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Row) : {});

/** The columns of a rep, team, region or org report's rows: the figures its text prints per rep. */
export const SUBJECT_COLUMNS = [
  'type',
  'name',
  'email',
  'team',
  'quota',
  'actual',
  'attainment',
  'projectedTotal',
  'projectedAttainment',
  'status',
  'remaining',
  'openPipeline',
  'coverage',
  'coverageBand',
  'calls',
  'meetings',
  'emails',
  'tasks',
  'activityScore',
  'rank',
] as const;

/**
 * The subject's `byProductLine` and `bySegment` as `product_line` and `segment` rows: the line or segment in the
 * name column, its quota (a product line's own), actual and attainment; the other columns empty.
 */
function breakdownRows(doc: Row): unknown[][] {
  const row = (type: string, name: unknown, x: Row) =>
    SUBJECT_COLUMNS.map((c) =>
      c === 'type' ? type : c === 'name' ? name : c === 'quota' || c === 'actual' || c === 'attainment' ? x[c] : '',
    );
  return [
    ...((doc.byProductLine ?? []) as Row[]).map((x) => row('product_line', x.productLine, x)),
    ...((doc.bySegment ?? []) as Row[]).map((x) => row('segment', x.segment, x)),
  ];
}

function subjectRow(type: 'rep' | 'total', r: Row): unknown[] {
  const s = o(r.subject);
  const p = o(r.pipeline);
  const act = o(r.activities);
  const counts = o(act.counts);
  const rank = o(r.rank);
  const orgRank = type === 'rep' ? o(rank.org).rank : undefined;
  return [
    type,
    s.name,
    s.email,
    s.team,
    r.quota,
    r.actual,
    r.attainment,
    r.projectedTotal,
    r.projectedAttainment,
    r.status,
    r.remaining,
    p.open,
    p.coverage,
    p.coverageBand,
    counts.call,
    counts.meeting,
    counts.email,
    counts.task,
    act.score,
    orgRank,
  ];
}

/**
 * The CSV of a report document: rep rows (and a total row for a group), leaderboard entries, trend periods,
 * alerts, or a forecast's deals.
 */
export function toCsv(kind: string, doc: Row): string {
  if (kind === 'forecast') {
    const deals = (doc.deals ?? []) as Row[];
    const cols = ['id', 'name', 'owner', 'amount', 'closeDate', 'stage', 'crmProbability', 'probability', 'expected'];
    return csvTable(
      cols,
      deals.map((d) => cols.map((c) => d[c])),
    );
  }
  if (kind === 'forecast-backtest') {
    const b = (doc.baselines ?? {}) as Record<string, Row>;
    const rows: [string, Row][] = [
      ['model', o(doc.model)],
      ['crm', b.crm ?? {}],
      ['runRate', b.runRate ?? {}],
    ];
    return csvTable(
      ['forecaster', 'brier', 'ece', 'p10Held', 'p10p90Covered', 'crps'],
      rows.map(([n, s]) => [n, s.brier, s.ece, s.p10Held, s.p10p90Covered, s.crps]),
    );
  }
  if (kind === 'trends') {
    // A `period` row per scope and period (the scope's own first, then each of `--by`), then a `top` or `bottom`
    // row per consistent performer with their mean and spread.
    const series = (Array.isArray(doc.series) ? doc.series : [{ scope: doc.scope, periods: doc.periods }]) as Row[];
    const c = o(doc.consistency);
    const performer = (type: string) => (x: Row) => [
      type,
      o(x.rep).name,
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      x.mean,
      x.spread,
    ];
    return csvTable(
      [
        'type',
        'scope',
        'period',
        'partial',
        'quota',
        'actual',
        'attainment',
        'qoq',
        'yoy',
        'projectedActual',
        'projectedAttainment',
        'mean',
        'spread',
      ],
      [
        ...series.flatMap((s) =>
          ((s.periods ?? []) as Row[]).map((p) => [
            'period',
            o(s.scope).name,
            p.period,
            p.partial === true ? 'true' : p.partial === false ? 'false' : '',
            p.quota,
            p.actual,
            p.attainment,
            p.qoq,
            p.yoy,
            p.projectedActual,
            p.projectedAttainment,
            '',
            '',
          ]),
        ),
        ...((c.top ?? []) as Row[]).map(performer('top')),
        ...((c.bottom ?? []) as Row[]).map(performer('bottom')),
      ],
    );
  }
  if (kind === 'alerts') {
    const alerts = (doc.alerts ?? []) as Row[];
    return csvTable(
      ['severity', 'rule', 'name', 'status', 'message'],
      alerts.map((a) => [a.severity, a.rule, o(a.subject).name, a.status, a.message]),
    );
  }
  if (kind === 'leaderboard') {
    const entries = (doc.entries ?? []) as Row[];
    // The ranked metric's own field, where it is not one of the usual columns.
    const extra = leaderboardMetric(doc.by as Json | undefined).column?.field;
    return csvTable(
      [
        'name',
        'email',
        'team',
        'quota',
        'actual',
        'attainment',
        'projectedAttainment',
        'status',
        ...(extra ? [extra] : []),
        'rank',
      ],
      entries.map((e) => {
        const s = o(e.subject);
        return [
          s.name,
          s.email,
          s.team,
          e.quota,
          e.actual,
          e.attainment,
          e.projectedAttainment,
          e.status,
          ...(extra ? [e[extra]] : []),
          e.rank,
        ];
      }),
    );
  }
  if (kind === 'rep') return csvTable(SUBJECT_COLUMNS, [subjectRow('rep', doc), ...breakdownRows(doc)]);
  // team, region, org: its reps on D, then its totals.
  // The rows the text prints: people without a quota (managers, VPs, the integration user) are no rep rows.
  const reps = ((doc.reps ?? []) as Row[]).filter((r) => r.attainment != null);
  return csvTable(SUBJECT_COLUMNS, [
    ...reps.map((r) => subjectRow('rep', r)),
    subjectRow('total', o(doc.totals)),
    ...breakdownRows(doc),
  ]);
}
