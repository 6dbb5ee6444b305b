/**
 * The ledger tells a field we never wrote from a field we wrote empty. When a dead or unanswered CRM call of ours
 * puts a field in doubt that we had never written, its ledger row says `written = false` (no value of ours), not a
 * value of null; the audit of the run that then writes it records `before_unknown`, and a revert of that run leaves
 * the field alone instead of clearing what may be someone else's value (src/writeback/ledger.ts, push.ts).
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, [
    'ALTER TABLE writeback_ledger ADD COLUMN written boolean NOT NULL DEFAULT true',
    'ALTER TABLE writeback_audit ADD COLUMN before_unknown boolean NOT NULL DEFAULT false',
    // Before this column, a field we had never written that a dead or unanswered call put in doubt got a row with
    // no value; with the default it would read "we wrote it empty", which a revert would put back over someone
    // else's value. A field we did write empty has a successful audit row (the audit is append-only, never pruned).
    `UPDATE writeback_ledger l SET written = false
      WHERE l.uncertain AND l.value IS NULL
        AND NOT EXISTS (SELECT 1 FROM writeback_audit a
          WHERE a.connection_id = l.connection_id AND a.target_object = l.target_object
            AND a.target_record_id = l.target_record_id AND a.field = l.field AND a.ok)`,
  ]);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, [
    'ALTER TABLE writeback_audit DROP COLUMN before_unknown',
    'ALTER TABLE writeback_ledger DROP COLUMN written',
  ]);
}
