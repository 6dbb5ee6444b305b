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
  ]);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, [
    'ALTER TABLE writeback_audit DROP COLUMN before_unknown',
    'ALTER TABLE writeback_ledger DROP COLUMN written',
  ]);
}
