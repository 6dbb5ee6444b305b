/**
 * `quota-tracker setup hubspot` and `config check --online` for a HubSpot connection: what the portal needs for
 * write-back (the "Quota scorecard" custom object and its properties, the task property `quota_alert_key`), made
 * idempotently, and whether the portal can hold custom objects at all.
 */

import type { OrgRow } from '../../config/org-file.ts';
import type { HubspotConnectionConfig } from '../../config/schema.ts';
import { isAppError } from '../../errors.ts';
import type { Logger } from '../../util/log.ts';
import type { OnlineCheckLine, OnlineCheckResult } from '../types.ts';
import { HubSpotClient } from './client.ts';
import { HUBSPOT_PATHS } from './paths.ts';
import { ensureAlertKeyProperty } from './tasks.ts';
import { ensureScorecardSchema, hubspotDefaultLayout, SCORECARD_OBJECT } from './write.ts';

export interface SetupResult {
  /** What this run created, one line each; empty when the portal had everything. */
  made: string[];
  /** What was left alone and why (`writeback.target: off`). */
  notes: string[];
  apiCalls: number;
}

function clientOf(conn: HubspotConnectionConfig, log: Logger): HubSpotClient {
  return new HubSpotClient({ accessToken: conn.accessToken, basePath: conn.basePath, log });
}

/** Makes what write-back needs in the portal; a second run makes nothing. */
export async function setupHubspot(conn: HubspotConnectionConfig, log: Logger): Promise<SetupResult> {
  const client = clientOf(conn, log);
  const made: string[] = [];
  const notes: string[] = [];
  if (conn.writeback.target === 'off') {
    notes.push(`writeback.target is off: no ${SCORECARD_OBJECT} object is made`);
  } else {
    const schema = await ensureScorecardSchema(client, hubspotDefaultLayout(conn.writeback.fields), conn.id);
    made.push(...schema.made);
    if (schema.made.length === 0)
      notes.push(`custom object ${SCORECARD_OBJECT} (${schema.objectTypeId}) and its properties exist`);
  }
  const task = await ensureAlertKeyProperty(client);
  made.push(...task);
  if (task.length === 0) notes.push('task property quota_alert_key exists');
  return { made, notes, apiCalls: client.apiCalls() };
}

interface Limits {
  limit?: number;
  usage?: number;
}

/**
 * The online check: the portal answers, and whether it can hold the scorecard object (it exists, or the portal's
 * custom object limit has room). A portal that cannot while `writeback.target` is `custom_object` fails, asking for
 * `target: off`. No org id is returned: HubSpot's teams come from the org file, not a live hierarchy.
 */
export async function checkHubspotOnline(
  conn: HubspotConnectionConfig,
  log: Logger,
  orgRows?: readonly OrgRow[] | null,
): Promise<OnlineCheckResult & { apiCalls: number }> {
  const client = clientOf(conn, log);
  const lines: OnlineCheckLine[] = [];
  try {
    const account = await client.get<{ portalId?: number; timeZone?: string; companyCurrency?: string }>(
      HUBSPOT_PATHS.accountDetails,
    );
    lines.push({
      ok: true,
      text: `portal ${account.portalId ?? '?'} reached (time zone ${account.timeZone ?? '?'}, currency ${account.companyCurrency ?? '?'})`,
    });
  } catch (e) {
    lines.push({ ok: false, text: `the portal could not be reached: ${(e as Error).message.split('\n')[0]}` });
    return { ok: false, lines, apiCalls: client.apiCalls() };
  }
  const schemas = await client.get<{ results: Array<{ name: string; objectTypeId: string }> }>(HUBSPOT_PATHS.schemas);
  const existing = schemas.results.find((s) => s.name === SCORECARD_OBJECT);
  let canHold: boolean | null;
  let why: string;
  if (existing) {
    canHold = true;
    why = `the ${SCORECARD_OBJECT} custom object exists (${existing.objectTypeId})`;
  } else {
    try {
      const l = await client.get<Limits>(HUBSPOT_PATHS.customObjectLimits);
      canHold = (l.limit ?? 0) > (l.usage ?? 0);
      why =
        (l.limit ?? 0) === 0
          ? 'the portal cannot hold custom objects (they need an Enterprise subscription)'
          : canHold
            ? `the portal can hold custom objects (${l.usage ?? 0} of ${l.limit} used); \`quota-tracker setup hubspot\` or the first sync makes ${SCORECARD_OBJECT}`
            : `the portal's custom objects are all used (${l.usage} of ${l.limit})`;
    } catch (e) {
      if (!isAppError(e)) throw e;
      canHold = null;
      why = `whether the portal can hold custom objects could not be read: ${e.message.split('\n')[0]}`;
    }
  }
  const off = conn.writeback.target === 'off' || !conn.writeback.enabled;
  if (off) {
    lines.push({ ok: true, text: `${why}; writeback.target is off: scores stay in the reports` });
  } else if (canHold === false) {
    lines.push({
      ok: false,
      text: `${why}: set connections.${conn.id}.writeback.target: off (scores still reach the reports and the dashboard)`,
    });
  } else {
    lines.push({ ok: canHold, text: why });
  }
  if (orgRows !== undefined) lines.push(await managerLine(client, orgRows));
  return { ok: lines.every((l) => l.ok !== false), lines, apiCalls: client.apiCalls() };
}

/**
 * Teams whose alerts reach nobody (teams with a member who carries quota): an alert task goes to the rep's team
 * manager as the org file names it (HubSpot
 * owners have no manager), and only when that manager is one of the portal's owners (its email; active or archived
 * owners, 500 a page). A team's manager is the one most of its members name (`metrics/engine/org-model.ts`; of a tie,
 * the first in the file). A line of its own, not a failure: the figures are whole without the tasks.
 */
async function managerLine(client: HubSpotClient, rows: readonly OrgRow[] | null): Promise<OnlineCheckLine> {
  if (rows === null)
    return {
      ok: null,
      text: 'no org file (org.file): HubSpot owners have no manager, so no team has one and alert tasks go to nobody',
    };
  const owners = [
    ...(await client.getAll<{ email?: string }>(HUBSPOT_PATHS.owners, { limit: '500', archived: 'false' })),
    ...(await client.getAll<{ email?: string }>(HUBSPOT_PATHS.owners, { limit: '500', archived: 'true' })),
  ];
  const ownerEmails = new Set(owners.flatMap((o) => (o.email ? [o.email.toLowerCase()] : [])));
  const order = new Map(rows.map((r, i) => [r.email, i]));
  const votes = new Map<string, Map<string, number>>();
  // Teams where someone may get alerts: a member who carries quota (the file's flag, else a `rep` role).
  const alerted = new Set(rows.filter((r) => r.quotaCarrying ?? r.role === 'rep').map((r) => r.team));
  for (const r of rows) {
    if (r.team === '' || !alerted.has(r.team)) continue;
    const v = votes.get(r.team) ?? new Map<string, number>();
    votes.set(r.team, v);
    if (r.managerEmail) v.set(r.managerEmail, (v.get(r.managerEmail) ?? 0) + 1);
  }
  const missing: string[] = [];
  for (const [team, v] of [...votes].sort(([a], [b]) => a.localeCompare(b))) {
    const manager = [...v].sort(
      (a, b) => b[1] - a[1] || (order.get(a[0]) ?? rows.length) - (order.get(b[0]) ?? rows.length),
    )[0]?.[0];
    if (manager === undefined) missing.push(`${team} (no manager_email)`);
    else if (!ownerEmails.has(manager)) missing.push(`${team} (${manager} is no HubSpot owner)`);
  }
  if (missing.length === 0)
    return { ok: true, text: `every team's manager in the org file is a HubSpot owner (${votes.size} teams)` };
  return {
    ok: null,
    text: `${missing.length} team${missing.length > 1 ? 's have' : ' has'} no known manager and get${missing.length > 1 ? '' : 's'} no alert task: ${missing.join(', ')}; set manager_email in the org file to a HubSpot user's email`,
  };
}
