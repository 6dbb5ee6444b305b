/**
 * Records a page could not take: kept aside with the newest payload and reason (one bad record never stops a
 * sync), and resolved when the CRM sends the record again in a form that normalizes and passes the sanity rules.
 */
import { sql, type Transaction } from 'kysely';
import type { QuarantinedRecord } from '../connectors/types.ts';
import { type Database, toJsonb } from '../db/schema.ts';

export interface QuarantineContext {
  connectionId: string;
  stream: { name: string };
}

/** Keeps each record aside under its stream, or counts it seen again with its newest payload and reason. */
export async function quarantine(
  trx: Transaction<Database>,
  ctx: QuarantineContext,
  records: readonly QuarantinedRecord[],
): Promise<void> {
  for (const q of records) {
    await trx
      .insertInto('quarantine')
      .values({
        connection_id: ctx.connectionId,
        stream: ctx.stream.name,
        external_id: q.externalId,
        reason_code: q.reasonCode,
        reason: q.reason,
        payload: toJsonb(q.payload ?? null),
      })
      .onConflict((oc) =>
        oc.columns(['connection_id', 'stream', 'external_id']).doUpdateSet({
          reason_code: q.reasonCode,
          reason: q.reason,
          payload: toJsonb(q.payload ?? null),
          last_seen_at: new Date(), // wall-clock: an audit stamp
          resolved_at: null,
          seen_count: sql`quarantine.seen_count + 1`,
        }),
      )
      .execute();
  }
}

/** The records of the stream that came through whole this time: their open quarantine entries are resolved. */
export async function resolveQuarantined(
  trx: Transaction<Database>,
  ctx: QuarantineContext,
  externalIds: readonly string[],
): Promise<void> {
  if (externalIds.length === 0) return;
  await trx
    .updateTable('quarantine')
    .set({ resolved_at: new Date() }) // wall-clock: an audit stamp
    .where('connection_id', '=', ctx.connectionId)
    .where('stream', '=', ctx.stream.name)
    .where('resolved_at', 'is', null)
    .where(sql<boolean>`external_id = ANY(${[...externalIds]}::text[])`)
    .execute();
}
