/**
 * `report <kind>`: resolves the request (who, which period, as of when) and builds the document. Reports compute
 * from the warehouse as of the requested date (the past is rebuilt from stage history), through the same model
 * and math as the engine's snapshots, so a report for today equals the stored snapshot.
 */

import type { Kysely } from 'kysely';
import { now } from '../clock.ts';
import type { FiscalPeriod } from '../config/calendar.ts';
import type { Database } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { figuresDocument, type JsonObject } from '../metrics/document.ts';
import type { MetricsEngine } from '../metrics/engine/engine.ts';
import type { MetricsModel } from '../metrics/engine/model.ts';
import { describeSubject, findRep, findUnit, unitChoices } from '../metrics/engine/subjects.ts';
import type { SubjectRef } from '../metrics/engine/types.ts';
import { ORG_ID } from '../metrics/math/rollup.ts';
import { isPlainDate, type PlainDate, today } from '../util/date.ts';
import { breakdownsOf, type LineQuotas, lineQuotasOf, subjectLineQuotas } from './breakdowns.ts';
import { bySeverity, groupReport, leaderboard, type ReportContext, subjectReport, teamReport } from './build.ts';
import type { ResolvedRequest } from './context.ts';
import type { LeaderboardMetric } from './leaderboard-options.ts';

export type { ResolvedRequest };

import { repScorecard } from './scorecard.ts';
import { DEFAULT_TREND_PERIODS, type TrendBy, trendHistory, trendsReport } from './trends.ts';

export const REPORT_KINDS = ['rep', 'team', 'region', 'org', 'leaderboard', 'trends', 'alerts'] as const;
export type ReportKind = (typeof REPORT_KINDS)[number];

export interface ReportRequest {
  kind: ReportKind;
  rep?: string;
  team?: string;
  region?: string;
  /** Fiscal period id; default the quarter containing `asOf`. */
  period?: string;
  /** Default today in the configured time zone. */
  asOf?: PlainDate;
  explain?: boolean;
  /** Leaderboard: what the reps are ranked by (`--metric`, default attainment). */
  metric?: LeaderboardMetric;
  /** Trends: the scopes side by side (`--by`). */
  trendBy?: TrendBy;
  /** Trends: how many periods, ending with `period` (`--periods`, default 4). */
  periods?: number;
}

/** The as-of date and period of a request, with the earlier periods its history shows. */
export function resolveRequest(engine: MetricsEngine, req: ReportRequest, at: Date = now()): ResolvedRequest {
  const s = engine.settings;
  if (req.asOf !== undefined && !isPlainDate(req.asOf))
    throw new AppError('USAGE', `--as-of must be a date as YYYY-MM-DD, got "${req.asOf}"`, { where: '--as-of' });
  const asOf = req.asOf ?? today(s.timezone, at);
  const period =
    req.period === undefined ? s.calendar.periodContaining(asOf, 'quarter') : s.calendar.periodById(req.period);
  // Trends show N periods and compare each with the year before: the model holds them all.
  if (req.kind === 'trends')
    return { asOf, period, history: trendHistory(s.calendar, period, req.periods ?? DEFAULT_TREND_PERIODS) };
  const history: FiscalPeriod[] = [];
  let p = period;
  for (let i = 0; i < s.historyPeriods; i++) {
    p = s.calendar.previous(p);
    history.unshift(p);
  }
  return { asOf, period, history };
}

function need(value: string | undefined, flag: string, kind: string, choices?: () => string): string {
  if (value === undefined || value.trim() === '')
    throw new AppError('USAGE', `report ${kind} needs ${flag}${choices ? `; ${choices()}` : ''}`, { where: flag });
  return value;
}

/** Builds the JSON document of a report request. */
export async function buildReport(
  db: Kysely<Database>,
  engine: MetricsEngine,
  req: ReportRequest,
): Promise<JsonObject> {
  const r = resolveRequest(engine, req);
  const model = await engine.loadModel(r.asOf, [...r.history, r.period]);
  return buildReportFrom(db, model, r, req);
}

/** Builds the document of a resolved request from a model loaded for its as-of date and periods. */
export async function buildReportFrom(
  db: Kysely<Database>,
  model: MetricsModel,
  r: ResolvedRequest,
  req: ReportRequest,
  stored?: ReportContext['stored'],
  forecast?: ReportContext['forecast'],
  exact?: ReportContext['exact'],
): Promise<JsonObject> {
  const ctx: ReportContext = { db, model, period: r.period, historyPeriods: r.history, explain: req.explain ?? false };
  if (stored) ctx.stored = stored;
  if (forecast) ctx.forecast = forecast;
  // Ranks from the stored attainments go with the stored figures only (`explain` is always computed).
  if (stored && exact && !ctx.explain) ctx.exact = exact;
  const scope = (): SubjectRef =>
    req.team !== undefined
      ? findUnit(model, 'team', req.team)
      : req.region !== undefined
        ? findUnit(model, 'region', req.region)
        : { kind: 'org', id: ORG_ID };
  switch (req.kind) {
    case 'rep': {
      const rep = findRep(model, need(req.rep, '--rep EMAIL|NAME', 'rep'));
      return withBreakdowns(
        ctx,
        rep,
        repScorecard(ctx, rep, await subjectReport(ctx, rep), (team) =>
          ctx.stored
            ? ctx.stored(team)
            : figuresDocument(
                describeSubject(model, team),
                ctx.period,
                model.compute(team, ctx.period),
                model.settings.baseCurrency,
              ),
        ),
      );
    }
    case 'team': {
      const team = findUnit(
        model,
        'team',
        need(req.team, '--team NAME', 'team', () => unitChoices(model, 'team')),
      );
      return withBreakdowns(ctx, team, teamReport(ctx, team));
    }
    case 'region': {
      const region = findUnit(
        model,
        'region',
        need(req.region, '--region NAME', 'region', () => unitChoices(model, 'region')),
      );
      return withBreakdowns(ctx, region, groupReport(ctx, region));
    }
    case 'org':
      return withBreakdowns(ctx, { kind: 'org', id: ORG_ID }, groupReport(ctx, { kind: 'org', id: ORG_ID }));
    case 'leaderboard':
      return leaderboard(ctx, scope(), req.metric ?? 'attainment');
    case 'trends': {
      // Figures of the periods shown only, computed: the stored snapshots hold the current period's alone.
      const { stored: _stored, ...computed } = ctx;
      const lineQuotas = new Map<string, LineQuotas>();
      if (req.trendBy === 'product-line')
        for (const p of [...ctx.historyPeriods, ctx.period]) lineQuotas.set(p.id, await lineQuotasOf(db, model, p));
      const opts = {
        periods: req.periods ?? DEFAULT_TREND_PERIODS,
        ...(req.trendBy ? { by: req.trendBy } : {}),
        productLineQuota: (scope: SubjectRef, line: string, p: FiscalPeriod) =>
          subjectLineQuotas(model, scope, p, lineQuotas.get(p.id) ?? new Map()).get(line) ?? null,
      };
      return trendsReport(
        computed,
        req.rep !== undefined ? findRep(model, need(req.rep, '--rep EMAIL|NAME', 'trends')) : scope(),
        opts,
      );
    }
    case 'alerts':
      return alertsReport(db, ctx);
  }
}

/** The subject's report with its `byProductLine` and `bySegment` (breakdowns.ts) after its other sections. */
async function withBreakdowns(ctx: ReportContext, subject: SubjectRef, doc: Promise<JsonObject>): Promise<JsonObject> {
  const built = await doc;
  return { ...built, ...(await breakdownsOf(ctx, subject)) };
}

/** `report alerts`: every open or escalated alert of the period. */
async function alertsReport(db: Kysely<Database>, ctx: ReportContext): Promise<JsonObject> {
  const rows = await db
    .selectFrom('alerts')
    .select([
      'rule',
      'subject_kind',
      'subject_id',
      'severity',
      'status',
      'message',
      'value',
      'dedupe_key',
      'task_goes_out_on',
    ])
    .where('period_id', '=', ctx.period.id)
    .where('status', '<>', 'resolved')
    .orderBy(bySeverity)
    .orderBy('rule')
    .orderBy('subject_id')
    .execute();
  return {
    period: { id: ctx.period.id, start: ctx.period.start, end: ctx.period.end },
    asOf: ctx.model.asOf,
    alerts: rows.map((a) => ({
      rule: a.rule,
      severity: a.severity,
      status: a.status,
      message: a.message,
      subject: {
        type: a.subject_kind,
        id: a.subject_id,
        name: ctx.model.data.reps.get(a.subject_id)?.name ?? a.subject_id,
      },
      dedupeKey: a.dedupe_key,
      // The manager's daily task cap held its task back: it goes out on that day's budget.
      heldBack: a.task_goes_out_on !== null,
      taskGoesOutOn: a.task_goes_out_on,
    })),
  };
}
