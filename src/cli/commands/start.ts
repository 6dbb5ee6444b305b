/**
 * `quota-tracker start`: everything in one process: the database (embedded unless DATABASE_URL), migrations, the
 * job schedulers of the config, the workers and the web server. SIGTERM (or Ctrl-C) stops taking jobs, lets the
 * running ones finish, closes the web server and the database, and exits 0.
 */
import { loadForCommand } from '../config-for-command.ts';
import type { CommandContext } from '../program.ts';
import { armStopDeadline } from '../stop-deadline.ts';

export async function run(ctx: CommandContext): Promise<number> {
  const { loaded, logger } = await loadForCommand(ctx);
  const { config } = loaded;
  // A malformed quota or rate file stops the start-up naming file:line:column (exit 2), before anything runs.
  const { checkPlanningFiles } = await import('../../planning/files.ts');
  const { createFiscalCalendar } = await import('../../config/calendar.ts');
  await checkPlanningFiles(config, createFiscalCalendar(config.calendar));
  const { createDb } = await import('../../db/index.ts');
  const { migrateToLatest } = await import('../../db/migrate.ts');
  const { startService, untilSignal } = await import('../../jobs/service.ts');
  const { startWebServer } = await import('../../web/index.ts');
  const stop = untilSignal();
  const handle = await createDb({ url: config.database.url, dataDir: config.database.dataDir, logger });
  let service: Awaited<ReturnType<typeof startService>> | undefined;
  let web: Awaited<ReturnType<typeof startWebServer>> | undefined;
  try {
    const { applied } = await migrateToLatest(handle.db, { log: logger });
    if (applied.length > 0) logger.info({ applied }, 'migrations applied');
    // A connection whose refresh token the CRM rotates loses it at each restart without the key: refuse (exit 2).
    const { assertSecretKeyForRotation } = await import('../../sync/connectors.ts');
    await assertSecretKeyForRotation(handle.db, config);
    service = await startService({ config, db: handle, log: logger, migrateQueue: true, reconcileSchedulers: true });
    const running = service;
    web = await startWebServer({
      db: handle.db,
      logger,
      config,
      port: config.web.port,
      host: config.web.host,
      readiness: () => running.readiness(),
      operator: {
        queue: running.runtime.queue,
        shardQueue: config.queue.recomputeShards > 1 ? running.runtime.shardQueue : undefined,
        engine: running.pipeline.engine,
      },
      enqueue: running.runtime.enqueue,
    });
    ctx.io.stderr(
      `quota-tracker is running: web ${web.url}, jobs on ${service.backend === 'redis' ? 'Redis' : 'PostgreSQL'}, ` +
        `${service.schedulers.length} schedule${service.schedulers.length === 1 ? '' : 's'}. Ctrl-C or SIGTERM stops it.`,
    );
    const sig = await stop;
    ctx.io.stderr(`${sig}: finishing running jobs and shutting down.`);
    armStopDeadline(ctx.io, sig);
    return 0;
  } finally {
    await web?.close().catch(() => {});
    await service?.close().catch((e) => logger.warn({ err: (e as Error).message }, 'closing the job workers failed'));
    await handle.close();
  }
}
