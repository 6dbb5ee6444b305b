/**
 * The Job Schedulers the config asks for: one per enabled connection and stream at the connection's schedule
 * (`every` or `cron`, cron read in the configured time zone), and the daily recompute shortly after midnight in
 * the org's time zone, the forecast's backtest on its cron (`forecast.backtest`) unless turned off, and each report
 * delivery: on its cron, or daily (DELIVERY_CHECK_CRON) for `month-end` and `quarter-end`, when the job itself
 * decides whether a period has ended.
 */

import type { Config } from '../config/schema.ts';
import { durationToSeconds } from '../config/schema.ts';
import { streamNamesOf } from '../connectors/registry.ts';
import { DELIVERY_CHECK_CRON } from '../reports/deliveries.ts';
import { BACKTEST_SCHEDULER, DAILY_RECOMPUTE_SCHEDULER, deliverySchedulerId, syncSchedulerId } from './names.ts';
import type { SchedulerSpec } from './runtime.ts';

/** Ten past midnight: after the day has turned everywhere in the org's zone, before anyone looks. */
export const DAILY_RECOMPUTE_CRON = '10 0 * * *';

/** Stream names of a connection, as its connector reads them; none while its CRM's connector is not built. */
export function streamsOf(conn: Config['connections'][number]): string[] {
  return streamNamesOf(conn);
}

export function desiredSchedulers(config: Config): SchedulerSpec[] {
  const out: SchedulerSpec[] = [];
  for (const conn of config.connections) {
    if (!conn.enabled) continue;
    for (const stream of streamsOf(conn)) {
      const base = {
        id: syncSchedulerId(conn.id, stream),
        name: 'sync' as const,
        data: { v: 1 as const, connectionId: conn.id, stream, trigger: 'schedule' as const },
      };
      out.push(
        'every' in conn.schedule
          ? { ...base, every: durationToSeconds(conn.schedule.every) * 1000 }
          : { ...base, pattern: conn.schedule.cron, tz: config.calendar.timezone },
      );
    }
  }
  out.push({
    id: DAILY_RECOMPUTE_SCHEDULER,
    name: 'daily-recompute',
    data: { v: 1 },
    pattern: DAILY_RECOMPUTE_CRON,
    tz: config.calendar.timezone,
  });
  if (config.forecast.backtest.enabled)
    out.push({
      id: BACKTEST_SCHEDULER,
      name: 'backtest',
      data: { v: 1, trigger: 'schedule' },
      pattern: config.forecast.backtest.cron,
      tz: config.calendar.timezone,
    });
  for (const d of config.reports.deliveries)
    out.push({
      id: deliverySchedulerId(d.id),
      name: 'deliver-reports',
      data: { v: 1, deliveryId: d.id },
      pattern: d.when === 'month-end' || d.when === 'quarter-end' ? DELIVERY_CHECK_CRON : d.when,
      tz: config.calendar.timezone,
    });
  return out;
}
