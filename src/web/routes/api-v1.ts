/** The authenticated API's basics: who am I, and (admin) the list of tokens. */

import type { RouteModule } from '../policy.ts';
import { listApiTokens } from '../tokens.ts';

export const apiV1Routes: RouteModule = (r) => {
  r.route({
    method: 'GET',
    path: '/api/v1/whoami',
    policy: 'rep',
    handler: (c) => {
      const p = c.var.principal;
      return c.json({ tokenId: p?.tokenId ?? null, role: p?.role ?? null, subject: p?.subjectEmail ?? null });
    },
  });

  r.route({
    method: 'GET',
    path: '/api/v1/admin/tokens',
    policy: 'admin',
    handler: async (c) => {
      const tokens = await listApiTokens(c.var.db);
      return c.json({
        tokens: tokens.map((t) => ({
          id: t.id,
          role: t.role,
          subject: t.subject_email,
          createdAt: t.created_at.toISOString(),
          revokedAt: t.revoked_at?.toISOString() ?? null,
          lastUsedAt: t.last_used_at?.toISOString() ?? null,
        })),
      });
    },
  });
};
