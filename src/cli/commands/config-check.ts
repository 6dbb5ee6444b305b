/**
 * `quota-tracker config check [--online]`: validates the configuration file, the fiscal calendar, and the org and
 * quota files it names, then prints a short summary built only from the redacted configuration, so that no
 * secret can reach the terminal or a CI log. Bad config exits 2 (from the AppError's code). `--online` then logs
 * in to each connection (`config-online.ts`) and exits 1 when a check fails.
 */
import { access, constants } from 'node:fs/promises';
import { createFiscalCalendar } from '../../config/calendar.ts';
import { loadFxFile } from '../../config/fx-file.ts';
import type { LoadedConfig } from '../../config/load.ts';
import { loadOrgFile } from '../../config/org-file.ts';
import { loadQuotaFile } from '../../config/quota-file.ts';
import { redactConfig } from '../../config/redact.ts';
import type { Config } from '../../config/schema.ts';
import { AppError } from '../../errors.ts';
import { today } from '../../util/date.ts';
import { loadForCommand } from '../config-for-command.ts';
import type { CommandContext } from '../program.ts';
import { rampConfigNotice } from '../ramp-notice.ts';

export async function run(ctx: CommandContext): Promise<number> {
  const { loaded, logger } = await loadForCommand(ctx);
  const { config } = loaded;
  const calendar = createFiscalCalendar(config.calendar);
  const org = config.org.file ? await loadOrgFile(config.org.file) : null;
  const quotas =
    config.quotas.source === 'file'
      ? await loadQuotaFile(config.quotas.path, calendar, config.calendar.baseCurrency)
      : null;
  await checkKeyFiles(config);
  const fx = config.fx.source === 'file' ? await loadFxFile(config.fx.path, config.calendar.baseCurrency) : null;
  const quarter = calendar.periodContaining(today(config.calendar.timezone), 'quarter');

  const lines = summarize(loaded, redactConfig(config));
  lines.push(`  current quarter: ${quarter.id} (${quarter.start} to ${quarter.end})`);
  if (org) {
    const teams = new Set(org.rows.map((r) => r.team)).size;
    const regions = new Set(org.rows.map((r) => r.region)).size;
    lines.push(`  org file: ${org.rows.length} people in ${teams} teams and ${regions} regions`);
  }
  if (quotas) lines.push(`  quota file: ${quotas.length} quotas`);
  const ramp = rampConfigNotice(config, org?.rows ?? null);
  if (ramp) lines.push(`  note: ${ramp}`);
  if (fx) lines.push(`  FX rate file: ${fx.length} rates for ${new Set(fx.map((r) => r.currency)).size} currencies`);
  const json = ctx.options.format === 'json';
  if (json && ctx.options.online !== true) {
    throw new AppError('USAGE', '--format json prints the hierarchy of --online; use it with --online', {
      where: '--format',
    });
  }
  // With --format json, stdout carries only the JSON document.
  (json ? ctx.io.stderr : ctx.io.stdout)(lines.join('\n'));

  if (ctx.options.online === true) {
    // The CRM clients load only for --online, so the offline check stays fast.
    const { runOnlineChecks } = await import('./config-online.ts');
    return runOnlineChecks(config, ctx.io, logger, json);
  }
  return 0;
}

/** A JWT login's private key must be readable now rather than at the first sync; its content is never read here. */
async function checkKeyFiles(config: Config): Promise<void> {
  for (const [i, conn] of config.connections.entries()) {
    if (conn.type !== 'salesforce' || conn.auth.kind !== 'jwt') continue;
    const path = conn.auth.privateKeyPath;
    try {
      await access(path, constants.R_OK);
    } catch {
      throw new AppError('CONFIG_INVALID', `the private key file ${path} of connection ${conn.id} cannot be read`, {
        where: `connections[${i}].auth.privateKeyPath`,
      });
    }
  }
}

/** The summary, from the redacted copy only. */
function summarize(loaded: LoadedConfig, c: Config): string[] {
  const cal = c.calendar;
  const calendarText =
    cal.type === 'calendar'
      ? `calendar quarters, fiscal year from month ${cal.fiscalYearStartMonth}`
      : `${cal.type}, year ends on the ${cal.yearEnd?.rule} ${cal.yearEnd?.weekday} of month ${cal.yearEnd?.month}`;
  const lines = [
    `Configuration OK: ${loaded.path ?? 'no file, all defaults'}`,
    `  calendar: ${calendarText}; time zone ${cal.timezone}; base currency ${cal.baseCurrency}`,
    `  database: ${c.database.url ?? `embedded PostgreSQL (${c.database.dataDir ?? './.quota-tracker/pg'})`}`,
    `  queue: ${c.queue.redisUrl ? `Redis ${c.queue.redisUrl}` : 'BullMQ on the PostgreSQL backend'}`,
    `  quotas: ${c.quotas.source === 'file' ? `file ${c.quotas.path}` : 'from the CRM'}; pacing: ${c.pacing.basis}`,
    `  write-back: ${c.writeback.enabled ? c.writeback.mode : 'off'}; alerts: ${c.alerts.enabled ? 'on' : 'off'}`,
  ];
  if (c.connections.length === 0) lines.push('  connections: none');
  for (const conn of c.connections) {
    const schedule = 'every' in conn.schedule ? `every ${conn.schedule.every}` : `cron "${conn.schedule.cron}"`;
    const where =
      conn.type === 'salesforce' ? `${conn.loginUrl}, API ${conn.apiVersion}, ${conn.auth.kind} login` : conn.basePath;
    lines.push(`  connection ${conn.id}: ${conn.type} at ${where}; ${schedule}${conn.enabled ? '' : ' (disabled)'}`);
    if (conn.type === 'hubspot') {
      lines.push(
        conn.writeback.target === 'off'
          ? '    write-back: off (writeback.target: off); scores stay in the reports, alert tasks go to the managers'
          : '    write-back: scores to the Quota scorecard custom object (`quota-tracker setup hubspot` or the first sync makes it; Enterprise portals only: `config check --online` says whether this one can hold it)',
      );
    }
  }
  if (loaded.envUsed.length > 0) lines.push(`  environment variables referenced: ${loaded.envUsed.join(', ')}`);
  lines.push(`  metric settings hash: ${loaded.hash.slice(0, 12)}`);
  return lines;
}
