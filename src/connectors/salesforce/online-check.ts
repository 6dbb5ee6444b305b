/**
 * What `config check --online` verifies against a live org: the login works and which org it reaches; every field
 * the streams would select is readable (describe, then a `LIMIT 1` query per object, because one field hidden by
 * field-level security fails the whole SOQL query); View All on opportunities; and which optional features the
 * org has. Every answer is a line a RevOps admin can act on.
 */
import { isAppError } from '../../errors.ts';
import type { LiveHierarchy, OnlineCheckLine, OnlineCheckResult, OnlineUser } from '../types.ts';
import type { SalesforceConnector } from './connector.ts';

const FEATURES: ReadonlyArray<[string, string]> = [
  ['DatedConversionRate', 'dated exchange rates (advanced currency management)'],
  ['ForecastingQuota', 'collaborative forecasts quotas'],
  ['OpportunitySplit', 'opportunity splits'],
  ['Territory2', 'enterprise territory management'],
];

/**
 * An error on one line. A SOQL error's message repeats the query with a caret under the fault and then
 * `ERROR at Row:r:Column:c` before the API's own words: keep what failed (the first line) and those words.
 */
export function oneLineMessage(e: unknown): string {
  const text = isAppError(e) ? e.toUserString() : (e as Error).message;
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const at = lines.findIndex((l) => /^ERROR at Row:\d+:Column:\d+$/.test(l));
  if (at < 0) return lines[0] ?? '';
  return [lines[0], ...lines.slice(at + 1)].join(' ');
}

async function exists(connector: SalesforceConnector, sobject: string): Promise<boolean> {
  try {
    await connector.client.describe(sobject);
    return true;
  } catch (e) {
    if (isAppError(e) && (e.code === 'CRM_REQUEST_INVALID' || e.code === 'CRM_PERMISSION')) return false;
    throw e;
  }
}

export async function checkSalesforceOnline(connector: SalesforceConnector): Promise<OnlineCheckResult> {
  const lines: OnlineCheckLine[] = [];
  let identity: Awaited<ReturnType<SalesforceConnector['identify']>>;
  try {
    identity = await connector.identify();
  } catch (e) {
    return { lines: [{ ok: false, text: `login failed: ${oneLineMessage(e)}` }], ok: false };
  }
  lines.push({ ok: true, text: `logged in to org ${identity.orgId} at ${identity.instanceUrl}` });

  // Fields: describe each object, then one LIMIT 1 query with exactly the fields a sync would select.
  const seen = new Set<string>();
  for (const stream of connector.streams()) {
    const def = connector.streamDef(stream.name);
    for (const obj of def.objects) {
      if (seen.has(obj.sobject)) continue;
      seen.add(obj.sobject);
      let describedNames: Set<string>;
      try {
        const d = await connector.client.describe(obj.sobject);
        describedNames = new Set(d.fields.map((f) => f.name.toLowerCase()));
      } catch (e) {
        lines.push({
          ok: def.optional ? null : false,
          text: `${obj.sobject}: not available (${oneLineMessage(e)})${def.optional ? '; the stream will be skipped' : ''}`,
        });
        continue;
      }
      const missing = obj.fields.filter((f) => !f.includes('.') && !describedNames.has(f.toLowerCase()));
      if (missing.length > 0) {
        lines.push({ ok: false, text: `${obj.sobject}: fields missing or hidden: ${missing.join(', ')}` });
        continue;
      }
      const optional = (obj.optionalFields ?? []).filter((f) => describedNames.has(f.toLowerCase()));
      const absent = (obj.optionalFields ?? []).filter((f) => !describedNames.has(f.toLowerCase()));
      const select = [...obj.fields, ...optional];
      try {
        await connector.client.query(`SELECT ${select.join(', ')} FROM ${obj.sobject} LIMIT 1`);
        const without = absent.length > 0 ? `; optional, not in this org or hidden: ${absent.join(', ')}` : '';
        lines.push({ ok: true, text: `${obj.sobject}: ${select.length} fields readable${without}` });
      } catch (e) {
        lines.push({ ok: false, text: `${obj.sobject}: the sync's query fails: ${oneLineMessage(e)}` });
      }
    }
  }

  // View All on opportunities: a rep-scoped integration user would silently miss other owners' deals.
  const session = await connector.client.currentSession();
  if (session.userId) {
    try {
      const assigned = `SELECT PermissionSetId FROM PermissionSetAssignment WHERE AssigneeId = '${session.userId}'`;
      // View All on the object itself, or the View All Data user permission (what the shipped
      // Quota_Tracker_Integration set grants), which Salesforce does not write out as ObjectPermissions rows.
      const onObject = await connector.client.query<{ Id: string }>(
        `SELECT Id FROM ObjectPermissions WHERE SobjectType = 'Opportunity' AND PermissionsViewAllRecords = true ` +
          `AND ParentId IN (${assigned}) LIMIT 1`,
      );
      const viewAllData =
        onObject.records.length > 0
          ? null
          : await connector.client.query<{ Id: string }>(
              `SELECT Id FROM PermissionSet WHERE PermissionsViewAllData = true AND Id IN (${assigned}) LIMIT 1`,
            );
      lines.push(
        onObject.records.length > 0
          ? { ok: true, text: 'View All on Opportunity: granted' }
          : (viewAllData?.records.length ?? 0) > 0
            ? { ok: true, text: 'View All on Opportunity: granted (View All Data)' }
            : { ok: false, text: 'View All on Opportunity: not granted; deals of other owners may be missing' },
      );
    } catch (e) {
      lines.push({ ok: null, text: `View All on Opportunity: could not be determined (${oneLineMessage(e)})` });
    }
  } else {
    lines.push({ ok: null, text: 'View All on Opportunity: could not be determined (no user id in the session)' });
  }

  // Features.
  try {
    const facts = await connector.orgFacts();
    lines.push({
      ok: true,
      text: `multi-currency: ${facts.multiCurrency ? 'yes' : 'no'}; corporate currency ${facts.corporateCurrency}; time zone ${facts.timeZone}`,
    });
    for (const [sobject, label] of FEATURES) {
      lines.push({ ok: true, text: `${label}: ${(await exists(connector, sobject)) ? 'yes' : 'no'}` });
    }
  } catch (e) {
    lines.push({ ok: false, text: `org features could not be read: ${oneLineMessage(e)}` });
  }
  return { orgId: identity.orgId, instanceUrl: identity.instanceUrl, lines, ok: lines.every((l) => l.ok !== false) };
}

async function allRecords<T>(connector: SalesforceConnector, soql: string): Promise<T[]> {
  const out: T[] = [];
  let res = await connector.client.query<T & Record<string, unknown>>(soql);
  out.push(...res.records);
  while (!res.done && res.nextRecordsUrl) {
    res = await connector.client.queryMore<T & Record<string, unknown>>(res.nextRecordsUrl);
    out.push(...res.records);
  }
  return out;
}

/**
 * Reads roles, active users and the quarter's quota owners. Roles may be absent (an org without a role tree) and
 * ForecastingQuota too (Collaborative Forecasting off): both read as empty, not as errors.
 */
export async function readLiveHierarchy(
  connector: SalesforceConnector,
  quarter: { start: string; end: string },
): Promise<LiveHierarchy> {
  const roles =
    (await connector.describedFields('UserRole')) === null
      ? []
      : await allRecords<{ Id: string; Name: string; ParentRoleId: string | null }>(
          connector,
          'SELECT Id, Name, ParentRoleId FROM UserRole',
        );
  const users = await allRecords<{
    Id: string;
    Name: string;
    Email: string;
    UserRoleId: string | null;
    ManagerId: string | null;
  }>(connector, 'SELECT Id, Name, Email, UserRoleId, ManagerId FROM User WHERE IsActive = true');
  let quotaOwners: Set<string> | null = null;
  const fq = await connector.describedFields('ForecastingQuota');
  if (fq !== null) {
    const rows = await allRecords<{ QuotaOwnerId: string }>(
      connector,
      `SELECT QuotaOwnerId${fq.has('isquantity') ? ', IsQuantity' : ''} FROM ForecastingQuota WHERE StartDate >= ${quarter.start} AND StartDate <= ${quarter.end}`,
    );
    quotaOwners = new Set(
      rows.filter((r) => (r as { IsQuantity?: boolean }).IsQuantity !== true).map((r) => r.QuotaOwnerId),
    );
  }
  return {
    roles: roles.map((r) => ({ id: r.Id, name: r.Name, parentId: r.ParentRoleId ?? null })),
    users: users.map((u) => ({
      id: u.Id,
      name: u.Name,
      email: (u.Email ?? '').toLowerCase(),
      roleId: u.UserRoleId ?? null,
      managerId: u.ManagerId ?? null,
    })),
    quotaOwners,
  };
}

/** Every user, active or not, with its manager: who can own an alert task (`config check --online`). */
export async function readUsers(connector: SalesforceConnector): Promise<OnlineUser[]> {
  const users = await allRecords<{ Id: string; Email: string | null; IsActive: boolean; ManagerId: string | null }>(
    connector,
    'SELECT Id, Email, IsActive, ManagerId FROM User',
  );
  return users.map((u) => ({
    id: u.Id,
    email: (u.Email ?? '').toLowerCase(),
    active: u.IsActive,
    managerId: u.ManagerId ?? null,
  }));
}
