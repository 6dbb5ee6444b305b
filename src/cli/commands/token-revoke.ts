/** `quota-tracker token revoke ID`: the token stops working at once; an unknown id is TOKEN_NOT_FOUND (exit 1). */
import { loadForCommand } from '../config-for-command.ts';
import type { CommandContext } from '../program.ts';

export async function run(ctx: CommandContext): Promise<number> {
  const id = ctx.args[0] as string;
  const { loaded, logger } = await loadForCommand(ctx, { quiet: true });
  const { createDb } = await import('../../db/index.ts');
  const { migrateToLatest } = await import('../../db/migrate.ts');
  const { revokeApiToken } = await import('../../web/tokens.ts');
  const { database } = loaded.config;
  const handle = await createDb({ url: database.url, dataDir: database.dataDir, logger });
  try {
    await migrateToLatest(handle.db, { log: logger });
    await revokeApiToken(handle.db, id);
    ctx.io.stdout(`Revoked API token ${id}.`);
    return 0;
  } finally {
    await handle.close();
  }
}
