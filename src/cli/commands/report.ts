/**
 * `quota-tracker report <rep|team|region|org|leaderboard|trends|alerts|forecast> [--rep EMAIL] [--team NAME]
 * [--region NAME] [--period ID] [--as-of DATE] [--format text|md|json|csv|html] [--explain] [--backtest]`.
 *
 * `--format json` prints exactly one JSON document on stdout and nothing else; logs go to stderr.
 */
import { createFiscalCalendar } from '../../config/calendar.ts';
import type { Config } from '../../config/schema.ts';
import { AppError } from '../../errors.ts';
import { today } from '../../util/date.ts';
import { loadForCommand } from '../config-for-command.ts';
import type { CommandContext } from '../program.ts';

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csvTable(cols: readonly string[], rows: readonly (readonly unknown[])[]): string {
  return [cols.join(','), ...rows.map((r) => r.map(csvCell).join(','))].join('\n');
}

/**
 * One row per rep (or leaderboard entry): the flat fields of each; trends one row per period, alerts one per
 * alert (their documents have no reps).
 */
export function toCsv(kind: string, doc: Record<string, unknown>): string {
  if (kind === 'forecast') {
    const deals = (doc.deals ?? []) as Record<string, unknown>[];
    const cols = ['id', 'name', 'owner', 'amount', 'closeDate', 'stage', 'crmProbability', 'probability', 'expected'];
    return csvTable(
      cols,
      deals.map((d) => cols.map((c) => d[c])),
    );
  }
  if (kind === 'forecast-backtest') {
    const b = (doc.baselines ?? {}) as Record<string, Record<string, unknown>>;
    const rows: [string, Record<string, unknown>][] = [
      ['model', (doc.model ?? {}) as Record<string, unknown>],
      ['crm', b.crm ?? {}],
      ['runRate', b.runRate ?? {}],
    ];
    return csvTable(
      ['forecaster', 'brier', 'ece', 'p10Held', 'p10p90Covered', 'crps'],
      rows.map(([n, s]) => [n, s.brier, s.ece, s.p10Held, s.p10p90Covered, s.crps]),
    );
  }
  if (kind === 'trends') {
    const periods = (doc.periods ?? []) as Record<string, unknown>[];
    return csvTable(
      ['period', 'quota', 'actual', 'attainment'],
      periods.map((p) => [p.period, p.quota, p.actual, p.attainment]),
    );
  }
  if (kind === 'alerts') {
    const alerts = (doc.alerts ?? []) as Record<string, unknown>[];
    return csvTable(
      ['severity', 'rule', 'name', 'status', 'message'],
      alerts.map((a) => [a.severity, a.rule, (a.subject as { name?: unknown } | undefined)?.name, a.status, a.message]),
    );
  }
  const rows = (kind === 'leaderboard' ? doc.entries : kind === 'rep' ? [doc] : doc.reps) as
    | Record<string, unknown>[]
    | undefined;
  const list = rows ?? [];
  const cols = ['name', 'email', 'team', 'quota', 'actual', 'attainment', 'projectedAttainment', 'status', 'rank'];
  const lines = [cols.join(',')];
  for (const r of list) {
    const s = (r.subject ?? {}) as Record<string, unknown>;
    const rank =
      typeof r.rank === 'object' && r.rank !== null
        ? ((r.rank as Record<string, { rank?: unknown }>).org?.rank ?? '')
        : r.rank;
    lines.push(
      [s.name, s.email, s.team, r.quota, r.actual, r.attainment, r.projectedAttainment, r.status, rank]
        .map(csvCell)
        .join(','),
    );
  }
  return lines.join('\n');
}

/**
 * A period that starts after the as-of date has no quota pace, no bookings and no history yet: its report would be
 * a page of zeros that reads like a disaster. Said before the database is opened, naming the period and its start.
 */
function assertPeriodStarted(config: Config, periodId: string | undefined, asOfOption: string | undefined): void {
  if (periodId === undefined) return;
  const period = createFiscalCalendar(config.calendar).periodById(periodId);
  const asOf = asOfOption ?? today(config.calendar.timezone);
  if (period.start <= asOf) return;
  const when = asOfOption === undefined ? `today is ${asOf}` : `--as-of is ${asOf}`;
  throw new AppError(
    'PERIOD_NOT_STARTED',
    `${period.id} has not started: it starts on ${period.start} and ${when}; ask for a period that has started, or leave out --period for the current quarter`,
    { where: '--period' },
  );
}

export async function run(ctx: CommandContext): Promise<number> {
  const { loaded, logger } = await loadForCommand(ctx, { quiet: true });
  const { config } = loaded;
  const kind = ctx.args[0];
  if (kind === undefined)
    throw new AppError('USAGE', 'report needs a kind: rep, team, region, org, leaderboard, trends, alerts or forecast');
  const o = ctx.options;
  const { createDb } = await import('../../db/index.ts');
  const { MetricsEngine } = await import('../../metrics/engine/engine.ts');
  const { buildReport, REPORT_KINDS } = await import('../../reports/report.ts');
  const { buildForecastReport } = await import('../../reports/forecast-report.ts');
  const { renderReport } = await import('../../reports/render.ts');
  if (!(REPORT_KINDS as readonly string[]).includes(kind) && kind !== 'forecast')
    throw new AppError('USAGE', `unknown report "${kind}"`, { where: 'report' });
  if (o.backtest === true && kind !== 'forecast')
    throw new AppError('USAGE', '--backtest goes with report forecast only', { where: '--backtest' });
  assertPeriodStarted(config, o.period as string | undefined, o.asOf as string | undefined);
  const handle = await createDb({ url: config.database.url, dataDir: config.database.dataDir, logger });
  try {
    const engine = new MetricsEngine({ db: handle.db, config, logger });
    const who = {
      rep: o.rep as string | undefined,
      team: o.team as string | undefined,
      region: o.region as string | undefined,
      period: o.period as string | undefined,
      asOf: o.asOf as string | undefined,
    };
    const doc =
      kind === 'forecast'
        ? await buildForecastReport(handle.db, engine, { ...who, backtest: o.backtest === true, config })
        : await buildReport(handle.db, engine, {
            kind: kind as (typeof REPORT_KINDS)[number],
            ...who,
            explain: o.explain === true,
          });
    const format = (o.format as string | undefined) ?? 'text';
    const shown = kind === 'forecast' && o.backtest === true ? 'forecast-backtest' : kind;
    ctx.io.stdout(format === 'csv' ? toCsv(shown, doc) : renderReport(format, shown, doc));
    return 0;
  } finally {
    await handle.close();
  }
}
