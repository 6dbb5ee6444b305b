/**
 * `POST /webhooks/<crm>` for each CRM whose pushes are received (HubSpot: `/webhooks/hubspot`): the request is
 * checked against the secret of each connection of that CRM (the route's policy is "signed webhook": a bad
 * signature or a stale timestamp is a 401 and changes nothing); each verified connection's new events (deduplicated
 * by event id) become one queued incremental sync per touched stream. The answer goes back at once, whatever the
 * syncs then take: the CRM waits only seconds for it.
 */
import type { Config, ConnectionConfig } from '../../config/schema.ts';
import { webhookReceivers } from '../../connectors/registry.ts';
import { AppError } from '../../errors.ts';
import type { Enqueue } from '../../jobs/runtime.ts';
import { acceptWebhookEvents, forgetWebhookEvents } from '../../sync/webhook-events.ts';
import type { RouteModule } from '../policy.ts';

export interface WebhookRouteOptions {
  config: Config | undefined;
  /** The job queue of the running service; without one the route answers 503 (the CRM redelivers later). */
  enqueue: Enqueue | undefined;
}

export function webhookRoutes(o: WebhookRouteOptions): RouteModule {
  return (r) => {
    for (const { type, receiver } of webhookReceivers()) {
      const path = `/webhooks/${receiver.path}`;
      // What verify found, for the handler: the connections whose secret signed this very request.
      const verified = new WeakMap<Request, ConnectionConfig[]>();
      r.route({
        method: 'POST',
        path,
        policy: 'signed-webhook',
        doc: {
          summary: `${type} change notifications: verified against each connection's webhookSecret, deduplicated by event id, each touched stream synced at once.`,
        },
        verify: (request, body) => {
          const url = new URL(request.url);
          const publicUrl = o.config?.web.publicUrl;
          const uris = [
            request.url,
            ...(publicUrl ? [`${publicUrl.replace(/\/+$/, '')}${url.pathname}${url.search}`] : []),
          ];
          const conns = (o.config?.connections ?? []).filter(
            (c) =>
              c.type === type &&
              c.enabled &&
              receiver.verify(c, {
                method: request.method,
                uris,
                body,
                header: (name) => request.headers.get(name),
                // wall-clock: a webhook's timestamp is checked against real time, as the CRM stamps it
                nowMs: Date.now(),
              }) === 'ok',
          );
          if (conns.length > 0) verified.set(request, conns);
          return conns.length > 0;
        },
        handler: async (c) => {
          const conns = verified.get(c.req.raw) ?? [];
          const body = await c.req.text();
          if (!o.enqueue)
            throw new AppError(
              'WEBHOOK_NOT_RECEIVED',
              'webhooks are received by the running service (quota-tracker start)',
              {
                where: path,
              },
            );
          const out: Record<string, { accepted: number; duplicates: number; syncs: string[] }> = {};
          for (const conn of conns) {
            const all = receiver.events(conn, body);
            if (!all) throw new AppError('USAGE', `the ${type} webhook body is not a batch of events`, { where: path });
            // One app (one secret) may be installed on several portals: a connection takes its own portal's events
            // (the account its first sync bound it to), and all of them while it is not bound yet.
            const bound = (
              await c.var.db.selectFrom('connections').select('crm_org_id').where('id', '=', conn.id).executeTakeFirst()
            )?.crm_org_id;
            const events = bound ? all.filter((e) => e.account === undefined || e.account === bound) : all;
            const got = await acceptWebhookEvents(c.var.db, conn.id, events);
            try {
              for (const stream of got.streams)
                await o.enqueue('sync', { v: 1, connectionId: conn.id, stream, trigger: 'webhook' });
            } catch (e) {
              await forgetWebhookEvents(c.var.db, conn.id, got.freshIds);
              throw new AppError('WEBHOOK_NOT_RECEIVED', `the syncs of connection ${conn.id} could not be queued`, {
                where: path,
                cause: e,
              });
            }
            c.var.logger.info(
              { connection: conn.id, accepted: got.fresh, duplicates: got.duplicates, streams: got.streams },
              `webhook: ${got.fresh} new events for ${conn.id}${got.duplicates ? ` (${got.duplicates} seen before)` : ''}; syncing ${got.streams.join(', ') || 'nothing'}`,
            );
            out[conn.id] = { accepted: got.fresh, duplicates: got.duplicates, syncs: got.streams };
          }
          return c.json({ connections: out });
        },
      });
    }
  };
}
