/**
 * Writes one page of a stream into the warehouse, inside the caller's transaction: screens it with the sanity
 * rules, writes only rows whose content hash (or deleted flag) changed through the table's strategy (tables.ts),
 * flags deletes, records the change feed and the dirty rep-periods (change-feed.ts), quarantines what could not be
 * taken (quarantine.ts), and stores the cursor. If the process dies, the transaction rolls back and the previous
 * page's cursor is where the next run resumes.
 */

import { sql, type Transaction } from 'kysely';
import { now } from '../clock.ts';
import type { NormalizedRecord, Page, StreamSpec } from '../connectors/types.ts';
import type { Database } from '../db/schema.ts';
import { toJsonb } from '../db/schema.ts';
import { type Change, type PeriodLookup, recordChanges } from './change-feed.ts';
import { lockDerivations, runDerivations } from './derive.ts';
import { quarantine, resolveQuarantined } from './quarantine.ts';
import { type SanityRules, screenPage } from './sanity.ts';
import { changeOf, rowHash, type TableContext, type TableStrategy, tableStrategy } from './tables.ts';

export type { PeriodLookup } from './change-feed.ts';
export { rowHash } from './tables.ts';

export interface ApplyContext {
  connectionId: string;
  stream: StreamSpec & { scope?: { column: string; value: string } };
  runId: number;
  calendar: PeriodLookup;
  /** The run's date (YYYY-MM-DD): the current quarter a rep-wide derived change marks dirty. */
  today?: string;
  /** The connection's `sync.sanity` bounds (default 1e12 and 32,768 characters). */
  sanity?: SanityRules | undefined;
}

export interface PageCounts {
  read: number;
  changed: number;
  deleted: number;
  quarantined: number;
}

/**
 * One page of a paged sweep: the ids it saw go to sync_sweep_seen (unnest of one array per page, never the whole
 * stream); at the end, rows not seen are flagged deleted by an anti-join against that table, which is then emptied.
 */
async function sweepPage(
  trx: Transaction<Database>,
  table: TableStrategy,
  ctx: TableContext,
  sweep: NonNullable<Page['sweep']>,
): Promise<Change[]> {
  if (sweep.begin) {
    await sql`DELETE FROM sync_sweep_seen WHERE connection_id = ${ctx.connectionId} AND stream = ${ctx.stream.name}`.execute(
      trx,
    );
  }
  if (sweep.seenIds.length > 0) {
    await sql`INSERT INTO sync_sweep_seen (connection_id, stream, external_id)
      SELECT ${ctx.connectionId}, ${ctx.stream.name}, id FROM unnest(${sweep.seenIds}::text[]) AS v(id)
      ON CONFLICT DO NOTHING`.execute(trx);
  }
  if (!sweep.end) return [];
  const changes = await table.markDeleted(trx, ctx, { notSwept: true });
  await sql`DELETE FROM sync_sweep_seen WHERE connection_id = ${ctx.connectionId} AND stream = ${ctx.stream.name}`.execute(
    trx,
  );
  return changes;
}

/** Applies one page inside `trx`; returns what it counted. */
export async function applyPage(
  trx: Transaction<Database>,
  ctx: ApplyContext,
  unscreened: Page,
  cursorJson: unknown,
): Promise<PageCounts> {
  const table = tableStrategy(ctx.stream.table);
  const tctx: TableContext = {
    connectionId: ctx.connectionId,
    runId: ctx.runId,
    stream: ctx.stream,
    today: ctx.today ?? now().toISOString().slice(0, 10),
  };
  // Pages feeding the same derived column commit one at a time (see lockDerivations).
  await lockDerivations(trx, ctx.connectionId, ctx.stream.derives ?? []);
  // Records outside the sanity bounds, or naming an owner or currency nobody knows, join the page's quarantine.
  const page = await screenPage(trx, ctx, unscreened);
  const counts: PageCounts = { read: unscreened.records.length, changed: 0, deleted: 0, quarantined: 0 };
  const changes: Change[] = [];

  // Last record wins when a page holds the same id twice (it cannot with keyset paging, but a CRM may).
  const byId = new Map(page.records.map((r) => [r.externalId, r]));
  const existing = await table.load(trx, tctx, [...byId.keys()]);
  const batch: Array<{ rec: NormalizedRecord; hash: string }> = [];
  const restamp: NormalizedRecord[] = [];
  for (const rec of byId.values()) {
    const hash = rowHash(rec.row);
    const old = existing.get(rec.externalId);
    if (old && old.content_hash === hash && old.is_deleted === rec.isDeleted) {
      // Same content, newer stamp (an unmapped field changed, or the delete feed flagged it first): keep the
      // CRM's stamp current without counting a change.
      if (table.keepsStamp && rec.sourceModifiedAt && old.stamp !== rec.sourceModifiedAt) restamp.push(rec);
      continue;
    }
    batch.push({ rec, hash });
    changes.push(changeOf(tctx, rec, old));
  }
  await table.write(trx, tctx, batch);
  await table.restamp(trx, tctx, restamp);

  // Formula-field patches: merged into the stored row, rewritten only when the hash moves.
  changes.push(...(await table.patch(trx, tctx, page.patches ?? [])));

  if (page.deletedIds.length > 0) changes.push(...(await table.markDeleted(trx, tctx, { ids: page.deletedIds })));
  if (page.sweepSeenIds) changes.push(...(await table.markDeleted(trx, tctx, { notIn: page.sweepSeenIds })));
  if (page.sweep) changes.push(...(await sweepPage(trx, table, tctx, page.sweep)));

  counts.changed = changes.filter((c) => c.change !== 'deleted').length;
  counts.deleted = changes.filter((c) => c.change === 'deleted').length;

  // Warehouse-side columns fed by this stream (a deal's product line from its line items, ...), recomputed for the
  // rows this page moved; a derived value that changes marks its rep-periods dirty like a synced change does.
  const derivedDirty = await runDerivations(trx, ctx.stream.derives ?? [], {
    connectionId: ctx.connectionId,
    table: ctx.stream.table,
    touchedIds: [...new Set(changes.map((c) => c.externalId))],
    today: tctx.today,
  });

  await table.afterChanges(trx, changes);
  await recordChanges(trx, ctx, changes, derivedDirty);

  // Quarantine: keep the newest payload and reason; a record that now came through whole is resolved.
  counts.quarantined = page.quarantined.length;
  await quarantine(trx, ctx, page.quarantined);
  await resolveQuarantined(trx, ctx, [...byId.keys()]);

  await trx
    .insertInto('sync_cursors')
    .values({ connection_id: ctx.connectionId, stream: ctx.stream.name, cursor: toJsonb(cursorJson) })
    .onConflict(
      (oc) =>
        oc.columns(['connection_id', 'stream']).doUpdateSet({ cursor: toJsonb(cursorJson), updated_at: new Date() }), // wall-clock: an audit stamp
    )
    .execute();

  await trx
    .updateTable('sync_runs')
    .set({
      records_read: sql`records_read + ${counts.read}`,
      records_changed: sql`records_changed + ${counts.changed}`,
      records_deleted: sql`records_deleted + ${counts.deleted}`,
      records_quarantined: sql`records_quarantined + ${counts.quarantined}`,
      api_calls: sql`api_calls + ${page.apiCalls}`,
    })
    .where('id', '=', ctx.runId)
    .execute();
  return counts;
}
