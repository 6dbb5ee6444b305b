/**
 * Webhook-triggered syncs: a verified batch of CRM events becomes one incremental sync of each stream its new
 * events touch. Events are deduplicated by the CRM's event id (table `webhook_events`), so a delivery the CRM
 * retries, or a replay, does nothing the second time. The events' contents are never stored: the sync reads the
 * records from the CRM, as polling would.
 */
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Database } from '../db/schema.ts';

/** Longer than any CRM's redelivery window (HubSpot retries for 24 hours). */
export const WEBHOOK_EVENT_KEEP_DAYS = 3;

export interface AcceptedEvents {
  /** Events seen for the first time. */
  fresh: number;
  freshIds: string[];
  /** Events already acted on (redeliveries, replays). */
  duplicates: number;
  /** Streams the fresh events touch, in the order given. */
  streams: string[];
}

/** Records the events of one connection and says which are new and which streams those touch. */
export async function acceptWebhookEvents(
  db: Kysely<Database>,
  connectionId: string,
  events: readonly { id: string; streams: readonly string[] }[],
): Promise<AcceptedEvents> {
  const ids = [...new Set(events.map((e) => e.id))];
  if (ids.length === 0) return { fresh: 0, freshIds: [], duplicates: 0, streams: [] };
  const inserted = await db.transaction().execute(async (tx) => {
    await tx
      .deleteFrom('webhook_events')
      .where('received_at', '<', sql<Date>`now() - make_interval(days => ${WEBHOOK_EVENT_KEEP_DAYS})`) // wall-clock: pruned by real age, as the CRM redelivers by it
      .execute();
    return tx
      .insertInto('webhook_events')
      .values(ids.map((id) => ({ connection_id: connectionId, event_id: id })))
      .onConflict((oc) => oc.columns(['connection_id', 'event_id']).doNothing())
      .returning('event_id')
      .execute();
  });
  const fresh = new Set(inserted.map((r) => r.event_id));
  const freshIds = [...fresh];
  const streams: string[] = [];
  for (const e of events) {
    if (!fresh.has(e.id)) continue;
    for (const s of e.streams) if (!streams.includes(s)) streams.push(s);
  }
  return { fresh: fresh.size, freshIds, duplicates: ids.length - fresh.size, streams };
}

/**
 * Forgets events that were recorded but whose syncs could not be queued, so the CRM's redelivery acts on them
 * (polling would find the changes anyway, later).
 */
export async function forgetWebhookEvents(db: Kysely<Database>, connectionId: string, ids: readonly string[]) {
  if (ids.length === 0) return;
  await db
    .deleteFrom('webhook_events')
    .where('connection_id', '=', connectionId)
    .where('event_id', 'in', ids)
    .execute();
}
