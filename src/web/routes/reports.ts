/**
 * `/api/v1/reports/{rep|team|region|org|leaderboard|trends|alerts}`: the CLI's reports over HTTP. The query
 * parameters are the CLI's options (`rep`, `team`, `region`, `period`, `asOf`, `explain`, and for trends `by` and
 * `periods`), and the body is exactly
 * what `report <kind> --format json` prints for an admin; other tokens get the same document where their reach
 * covers the subject (src/web/reach.ts), 403 where it does not, and on the leaderboard and alerts only what they
 * may see of them.
 */
import { AppError, isAppError } from '../../errors.ts';
import type { JsonObject } from '../../metrics/document.ts';
import { findRep, findUnit } from '../../metrics/engine/subjects.ts';
import type { SubjectRef } from '../../metrics/engine/types.ts';
import { ORG_ID } from '../../metrics/math/rollup.ts';
import { LEADERBOARD_METRICS, parseLeaderboardMetric } from '../../reports/leaderboard-options.ts';
import type { ReportAnswer, ReportReader } from '../../reports/read-model.ts';
import { renderReport } from '../../reports/render.ts';
import { REPORT_KINDS, type ReportKind, type ReportRequest, resolveRequest } from '../../reports/report.ts';
import { parseTrendBy, parseTrendPeriods, TREND_BY } from '../../reports/trends.ts';
import { isPlainDate } from '../../util/date.ts';
import type { RouteDoc, RouteModule, WebContext } from '../policy.ts';
import { alertsFor, leaderboardFor, mustSee, reachOf } from '../reach.ts';
import type { Principal } from '../tokens.ts';

/** The query parameters, as the CLI's options are named (`asOf` for `--as-of`). */
export const REPORT_QUERY = ['rep', 'team', 'region', 'period', 'asOf', 'explain', 'by', 'periods', 'metric'] as const;

const QUERY_DOC: Record<(typeof REPORT_QUERY)[number], string> = {
  rep: "the rep's email (`--rep`)",
  team: 'the team by name (`--team`)',
  region: 'the region by name (`--region`)',
  period: 'fiscal period id like FY2026-Q4 (`--period`; default the quarter containing asOf)',
  asOf: 'as-of date YYYY-MM-DD (`--as-of`; default today in the configured time zone)',
  explain: 'true to include the working behind each figure (`--explain`)',
  by: 'trends only: the scopes side by side, region, team, segment or product-line (`--by`)',
  periods: 'trends only: how many periods, ending with period (`--periods`, default 4)',
  metric: `leaderboard only: what the reps are ranked by, ${LEADERBOARD_METRICS.join(', ')} (\`--metric\`, default attainment)`,
};

const SUMMARY: Record<ReportKind, string> = {
  rep: "A rep's scorecard: figures, ranks, alerts and history (`report rep --format json`).",
  team: "A team: totals, each rep, leavers and the reps' alerts (`report team --format json`).",
  region: 'A region: totals, its teams and reps (`report region --format json`).',
  org: 'The whole org: totals, every team and rep (`report org --format json`).',
  leaderboard:
    'Reps of the org, a team or a region ranked by attainment or another metric (`report leaderboard --format json`).',
  trends: 'Quota, actual and attainment per period for a scope (`report trends --format json`).',
  alerts: 'Open and escalated alerts of the period (`report alerts --format json`).',
};

/** Which role may ask for which kind at all (a rep: their own scorecard and the leaderboard). */
const REP_KINDS: readonly ReportKind[] = ['rep', 'leaderboard', 'alerts'];

function parseQuery(c: WebContext, kind: ReportKind): ReportRequest {
  const url = new URL(c.req.url);
  for (const name of url.searchParams.keys()) {
    if (!(REPORT_QUERY as readonly string[]).includes(name))
      throw new AppError('USAGE', `unknown query parameter "${name}"; expected ${REPORT_QUERY.join(', ')}`, {
        where: name,
      });
  }
  const one = (name: string): string | undefined => {
    const all = url.searchParams.getAll(name);
    if (all.length > 1) throw new AppError('USAGE', `query parameter "${name}" is given twice`, { where: name });
    const v = all[0];
    return v === undefined || v.trim() === '' ? undefined : v;
  };
  const asOf = one('asOf');
  if (asOf !== undefined && !isPlainDate(asOf))
    throw new AppError('USAGE', `asOf must be a date as YYYY-MM-DD, got "${asOf}"`, { where: 'asOf' });
  const explain = one('explain');
  if (explain !== undefined && !['true', 'false', '1', '0'].includes(explain))
    throw new AppError('USAGE', `explain must be true or false, got "${explain}"`, { where: 'explain' });
  const req: ReportRequest = { kind, explain: explain === 'true' || explain === '1' };
  const rep = one('rep');
  const team = one('team');
  const region = one('region');
  const period = one('period');
  if (rep !== undefined) req.rep = rep;
  if (team !== undefined) req.team = team;
  if (region !== undefined) req.region = region;
  if (period !== undefined) req.period = period;
  if (asOf !== undefined) req.asOf = asOf;
  const by = one('by');
  const periods = one('periods');
  for (const [name, v] of [
    ['by', by],
    ['periods', periods],
  ] as const)
    if (v !== undefined && kind !== 'trends')
      throw new AppError('USAGE', `query parameter "${name}" goes with trends only`, { where: name });
  const metric = one('metric');
  if (metric !== undefined && kind !== 'leaderboard')
    throw new AppError('USAGE', 'query parameter "metric" goes with leaderboard only', { where: 'metric' });
  const ranked = parseLeaderboardMetric(metric, 'metric');
  if (ranked) req.metric = ranked;
  const trendBy = parseTrendBy(by, 'by');
  const n = parseTrendPeriods(periods, 'periods');
  if (trendBy) req.trendBy = trendBy;
  if (n !== undefined) req.periods = n;
  if (kind === 'rep' && req.rep === undefined)
    throw new AppError('USAGE', "report rep needs the rep's email", { where: 'rep' });
  return req;
}

export function readerOf(c: WebContext): ReportReader {
  const reader = c.var.reports;
  if (!reader)
    throw new AppError('DB_UNAVAILABLE', 'reports are not available: the server was started without a config');
  return reader;
}

/**
 * The subject a request is about, as the builder will resolve it (for the access check before building):
 * the rep, the team or region, or the org (leaderboard and trends without a team or region).
 */
function subjectOf(req: ReportRequest, model: Parameters<typeof findRep>[0]): SubjectRef | null {
  switch (req.kind) {
    case 'rep':
      return findRep(model, req.rep as string);
    case 'team':
      return req.team === undefined ? null : findUnit(model, 'team', req.team);
    case 'region':
      return req.region === undefined ? null : findUnit(model, 'region', req.region);
    case 'org':
      return { kind: 'org', id: ORG_ID };
    case 'trends':
      if (req.rep !== undefined) return findRep(model, req.rep);
      return req.team !== undefined
        ? findUnit(model, 'team', req.team)
        : req.region !== undefined
          ? findUnit(model, 'region', req.region)
          : { kind: 'org', id: ORG_ID };
    default:
      return null;
  }
}

/**
 * A report as a principal may see it: the document, or only what their reach covers of it, or AUTH_FORBIDDEN.
 * Shared by the HTTP routes and the agent tools.
 */
export async function scopedReport(
  reader: ReportReader,
  principal: Principal,
  req: ReportRequest,
  db: Parameters<typeof reachOf>[0],
  /** The read model's freshness stamp, when the caller reads several documents of one moment (a dashboard page). */
  knownStamp?: string,
): Promise<{ doc: JsonObject; json: string; answer: ReportAnswer | null; source: ReportAnswer['source'] }> {
  if (principal.role === 'rep' && !REP_KINDS.includes(req.kind))
    throw new AppError(
      'AUTH_FORBIDDEN',
      `a rep token sees its own scorecard, the leaderboard and its own alerts, not the ${req.kind} report`,
      { where: req.kind },
    );
  // The check runs on the model before any document is built, so a refused request costs no build.
  const resolved = resolveRequest(reader.engine, req);
  const stamp = knownStamp ?? (await reader.stamp());
  const model = await reader.model(resolved, stamp);
  const reach = await reachOf(db, model, principal);
  let subject: SubjectRef | null;
  try {
    subject = subjectOf(req, model);
  } catch (e) {
    // To anyone but an admin, "no such rep" and "not yours" look the same: no probing for who exists, and no
    // list of every team name in the message. A name several people share lists them with their emails and teams:
    // refused the same way (they ask by email).
    const ambiguous = isAppError(e, 'USAGE') && e.where === '--rep';
    if (reach.all || !(isAppError(e, 'NOT_FOUND') || ambiguous)) throw e;
    throw new AppError('AUTH_FORBIDDEN', `this token may not see ${describe(req)} (or there is none)`, {
      where: describe(req),
    });
  }
  if (subject !== null) mustSee(reach, subject, describe(req));
  const answer = await reader.read(req, stamp);
  const source = answer.source;
  if (reach.all) return { doc: answer.doc, json: answer.json, answer, source };
  const doc =
    req.kind === 'leaderboard'
      ? leaderboardFor(reach, answer.doc)
      : req.kind === 'alerts'
        ? alertsFor(reach, answer.doc)
        : answer.doc;
  if (doc === answer.doc) return { doc, json: answer.json, answer, source };
  return { doc, json: renderReport('json', req.kind, doc), answer: null, source };
}

function describe(req: ReportRequest): string {
  if (req.kind === 'rep') return `rep ${req.rep}`;
  if (req.team !== undefined && req.kind !== 'region') return `team ${req.team}`;
  if (req.region !== undefined) return `region ${req.region}`;
  return 'the whole org';
}

export const reportRoutes: RouteModule = (r) => {
  for (const kind of REPORT_KINDS) {
    const doc: RouteDoc = {
      summary: SUMMARY[kind],
      tags: ['reports'],
      query: REPORT_QUERY.filter(
        (n) => (kind === 'trends' || (n !== 'by' && n !== 'periods')) && (kind === 'leaderboard' || n !== 'metric'),
      ).map((name) => ({
        name,
        description: QUERY_DOC[name],
        required: (kind === 'rep' && name === 'rep') || (kind === 'team' && name === 'team') || undefined,
        schema:
          name === 'asOf'
            ? { type: 'string', format: 'date' }
            : name === 'explain'
              ? { type: 'boolean' }
              : name === 'periods'
                ? { type: 'integer', minimum: 1, maximum: 20 }
                : name === 'by'
                  ? { type: 'string', enum: [...TREND_BY] }
                  : name === 'metric'
                    ? { type: 'string', enum: [...LEADERBOARD_METRICS] }
                    : { type: 'string' },
      })),
    };
    r.route({
      method: 'GET',
      path: `/api/v1/reports/${kind}`,
      policy: 'rep',
      doc,
      handler: async (c) => {
        const principal = c.var.principal as Principal;
        const req = parseQuery(c, kind);
        const { json, answer, source } = await scopedReport(readerOf(c), principal, req, c.var.db);
        const headers: Record<string, string> = {
          'content-type': 'application/json; charset=utf-8',
          vary: 'Accept-Encoding',
          // `snapshots` (today's figures as the engine stored them) or `warehouse` (computed, as the CLI does):
          // an operator sees a fallback without reading the logs.
          'x-report-source': source,
        };
        if (!answer) return c.body(json, 200, headers);
        // The whole document, as kept: its bytes encoded once, and gzipped once for clients that take it.
        if (/\bgzip\b/.test(c.req.header('accept-encoding') ?? '')) {
          const zipped = await answer.gzipped();
          return c.body(new Uint8Array(zipped), 200, { ...headers, 'content-encoding': 'gzip' });
        }
        return c.body(new Uint8Array(answer.body), 200, headers);
      },
    });
  }
};
