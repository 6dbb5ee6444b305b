/**
 * The integration user's permissions as a real org stores them: a profile (which Salesforce exposes as a permission
 * set with IsOwnedByProfile) granting read on what the sync reads, and the `Quota_Tracker_Integration` permission
 * set from salesforce-metadata/ assigned on top, which adds View All Data. These rows are what
 * `config check --online` asks about; tests take View All away by clearing the set's View All Data, or grant it
 * per object by updating the ObjectPermissions rows `integrationObjectPermissions` finds.
 */
import type { SRecord } from './schema.ts';
import type { SalesforceStore } from './store.ts';

/**
 * Objects with object permissions of their own among those the sync touches (history, line items and splits follow
 * their opportunity; activities and forecasting objects have no ObjectPermissions rows).
 */
const OBJECTS = ['Account', 'Opportunity', 'Quota_Scorecard__c'] as const;
const WRITTEN = new Set<string>(['Quota_Scorecard__c']);

export const INTEGRATION_PERMISSION_SET = 'Quota_Tracker_Integration';

/** Creates the profile's and the integration permission set's rows and assigns both to the integration user. */
export function grantIntegrationPermissions(store: SalesforceStore): void {
  const profile = store.insert('PermissionSet', {
    Name: 'X00e8d0000000IntegrationProfile',
    Label: 'Salesforce API Only System Integrations',
    IsOwnedByProfile: true,
    PermissionsViewAllData: false,
    PermissionsModifyAllData: false,
  });
  const integration = store.insert('PermissionSet', {
    Name: INTEGRATION_PERMISSION_SET,
    Label: 'Quota Tracker Integration',
    IsOwnedByProfile: false,
    PermissionsViewAllData: true,
    PermissionsModifyAllData: false,
  });
  const grant = (parent: SRecord, type: string, viewAll: boolean) =>
    store.insert('ObjectPermissions', {
      ParentId: parent.Id,
      SobjectType: type,
      PermissionsRead: true,
      PermissionsCreate: WRITTEN.has(type),
      PermissionsEdit: WRITTEN.has(type),
      PermissionsDelete: false,
      PermissionsViewAllRecords: viewAll,
      PermissionsModifyAllRecords: false,
    });
  // The profile reads; the set adds View All Data (a user permission: no ObjectPermissions rows of its own) and, as
  // salesforce-metadata/ declares it, object permissions on the scorecard only.
  for (const type of OBJECTS) grant(profile, type, false);
  grant(integration, 'Quota_Scorecard__c', true);
  for (const set of [profile, integration]) {
    store.insert('PermissionSetAssignment', { AssigneeId: store.integrationUserId, PermissionSetId: set.Id });
  }
}

/** The ObjectPermissions rows of `sobjectType` in the permission sets assigned to the integration user. */
export function integrationObjectPermissions(store: SalesforceStore, sobjectType: string): SRecord[] {
  const sets = new Set(
    store
      .all('PermissionSetAssignment')
      .filter((a) => a.AssigneeId === store.integrationUserId)
      .map((a) => a.PermissionSetId),
  );
  return store.all('ObjectPermissions').filter((p) => sets.has(p.ParentId ?? null) && p.SobjectType === sobjectType);
}
