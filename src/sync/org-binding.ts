/**
 * A connection is bound to the CRM org (Salesforce org id, HubSpot portal id) it first synced from. A later sync
 * that reaches a different org — a sandbox URL pasted into the production connection — is refused before a single
 * row is written, because its records would silently mix with the other org's.
 */
import type { Kysely } from 'kysely';
import type { OrgIdentity } from '../connectors/types.ts';
import type { ConnectionKind, Database } from '../db/schema.ts';
import { AppError } from '../errors.ts';

/** Creates the connection row on first use. */
export async function ensureConnection(
  db: Kysely<Database>,
  connectionId: string,
  kind: ConnectionKind,
): Promise<void> {
  await db
    .insertInto('connections')
    .values({ id: connectionId, kind })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

/** Binds the connection to `identity.orgId` if unbound; refuses a different org with CRM_ORG_MISMATCH. */
export async function bindOrg(db: Kysely<Database>, connectionId: string, identity: OrgIdentity): Promise<void> {
  // Only an unbound row is updated, so two first syncs racing each other cannot bind two different orgs.
  await db
    .updateTable('connections')
    .set({
      crm_org_id: identity.orgId,
      instance_url: identity.instanceUrl,
      // wall-clock: audit stamps
      bound_at: new Date(),
      updated_at: new Date(), // wall-clock: see above
    })
    .where('id', '=', connectionId)
    .where('crm_org_id', 'is', null)
    .execute();
  const row = await db
    .selectFrom('connections')
    .select(['crm_org_id'])
    .where('id', '=', connectionId)
    .executeTakeFirstOrThrow();
  if (row.crm_org_id !== identity.orgId) {
    throw new AppError(
      'CRM_ORG_MISMATCH',
      `connection "${connectionId}" is bound to org ${row.crm_org_id} but its credentials reach org ${identity.orgId} ` +
        `(${identity.instanceUrl}); check loginUrl and credentials, or use a new connection id for the other org`,
      { where: `connections.${connectionId}` },
    );
  }
}
