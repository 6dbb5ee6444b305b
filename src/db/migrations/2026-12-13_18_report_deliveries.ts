/**
 * Scheduled report deliveries (`reports.deliveries` in the config): one row per delivery and slot (a fiscal
 * month or quarter id, or a cron slot's minute), so each is delivered at most once even across restarts and
 * workers, and the rendered files, which the web server serves at the link the webhook message carries.
 *
 * `state`: `claimed` (files being rendered; a later run may finish it), `written` (files stored, no webhook),
 * `sending` (the webhook call started: never sent again, as its outcome is unknown until `sent`), `sent`.
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, [
    `CREATE TABLE report_deliveries (
      delivery_id text NOT NULL,
      slot text NOT NULL,
      period_id text NOT NULL,
      as_of date NOT NULL,
      state text NOT NULL CHECK (state IN ('claimed', 'written', 'sending', 'sent')),
      webhook_status integer,
      last_error text,
      claimed_at timestamptz NOT NULL DEFAULT now(), -- wall-clock: when a worker took the slot
      finished_at timestamptz,
      PRIMARY KEY (delivery_id, slot)
    )`,
    `CREATE TABLE report_delivery_files (
      delivery_id text NOT NULL,
      slot text NOT NULL,
      name text NOT NULL,
      -- What the file shows, so the web server lets in whom the report API would: org, team (with its name) or
      -- leaderboard.
      report_kind text NOT NULL CHECK (report_kind IN ('org', 'team', 'leaderboard')),
      team text,
      content_type text NOT NULL,
      body text NOT NULL,
      PRIMARY KEY (delivery_id, slot, name),
      FOREIGN KEY (delivery_id, slot) REFERENCES report_deliveries (delivery_id, slot) ON DELETE CASCADE
    )`,
  ]);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, ['DROP TABLE IF EXISTS report_delivery_files', 'DROP TABLE IF EXISTS report_deliveries']);
}
