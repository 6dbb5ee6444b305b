/**
 * `quota-tracker setup hubspot` and `config check --online` for a HubSpot connection: what the portal needs for
 * write-back (the "Quota scorecard" custom object and its properties, the task property `quota_alert_key`), made
 * idempotently, and whether the portal can hold custom objects at all.
 */

import type { OrgRow } from '../../config/org-file.ts';
import type { HubspotConnectionConfig } from '../../config/schema.ts';
import { isAppError } from '../../errors.ts';
import type { Logger } from '../../util/log.ts';
import type { OnlineCheckLine, OnlineCheckResult, OnlineUser } from '../types.ts';
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
  if (orgRows === null) lines.push(noOrgFileLine());
  return { ok: lines.every((l) => l.ok !== false), lines, apiCalls: client.apiCalls() };
}

/**
 * HubSpot owners have no manager, so without an org file no team has one and alert tasks go to nobody. With one,
 * `config check --online` holds its teams' managers against every connection's users (cli/commands/config-online.ts,
 * by the rule alert delivery routes tasks with).
 */
function noOrgFileLine(): OnlineCheckLine {
  return {
    ok: null,
    text: 'no org file (org.file): HubSpot owners have no manager, so no team has one and alert tasks go to nobody',
  };
}

/** The portal's owners, active and archived (500 a page), as the users `config check --online` routes tasks to. */
export async function hubspotUsers(
  conn: HubspotConnectionConfig,
  log: Logger,
): Promise<{ users: OnlineUser[]; apiCalls: number }> {
  const client = clientOf(conn, log);
  const page = (archived: boolean) =>
    client.getAll<{ id: string | number; email?: string }>(HUBSPOT_PATHS.owners, {
      limit: '500',
      archived: String(archived),
    });
  const users = [
    ...(await page(false)).map((o) => ({ o, active: true })),
    ...(await page(true)).map((o) => ({ o, active: false })),
  ].map(({ o, active }) => ({ id: String(o.id), email: (o.email ?? '').toLowerCase(), active, managerId: null }));
  return { users, apiCalls: client.apiCalls() };
}
