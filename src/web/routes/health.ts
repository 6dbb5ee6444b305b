/**
 * Health endpoints for load balancers and orchestrators: `/healthz` says the process answers; `/readyz` says it can
 * do its work (database reachable, schema fully migrated and known to this build, quota and rate files readable,
 * and in `start` the job queue reachable with every schedule in place and no stream overdue).
 */
import { schemaStatus } from '../../db/migrate.ts';
import { planningFileError } from '../../sync/planning-files.ts';
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
        c.var.logger.warn({ err: (e as Error).message }, 'readiness check: database unreachable');
        return c.json({ status: 'unavailable', reason: 'database_unreachable', message: (e as Error).message }, 503);
      }
      if (status.unknown.length > 0) {
        return c.json(
          {
            status: 'unavailable',
            reason: 'schema_unknown',
            message: 'the database was migrated by a newer version',
            unknown: status.unknown,
          },
          503,
        );
      }
      if (status.pending.length > 0) {
        return c.json(
          {
            status: 'unavailable',
            reason: 'schema_not_migrated',
            message: 'migrations are pending: run `quota-tracker migrate`',
            pending: status.pending,
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
      return c.json({ status: 'ready', schemaVersion: status.applied[status.applied.length - 1] ?? null });
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
