/** `quota-tracker migrate`: apply the migrations this version knows; a second run applies nothing. */
import { redactUrl } from '../../config/redact.ts';
import { loadForCommand } from '../config-for-command.ts';
import type { CommandContext } from '../program.ts';

export async function run(ctx: CommandContext): Promise<number> {
  const { loaded, logger } = await loadForCommand(ctx, { quiet: true });
  const { createDb } = await import('../../db/index.ts');
  const { migrateToLatest } = await import('../../db/migrate.ts');
  const { database } = loaded.config;
  const handle = await createDb({ url: database.url, dataDir: database.dataDir, logger });
  try {
    const where = handle.embedded ? 'the embedded PostgreSQL server' : redactUrl(handle.url);
    const { applied, committedUnanswered, appliedByOthers } = await migrateToLatest(handle.db, { log: logger });
    const lostReply = new Set(committedUnanswered);
    if (appliedByOthers.length > 0) {
      // Our attempt rolled back with its lost connection; the schema is current, but not by this command.
      ctx.io.stdout(
        `Another process applied ${appliedByOthers.length} migration${appliedByOthers.length === 1 ? '' : 's'} to ${where} while this command's connection was lost:`,
      );
      for (const name of appliedByOthers) ctx.io.stdout(`  ${name}`);
    }
    if (applied.length === 0) {
      ctx.io.stdout(
        `The database schema at ${where} is up to date; no migration ${appliedByOthers.length > 0 ? 'left ' : ''}to apply.`,
      );
    } else {
      ctx.io.stdout(`Applied ${applied.length} migration${applied.length === 1 ? '' : 's'} to ${where}:`);
      for (const name of applied) {
        ctx.io.stdout(
          `  ${name}${lostReply.has(name) ? ' (by the attempt whose connection was lost: its COMMIT had reached the server)' : ''}`,
        );
      }
    }
    return 0;
  } finally {
    await handle.close();
  }
}
