/**
 * Health endpoints for load balancers and orchestrators: `/healthz` says the process answers; `/readyz` says it can
 * do its work (database reachable, schema fully migrated and known to this build, quota and rate files readable,
 * and in `start` the job queue reachable with every schedule in place and no stream overdue).
 */
import { schemaStatus } from '../../db/migrate.ts';
import { planningFileError } from '../../planning/files.ts';
import type { RouteModule } from '../policy.ts';

/** How long /readyz waits for the database before calling it unreachable. */
const READY_TIMEOUT_MS = 3_000;

export const healthRoutes: RouteModule = (r) => {
  r.route({
    method: 'GET',
    path: '/healthz',
    policy: 'public',
    handler: (c) => c.json({ status: 'ok' }),
  });

  r.route({
    method: 'GET',
    path: '/readyz',
    policy: 'public',
    handler: async (c) => {
      let status: Awaited<ReturnType<typeof schemaStatus>>;
      try {
        status = await withTimeout(schemaStatus(c.var.db), READY_TIMEOUT_MS);
      } catch (e) {
        // The driver's text names hosts and databases: it goes to the log, not to whoever asks.
        c.var.logger.warn({ err: (e as Error).message }, 'readiness check: database unreachable');
        return c.json(
          { status: 'unavailable', reason: 'database_unreachable', message: 'the database cannot be reached' },
          503,
        );
      }
      if (status.unknown.length > 0) {
        c.var.logger.warn({ unknown: status.unknown }, 'readiness check: the database has unknown migrations');
        return c.json(
          {
            status: 'unavailable',
            reason: 'schema_unknown',
            message: 'the database was migrated by a newer version',
          },
          503,
        );
      }
      if (status.pending.length > 0) {
        c.var.logger.warn({ pending: status.pending }, 'readiness check: migrations are pending');
        return c.json(
          {
            status: 'unavailable',
            reason: 'schema_not_migrated',
            message: 'migrations are pending: run `quota-tracker migrate`',
          },
          503,
        );
      }
      // A quota or rate file that turned bad while running: the last good rows are in use, but RevOps must fix it.
      const bad = await planningFileError(c.var.db);
      if (bad) {
        return c.json(
          { status: 'unavailable', reason: 'planning_file_invalid', message: bad.message, where: bad.where },
          503,
        );
      }
      const service = c.var.readiness ? await c.var.readiness() : null;
      if (service) {
        c.var.logger.warn({ reason: service.reason }, `readiness check: ${service.message}`);
        return c.json({ status: 'unavailable', ...service }, 503);
      }
      // The schema version tells an attacker which release runs here: admins read it at /api/v1/status.
      return c.json({ status: 'ready' });
    },
  });
};

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the database within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
