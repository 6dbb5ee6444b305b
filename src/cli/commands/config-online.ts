/**
 * The `--online` half of `quota-tracker config check`: logs in to every enabled Salesforce connection and checks
 * the org id, field access, View All on opportunities and the org's features. It touches no database and writes
 * nothing; secrets never reach the output (only org ids, URLs and field names are printed).
 */

import type { Config } from '../../config/schema.ts';
import { SalesforceConnector } from '../../connectors/salesforce/connector.ts';
import { checkSalesforceOnline } from '../../connectors/salesforce/online-check.ts';
import type { Logger } from '../../util/log.ts';
import type { CliIo } from '../program.ts';

/** Runs the online checks; returns the exit code (0 all good, 1 a check failed). */
export async function runOnlineChecks(config: Config, io: CliIo, log: Logger): Promise<number> {
  let ok = true;
  const connections = config.connections.filter((c) => c.enabled);
  if (connections.length === 0) io.stdout('Online checks: no enabled connection.');
  for (const conn of connections) {
    if (conn.type !== 'salesforce') {
      io.stdout(`connection ${conn.id}: HubSpot online checks are not built yet`);
      continue;
    }
    const connector = new SalesforceConnector({
      config: conn,
      log,
      defaultTimeZone: config.calendar.timezone,
      defaultCurrency: config.calendar.baseCurrency,
    });
    const result = await checkSalesforceOnline(connector);
    io.stdout(`connection ${conn.id} (${conn.loginUrl}, API ${conn.apiVersion}):`);
    for (const line of result.lines) {
      const mark = line.ok === true ? 'ok  ' : line.ok === false ? 'FAIL' : '??  ';
      io.stdout(`  ${mark} ${line.text}`);
    }
    io.stdout(`  ${connector.apiCalls()} API calls`);
    if (!result.ok) ok = false;
  }
  return ok ? 0 : 1;
}
