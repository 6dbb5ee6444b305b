/**
 * The org file's CRM id bindings (`org.csv` columns `salesforce_user_id`, `hubspot_owner_id`): a CRM user whose
 * email differs from the person's is that person anyway. Reps are linked to persons by the bound email where a
 * binding names them, else by their own. The rows are the org file's, replaced whole each time it is read.
 * `external_id` is a HubSpot owner id as given, or a Salesforce user id's first 15 characters (the 18-character
 * id adds a checksum), so either form in the file binds the user.
 */
import type { Kysely } from 'kysely';
import { run } from './sql.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function up(db: Kysely<any>): Promise<void> {
  await run(db, [
    `CREATE TABLE person_bindings (
      crm text NOT NULL CHECK (crm IN ('salesforce', 'hubspot')),
      external_id text NOT NULL,
      email text NOT NULL,
      PRIMARY KEY (crm, external_id)
    )`,
  ]);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations never see the app's types
export async function down(db: Kysely<any>): Promise<void> {
  await run(db, ['DROP TABLE IF EXISTS person_bindings']);
}
