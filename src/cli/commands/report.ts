/**
 * `quota-tracker report <rep|team|region|org|leaderboard|trends|alerts|forecast> [--rep EMAIL|NAME] [--team NAME]
 * [--region NAME] [--period ID] [--as-of DATE] [--by region|team|segment|product-line] [--periods N]
 * [--metric attainment|projected-attainment|actual|pipeline-coverage|activity-score|activities]
 * [--format text|md|json|csv|html] [--explain] [--backtest]`.
 *
 * `--format json` prints exactly one JSON document on stdout and nothing else; logs go to stderr.
 */
import { createFiscalCalendar } from '../../config/calendar.ts';
import type { Config } from '../../config/schema.ts';
import { AppError } from '../../errors.ts';
import { toCsv } from '../../reports/csv.ts';
import { today } from '../../util/date.ts';
import { loadForCommand } from '../config-for-command.ts';
import type { CommandContext } from '../program.ts';

// The CSV renderer lives with the other formats (src/reports/csv.ts); re-exported for the tests that import it here.
export { toCsv };

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
  const { REPORT_KINDS } = await import('../../reports/report.ts');
  const { ReportReader } = await import('../../reports/read-model.ts');
  const { buildForecastReport } = await import('../../reports/forecast-report.ts');
  const { renderReport } = await import('../../reports/render.ts');
  if (!(REPORT_KINDS as readonly string[]).includes(kind) && kind !== 'forecast')
    throw new AppError('USAGE', `unknown report "${kind}"`, { where: 'report' });
  if (o.backtest === true && kind !== 'forecast')
    throw new AppError('USAGE', '--backtest goes with report forecast only', { where: '--backtest' });
  const { parseTrendBy, parseTrendPeriods } = await import('../../reports/trends.ts');
  for (const flag of ['by', 'periods'] as const)
    if (o[flag] !== undefined && kind !== 'trends')
      throw new AppError('USAGE', `--${flag} goes with report trends only`, { where: `--${flag}` });
  if (o.metric !== undefined && kind !== 'leaderboard')
    throw new AppError('USAGE', '--metric goes with report leaderboard only', { where: '--metric' });
  const { parseLeaderboardMetric } = await import('../../reports/leaderboard-options.ts');
  const metric = parseLeaderboardMetric(o.metric as string | undefined, '--metric');
  const trendBy = parseTrendBy(o.by as string | undefined, '--by');
  const periods = parseTrendPeriods(o.periods as string | undefined, '--periods');
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
        : // Through the web API's read model: today's figures from the stored snapshots while they are current (none
          // computed; a model of people, quotas and won deals for names, ranks and history), else computed from the
          // warehouse; the same document either way.
          (
            await new ReportReader({ db: handle.db, config, logger, oneShot: true }).read(
              {
                kind: kind as (typeof REPORT_KINDS)[number],
                ...who,
                explain: o.explain === true,
                ...(trendBy ? { trendBy } : {}),
                ...(periods !== undefined ? { periods } : {}),
                ...(metric ? { metric } : {}),
              },
              // One document, read once: no cache to keep fresh, so no freshness stamp (it counts every snapshot
              // and open alert row); whether the snapshots are current is still read, with the figures.
              'one-shot',
            )
          ).doc;
    const format = (o.format as string | undefined) ?? 'text';
    const shown = kind === 'forecast' && o.backtest === true ? 'forecast-backtest' : kind;
    ctx.io.stdout(format === 'csv' ? toCsv(shown, doc) : renderReport(format, shown, doc));
    return 0;
  } finally {
    await handle.close();
  }
}
