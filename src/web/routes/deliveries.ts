/**
 * `GET /deliveries/{deliveryId}/{slot}/{name}`: a file a scheduled report delivery rendered (`reports.deliveries`),
 * from its stored copy, so the link in the delivery's webhook message opens the report as it was sent. Whom it lets
 * in is whom the report API lets in for the same report, period and date: the org summary admins only, a team's
 * dashboard the managers above the team, the leaderboard every token; a leaderboard a token sees in part (a rep's,
 * a manager's) is rendered anew from that part (the stored copy shows everyone). An admin gets the stored copy.
 */

import { deliveryFile } from '../../reports/deliveries.ts';
import { renderReport } from '../../reports/render.ts';
import type { RouteModule } from '../policy.ts';
import type { Principal } from '../tokens.ts';
import { readerOf, scopedReport } from './reports.ts';

export const deliveryRoutes: RouteModule = (r) =>
  r.route({
    method: 'GET',
    path: '/deliveries/:deliveryId/:slot/:name',
    // Any token: whom each file lets in is decided below, as the report API decides for that report.
    policy: 'rep',
    doc: {
      summary: 'A report file a scheduled delivery rendered (HTML or Markdown), as it was sent.',
      produces: 'text/html',
    },
    handler: async (c) => {
      const { deliveryId = '', slot = '', name = '' } = c.req.param();
      const f = await deliveryFile(c.var.db, deliveryId, slot, name);
      if (!f) return c.json({ error: { code: 'NOT_FOUND', message: `no delivered file ${name} for ${slot}` } }, 404);
      // An admin sees every report whole: the stored copy, as sent, even of a team renamed or gone since.
      if ((c.var.principal as Principal).role === 'admin')
        return c.body(f.body, 200, { 'content-type': f.contentType, 'x-delivery-copy': 'as-sent' });
      const seen = await scopedReport(
        readerOf(c),
        c.var.principal as Principal,
        { kind: f.kind, ...(f.team !== null ? { team: f.team } : {}), period: f.periodId, asOf: f.asOf },
        c.var.db,
      );
      if (seen.answer === null)
        return c.body(renderReport(name.endsWith('.md') ? 'md' : 'html', f.kind, seen.doc), 200, {
          'content-type': f.contentType,
          'x-delivery-copy': 'scoped',
        });
      return c.body(f.body, 200, { 'content-type': f.contentType, 'x-delivery-copy': 'as-sent' });
    },
  });
