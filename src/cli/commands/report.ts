/**
 * `quota-tracker report <rep|team|region|org|leaderboard|trends|alerts> [--rep EMAIL] [--team NAME]
 * [--region NAME] [--period ID] [--as-of DATE] [--format text|md|json|csv|html] [--explain]`.
 *
 * `--format json` prints exactly one JSON document on stdout and nothing else; logs go to stderr.
 */
import { AppError } from '../../errors.ts';
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

export async function run(ctx: CommandContext): Promise<number> {
  const { loaded, logger } = await loadForCommand(ctx, { quiet: true });
  const { config } = loaded;
  const kind = ctx.args[0];
  if (kind === undefined)
    throw new AppError('USAGE', 'report needs a kind: rep, team, region, org, leaderboard, trends or alerts');
  const o = ctx.options;
  const { createDb } = await import('../../db/index.ts');
  const { MetricsEngine } = await import('../../metrics/engine/engine.ts');
  const { buildReport, REPORT_KINDS } = await import('../../reports/report.ts');
  const { renderReport } = await import('../../reports/render.ts');
  if (!(REPORT_KINDS as readonly string[]).includes(kind))
    throw new AppError('USAGE', `unknown report "${kind}"`, { where: 'report' });
  const handle = await createDb({ url: config.database.url, dataDir: config.database.dataDir, logger });
  try {
    const engine = new MetricsEngine({ db: handle.db, config, logger });
    const doc = await buildReport(handle.db, engine, {
      kind: kind as (typeof REPORT_KINDS)[number],
      rep: o.rep as string | undefined,
      team: o.team as string | undefined,
      region: o.region as string | undefined,
      period: o.period as string | undefined,
      asOf: o.asOf as string | undefined,
      explain: o.explain === true,
    });
    const format = (o.format as string | undefined) ?? 'text';
    ctx.io.stdout(format === 'csv' ? toCsv(kind, doc) : renderReport(format, kind, doc));
    return 0;
  } finally {
    await handle.close();
  }
}
