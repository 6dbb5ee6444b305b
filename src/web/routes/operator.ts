/**
 * Operator routes, admin only: `/metrics` (Prometheus text), `/api/v1/status` (each connection's last sync per
 * stream, cursor age, errors, quarantined records by reason, API budget; the queue, alerts, schema) and Bull Board
 * at `/admin/queues`, read-only: its UI sends no CSRF token, so it may look at jobs but not retry or delete them
 * (`quota-tracker` commands and the schedules do that).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import { AppError } from '../../errors.ts';
import { type OperatorSources, operatorRegistry, operatorStatus } from '../operator.ts';
import type { RouteModule } from '../policy.ts';

export const BULL_BOARD_PATH = '/admin/queues';

/** Bull Board's own Hono app, mounted at BULL_BOARD_PATH, or null without a queue. */
function bullBoard(sources: OperatorSources): Hono | null {
  if (!sources.queue) return null;
  const adapter = new HonoAdapter(serveStatic);
  adapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: [sources.queue, ...(sources.shardQueue ? [sources.shardQueue] : [])].map(
      (q) => new BullMQAdapter(q, { readOnlyMode: true }),
    ),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'quota-tracker jobs' } },
  });
  // serveStatic resolves its root against the working directory: point it at the installed UI wherever we run.
  const uiDir = dirname(createRequire(import.meta.url).resolve('@bull-board/ui/package.json'));
  adapter.setStaticPath('/static', join(uiDir, 'dist/static')).setViewsPath(join(uiDir, 'dist'));
  const app = new Hono();
  app.route(BULL_BOARD_PATH, adapter.registerPlugin());
  return app;
}

export function operatorRoutes(sources: OperatorSources): RouteModule {
  const registry = operatorRegistry(sources);
  let board: Hono | null | undefined;
  return (r) => {
    r.route({
      method: 'GET',
      path: '/metrics',
      policy: 'admin',
      doc: {
        summary:
          'Prometheus metrics: sync runs and durations, records read, API calls and budget left per connection, queue depths and failures, write-back calls, open alerts, recompute timings.',
        produces: 'text/plain; version=0.0.4',
      },
      handler: async (c) => c.body(await registry.metrics(), 200, { 'content-type': registry.contentType }),
    });

    r.route({
      method: 'GET',
      path: '/api/v1/status',
      policy: 'admin',
      doc: {
        summary:
          "Each connection's last sync per stream, cursor age, errors, quarantined records by reason and API budget; the job queue, open alerts, the last recompute and the schema version.",
      },
      handler: async (c) => c.json(await operatorStatus(sources)),
    });

    for (const path of [BULL_BOARD_PATH, `${BULL_BOARD_PATH}/*`]) {
      r.route({
        method: 'GET',
        path,
        policy: 'admin',
        doc: { summary: 'Bull Board (read-only): the job queue, its jobs and failures.', produces: 'text/html' },
        handler: async (c) => {
          // Made on first use: the UI's files are resolved then, not at every start-up.
          board ??= bullBoard(sources);
          if (!board)
            throw new AppError(
              'NOT_FOUND',
              'this process runs no job queue; Bull Board is served by `quota-tracker start`',
              { where: BULL_BOARD_PATH },
            );
          return board.fetch(c.req.raw, c.env);
        },
      });
    }
  };
}
