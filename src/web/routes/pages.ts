/**
 * The dashboard: server-rendered pages over the same report documents as `/api/v1/reports/*` (scopedReport, so a
 * page shows exactly what the viewer's token may read of `report ... --format json`, and answers 403 where the API
 * does). Every page takes `?period=` and `?asOf=`; the sign-in cookie and a Bearer token both work, and a browser
 * that is not signed in is sent to /login (app.ts). The layouts are the reports' own (src/reports/layout.ts), the
 * charts the reports' SVG (src/reports/charts.ts), each with its table beside it.
 *
 * - `/`: the org or region overview (what the viewer manages; a rep goes to their scorecard)
 * - `/teams/:team`: the team dashboard
 * - `/reps/:rep`: the rep scorecard (`?explain=true` adds the working behind each figure, `?explain=<figure>` that
 *   figure's beside the tiles, linked from each tile)
 * - `/leaderboard`: 50 a page (htmx swaps the board) by `?metric=`, the viewer's own row pinned on top
 * - `/trends`: scopes side by side over N periods, a line chart and the table
 * - `/alerts`: open alerts of the period by team, counts by rule and severity
 * - `/operator` (admin): each connection's last sync, cursor age, errors and quarantined records
 */
import { AppError, isAppError } from '../../errors.ts';
import type { Json, JsonObject } from '../../metrics/document.ts';
import type { MetricsModel } from '../../metrics/engine/model.ts';
import { membershipOn } from '../../metrics/math/rollup.ts';
import { bandColour, histogramSvg, trendLinesSvg } from '../../reports/charts.ts';
import { list, money, na, type Obj, obj, pct, str, times, words } from '../../reports/format.ts';
import { toneOf as reportTone } from '../../reports/html.ts';
import {
  breakdownSections,
  figureSections,
  figureWorking,
  leaderboardMetric,
  membersSection,
  reportLayout,
  type Section,
  type SubjectDoc,
  subjectDoc,
  subjectDocs,
  withoutQuota,
} from '../../reports/layout.ts';
import {
  LEADERBOARD_METRICS,
  type LeaderboardMetric,
  parseLeaderboardMetric,
} from '../../reports/leaderboard-options.ts';
import { type ReportRequest, resolveRequest } from '../../reports/report.ts';
import { parseTrendBy, parseTrendPeriods } from '../../reports/trends.ts';
import { isPlainDate } from '../../util/date.ts';
import type { OperatorSources } from '../operator.ts';
import { operatorStatus } from '../operator.ts';
import { assetRoutes } from '../pages/assets.ts';
import {
  block,
  card,
  errorPage,
  h,
  type Markup,
  type NavItem,
  shell,
  type Tile,
  table,
  tiles,
  trusted,
} from '../pages/markup.ts';
import type { RouteModule, WebContext } from '../policy.ts';
import { reachOf } from '../reach.ts';
import type { Principal } from '../tokens.ts';
import { readerOf, scopedReport } from './reports.ts';

/** Rows a leaderboard page shows. */
export const LEADERBOARD_PAGE_SIZE = 50;
/** Alerts the alerts page lists without a team chosen (the critical ones first). */
const ALERTS_SHOWN = 100;

interface When {
  period?: string;
  asOf?: string;
}

function one(c: WebContext, name: string): string | undefined {
  const v = c.req.query(name);
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function whenOf(c: WebContext): When {
  const asOf = one(c, 'asOf');
  if (asOf !== undefined && !isPlainDate(asOf))
    throw new AppError('USAGE', `asOf must be a date as YYYY-MM-DD, got "${asOf}"`, { where: 'asOf' });
  const period = one(c, 'period');
  return { ...(period ? { period } : {}), ...(asOf ? { asOf } : {}) };
}

/** `?period=...&asOf=...` to carry the viewer's date across links. */
function carry(when: When, extra: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...extra, period: when.period, asOf: when.asOf })) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

function principalOf(c: WebContext): Principal {
  return c.var.principal as Principal;
}

function navFor(p: Principal, when: When): NavItem[] {
  const q = carry(when);
  const items: NavItem[] = [];
  if (p.role !== 'rep') items.push({ href: `/${q}`, label: 'Overview' });
  if (p.subjectEmail && p.role === 'rep')
    items.push({ href: `/reps/${encodeURIComponent(p.subjectEmail)}${q}`, label: 'My scorecard' });
  items.push({ href: `/leaderboard${q}`, label: 'Leaderboard' });
  if (p.role !== 'rep') items.push({ href: `/trends${q}`, label: 'Trends' });
  items.push({ href: `/alerts${q}`, label: 'Alerts' });
  if (p.role === 'admin') items.push({ href: '/operator', label: 'Operator' });
  return items;
}

function whoOf(p: Principal): string {
  return p.subjectEmail ? `${p.subjectEmail} (${p.role})` : p.role;
}

/**
 * The read model's stamp, read once per page: every document of a page is of the same moment, and an overview that
 * reads the org, each region and the alerts asks the database for it once, not once a document.
 */
const stamps = new WeakMap<WebContext, Promise<string>>();
function stampOf(c: WebContext): Promise<string> {
  let s = stamps.get(c);
  if (!s) {
    s = readerOf(c).stamp();
    stamps.set(c, s);
  }
  return s;
}

async function read(c: WebContext, req: ReportRequest): Promise<JsonObject> {
  return (await scopedReport(readerOf(c), principalOf(c), req, c.var.db, await stampOf(c))).doc;
}

/**
 * What a page works out from a report document, kept with the document: while its stamp holds, the read model
 * hands every request the same document object, so an overview of 500 teams or an alerts page of 16,784 alerts is
 * laid out once a stamp, not once a request. A document cut down to one viewer's reach is a new object each
 * request, worked out anew; a new stamp builds a new document, and what was kept with the old one goes with it.
 */
const derived = new WeakMap<object, Map<string, unknown>>();
function once<T>(doc: object, key: string, make: () => T): T {
  let kept = derived.get(doc);
  if (!kept) {
    kept = new Map();
    derived.set(doc, kept);
  }
  if (kept.has(key)) return kept.get(key) as T;
  const value = make();
  kept.set(key, value);
  return value;
}

/** The model a request is read from (cached by the read model), for who is in which team and what one manages. */
async function modelOf(c: WebContext, req: ReportRequest): Promise<MetricsModel> {
  const reader = readerOf(c);
  const resolved = resolveRequest(reader.engine, req);
  return reader.model(resolved, await stampOf(c));
}

interface PageBody {
  title: string;
  context?: string | null;
  body: Markup;
  filters?: Record<string, string> | false;
  /** The period and date the document is for, shown in the filter when the URL names none. */
  shown?: { period: string; asOf: string };
}

/**
 * Runs a page: its HTML, or an error page with the error's status (403 out of scope, 404, 400) and its sentence.
 * A fragment request from htmx (`HX-Request`) may answer a Response of its own.
 */
async function page(c: WebContext, current: string, make: (when: When) => Promise<PageBody | Response>) {
  const p = principalOf(c);
  let when: When = {};
  try {
    when = whenOf(c);
    const out = await make(when);
    if (out instanceof Response) return out;
    const doc = out;
    return c.html(
      shell({
        title: doc.title,
        context: doc.context ?? null,
        nav: navFor(p, when),
        current,
        who: whoOf(p),
        filters:
          doc.filters === false
            ? null
            : {
                action: new URL(c.req.url).pathname,
                period: when.period ?? doc.shown?.period ?? '',
                asOf: when.asOf ?? doc.shown?.asOf ?? '',
                hidden: doc.filters ?? {},
              },
        body: doc.body,
      }),
    );
  } catch (e) {
    if (!isAppError(e) || e.httpStatus >= 500) throw e;
    const status = e.httpStatus as 400 | 403 | 404 | 409 | 422;
    const title = status === 403 ? 'Not yours to see' : status === 404 ? 'Not found' : 'Cannot show this page';
    return c.html(errorPage(title, e.toUserString(), navFor(p, when), whoOf(p)), status);
  }
}

function shownOf(doc: JsonObject): { period: string; asOf: string } {
  return { period: str(obj(doc.period).id) ?? '', asOf: str(doc.asOf) ?? '' };
}

/** The headline figures of a subject document as tiles. */
/** The scorecard's tiles' figures in the `--explain` working. */
const TILE_FIGURES: Record<string, string> = {
  attainment: 'attainment',
  projectedAttainment: 'projectedAttainment',
  paceVariancePct: 'paceVariancePct',
  probabilityToHitQuota: 'forecast.probabilityToHitQuota',
  coverage: 'pipeline.coverage',
};

/**
 * The headline figures of a subject document as tiles; with `explain` (the rep scorecard), each tile whose figure
 * the working explains links to its working, and the one being explained is marked.
 */
function subjectTiles(d: SubjectDoc, explain?: { href: (figure: string) => string; shown: string | null }): Markup {
  const p = d.pipeline;
  const f = d.forecast;
  const list: Tile[] = [
    {
      key: 'attainment',
      label: 'Attainment',
      value: pct(d.attainment, d.attainmentReason),
      sub: `${money(d.actual)} of ${money(d.quota, d.quotaReason)}`,
      tone: d.status ? words(d.status) : '',
    },
    {
      key: 'projectedAttainment',
      label: 'Projected',
      value: pct(d.projectedAttainment, d.projectedAttainmentReason),
      sub: `${money(d.projectedTotal)} at period end`,
      tone: d.status ? words(d.status) : '',
    },
    {
      key: 'status',
      label: 'Status',
      value: d.status ? words(d.status) : na(d.statusReason),
    },
    {
      key: 'paceVariancePct',
      label: 'Pace',
      value: d.paceVariancePct == null ? na(d.paceVariancePctReason) : pct(d.paceVariancePct),
      sub: d.paceStatus ? `${d.paceStatus}, expected ${money(d.expectedToDate)}` : undefined,
      tone: d.paceStatus ?? '',
    },
    {
      key: 'probabilityToHitQuota',
      label: 'Chance to hit',
      value: pct(f.probabilityToHitQuota, f.probabilityToHitQuotaReason),
      sub: `P10 ${money(f.p10)} / P90 ${money(f.p90)}`,
      tone: '',
    },
    {
      key: 'coverage',
      label: 'Coverage',
      value: p.coverage == null ? na(p.coverageReason) : times(p.coverage),
      sub: `${money(p.open)} open in ${p.openDeals} deals`,
      tone: p.coverageBand ? words(p.coverageBand) : '',
    },
  ];
  if (explain)
    for (const t of list) {
      const figure = TILE_FIGURES[t.key];
      if (figure === undefined) continue;
      t.explain = explain.href(figure);
      t.explained = figure === explain.shown;
    }
  return tiles(list);
}

function periodLine(d: { period: { id: string }; asOf: string; currency?: string }): string {
  return `${d.period.id} as of ${d.asOf}${d.currency ? `, in ${d.currency}` : ''}`;
}

/** A section's heading without its parenthesised detail ("Activity against targets (2026-10-01..)"). */
const headingKey = (heading: string): string => heading.replace(/ \(.*\)$/, '');

function sectionsByHeading(layout: { sections: Section[] }): Map<string, Section> {
  return new Map(layout.sections.map((s) => [headingKey(s.heading), s]));
}

type CardOptions = Parameters<typeof card>[1];

/**
 * A layout's sections as cards: the `picks` first, in their order and with their options, then every other section
 * with the options `rest` gives it (null leaves it out).
 */
function cardsInOrder(
  layout: { sections: Section[] },
  picks: ReadonlyArray<readonly [heading: string, options?: CardOptions]>,
  rest: (heading: string) => CardOptions | null,
): Markup[] {
  const by = sectionsByHeading(layout);
  const out: Markup[] = [];
  const used = new Set<string>();
  for (const [heading, options] of picks) {
    const s = by.get(heading);
    if (!s) continue;
    used.add(heading);
    out.push(card(s, options));
  }
  for (const s of layout.sections) {
    const key = headingKey(s.heading);
    if (used.has(key)) continue;
    const options = rest(key);
    if (options !== null) out.push(card(s, options));
  }
  return out;
}

/** Attainment bins of 10% from 0 to 150% and one above, by status band: the histogram's data. */
export function attainmentBins(reps: readonly SubjectDoc[]): { label: string; byStatus: Record<string, number> }[] {
  const bins = Array.from({ length: 16 }, (_, i) => ({
    label: i === 15 ? '150%+' : `${i * 10}-${i * 10 + 10}%`,
    byStatus: {} as Record<string, number>,
  }));
  for (const r of reps) {
    if (r.attainment == null) continue;
    const i = Math.min(15, Math.max(0, Math.floor(Number(r.attainment) * 10)));
    const bin = bins[i] as (typeof bins)[number];
    const status = r.status ?? 'no_quota';
    bin.byStatus[status] = (bin.byStatus[status] ?? 0) + 1;
  }
  return bins;
}

function histogramCard(reps: readonly SubjectDoc[]): Markup {
  const bins = attainmentBins(reps);
  const statuses = [...new Set(bins.flatMap((b) => Object.keys(b.byStatus)))];
  const order = ['on_track', 'likely_to_hit', 'at_risk', 'likely_miss', 'significant_gap', 'major_gap', 'no_quota'];
  statuses.sort((a, b) => order.indexOf(a) - order.indexOf(b));
  const counted = bins.reduce((s, b) => s + Object.values(b.byStatus).reduce((x, n) => x + n, 0), 0);
  const rows = bins.map((b) => [
    b.label,
    String(Object.values(b.byStatus).reduce((x, n) => x + n, 0)),
    ...statuses.map((s) => String(b.byStatus[s] ?? 0)),
  ]);
  return h`<section class="card wide" id="s-attainment-distribution" aria-labelledby="s-attainment-distribution-h"><h2 id="s-attainment-distribution-h">Attainment distribution</h2>
<p>${counted} reps with a quota, in bins of 10% of attainment, coloured by status band.</p>
<div class="legend">${statuses.map((s) => h`<span style="--c:${bandColour(s)}">${words(s)}</span>`)}</div>
<div class="chart-pair"><figure class="chart">${trusted(histogramSvg(bins))}<figcaption>reps per attainment bin, by status band</figcaption></figure>
${table(
  [
    { heading: 'Attainment', numeric: false },
    { heading: 'Reps', numeric: true },
    ...statuses.map((s) => ({ heading: words(s), numeric: true })),
  ],
  rows,
)}</div></section>`;
}

/** Open alerts counted by rule (rows) and severity (columns). */
function alertCountsCard(alerts: readonly Obj[]): Markup {
  const severities = ['critical', 'warning', 'info'];
  const byRule = new Map<string, Record<string, number>>();
  for (const a of alerts) {
    const rule = str(a.rule) ?? '';
    const row = byRule.get(rule) ?? {};
    const sev = str(a.severity) ?? '';
    row[sev] = (row[sev] ?? 0) + 1;
    byRule.set(rule, row);
  }
  const rows = [...byRule]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([rule, n]) => [
      words(rule),
      ...severities.map((s) => String(n[s] ?? 0)),
      String(Object.values(n).reduce((x, y) => x + y, 0)),
    ]);
  const total = severities.map((s) => String(alerts.filter((a) => a.severity === s).length));
  return h`<section class="card" id="s-alert-counts" aria-labelledby="s-alert-counts-h"><h2 id="s-alert-counts-h">Open alerts by rule and severity</h2>
${
  rows.length === 0
    ? h`<p>No open alerts.</p>`
    : table(
        [
          { heading: 'Rule', numeric: false },
          ...severities.map((s) => ({ heading: s, numeric: true })),
          { heading: 'Total', numeric: true },
        ],
        [...rows, ['All rules', ...total, String(alerts.length)]],
        { sortable: true },
      )
}</section>`;
}

/** The units a manager manages at the top of their reach (those whose parent they do not also manage). */
function topUnits(model: MetricsModel, units: ReadonlySet<string>): { kind: string; name: string }[] {
  const out: { kind: string; name: string }[] = [];
  for (const id of units) {
    const u = model.data.units.get(id);
    if (!u || (u.parentId !== null && units.has(u.parentId))) continue;
    out.push({ kind: u.kind, name: u.name });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

function teamHref(name: string, when: When): string {
  return `/teams/${encodeURIComponent(name)}${carry(when)}`;
}

function repHref(email: string | null | undefined, when: When): string | null {
  return email ? `/reps/${encodeURIComponent(email)}${carry(when)}` : null;
}

/** The org or a region: tiles, regions and teams, the attainment histogram and the alert counts. */
async function overview(c: WebContext, when: When, scope: { kind: 'org' } | { kind: 'region'; name: string }) {
  const req: ReportRequest =
    scope.kind === 'org' ? { kind: 'org', ...when } : { kind: 'region', region: scope.name, ...when };
  const doc = await read(c, req);
  const alertsDoc = await read(c, { kind: 'alerts', ...when });
  const totals = subjectDoc(doc.totals);
  const model = scope.kind === 'region' ? await modelOf(c, { kind: 'alerts', ...when }) : null;
  const q = carry(when);
  // Only the sections the overview shows: a large org's report holds 5,000 reps and hundreds of critical alerts.
  const [before, after] = once(doc, `overview|${q}`, () => {
    const teams = subjectDocs(doc.teams);
    const regions = subjectDocs(doc.regions);
    const by = sectionsByHeading({
      sections: [
        ...figureSections(totals),
        ...(regions.length > 0 ? [membersSection('Regions', regions, [])] : []),
        ...(teams.length > 0 ? [membersSection('Teams', teams, [])] : []),
        ...breakdownSections(doc as Obj),
      ],
    });
    const top: Markup[] = [subjectTiles(totals)];
    // The org report's regions: each row is that region's report's totals.
    const regionSection = by.get('Regions');
    if (regionSection)
      top.push(
        card(regionSection, {
          sortable: true,
          wide: true,
          links: regions.map((r) => `/${carry(when, { region: r.subject.name })}`),
        }),
      );
    const teamSection = by.get('Teams');
    if (teamSection)
      top.push(
        card(teamSection, { sortable: true, wide: true, links: teams.map((t) => teamHref(t.subject.name, when)) }),
      );
    top.push(histogramCard(subjectDocs(doc.reps)));
    const bottom: Markup[] = [];
    for (const heading of ['Projection', 'Pipeline', 'By product line', 'By segment'])
      if (by.get(heading)) bottom.push(card(by.get(heading) as Section));
    return [h`${top}`, h`${bottom}`] as const;
  });
  const counts = once(alertsDoc, `counts|${scope.kind === 'region' ? scope.name : ''}`, () => {
    const regionTeams = new Set(subjectDocs(doc.teams).map((t) => t.subject.name));
    const alerts = list(alertsDoc.alerts).filter((a) => {
      if (!model) return true;
      const s = obj(a.subject);
      const m = membershipOn(model.memberships, String(s.id), model.asOf);
      return m ? regionTeams.has(model.data.units.get(m.teamId)?.name ?? '') : false;
    });
    return alertCountsCard(alerts);
  });
  return {
    title: scope.kind === 'org' ? `${totals.subject.name}: overview` : `Region ${totals.subject.name}`,
    context: `${periodLine(doc as unknown as SubjectDoc)}${totals.subject.manager ? `, manager ${totals.subject.manager}` : ''}`,
    body: h`${before}${counts}${after}`,
    filters: (scope.kind === 'region' ? { region: scope.name } : {}) as Record<string, string>,
    shown: shownOf(doc),
  };
}

/** The leaderboard's metrics as the page names them in its selector. */
const METRIC_LABELS: Record<LeaderboardMetric, string> = {
  attainment: 'Attainment',
  'projected-attainment': 'Projected attainment',
  actual: 'Actual (bookings)',
  'pipeline-coverage': 'Pipeline coverage',
  'activity-score': 'Activity score',
  activities: 'Activities',
};

function leaderboardBoard(
  doc: JsonObject,
  when: When,
  p: Principal,
  pageNo: number,
  scope: Record<string, string | undefined>,
): Markup {
  const entries = list(doc.entries);
  const metric = leaderboardMetric(doc.by);
  const { ranked, notes } = withoutQuota(entries, (x) => x.rank != null, metric.reasonOf);
  const pages = Math.max(1, Math.ceil(ranked.length / LEADERBOARD_PAGE_SIZE));
  const pageAt = Math.min(Math.max(1, pageNo), pages);
  const slice = ranked.slice((pageAt - 1) * LEADERBOARD_PAGE_SIZE, pageAt * LEADERBOARD_PAGE_SIZE);
  // Emails match whatever their case (a token's subject, the CRM's address); the viewer's row is pinned whether
  // or not this metric ranks them.
  const self = p.subjectEmail?.toLowerCase();
  const mine = self ? entries.find((e) => str(obj(e.subject).email)?.toLowerCase() === self) : undefined;
  type Column = { heading: string; numeric: boolean; sorts: boolean; value: (x: Obj) => string; tone?: boolean };
  const extra: Column[] = metric.column
    ? [{ heading: metric.column.heading, numeric: true, sorts: true, value: metric.column.value }]
    : [];
  const columns: Column[] = [
    { heading: 'Rank', numeric: true, sorts: true, value: (x) => (x.rank == null ? 'not ranked' : `#${str(x.rank)}`) },
    { heading: 'Name', numeric: false, sorts: false, value: (x) => str(obj(x.subject).name) ?? '' },
    { heading: 'Team', numeric: false, sorts: false, value: (x) => str(obj(x.subject).team) ?? '' },
    ...extra,
    {
      heading: 'Attainment',
      numeric: true,
      sorts: true,
      value: (x) => (x.attainment === undefined ? '' : pct(x.attainment, x.attainmentReason)),
    },
    { heading: 'Actual', numeric: true, sorts: true, value: (x) => (x.actual === undefined ? '' : money(x.actual)) },
    {
      heading: 'Quota',
      numeric: true,
      sorts: true,
      value: (x) => (x.quota === undefined ? '' : money(x.quota, x.quotaReason)),
    },
    {
      heading: 'Projected',
      numeric: true,
      sorts: true,
      value: (x) =>
        x.projectedAttainment === undefined ? '' : pct(x.projectedAttainment, x.projectedAttainmentReason),
    },
    {
      heading: 'Status',
      numeric: false,
      sorts: false,
      tone: true,
      value: (x) => (x.status === undefined ? '' : x.status === null ? na(x.statusReason) : words(str(x.status) ?? '')),
    },
  ];
  const row = (x: Obj, pinned: boolean) => {
    const href = repHref(str(obj(x.subject).email), when);
    return h`<tr${pinned ? h` class="pinned"` : ''} data-rank="${str(x.rank) ?? ''}">${columns.map((col, i) => {
      const v = col.value(x);
      return i === 1 && href
        ? h`<td><a href="${href}">${v}</a>${pinned ? ' (you)' : ''}</td>`
        : h`<td class="${[col.numeric ? 'num' : '', col.tone ? toneFor(v) : ''].filter(Boolean).join(' ')}">${v}</td>`;
    })}</tr>`;
  };
  const by = str(doc.by) ?? 'attainment';
  const metricParam = by === 'attainment' ? undefined : by;
  const link = (n: number, label: string) => {
    const href = `/leaderboard${carry(when, { ...scope, metric: metricParam, page: String(n) })}`;
    return n < 1 || n > pages || n === pageAt
      ? h`<span aria-disabled="true">${label}</span>`
      : h`<a href="${href}" hx-get="${href}" hx-target="#board" hx-swap="outerHTML" hx-push-url="true" rel="${n < pageAt ? 'prev' : 'next'}">${label}</a>`;
  };
  const label = METRIC_LABELS[by as LeaderboardMetric] ?? by;
  return h`<section class="card wide" id="board" aria-labelledby="board-h" data-metric="${by}"><h2 id="board-h">Ranking by ${label.toLowerCase()}, page ${pageAt} of ${pages}</h2>
<div class="table-wrap"><table class="sortable"><thead><tr>${columns.map(
    (col) =>
      h`<th scope="col" class="${col.numeric ? 'num' : ''}" aria-sort="none"><button type="button" class="sort" data-numeric="${col.numeric && col.sorts ? '1' : '0'}">${col.heading}</button></th>`,
  )}</tr>
${mine ? row(mine, true) : ''}</thead>
<tbody>${slice.map((x) => row(x, false))}</tbody></table></div>
<nav class="pager" aria-label="Leaderboard pages">${link(pageAt - 1, 'Previous')}<span>${`${(pageAt - 1) * LEADERBOARD_PAGE_SIZE + (slice.length ? 1 : 0)}-${(pageAt - 1) * LEADERBOARD_PAGE_SIZE + slice.length} of ${ranked.length}`}</span>${link(pageAt + 1, 'Next')}</nav>
${notes.map((n) => h`<p>${n}</p>`)}</section>`;
}

/** The leaderboard's "Ranked by" choice: a plain GET form that keeps the scope, period and date. */
function metricForm(by: string, when: When, scope: Record<string, string | undefined>): Markup {
  const keep = { ...scope, period: when.period, asOf: when.asOf };
  return h`<section class="card wide" aria-label="Ranking"><form class="filters" method="get" action="/leaderboard">${Object.entries(
    keep,
  )
    .filter((e): e is [string, string] => !!e[1])
    .map(([k, v]) => h`<input type="hidden" name="${k}" value="${v}">`)}
<label>Ranked by <select name="metric">${LEADERBOARD_METRICS.map(
    (m) => h`<option value="${m}"${m === by ? h` selected` : ''}>${METRIC_LABELS[m]}</option>`,
  )}</select></label><button type="submit">Rank</button></form></section>`;
}

function toneFor(text: string): string {
  const t = reportTone(text);
  return t ? `tone-${t}` : '';
}

/** Cells of a trend series: attainment per period as a ratio, null where there is none. */
function trendSeries(doc: JsonObject): { periods: string[]; series: { name: string; values: (number | null)[] }[] } {
  const periods = list(doc.periods).map((x) => str(x.period) ?? '');
  const raw = list(doc.series);
  const series = (raw.length > 0 ? raw : [{ scope: doc.scope, periods: doc.periods }]).map((s) => {
    const byPeriod = new Map(list(s.periods).map((x) => [str(x.period) ?? '', x]));
    return {
      name: str(obj(s.scope).name) ?? '',
      values: periods.map((id) => {
        const v = str(byPeriod.get(id)?.attainment);
        return v === null ? null : Number(v);
      }),
    };
  });
  return { periods, series };
}

export function pageRoutes(sources: OperatorSources): RouteModule {
  return (r) => {
    assetRoutes(r);

    r.route({
      method: 'GET',
      path: '/',
      policy: 'rep',
      doc: {
        summary:
          'The overview (HTML): the org, or the region a manager manages, by region and team, the attainment histogram and alert counts; a rep is sent to their scorecard. Query: period, asOf, region.',
        produces: 'text/html',
      },
      handler: (c) =>
        page(c, '/', async (when) => {
          const p = principalOf(c);
          const region = one(c, 'region');
          if (region !== undefined) return overview(c, when, { kind: 'region', name: region });
          if (p.role === 'admin') return overview(c, when, { kind: 'org' });
          const model = await modelOf(c, { kind: 'leaderboard', ...when });
          const reach = await reachOf(c.var.db, model, p);
          const tops = topUnits(model, reach.units);
          const only = tops.length === 1 ? tops[0] : undefined;
          if (only?.kind === 'org') return overview(c, when, { kind: 'org' });
          if (only?.kind === 'region') return overview(c, when, { kind: 'region', name: only.name });
          if (only?.kind === 'team') return c.redirect(teamHref(only.name, when), 303);
          if (tops.length === 0) {
            if (p.subjectEmail) return c.redirect(repHref(p.subjectEmail, when) as string, 303);
            return c.redirect(`/leaderboard${carry(when)}`, 303);
          }
          return {
            title: 'What you manage',
            context: `${model.asOf}`,
            body: h`<section class="card wide"><ul>${tops.map(
              (u) =>
                h`<li><a href="${u.kind === 'team' ? teamHref(u.name, when) : `/${carry(when, { region: u.name })}`}">${u.kind} ${u.name}</a></li>`,
            )}</ul></section>`,
          };
        }),
    });

    r.route({
      method: 'GET',
      path: '/teams/:team',
      policy: 'rep',
      doc: {
        summary:
          'The team dashboard (HTML): summary, burn-up, the sortable rep table, coverage, activity, gap analysis and open alerts (`report team`). Query: period, asOf.',
        produces: 'text/html',
      },
      handler: (c) =>
        page(c, '/teams', async (when) => {
          const name = c.req.param('team') ?? '';
          const doc = await read(c, { kind: 'team', team: name, ...when });
          const totals = subjectDoc(doc.totals);
          const layout = reportLayout('team', doc);
          const reps = withoutQuota(subjectDocs(doc.reps), (x) => x.attainment != null).ranked;
          const parts: Markup[] = [
            subjectTiles(totals),
            ...cardsInOrder(
              layout,
              [
                ['Pacing burn-up', { wide: true }],
                ['Reps', { sortable: true, wide: true, links: reps.map((x) => repHref(x.subject.email, when)) }],
                ['Gap analysis'],
                ['Scenarios'],
                ['Status distribution', { wide: true }],
                ['Pipeline coverage', { sortable: true }],
                ['Activity against targets', { sortable: true }],
                ['Alerts', { sortable: true, wide: true }],
              ],
              (key) => (key === 'Working' ? null : {}),
            ),
          ];
          return {
            title: `Team ${totals.subject.name}`,
            context: `${periodLine(doc as unknown as SubjectDoc)}${totals.subject.region ? `, region ${totals.subject.region}` : ''}${totals.subject.manager ? `, manager ${totals.subject.manager}` : ''}`,
            body: h`${parts}`,
            shown: shownOf(doc),
          };
        }),
    });

    r.route({
      method: 'GET',
      path: '/reps/:rep',
      policy: 'rep',
      doc: {
        summary:
          "A rep's scorecard (HTML): figures, burn-up, the deals that close the gap, history, rank and commission (`report rep`). Query: period, asOf, explain (true for every figure's working, or one figure's key for its own).",
        produces: 'text/html',
      },
      handler: (c) =>
        page(c, '/reps', async (when) => {
          const rep = c.req.param('rep') ?? '';
          // `true`: every figure's working (the Working section); a figure's key: that figure's, beside the tiles.
          const asked = one(c, 'explain');
          // The yes/no spellings a link or a hand-typed URL may carry; anything else names a figure.
          const flag = asked?.toLowerCase();
          const explain = flag === 'true' || flag === '1' || flag === 'yes';
          const figure =
            asked !== undefined && !['true', 'false', '1', '0', 'yes', 'no', ''].includes(flag ?? '') ? asked : null;
          const doc = subjectDoc(await read(c, { kind: 'rep', rep, explain: explain || figure !== null, ...when }));
          const layout = reportLayout('rep', (figure ? { ...doc, explain: undefined } : doc) as unknown as JsonObject);
          const figureHref = (key: string) =>
            `/reps/${encodeURIComponent(rep)}${carry(when, { explain: key })}#explain`;
          let working: Markup = h``;
          if (figure !== null) {
            const lines = figureWorking(doc, figure);
            const known = Object.keys(obj(obj(doc.explain as unknown as Json).figures));
            if (lines === null)
              throw new AppError(
                'USAGE',
                `explain must be true or one of the scorecard's figures: ${known.join(', ')}; got "${figure}"`,
                { where: 'explain' },
              );
            working = h`<section class="card wide" id="explain" aria-labelledby="explain-h"><h2 id="explain-h">How ${figure} is worked out</h2>
${lines.map((b) => block(b))}
<details><summary>Explain another figure</summary><ul class="figure-list">${known.map(
              (k) => h`<li><a href="${figureHref(k)}"${k === figure ? h` aria-current="true"` : ''}>${k}</a></li>`,
            )}</ul></details>
<p><a href="/reps/${encodeURIComponent(rep)}${carry(when, { explain: 'true' })}#s-working">Every figure's working, with the deal table</a></p></section>`;
          }
          const parts: Markup[] = [
            subjectTiles(doc, { href: figureHref, shown: figure }),
            working,
            ...cardsInOrder(
              layout,
              [
                ['Pacing burn-up', { wide: true }],
                ['Deals that close the gap', { wide: true }],
                ['Ranking'],
                ['Projection'],
                ['History'],
                ['Summary'],
                ['Pacing'],
                ['Pipeline'],
              ],
              (key) => ({ wide: key === 'Working' }),
            ),
          ];
          const explainHref = `/reps/${encodeURIComponent(rep)}${carry(when, explain ? {} : { explain: 'true' })}`;
          return {
            title: doc.subject.name,
            context: `${periodLine(doc)}${doc.subject.team ? `, team ${doc.subject.team}` : ''}${doc.subject.manager ? `, manager ${doc.subject.manager}` : ''}`,
            body: h`${parts}<p class="card wide"><a href="${explainHref}">${explain ? 'Hide the working' : 'Explain every figure (the working behind each)'}</a></p>`,
            filters: (explain || figure ? { explain: figure ?? 'true' } : {}) as Record<string, string>,
            shown: shownOf(doc as unknown as JsonObject),
          };
        }),
    });

    r.route({
      method: 'GET',
      path: '/leaderboard',
      policy: 'rep',
      doc: {
        summary:
          'The leaderboard (HTML), 50 a page, ranked by a metric (`report leaderboard --metric`), the viewer pinned on top (`report leaderboard`). Query: period, asOf, team, region, metric, page; with HX-Request only the board.',
        produces: 'text/html',
      },
      handler: (c) =>
        page(c, '/leaderboard', async (when) => {
          const team = one(c, 'team');
          const region = one(c, 'region');
          const pageRaw = one(c, 'page') ?? '1';
          if (!/^[1-9][0-9]{0,5}$/.test(pageRaw))
            throw new AppError('USAGE', `page must be a whole number from 1, got "${pageRaw}"`, { where: 'page' });
          const metric = parseLeaderboardMetric(one(c, 'metric'), 'metric');
          const doc = await read(c, {
            kind: 'leaderboard',
            ...(team ? { team } : {}),
            ...(region ? { region } : {}),
            ...(metric ? { metric } : {}),
            ...when,
          });
          const scope = { team, region };
          const board = leaderboardBoard(doc, when, principalOf(c), Number(pageRaw), scope);
          if (c.req.header('hx-request') === 'true' && c.req.header('hx-target') === 'board') return c.html(board.html);
          const hidden: Record<string, string> = {};
          if (team) hidden.team = team;
          if (region) hidden.region = region;
          if (metric && metric !== 'attainment') hidden.metric = metric;
          return {
            title: `Leaderboard - ${str(obj(doc.scope).name) ?? ''}`,
            context: `${str(obj(doc.period).id) ?? ''} as of ${str(doc.asOf) ?? ''}`,
            body: h`${metricForm(str(doc.by) ?? 'attainment', when, scope)}${board}`,
            filters: hidden,
            shown: shownOf(doc),
          };
        }),
    });

    r.route({
      method: 'GET',
      path: '/trends',
      policy: 'rep',
      doc: {
        summary:
          'Trends (HTML): attainment over N periods, scopes side by side, as a line chart and a table (`report trends`). Query: period, asOf, team, region, rep, by, periods.',
        produces: 'text/html',
      },
      handler: (c) =>
        page(c, '/trends', async (when) => {
          const req: ReportRequest = { kind: 'trends', ...when };
          for (const k of ['team', 'region', 'rep'] as const) {
            const v = one(c, k);
            if (v) req[k] = v;
          }
          const by = parseTrendBy(one(c, 'by'), 'by');
          const n = parseTrendPeriods(one(c, 'periods'), 'periods');
          if (by) req.trendBy = by;
          if (n !== undefined) req.periods = n;
          const doc = await read(c, req);
          const layout = reportLayout('trends', doc);
          const { periods, series } = trendSeries(doc);
          const hidden: Record<string, string> = {};
          for (const k of ['team', 'region', 'rep', 'by', 'periods']) {
            const v = one(c, k);
            if (v) hidden[k] = v;
          }
          const chart = h`<section class="card wide" id="s-trend-chart" aria-labelledby="s-trend-chart-h"><h2 id="s-trend-chart-h">Attainment over ${periods.length} periods</h2>
<form class="filters" method="get" action="/trends">${Object.entries(hidden)
            .filter(([k]) => k !== 'by' && k !== 'periods')
            .map(([k, v]) => h`<input type="hidden" name="${k}" value="${v}">`)}
${when.period ? h`<input type="hidden" name="period" value="${when.period}">` : ''}${when.asOf ? h`<input type="hidden" name="asOf" value="${when.asOf}">` : ''}
<label>Side by side <select name="by"><option value="">none</option>${['region', 'team', 'segment', 'product-line'].map(
            (b) => h`<option value="${b}"${hidden.by === b ? h` selected` : ''}>${b}</option>`,
          )}</select></label>
<label>Periods <input name="periods" type="number" min="1" max="20" value="${hidden.periods ?? String(periods.length)}"></label><button type="submit">Show</button></form>
<div class="chart-pair"><figure class="chart">${trusted(trendLinesSvg(periods, series))}<figcaption>attainment per period; the dashed line is 100%</figcaption></figure></div></section>`;
          return {
            title: `Trends - ${str(obj(doc.scope).name) ?? ''}`,
            context: `${periods.length} periods to ${str(obj(doc.period).id) ?? ''}, as of ${str(doc.asOf) ?? ''}`,
            body: h`${chart}${layout.sections.map((s) => card(s, { wide: true, sortable: true }))}`,
            filters: hidden,
            shown: shownOf(doc),
          };
        }),
    });

    r.route({
      method: 'GET',
      path: '/alerts',
      policy: 'rep',
      doc: {
        summary:
          "Open alerts of the period (HTML): counts by rule and severity and by team, the critical ones or one team's (`report alerts`). Query: period, asOf, team.",
        produces: 'text/html',
      },
      handler: (c) =>
        page(c, '/alerts', async (when) => {
          const doc = await read(c, { kind: 'alerts', ...when });
          const model = await modelOf(c, { kind: 'alerts', ...when });
          const chosen = one(c, 'team');
          const alerts = list(doc.alerts);
          // Each alert's team, looked up once a document (16,784 membership look-ups at 5,000 reps).
          const { teamOf, byTeam, teams } = once(doc, 'by-team', () => {
            const teamOf = new Map<Obj, string>();
            for (const a of alerts) {
              const s = obj(a.subject);
              const id = String(s.id);
              if (s.type !== 'rep') teamOf.set(a, model.data.units.get(id)?.name ?? '');
              else {
                const m = membershipOn(model.memberships, id, model.asOf);
                teamOf.set(a, m ? (model.data.units.get(m.teamId)?.name ?? '') : '');
              }
            }
            const byTeam = new Map<string, Obj[]>();
            for (const a of alerts) {
              const t = teamOf.get(a) || 'No team';
              const rows = byTeam.get(t);
              if (rows) rows.push(a);
              else byTeam.set(t, [a]);
            }
            return { teamOf, byTeam, teams: [...byTeam].sort(([a], [b]) => (a < b ? -1 : 1)) };
          });
          const build = () => {
            // One team's alerts when one is chosen, else the critical ones of all: thousands of rows help no one.
            const shown = chosen
              ? (byTeam.get(chosen) ?? [])
              : alerts.filter((a) => a.severity === 'critical').slice(0, ALERTS_SHOWN);
            const severities = ['critical', 'warning', 'info'];
            const summary = card(
              {
                heading: 'By team',
                blocks: [
                  {
                    type: 'table',
                    columns: [
                      { heading: 'Team', numeric: false },
                      ...severities.map((x) => ({ heading: x, numeric: true })),
                      { heading: 'Total', numeric: true },
                    ],
                    rows: teams.map(([team, rows]) => {
                      const n: Record<string, number> = {};
                      for (const a of rows) n[str(a.severity) ?? ''] = (n[str(a.severity) ?? ''] ?? 0) + 1;
                      return [team, ...severities.map((x) => String(n[x] ?? 0)), String(rows.length)];
                    }),
                  },
                ],
              },
              { sortable: true, links: teams.map(([team]) => `/alerts${carry(when, { team })}`) },
            );
            const heading = chosen
              ? `${chosen}: ${shown.length} open`
              : `Critical alerts${shown.length === ALERTS_SHOWN ? ` (the first ${ALERTS_SHOWN}; choose a team for its own)` : ''}`;
            const detail = card(
              {
                heading,
                blocks:
                  shown.length === 0
                    ? [{ type: 'paragraph', text: 'none' }]
                    : [
                        {
                          type: 'table',
                          columns: [
                            { heading: 'Name', numeric: false },
                            { heading: 'Team', numeric: false },
                            { heading: 'Severity', numeric: false },
                            { heading: 'Rule', numeric: false },
                            { heading: 'Status', numeric: false },
                            { heading: 'Message', numeric: false },
                          ],
                          rows: shown.map((x) => [
                            str(obj(x.subject).name) ?? '',
                            teamOf.get(x) ?? '',
                            str(x.severity) ?? '',
                            words(str(x.rule) ?? ''),
                            x.heldBack === true
                              ? `${str(x.status) ?? ''}, task held back to ${str(x.taskGoesOutOn) ?? ''}`
                              : (str(x.status) ?? ''),
                            str(x.message) ?? '',
                          ]),
                        },
                      ],
              },
              { sortable: true, wide: true },
            );
            return h`${alertCountsCard(chosen ? shown : alerts)}${summary}${detail}`;
          };
          // Cached per document for a team that exists (or none chosen) only: a ?team= naming no team would
          // otherwise keep a copy per spelling until the stamp moves.
          const cards =
            chosen && !byTeam.has(chosen) ? build() : once(doc, `cards|${carry(when)}|${chosen ?? ''}`, build);
          return {
            title: chosen ? `Alerts - ${chosen}` : 'Alerts',
            context: `${alerts.length} open in ${str(obj(doc.period).id) ?? ''} as of ${str(doc.asOf) ?? ''}`,
            body: cards,
            filters: (chosen ? { team: chosen } : {}) as Record<string, string>,
            shown: shownOf(doc),
          };
        }),
    });

    r.route({
      method: 'GET',
      path: '/operator',
      // Checked in the page, so a manager or rep who follows a link is shown the 403 as a page too.
      policy: 'rep',
      doc: {
        summary:
          "The operators' status view (HTML): each connection's last sync per stream, cursor age, errors and quarantined records (`/api/v1/status`).",
        produces: 'text/html',
      },
      handler: (c) =>
        page(c, '/operator', async () => {
          const p = principalOf(c);
          if (p.role !== 'admin')
            throw new AppError(
              'AUTH_FORBIDDEN',
              `the operator view needs an admin token; this token's role is ${p.role}`,
            );
          const s = await operatorStatus(sources);
          const age = (sec: number | null) =>
            sec === null
              ? 'n/a'
              : sec < 120
                ? `${Math.round(sec)} s`
                : sec < 7200
                  ? `${Math.round(sec / 60)} min`
                  : `${(sec / 3600).toFixed(1)} h`;
          const parts: Markup[] = [
            tiles([
              { key: 'connections', label: 'Connections', value: String(s.connections.length), tone: '' },
              {
                key: 'failing',
                label: 'Streams failing',
                value: String(s.connections.flatMap((x) => x.streams).filter((x) => x.error !== null).length),
                tone: '',
              },
              {
                key: 'quarantined',
                label: 'Quarantined',
                value: String(s.connections.reduce((n, x) => n + x.quarantine.open, 0)),
                tone: '',
              },
              { key: 'schema', label: 'Schema', value: s.schema.version ?? 'none', tone: '' },
            ]),
          ];
          for (const conn of s.connections) {
            parts.push(
              card(
                {
                  heading: `Connection ${conn.id} (${conn.kind}${conn.configured ? '' : ', not in the config'})`,
                  blocks: [
                    {
                      type: 'table',
                      columns: [
                        { heading: 'Stream', numeric: false },
                        { heading: 'Last sync', numeric: false },
                        { heading: 'Status', numeric: false },
                        { heading: 'Read', numeric: true },
                        { heading: 'Changed', numeric: true },
                        { heading: 'Cursor age', numeric: true },
                        { heading: 'Error', numeric: false },
                      ],
                      rows: conn.streams.map((x) => [
                        x.stream,
                        x.finishedAt ?? x.startedAt,
                        x.status,
                        String(x.recordsRead),
                        String(x.recordsChanged),
                        age(x.cursorAgeSeconds),
                        x.error ? `${x.error.code ?? ''} ${x.error.message ?? ''}`.trim() : '',
                      ]),
                    },
                    {
                      type: 'figures',
                      rows: [
                        ['API calls today', String(conn.apiUsageToday.calls)],
                        [
                          'Budget left',
                          conn.apiUsageToday.budgetLeft === null ? 'n/a' : String(conn.apiUsageToday.budgetLeft),
                        ],
                        ['Quarantined records', String(conn.quarantine.open)],
                      ],
                    },
                    ...(conn.quarantine.reasons.length === 0
                      ? []
                      : [
                          {
                            type: 'table' as const,
                            columns: [
                              { heading: 'Stream', numeric: false },
                              { heading: 'Reason', numeric: false },
                              { heading: 'Records', numeric: true },
                              { heading: 'Example', numeric: false },
                            ],
                            rows: conn.quarantine.reasons.map((q) => [
                              q.stream,
                              q.reasonCode,
                              String(q.count),
                              q.example,
                            ]),
                          },
                        ]),
                  ],
                },
                { wide: true },
              ),
            );
          }
          if (s.connections.length === 0)
            parts.push(h`<section class="card"><p>No connection has synced yet.</p></section>`);
          return {
            title: 'Operator status',
            context: `schema ${s.schema.version ?? 'none'}${s.schema.pending.length ? `, ${s.schema.pending.length} migrations pending` : ''}`,
            body: h`${parts}<p class="card wide">The same figures as JSON: <a href="/api/v1/status">/api/v1/status</a>; Prometheus: <a href="/metrics">/metrics</a>.</p>`,
            filters: false,
          };
        }),
    });
  };
}
