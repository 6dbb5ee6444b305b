/**
 * `quota-tracker quarantine list [--connection ID] [--format text|json]`: the records a sync kept out of the
 * warehouse and why (unnormalizable, outside the `sync.sanity` bounds, unknown owner or currency), each with its
 * connection, stream, record id, reason and when it was first and last seen. Only open entries: a record that
 * later synced cleanly (or was deleted in the CRM) is resolved and no longer listed. `--format json` prints one
 * document `{ quarantined: [ { connection, stream, recordId, reasonCode, reason, firstSeen, lastSeen, seenCount } ] }`.
 */
import { AppError } from '../../errors.ts';
import { loadForCommand } from '../config-for-command.ts';
import type { CommandContext } from '../program.ts';

export interface QuarantineEntry {
  connection: string;
  stream: string;
  recordId: string;
  reasonCode: string;
  reason: string;
  /** ISO instants (wall clock: when the sync saw it). */
  firstSeen: string;
  lastSeen: string;
  seenCount: number;
}

/** The text form: one block per entry, so a long reason wraps in the terminal without breaking columns. */
export function quarantineText(entries: readonly QuarantineEntry[], connection: string | undefined): string {
  const where = connection ? ` for connection ${connection}` : '';
  if (entries.length === 0) return `No record is quarantined${where}.`;
  const lines = [
    `${entries.length.toLocaleString('en-US')} quarantined record${entries.length === 1 ? '' : 's'}${where}:`,
  ];
  for (const e of entries) {
    lines.push(
      '',
      `${e.connection}/${e.stream} ${e.recordId}  ${e.reasonCode}`,
      `  ${e.reason}`,
      `  first seen ${e.firstSeen}, last seen ${e.lastSeen}${e.seenCount > 1 ? ` (${e.seenCount} times)` : ''}`,
    );
  }
  return lines.join('\n');
}

export async function run(ctx: CommandContext): Promise<number> {
  const { loaded, logger } = await loadForCommand(ctx, { quiet: true });
  const { config } = loaded;
  const wanted = ctx.options.connection as string | undefined;
  const { createDb } = await import('../../db/index.ts');
  const { migrateToLatest } = await import('../../db/migrate.ts');
  const handle = await createDb({ url: config.database.url, dataDir: config.database.dataDir, logger });
  try {
    await migrateToLatest(handle.db, { log: logger });
    if (wanted !== undefined && !config.connections.some((c) => c.id === wanted)) {
      // A connection dropped from the config may still have entries; only a name nobody knows is a typo.
      const stored = await handle.db.selectFrom('connections').select('id').where('id', '=', wanted).executeTakeFirst();
      if (!stored)
        throw new AppError('USAGE', `no connection "${wanted}" in the configuration`, { where: '--connection' });
    }
    let q = handle.db
      .selectFrom('quarantine')
      .select([
        'connection_id',
        'stream',
        'external_id',
        'reason_code',
        'reason',
        'first_seen_at',
        'last_seen_at',
        'seen_count',
      ])
      .where('resolved_at', 'is', null)
      .orderBy('connection_id')
      .orderBy('stream')
      .orderBy('external_id');
    if (wanted !== undefined) q = q.where('connection_id', '=', wanted);
    const entries: QuarantineEntry[] = (await q.execute()).map((r) => ({
      connection: r.connection_id,
      stream: r.stream,
      recordId: r.external_id,
      reasonCode: r.reason_code,
      reason: r.reason,
      firstSeen: new Date(r.first_seen_at).toISOString(),
      lastSeen: new Date(r.last_seen_at).toISOString(),
      seenCount: r.seen_count,
    }));
    if (ctx.options.format === 'json') ctx.io.stdout(JSON.stringify({ quarantined: entries }, null, 2));
    else ctx.io.stdout(quarantineText(entries, wanted));
    return 0;
  } finally {
    await handle.close();
  }
}
