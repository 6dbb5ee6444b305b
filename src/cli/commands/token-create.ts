/**
 * `quota-tracker token create --role R [--subject EMAIL]`: the token goes alone to stdout (so that
 * `TOKEN=$(quota-tracker token create --role admin)` works) and is shown only this once; only its hash is stored.
 * Role and subject are checked by `createApiToken` (a manager or rep token needs a subject the warehouse knows).
 */
import { loadForCommand } from '../config-for-command.ts';
import type { CommandContext } from '../program.ts';

export async function run(ctx: CommandContext): Promise<number> {
  const role = ctx.options.role as 'admin' | 'manager' | 'rep';
  const subject = ctx.options.subject as string | undefined;
  const { loaded, logger } = await loadForCommand(ctx, { quiet: true });
  const { createDb } = await import('../../db/index.ts');
  const { migrateToLatest } = await import('../../db/migrate.ts');
  const { createApiToken } = await import('../../web/tokens.ts');
  const { database } = loaded.config;
  const handle = await createDb({ url: database.url, dataDir: database.dataDir, logger });
  try {
    await migrateToLatest(handle.db, { log: logger });
    const { id, token } = await createApiToken(handle.db, subject === undefined ? { role } : { role, subject });
    ctx.io.stderr(
      `Created API token ${id} (role ${role}${subject ? `, subject ${subject}` : ''}); it is shown only this once.`,
    );
    ctx.io.stdout(token);
    return 0;
  } finally {
    await handle.close();
  }
}
