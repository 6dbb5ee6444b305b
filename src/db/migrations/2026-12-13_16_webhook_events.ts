/**
 * Webhook events already acted on, by connection and the CRM's event id: a CRM retries a delivery it thinks failed
 * (HubSpot: up to 10 times over 24 hours), and a replayed event must do nothing the second time. Rows older than
 * three days are pruned as new ones arrive (src/sync/webhook-events.ts).
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, [
    `CREATE TABLE webhook_events (
      connection_id text NOT NULL,
      event_id text NOT NULL,
      received_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when the event arrived, for pruning
      PRIMARY KEY (connection_id, event_id)
    )`,
    'CREATE INDEX webhook_events_received_idx ON webhook_events (received_at)',
  ]);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, ['DROP TABLE IF EXISTS webhook_events']);
}
