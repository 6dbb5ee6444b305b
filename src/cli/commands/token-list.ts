/**
 * `quota-tracker token list [--format text|json]`: every API token with its id, role, subject, when it was made,
 * last used and revoked. A token's secret is shown once, by `token create`; only its hash is stored, and not even
 * that is listed here.
 */
import { loadForCommand } from '../config-for-command.ts';
import type { CommandContext } from '../program.ts';
import { table } from '../table.ts';

/** A token as `token list` shows it. */
export interface TokenListing {
  id: string;
  role: string;
  subject: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

export async function run(ctx: CommandContext): Promise<number> {
  const { loaded, logger } = await loadForCommand(ctx, { quiet: true });
  const { createDb } = await import('../../db/index.ts');
  const { migrateToLatest } = await import('../../db/migrate.ts');
  const { database } = loaded.config;
  const handle = await createDb({ url: database.url, dataDir: database.dataDir, logger });
  try {
    await migrateToLatest(handle.db, { log: logger });
    const rows = await handle.db
      .selectFrom('api_tokens')
      // Named columns only: the hash never leaves the database.
      .select(['id', 'role', 'subject_email', 'created_at', 'last_used_at', 'revoked_at'])
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    const tokens: TokenListing[] = rows.map((r) => ({
      id: r.id,
      role: r.role,
      subject: r.subject_email,
      createdAt: iso(r.created_at) as string,
      lastUsedAt: iso(r.last_used_at),
      revokedAt: iso(r.revoked_at),
    }));
    if (ctx.options.format === 'json') {
      ctx.io.stdout(JSON.stringify({ tokens }, null, 2));
      return 0;
    }
    if (tokens.length === 0) {
      ctx.io.stdout('No API token yet; make one with: quota-tracker token create --role admin');
      return 0;
    }
    const minute = (s: string | null) => (s === null ? '' : `${s.slice(0, 16).replace('T', ' ')}Z`);
    const body = tokens.map((t) => [
      t.id,
      t.role,
      t.subject ?? '',
      minute(t.createdAt),
      minute(t.lastUsedAt) || 'never',
      t.revokedAt ? `revoked ${minute(t.revokedAt)}` : 'active',
    ]);
    for (const line of table(['id', 'role', 'subject', 'created', 'last used', 'status'], body, new Set()))
      ctx.io.stdout(line);
    return 0;
  } finally {
    await handle.close();
  }
}
