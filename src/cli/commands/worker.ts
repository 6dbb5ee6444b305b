/**
 * `quota-tracker worker`: job workers only, to scale out across processes and machines. Never migrates: it refuses
 * a database whose schema is newer than this build (SCHEMA_UNKNOWN) or not yet migrated, and leaves the
 * schedulers to `start`. SIGTERM drains and exits 0.
 */
import { AppError } from '../../errors.ts';
import { loadForCommand } from '../config-for-command.ts';
import type { CommandContext } from '../program.ts';
import { armStopDeadline } from '../stop-deadline.ts';

export async function run(ctx: CommandContext): Promise<number> {
  const { loaded, logger } = await loadForCommand(ctx);
  const { config } = loaded;
  const { createDb } = await import('../../db/index.ts');
  const { assertSchemaKnown, schemaStatus } = await import('../../db/migrate.ts');
  const { startService, untilSignal } = await import('../../jobs/service.ts');
  const stop = untilSignal();
  const handle = await createDb({ url: config.database.url, dataDir: config.database.dataDir, logger });
  let service: Awaited<ReturnType<typeof startService>> | undefined;
  try {
    await assertSchemaKnown(handle.db);
    const status = await schemaStatus(handle.db);
    if (status.pending.length > 0) {
      throw new AppError(
        'SCHEMA_UNKNOWN',
        `the database is missing ${status.pending.length} migration(s) this build needs (${status.pending.join(', ')}); run quota-tracker migrate or start first`,
      );
    }
    // A connection whose refresh token the CRM rotates loses it at each restart without the key: refuse (exit 2).
    const { assertSecretKeyForRotation } = await import('../../sync/connectors.ts');
    await assertSecretKeyForRotation(handle.db, config);
    service = await startService({ config, db: handle, log: logger, migrateQueue: false, reconcileSchedulers: false });
    ctx.io.stderr(`quota-tracker worker is running (jobs on ${service.backend}); SIGTERM stops it.`);
    const sig = await stop;
    ctx.io.stderr(`${sig}: finishing running jobs and shutting down.`);
    armStopDeadline(ctx.io, sig);
    return 0;
  } finally {
    await service?.close().catch(() => {});
    await handle.close();
  }
}
