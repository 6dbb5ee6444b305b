/**
 * What a report says, apart from how it is printed: a title, a line of context and sections of figures (a label
 * and its value) or of rows under column headings. The Markdown and HTML renderers print all of it and the text
 * renderer prints its figure sections, so the formats cannot drift apart on a label or a value.
 */
import type { FiguresDocument, Json, JsonObject, SubjectInfo } from '../metrics/document.ts';
import { forecastBasisLine } from '../metrics/forecast-basis.ts';
import { burnUpSvg, distributionSvg } from './charts.ts';
import type { SubjectReport } from './context.ts';
import { forecastKindLayout } from './forecast-layout.ts';
import { list, money, na, type Obj, obj, pct, points, signed, str, times, words } from './format.ts';

export interface Column {
  heading: string;
  /** Numbers are right-aligned. */
  numeric: boolean;
}

export type Block =
  | { type: 'figures'; rows: [label: string, value: string][] }
  | { type: 'table'; columns: Column[]; rows: string[][] }
  | { type: 'paragraph'; text: string }
  /** A diagram built from the document's numbers (no text from the CRM); other formats print `alt`. */
  | { type: 'svg'; svg: string; alt: string };

export interface Section {
  heading: string;
  blocks: Block[];
}

export interface Layout {
  title: string;
  context: string | null;
  sections: Section[];
}

function figures(heading: string, rows: [string, string][]): Section {
  return { heading, blocks: [{ type: 'figures', rows }] };
}

function table(columns: [heading: string, numeric: boolean][], rows: string[][]): Block {
  return { type: 'table', columns: columns.map(([heading, numeric]) => ({ heading, numeric })), rows };
}

function paragraph(text: string): Block {
  return { type: 'paragraph', text };
}

function status(v: Json | undefined, missing: string): string {
  const s = str(v);
  return s === null ? missing : words(s);
}

/**
 * A subject document of a report (a rep report; a group report's `totals` and its `teams`, `reps` and `leavers`
 * rows), with a leaver's extras. Read through its type: `build.ts` makes each from `figuresDocument`.
 */
export type SubjectDoc = SubjectReport & {
  leftOn?: string;
  openDealsNeedingOwner?: JsonObject[];
  /** The rep scorecard's (scorecard.ts): absent from a group report's rows. */
  trend?: Obj;
  gapDeals?: Obj;
  leadConversion?: Obj;
  strengths?: JsonObject[];
  focusAreas?: JsonObject[];
  burnup?: Obj;
  /** Where the numbers came from (sources.ts): the quota's connections, the actual by connection. */
  sources?: Obj;
};

export function subjectDoc(v: Json | undefined): SubjectDoc {
  return v as unknown as SubjectDoc;
}

export function subjectDocs(v: Json | undefined): SubjectDoc[] {
  return Array.isArray(v) ? (v as unknown as SubjectDoc[]) : [];
}

/** `Sarah Chen (rep) - FY2026-Q2 as of 2026-06-12, in USD` and `team West Enterprise, region West, ...`. */
export function subjectHeading(d: FiguresDocument): { title: string; context: string | null } {
  const subject = d.subject;
  const title = `${subject.name} (${subject.type}) - ${d.period.id} as of ${d.asOf}, in ${d.currency}`;
  const where = [
    subject.team && `team ${subject.team}`,
    subject.region && `region ${subject.region}`,
    subject.manager && `manager ${subject.manager}`,
  ].filter(Boolean);
  return { title, context: where.length > 0 ? where.join(', ') : null };
}

/** Summary, pacing, projection, pipeline, activity, ranking and history of one subject's document. */
export function figureSections(d: SubjectDoc): Section[] {
  const o = d;
  const period = d.period;
  const p = d.pipeline;
  const a = d.activities;
  const counts = a.counts;
  const f = d.forecast;
  const c = d.commission;
  const out: Section[] = [
    figures('Summary', [
      ['Quota', money(o.quota, o.quotaReason)],
      ['Actual to date', `${money(o.actual)} (${o.closedWonDeals} won deals)`],
      ['Attainment', pct(o.attainment, o.attainmentReason)],
      ['Remaining to goal', money(o.remaining, o.remainingReason)],
      ['Status', status(o.status, na(o.statusReason))],
    ]),
    figures('Pacing', [
      ['Days elapsed', `${period.daysElapsed} of ${period.daysTotal} (${period.daysRemaining} remaining)`],
      ['Expected to date', money(o.expectedToDate, o.expectedToDateReason)],
      [
        'Pace variance',
        o.paceVariance == null
          ? na(o.paceVarianceReason)
          : `${signed(money(o.paceVariance), o.paceVariance)} (${signed(pct(o.paceVariancePct, o.paceVariancePctReason), o.paceVariancePct)}), ${o.paceStatus}`,
      ],
      [
        'Required run rate',
        o.requiredDailyRunRate == null
          ? na(o.requiredDailyRunRateReason)
          : `${money(o.requiredDailyRunRate)} a day, ${money(o.requiredWeeklyRunRate)} a week`,
      ],
    ]),
    figures('Projection', [
      ['Current run rate', `${money(o.currentRunRate)} a day (last ${o.runRateWindowDays} days)`],
      ['Projected total', money(o.projectedTotal)],
      ['Projected attainment', pct(o.projectedAttainment, o.projectedAttainmentReason)],
      ['Forecast P10 / P50 / P90', `${money(f.p10)} / ${money(f.p50)} / ${money(f.p90)}`],
      ['Chance to hit quota', pct(f.probabilityToHitQuota, f.probabilityToHitQuotaReason)],
      ['Forecast basis', forecastBasisLine(f.calibration)],
      ['Commission at actual', money(c.atActual, c.atActualReason)],
      ['Commission at projected', money(c.atProjected, c.atProjectedReason)],
      ['Commission at P50', money(c.atP50, c.atP50Reason)],
      ...((c as Obj).atQuota === undefined
        ? []
        : ([['Commission at quota', money((c as Obj).atQuota, (c as Obj).atQuotaReason)]] as [string, string][])),
      [
        'Next tier',
        c.nextTier == null ? na(c.nextTierReason) : `${pct(c.nextTier)} of quota, ${money(c.bookingsToNextTier)} away`,
      ],
    ]),
    figures('Pipeline', [
      ['Open (in period)', `${money(p.open)} in ${p.openDeals} deals`],
      ['Weighted', money(p.weighted)],
      ['Coverage', p.coverage == null ? na(p.coverageReason) : `${times(p.coverage)} (${p.coverageBand})`],
      ['Overdue (not pipeline)', `${money(p.overdue)} in ${p.overdueDeals} deals`],
      ['Win rate', pct(o.winRate, o.winRateReason)],
      ['Average deal size', money(o.avgDealSize, o.avgDealSizeReason)],
      ['Sales cycle', o.salesCycleDays == null ? na(o.salesCycleDaysReason) : `${o.salesCycleDays} days`],
      ['Velocity', o.velocity == null ? na(o.velocityReason) : `${money(o.velocity)} a day`],
    ]),
    figures(`Activity (${a.window})`, [
      ['Calls / meetings', `${counts.call} / ${counts.meeting}`],
      ['Emails / tasks', `${counts.email} / ${counts.task}`],
      ['Activity score', a.score == null ? na(a.scoreReason) : a.score],
    ]),
  ];
  const rank = d.rank;
  const ranks: [string, string][] = [];
  for (const scope of ['team', 'region', 'org']) {
    const r = obj(rank[scope]);
    if (Object.keys(r).length === 0) continue;
    const peers = r.group == null ? '' : ` (${str(r.group)}, ${str(r.groupSize)} people)`;
    ranks.push([
      `${scope[0]?.toUpperCase()}${scope.slice(1)} rank`,
      `${r.rank == null ? na(r.rankReason) : `#${str(r.rank)} of ${str(r.of)}`}${peers}`,
    ]);
  }
  if (ranks.length > 0) out.push(figures('Ranking', ranks));
  // Periods before any quota say nothing a manager can use: the history shows the periods that had one.
  const history = (d.history ?? []).filter((h) => h.quota != null);
  const trend = d.trend;
  if (history.length > 0)
    out.push(
      figures('History', [
        ...history.map((x): [string, string] => [
          str(x.period) ?? '',
          `${pct(x.attainment, x.attainmentReason)} (${money(x.actual)} of ${money(x.quota)})${x.qoqChange == null ? '' : `, QoQ ${points(x.qoqChange)}`}`,
        ]),
        ...(trend === undefined
          ? []
          : ([
              [
                'Trend (least squares)',
                trend.slope == null
                  ? na(trend.slopeReason)
                  : `${points(trend.slope)} a period over ${Array.isArray(trend.periods) ? trend.periods.length : 0} periods`,
              ],
            ] as [string, string][])),
      ]),
    );
  const sources = d.sources;
  if (sources !== undefined) {
    const quotaFrom = Array.isArray(sources.quota) ? (sources.quota as Json[]).map((x) => String(x)) : [];
    out.push(
      figures('Sources', [
        ['Quota from', quotaFrom.length === 0 ? 'no quota' : quotaFrom.join(', ')],
        ...list(sources.actual).map((x): [string, string] => {
          const deals = str(x.deals) ?? '0';
          return [
            `Actual from ${str(x.connection) ?? ''}`,
            `${money(x.amount)} (${deals} won deal${deals === '1' ? '' : 's'})`,
          ];
        }),
      ]),
    );
  }
  return out;
}

function alertsSection(d: SubjectDoc): Section {
  const alerts = list(d.alerts);
  if (alerts.length === 0) return { heading: 'Alerts', blocks: [paragraph('none')] };
  return {
    heading: 'Alerts',
    blocks: [
      table(
        [
          ['Severity', false],
          ['Rule', false],
          ['Status', false],
          ['Message', false],
        ],
        alerts.map((x) => [str(x.severity) ?? '', str(x.rule) ?? '', str(x.status) ?? '', str(x.message) ?? '']),
      ),
    ],
  };
}

/** A forecast deal's learned probability and the cell it came from (`x` without them). */
function learnedCell(dd: Obj): string {
  if (!('probability' in dd)) return 'x';
  const cell = obj(dd.cell);
  const p = dd.probability == null ? 'n/a' : pct(dd.probability);
  if (str(cell.source) === 'crm') return `${p} (CRM)`;
  return `${p} (${str(cell.source)} ${str(cell.stage)}, ${str(cell.weeksLeft)} wk, n ${str(cell.snapshots)})`;
}

/** The deal table's columns (working.ts `DEAL_USES`) as the readable formats head them. */
const USE_HEADINGS: [use: string, heading: string][] = [
  ['actual', 'Actual'],
  ['runRate', 'Run rate'],
  ['pipeline', 'Pipeline'],
  ['overdue', 'Overdue'],
  ['winRate', 'Win rate'],
  ['salesCycle', 'Size, cycle'],
  ['forecast', 'Forecast p (cell)'],
  ['gapDeals', 'Gap deal'],
];

/** A deal table row's cell for one use: blank when the deal does not feed it. */
function useCell(dd: Obj, use: string): string {
  if (!Array.isArray(dd.usedBy) || !dd.usedBy.includes(use)) return '';
  if (use === 'winRate') return str(dd.conversion) ?? 'x';
  if (use === 'forecast') return learnedCell(obj(dd.forecast));
  if (use === 'gapDeals') return `#${str(dd.gapOrder)}`;
  return 'x';
}

/** How many deal ids a sum line of the working lists before it points to the deal table instead. */
const SUM_IDS_LISTED = 6;

/**
 * The `--explain` working: each figure's formula and working, its sums naming their deals by id, and one table of
 * the deals with a column per figure using them.
 */
export function workingSection(d: SubjectDoc): Section | null {
  const w = workingBlocks(d);
  if (w === null) return null;
  return { heading: 'Working', blocks: [...[...w.figures.values()].flat(), ...w.deals] };
}

/**
 * One figure's lines of the `--explain` working (`attainment`, `pipeline.coverage`, ...), as `workingSection` prints
 * them: its formula, working and sums; null when the document's working has no such figure.
 */
export function figureWorking(d: SubjectDoc, figure: string): Block[] | null {
  return workingBlocks(d)?.figures.get(figure) ?? null;
}

/** The working's lines of each figure, in the document's order, and the deal table's. */
function workingBlocks(d: SubjectDoc): { figures: Map<string, Block[]>; deals: Block[] } | null {
  const explain = obj(d.explain);
  const figures = obj(explain.figures);
  if (Object.keys(figures).length === 0) return null;
  const byFigure = new Map<string, Block[]>();
  // A sum shown once: a later figure summing the same deals names the first figure instead.
  const shown = new Map<string, string>();
  // Each deal-table column's marked deals: a sum whose deals are exactly one column's can point to it.
  const marked = new Map<string, string>();
  for (const [use] of USE_HEADINGS) {
    const inColumn = list(explain.deals).filter((dd) => Array.isArray(dd.usedBy) && dd.usedBy.includes(use));
    marked.set(use, inColumn.map((dd) => str(dd.id) ?? '').join(','));
  }
  for (const [k, e] of Object.entries(figures)) {
    const x = obj(e);
    const again: string[] = [];
    const sums: Block[] = [];
    for (const sum of list(x.sums)) {
      const ids = (Array.isArray(sum.deals) ? sum.deals : []).map((id) => str(id) ?? '');
      const key = `${str(sum.column)}|${ids.join(',')}`;
      const first = shown.get(key);
      if (first !== undefined) {
        again.push(first);
        continue;
      }
      shown.set(key, k);
      const column = USE_HEADINGS.find(([u]) => u === str(sum.column))?.[1] ?? str(sum.column);
      const n = `${ids.length} ${ids.length === 1 ? 'deal' : 'deals'}`;
      // A few ids read as a list. Many (a rep with 69 lost deals) are pointed to in the deal table instead, when one
      // of its columns marks exactly them; else (won and lost deals share the win-rate column) they are listed.
      const sorted = [...ids].sort().join(',');
      const exact = USE_HEADINGS.find(([u]) => [...(marked.get(u) ?? '').split(',')].sort().join(',') === sorted);
      const which =
        ids.length > SUM_IDS_LISTED && exact
          ? `(${n}, each marked in the deal table's ${exact[1]} column)`
          : `(${n}, column ${column})${ids.length > 0 ? `: ${ids.join(', ')}` : ''}`;
      sums.push(paragraph(`  ${str(sum.label)}: ${money(sum.total)} ${which}`));
    }
    const same = again.length > 0 ? ` (deals as in ${[...new Set(again)].join(', ')})` : '';
    byFigure.set(k, [paragraph(`${k} = ${str(x.formula)}`), paragraph(`  ${str(x.working) ?? ''}${same}`), ...sums]);
  }
  const blocks: Block[] = [];
  const deals = list(explain.deals);
  if (deals.length > 0) {
    const group = d.subject.type !== 'rep';
    blocks.push(
      paragraph('Deals, each once (a column marks the figures that use the deal)'),
      table(
        [
          ['Deal', false],
          ['Name', false],
          ...(group ? ([['Owner', false]] as [string, boolean][]) : []),
          ['Created', false],
          ['Close date', false],
          ['Stage', false],
          ['Amount', true],
          ...USE_HEADINGS.map(([, h]) => [h, false] as [string, boolean]),
        ],
        deals.map((dd) => [
          str(dd.id) ?? '',
          str(dd.name) ?? '',
          ...(group ? [str(dd.owner) ?? ''] : []),
          str(dd.createdDate) ?? '',
          str(dd.closeDate) ?? '',
          str(dd.stage) ?? '',
          money(dd.amount),
          ...USE_HEADINGS.map(([u]) => useCell(dd, u)),
        ]),
      ),
    );
  }
  return { figures: byFigure, deals: blocks };
}

/**
 * People without a quota (managers, VPs, the integration user) have no place in a board of attainment: they are
 * named once per reason ("Not ranked (no quota): A, B") instead of a row of "n/a (no quota)" each.
 */
export function withoutQuota<T extends { attainmentReason?: Json | undefined; subject?: Json | SubjectInfo }>(
  rows: readonly T[],
  isRanked: (row: T) => boolean,
  /** Why a row is not ranked; default its attainment's reason. */
  reasonOf: (row: T) => Json | undefined = (row) => row.attainmentReason,
): { ranked: T[]; notes: string[] } {
  const ranked: T[] = [];
  const unranked = new Map<string, string[]>();
  for (const x of rows) {
    if (isRanked(x)) {
      ranked.push(x);
      continue;
    }
    const reason = reasonOf(x);
    const why = typeof reason === 'string' ? words(reason) : 'no attainment';
    unranked.set(why, [...(unranked.get(why) ?? []), str((x.subject as { name?: Json } | undefined)?.name) ?? '']);
  }
  return { ranked, notes: [...unranked].map(([why, names]) => `Not ranked (${why}): ${names.join(', ')}`) };
}

/** A row's name, with the day they left when a rep is listed for the deals they brought before leaving. */
export function memberName(r: SubjectDoc): string {
  const name = r.subject.name;
  return r.leftOn === undefined ? name : `${name} (left ${r.leftOn})`;
}

/** People who left during the period: what they booked while here, and the open deals that need a new owner. */
function leaversSection(rows: readonly SubjectDoc[]): Section {
  const deals = rows.flatMap((r) =>
    (r.openDealsNeedingOwner ?? []).map((d) => [
      r.subject.name,
      str(d.name) ?? '',
      money(d.amount),
      str(d.closeDate) ?? '',
      str(d.stage) ?? '',
    ]),
  );
  return {
    heading: 'Left during the period',
    blocks: [
      table(
        [
          ['Name', false],
          ['Actual', true],
          ['Quota', true],
        ],
        rows.map((r) => [memberName(r), money(r.actual), money(r.quota, r.quotaReason)]),
      ),
      ...(deals.length === 0
        ? []
        : [
            paragraph('Their open deals need a new owner:'),
            table(
              [
                ['Owner who left', false],
                ['Deal', false],
                ['Amount', true],
                ['Close date', false],
                ['Stage', false],
              ],
              deals,
            ),
          ]),
    ],
  };
}

/** Teams or reps of a team, region or org report, one row each. */
export function membersSection(heading: string, rows: readonly SubjectDoc[], notes: readonly string[]): Section {
  const blocks: Block[] = [];
  if (rows.length > 0)
    blocks.push(
      table(
        [
          ['Name', false],
          ['Attainment', true],
          ['Projected', true],
          ['Status', false],
          ['Needs', true],
          ['Coverage', true],
          ['Calls', true],
          ['Meetings', true],
          ['Activity score', true],
        ],
        rows.map((r) => {
          const p = r.pipeline;
          const act = r.activities;
          return [
            memberName(r),
            pct(r.attainment, r.attainmentReason),
            pct(r.projectedAttainment, r.projectedAttainmentReason),
            status(r.status, 'no quota'),
            money(r.remaining, r.remainingReason),
            p.coverage == null ? na(p.coverageReason) : times(p.coverage),
            String(act.counts.call),
            String(act.counts.meeting),
            act.score ?? 'n/a',
          ];
        }),
      ),
    );
  if (rows.length === 0 && notes.length === 0) blocks.push(paragraph('none'));
  for (const n of notes) blocks.push(paragraph(n));
  return { heading, blocks };
}

/** The pacing burn-up of a subject document (a rep's scorecard, a team's totals) and its points as a table. */
export function burnUpSection(d: SubjectDoc, burnup: Obj): Section {
  const points = list(burnup.points).map((p) => ({ date: str(p.date) ?? '', actual: str(p.actual) ?? '0' }));
  const f = d.forecast as unknown as Obj | undefined;
  return {
    heading: 'Pacing burn-up',
    blocks: [
      // Built from numbers and dates only (charts.ts escapes every text), so it is inserted as it is.
      {
        type: 'svg',
        svg: burnUpSvg({
          period: { start: d.period.start, end: d.period.end },
          asOf: d.asOf,
          points,
          quota: str(d.quota),
          expectedToDate: str(d.expectedToDate),
          projectedTotal: str(d.projectedTotal),
          p10: str(f?.p10),
          p90: str(f?.p90),
        }),
        alt: 'actual to date against the expected pace, the projection and the P10-P90 band to period end',
      },
      table(
        [
          ['Week ending', false],
          ['Actual to date', true],
        ],
        points.map((p) => [p.date, money(p.actual)]),
      ),
    ],
  };
}

/** The rep scorecard's sections (gap deals, lead conversion, strengths and focus areas); none for other rows. */
export function scorecardSections(d: SubjectDoc): Section[] {
  const out: Section[] = [];
  if (d.burnup !== undefined) out.push(burnUpSection(d, d.burnup));
  const g = d.gapDeals;
  if (g !== undefined) {
    const deals = list(g.deals);
    const summary =
      g.gap == null
        ? `No gap to close: ${na(g.gapReason)}.`
        : g.dealsNeeded == null
          ? `Gap ${money(g.gap)}: every open deal in the period together leaves ${money(g.shortfall)} short.`
          : `Gap ${money(g.gap)}: closed by ${str(g.dealsNeeded)} deals, most likely first.`;
    out.push({
      heading: 'Deals that close the gap',
      blocks: [
        paragraph(summary),
        ...(deals.length === 0
          ? []
          : [
              table(
                [
                  ['Deal', false],
                  ['Connection', false],
                  ['Name', false],
                  ['Close date', false],
                  ['Stage', false],
                  ['Probability', true],
                  ['Amount', true],
                  ['Running total', true],
                ],
                deals.map((x) => [
                  str(x.id) ?? '',
                  str(x.connection) ?? '',
                  str(x.name) ?? '',
                  str(x.closeDate) ?? '',
                  str(x.stage) ?? '',
                  pct(x.probability, 'no_probability'),
                  money(x.amount),
                  money(x.runningTotal),
                ]),
              ),
            ]),
      ],
    });
  }
  const l = d.leadConversion;
  if (l !== undefined) {
    const cohorts = list(l.cohorts);
    out.push({
      heading: 'Lead conversion',
      blocks:
        cohorts.length === 0
          ? [paragraph(`No leads created in ${str(l.window)}.`)]
          : [
              table(
                [
                  ['Cohort month', false],
                  ['Created', true],
                  ['Converted', true],
                  ['Rate', true],
                ],
                [
                  ...cohorts.map((x) => [
                    str(x.month) ?? '',
                    str(x.created) ?? '',
                    str(x.converted) ?? '',
                    pct(x.rate),
                  ]),
                  ['Total', str(l.created) ?? '', str(l.converted) ?? '', pct(l.rate, l.rateReason)],
                ],
              ),
            ],
    });
  }
  for (const [heading, items] of [
    ['Strengths', d.strengths],
    ['Focus areas', d.focusAreas],
  ] as const) {
    if (items === undefined) continue;
    const found = list(items as Json);
    out.push({
      heading,
      blocks: found.length === 0 ? [paragraph('none')] : found.map((x) => paragraph(`${str(x.text)}`)),
    });
  }
  return out;
}

function subjectLayout(d: SubjectDoc): Layout {
  const working = workingSection(d);
  return {
    ...subjectHeading(d),
    sections: [...figureSections(d), ...scorecardSections(d), alertsSection(d), ...(working ? [working] : [])],
  };
}

const repName = (x: Obj) => str(obj(x.rep).name) ?? '';

/** The team dashboard's sections (scorecard.ts `teamDashboard`); none when the document has none. */
export function dashboardSections(o: Obj): Section[] {
  if (o.distribution === undefined) return [];
  const out: Section[] = [];
  if (o.burnup !== undefined) out.push(burnUpSection(subjectDoc(o.totals), obj(o.burnup)));
  out.push({
    heading: 'Status distribution',
    blocks: [
      {
        type: 'svg',
        svg: distributionSvg(
          list(o.distribution).map((x) => ({ status: str(x.status) ?? '', reps: Number(x.reps ?? 0) })),
        ),
        alt: 'reps per status band',
      },
      table(
        [
          ['Status', false],
          ['Reps', true],
          ['Quota', true],
          ['Projected', true],
        ],
        list(o.distribution).map((x) => [
          words(str(x.status) ?? ''),
          str(x.reps) ?? '',
          money(x.quota),
          money(x.projected),
        ]),
      ),
    ],
  });
  const g = obj(o.gapAnalysis);
  const onTrack = obj(g.onTrack);
  const behind = obj(g.behind);
  out.push(
    figures('Gap analysis', [
      ['Team gap to 100%', money(g.gapToQuota, g.gapToQuotaReason)],
      ['Projected total', money(g.projected)],
      ['Projected gap', money(g.projectedGap, g.projectedGapReason)],
      ['Surplus (on track)', `${money(onTrack.surplus)} (${str(onTrack.reps)} reps)`],
      ['Gap (at risk or missing)', `${money(behind.gap)} (${str(behind.reps)} reps)`],
    ]),
  );
  const cov = obj(o.coverageTable);
  const covRow = (name: string, x: Obj) => [
    name,
    money(x.remaining, x.remainingReason),
    money(x.open),
    str(x.openDeals) ?? '',
    x.coverage == null ? na(x.coverageReason) : times(x.coverage),
    x.coverageBand == null ? '' : words(str(x.coverageBand) ?? ''),
  ];
  out.push({
    heading: 'Pipeline coverage',
    blocks: [
      table(
        [
          ['Rep', false],
          ['Remaining', true],
          ['Open pipeline', true],
          ['Deals', true],
          ['Coverage', true],
          ['Band', false],
        ],
        [...list(cov.reps).map((x) => covRow(repName(x), x)), covRow('Team', obj(cov.total))],
      ),
    ],
  });
  const act = obj(o.activityTable);
  const t = obj(act.targets);
  const actRow = (name: string, x: Obj) => [
    name,
    str(x.calls) ?? '',
    str(x.meetings) ?? '',
    str(x.emails) ?? '',
    str(x.tasks) ?? '',
    x.score == null ? na(x.scoreReason) : (str(x.score) ?? ''),
  ];
  const target = (v: Json | undefined) => str(v) ?? '-';
  out.push({
    heading: `Activity against targets (${str(act.window)})`,
    blocks: [
      table(
        [
          ['Rep', false],
          ['Calls', true],
          ['Meetings', true],
          ['Emails', true],
          ['Tasks', true],
          ['Score', true],
        ],
        [
          ['Target per rep', target(t.call), target(t.meeting), target(t.email), target(t.task), target(t.score)],
          ...list(act.reps).map((x) => actRow(repName(x), x)),
          actRow('Team', obj(act.total)),
        ],
      ),
    ],
  });
  const sc = obj(o.scenarios);
  out.push({
    heading: 'Scenarios',
    blocks: [
      table(
        [
          ['Scenario', false],
          ['Forecast', false],
          ['Total', true],
          ['Attainment', true],
          ['Gap to quota', true],
        ],
        (
          [
            ['Best', 'P90', 'best'],
            ['Base', 'P50', 'base'],
            ['Worst', 'P10', 'worst'],
          ] as const
        ).map(([label, q, k]) => {
          const x = obj(sc[k]);
          return [label, q, money(x.total), pct(x.attainment, x.attainmentReason), money(x.gap, x.gapReason)];
        }),
      ),
    ],
  });
  return out;
}

/**
 * The column of a leaderboard's ranked metric where the entries' usual columns (attainment, actual, quota,
 * projected) do not show it, and why an entry is not ranked by it.
 */
export function leaderboardMetric(by: Json | undefined): {
  /** `field`: the entries' JSON field holding the metric (the CSV's column name). */
  column: { heading: string; field: string; value: (x: Obj) => string } | null;
  reasonOf: (x: Obj) => Json | undefined;
} {
  switch (by) {
    case 'pipeline-coverage':
      return {
        column: {
          heading: 'Coverage',
          field: 'coverage',
          value: (x) => (x.coverage == null ? na(x.coverageReason) : times(x.coverage)),
        },
        reasonOf: (x) => x.coverageReason,
      };
    case 'activity-score':
      return {
        column: {
          heading: 'Activity score',
          field: 'activityScore',
          value: (x) => (x.activityScore == null ? na(x.activityScoreReason) : (str(x.activityScore) ?? '')),
        },
        reasonOf: (x) => x.activityScoreReason,
      };
    case 'activities':
      return {
        column: { heading: 'Activities', field: 'activities', value: (x) => str(x.activities) ?? '' },
        reasonOf: () => undefined,
      };
    case 'projected-attainment':
      return { column: null, reasonOf: (x) => x.projectedAttainmentReason };
    default:
      return { column: null, reasonOf: (x) => x.attainmentReason };
  }
}

function leaderboardLayout(o: Obj): Layout {
  const metric = leaderboardMetric(o.by);
  const { ranked, notes } = withoutQuota(list(o.entries), (x) => x.rank != null, metric.reasonOf);
  const column = metric.column;
  const rows = ranked.map((x) => {
    const s = obj(x.subject);
    return [
      `#${str(x.rank)}`,
      str(s.name) ?? '',
      str(s.team) ?? '',
      ...(column ? [column.value(x)] : []),
      pct(x.attainment, x.attainmentReason),
      money(x.actual),
      money(x.quota, x.quotaReason),
      pct(x.projectedAttainment, x.projectedAttainmentReason),
      status(x.status, na(x.statusReason)),
    ];
  });
  return {
    title: `Leaderboard by ${str(o.by)} - ${str(obj(o.scope).name)}, ${str(obj(o.period).id)} as of ${str(o.asOf)}`,
    context: null,
    sections: [
      {
        heading: 'Ranking',
        blocks: [
          table(
            [
              ['Rank', true],
              ['Name', false],
              ['Team', false],
              ...(column ? ([[column.heading, true]] as [string, boolean][]) : []),
              ['Attainment', true],
              ['Actual', true],
              ['Quota', true],
              ['Projected', true],
              ['Status', false],
            ],
            rows,
          ),
          ...notes.map(paragraph),
        ],
      },
    ],
  };
}

/** A trends period's label: the current period is marked as to date. */
function trendPeriod(x: Obj): string {
  return `${str(x.period) ?? ''}${x.partial === true ? ' (to date)' : ''}`;
}

/** `FY2026-Q3 101.17%, FY2026-Q4 87.00%` of a consistent performer. */
function trendAttainments(x: Obj): string {
  return list(x.attainments)
    .map((a) => `${str(a.period) ?? ''} ${pct(a.attainment)}`)
    .join(', ');
}

function trendsLayout(o: Obj): Layout {
  const series = Array.isArray(o.series) ? list(o.series) : [{ scope: o.scope, periods: o.periods ?? [] }];
  const periods = list(series[0]?.periods);
  const first = str(periods[0]?.period);
  const last = str(periods[periods.length - 1]?.period);
  const span = first === null ? '' : first === last ? `, ${first}` : `, ${first} to ${last}`;
  const by = str(o.by);
  const many = series.length > 1;
  const anyPartial = periods.some((x) => x.partial === true);
  const sections: Section[] = [];
  // A period without a quota shows a dash: "n/a (no quota)" in two columns said the same thing twice.
  const rows = series.flatMap((s) =>
    list(s.periods).map((x) => [
      ...(many ? [str(obj(s.scope).name) ?? ''] : []),
      trendPeriod(x),
      x.quota == null ? '-' : money(x.quota),
      money(x.actual),
      x.attainment == null ? 'no quota' : pct(x.attainment),
      x.qoq == null ? '-' : points(x.qoq),
      x.yoy == null ? '-' : points(x.yoy),
      ...(anyPartial
        ? [
            x.partial === true ? money(x.projectedActual) : '',
            x.partial === true ? pct(x.projectedAttainment, x.projectedAttainmentReason) : '',
          ]
        : []),
    ]),
  );
  sections.push({
    heading: 'Attainment by period',
    blocks: [
      ...(anyPartial
        ? [paragraph('The period to date is partial: its QoQ and YoY compare its projected attainment.')]
        : []),
      table(
        [
          ...(many
            ? ([[by === null ? 'Scope' : words(by).replace(/^./, (c) => c.toUpperCase()), false]] as [
                string,
                boolean,
              ][])
            : []),
          ['Period', false],
          ['Quota', true],
          ['Actual', true],
          ['Attainment', true],
          ['QoQ', true],
          ['YoY', true],
          ...(anyPartial
            ? ([
                ['Projected actual', true],
                ['Projected', true],
              ] as [string, boolean][])
            : []),
        ],
        rows,
      ),
      ...(series.some((s) => s.attainmentBasis === 'scope_quota')
        ? [
            paragraph(
              `A ${words(by ?? 'part').replace('-', ' ')} without a quota of its own: its attainment is its actual over ${str(obj(o.scope).name) ?? 'the scope'}'s quota.`,
            ),
          ]
        : []),
    ],
  });
  if (many)
    sections.push({
      heading: 'Side by side',
      blocks: [
        table(
          [
            [by === null ? 'Scope' : words(by).replace(/^./, (c) => c.toUpperCase()), false],
            ...periods.map((p): [string, boolean] => [trendPeriod(p), true]),
          ],
          series.map((s) => [
            str(obj(s.scope).name) ?? '',
            ...list(s.periods).map((x) => (x.attainment == null ? '-' : pct(x.attainment))),
          ]),
        ),
      ],
    });
  if (o.consistency !== undefined) {
    const c = obj(o.consistency);
    const ids = Array.isArray(c.periods) ? c.periods.map((p) => str(p) ?? '') : [];
    const lines = (label: string, xs: Obj[]) =>
      xs.map((x) => [
        label,
        str(obj(x.rep).name) ?? '',
        str(obj(x.rep).team) ?? '',
        pct(x.mean),
        points(x.spread).replace(/^\+/, ''),
        trendAttainments(x),
      ]);
    const all = [...lines('top', list(c.top)), ...lines('bottom', list(c.bottom))];
    sections.push({
      heading: 'Consistent performers',
      blocks: [
        paragraph(
          ids.length < 2
            ? 'Needs two complete periods shown.'
            : `Over ${ids.join(', ')}: a quota in each, a spread of at most ${points(c.spreadAtMost).replace(/^\+/, '')}, mean attainment at least ${pct(c.topMeanAtLeast)} (top) or below ${pct(c.bottomMeanBelow)} (bottom), lowest spread first.`,
        ),
        ...(ids.length < 2
          ? []
          : all.length === 0
            ? [paragraph('none')]
            : [
                table(
                  [
                    ['List', false],
                    ['Rep', false],
                    ['Team', false],
                    ['Mean', true],
                    ['Spread', true],
                    ['Attainment by period', false],
                  ],
                  all,
                ),
              ]),
      ],
    });
  }
  return {
    title: `Trends - ${str(obj(o.scope).name)}${by === null ? '' : ` by ${words(by).replace('-', ' ')}`}${span} as of ${str(o.asOf)}, in ${str(o.currency)}`,
    context: null,
    sections,
  };
}

function alertsLayout(o: Obj): Layout {
  const alerts = list(o.alerts);
  return {
    title: `Alerts - ${str(obj(o.period).id)} as of ${str(o.asOf)}`,
    context: null,
    sections: [
      {
        heading: 'Open alerts',
        blocks:
          alerts.length === 0
            ? [paragraph('none')]
            : [
                table(
                  [
                    ['Severity', false],
                    ['Rule', false],
                    ['Name', false],
                    ['Status', false],
                    ['Message', false],
                  ],
                  alerts.map((x) => [
                    str(x.severity) ?? '',
                    str(x.rule) ?? '',
                    str(obj(x.subject).name) ?? '',
                    x.heldBack === true
                      ? `${str(x.status) ?? ''}, task held back to ${str(x.taskGoesOutOn) ?? ''}`
                      : (str(x.status) ?? ''),
                    str(x.message) ?? '',
                  ]),
                ),
              ],
      },
    ],
  };
}

function repAlertsSection(o: Obj): Section | null {
  const columns: Array<[string, boolean]> = [
    ['Severity', false],
    ['Rule', false],
    ['Rep', false],
    ['Message', false],
  ];
  const rows = (alerts: Obj[]) =>
    alerts.map((x) => [str(x.severity) ?? '', str(x.rule) ?? '', str(obj(x.rep).name) ?? '', str(x.message) ?? '']);
  if (Array.isArray(o.alerts)) {
    const alerts = list(o.alerts);
    return { heading: 'Alerts', blocks: alerts.length === 0 ? [paragraph('none')] : [table(columns, rows(alerts))] };
  }
  if (o.alertCounts === undefined) return null;
  const counts = obj(o.alertCounts);
  const sev = obj(counts.bySeverity);
  const byRule = Object.entries(obj(counts.byRule)).map(([k, v]) => `${k} ${String(v)}`);
  const critical = list(o.criticalAlerts);
  return {
    heading: 'Alerts',
    blocks: [
      paragraph(
        `${String(sev.critical ?? 0)} critical, ${String(sev.warning ?? 0)} warning, ${String(sev.info ?? 0)} info${byRule.length > 0 ? ` (${byRule.join(', ')})` : ''}`,
      ),
      ...(critical.length > 0 ? [table(columns, rows(critical))] : []),
    ],
  };
}

/** A subject's `byProductLine` and `bySegment`: its actual per product line and segment, and the attainment of each. */
export function breakdownSections(o: Obj): Section[] {
  const out: Section[] = [];
  const lines = list(o.byProductLine);
  if (o.byProductLine !== undefined)
    out.push({
      heading: 'By product line',
      blocks:
        lines.length === 0
          ? [paragraph('no won deals in the period')]
          : [
              table(
                [
                  ['Product line', false],
                  ['Quota', true],
                  ['Actual', true],
                  ['Deals', true],
                  ['Share of actual', true],
                  ['Attainment', true],
                ],
                lines.map((x) => [
                  str(x.productLine) ?? '',
                  x.quota == null ? '-' : money(x.quota),
                  money(x.actual),
                  str(x.deals) ?? '',
                  pct(x.shareOfActual, 'no_actual'),
                  `${pct(x.attainment, x.attainmentReason)}${x.attainmentBasis === 'subject_quota' && x.attainment != null ? ' of the quota' : ''}`,
                ]),
              ),
              ...(lines.some((x) => x.attainmentBasis === 'subject_quota')
                ? [paragraph('A line without a quota of its own: its attainment is its actual over the whole quota.')]
                : []),
            ],
    });
  const segments = list(o.bySegment);
  if (o.bySegment !== undefined)
    out.push({
      heading: 'By segment',
      blocks:
        segments.length === 0
          ? [paragraph('no won deals in the period')]
          : [
              table(
                [
                  ['Segment', false],
                  ['Actual', true],
                  ['Deals', true],
                  ['Share of actual', true],
                  ['Attainment', true],
                ],
                segments.map((x) => [
                  str(x.segment) ?? '',
                  money(x.actual),
                  str(x.deals) ?? '',
                  pct(x.shareOfActual, 'no_actual'),
                  pct(x.attainment, x.attainmentReason),
                ]),
              ),
              paragraph(
                "A segment's attainment is its actual over the whole quota: the segments' add up to the total.",
              ),
            ],
    });
  return out;
}

/** The layout of any report document. */
export function reportLayout(kind: string, d: JsonObject): Layout {
  const o = d as Obj;
  const forecast = forecastKindLayout(kind, o);
  if (forecast) return forecast;
  if (kind === 'leaderboard') return leaderboardLayout(o);
  if (kind === 'trends') return trendsLayout(o);
  if (kind === 'alerts') return alertsLayout(o);
  if (kind === 'rep') {
    const rep = subjectLayout(subjectDoc(d));
    rep.sections.push(...breakdownSections(o));
    return rep;
  }
  // team, region, org: the totals, then one row per team and per rep.
  const layout = subjectLayout(subjectDoc(o.totals));
  // The reps' alerts: a team lists them, a region or the org counts them and lists the critical ones.
  const at = layout.sections.findIndex((s) => s.heading === 'Alerts');
  const repAlerts = repAlertsSection(o);
  if (repAlerts && at >= 0) layout.sections[at] = repAlerts;
  const regions = subjectDocs(o.regions);
  if (regions.length > 0) layout.sections.push(membersSection('Regions', regions, []));
  const teams = subjectDocs(o.teams);
  if (teams.length > 0) layout.sections.push(membersSection('Teams', teams, []));
  const reps = withoutQuota(subjectDocs(o.reps), (r) => r.attainment != null);
  layout.sections.push(membersSection('Reps', reps.ranked, reps.notes));
  const leavers = subjectDocs(o.leavers);
  if (leavers.length > 0) layout.sections.push(leaversSection(leavers));
  layout.sections.push(...dashboardSections(o), ...breakdownSections(o));
  return layout;
}
