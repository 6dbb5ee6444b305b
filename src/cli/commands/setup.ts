/**
 * `quota-tracker setup hubspot [--connection ID]`: makes what write-back needs in each enabled HubSpot portal (the
 * "Quota scorecard" custom object and its properties, the task property `quota_alert_key`) through the API and
 * prints what it made; a second run makes nothing and says so. `sync` runs the same code when they are missing.
 * It touches no database.
 */
import { connectorKind } from '../../connectors/registry.ts';
import { AppError } from '../../errors.ts';
import { count } from '../../util/count.ts';
import { loadForCommand } from '../config-for-command.ts';
import type { CommandContext } from '../program.ts';

export async function run(ctx: CommandContext): Promise<number> {
  const { loaded, logger } = await loadForCommand(ctx, { quiet: true });
  const { config } = loaded;
  const wanted = ctx.options.connection as string | undefined;
  const conns = config.connections.filter(
    (c) => c.type === 'hubspot' && (wanted === undefined ? c.enabled : c.id === wanted),
  );
  if (conns.length === 0) {
    throw new AppError(
      'USAGE',
      wanted === undefined
        ? 'there is no enabled HubSpot connection in the configuration'
        : `there is no HubSpot connection "${wanted}" in the configuration`,
      { where: wanted === undefined ? 'connections' : '--connection' },
    );
  }
  for (const conn of conns) {
    const setup = connectorKind(conn.type)?.setup;
    if (!setup)
      throw new AppError('NOT_BUILT', `setup of ${conn.type} is not built`, { where: `connections.${conn.id}` });
    const r = await setup(conn, {
      log: logger,
      defaultTimeZone: config.calendar.timezone,
      defaultCurrency: config.calendar.baseCurrency,
    });
    if (r.made.length === 0) ctx.io.stdout(`${conn.id}: nothing to make; the portal has everything write-back needs`);
    for (const line of r.made) ctx.io.stdout(`${conn.id}: created ${line}`);
    for (const line of r.notes) ctx.io.stdout(`${conn.id}: ${line}`);
    ctx.io.stdout(`${conn.id}: ${count(r.apiCalls)} API call(s)`);
  }
  return 0;
}
