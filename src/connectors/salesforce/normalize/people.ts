/** Users and the role tree: who sells, who manages whom, since when. */
import type { CrmRoleRow, RepRow } from '../../types.ts';
import { bool, date, type NormalizeContext, type RawRecord, reqStr, str } from './fields.ts';

/**
 * A User as a rep. Start date comes from the mapped field (default `Start_Date__c`) when the org has it, else the
 * day the user was created, in the org's time zone.
 */
export function normalizeUser(raw: RawRecord, ctx: NormalizeContext): RepRow {
  const startField = ctx.fields.startDate;
  const territoryField = ctx.fields.territory;
  const name = str(raw, 'Name') ?? [str(raw, 'FirstName'), str(raw, 'LastName')].filter(Boolean).join(' ');
  return {
    name: name || reqStr(raw, 'Username', 'MISSING_NAME'),
    email: str(raw, 'Email'),
    title: str(raw, 'Title'),
    role_external_id: str(raw, 'UserRoleId'),
    manager_external_id: str(raw, 'ManagerId'),
    is_active: bool(raw, 'IsActive'),
    start_date:
      (startField && raw[startField] !== undefined ? date(raw, startField, ctx.timeZone) : null) ??
      date(raw, 'CreatedDate', ctx.timeZone),
    territory: territoryField && raw[territoryField] !== undefined ? str(raw, territoryField) : null,
    currency: str(raw, 'DefaultCurrencyIsoCode'),
    // Unmapped, whether the user carries a quota is derived from the quotas in the warehouse (src/sync/derive.ts).
    ...(ctx.fields.quotaCarrying ? { quota_carrying: bool(raw, ctx.fields.quotaCarrying) } : {}),
  };
}

export function normalizeRole(raw: RawRecord): CrmRoleRow {
  return {
    name: reqStr(raw, 'Name', 'MISSING_NAME'),
    parent_external_id: str(raw, 'ParentRoleId'),
  };
}
