/**
 * The `--online` half of `quota-tracker config check`: logs in to every enabled connection through its registry
 * entry and checks what its CRM needs (for Salesforce: the org id, field access, View All on opportunities and the
 * org's features). It touches no database and writes nothing; secrets never reach the output (only org ids,
 * URLs and field names are printed).
 */

import { createFiscalCalendar } from '../../config/calendar.ts';
import { loadOrgFile, type OrgRow } from '../../config/org-file.ts';
import { loadQuotaFile } from '../../config/quota-file.ts';
import type { Config } from '../../config/schema.ts';
import { connectorKind, crmLabel } from '../../connectors/registry.ts';
import type { OnlineCheckLine, OnlineProbe, OnlineUser } from '../../connectors/types.ts';
import {
  type HierarchyTree,
  hierarchyTree,
  hierarchyTreeText,
  placeByHierarchy,
} from '../../metrics/engine/hierarchy.ts';
import { pickTeamManagers, type RoutingUser, taskRecipient } from '../../metrics/engine/task-routing.ts';
import { today } from '../../util/date.ts';
import type { Logger } from '../../util/log.ts';
import { pushTo } from '../../util/multimap.ts';
import type { CliIo } from '../program.ts';

/**
 * The teams and regions the hierarchy rule derives from the live org, before any sync: who carries a quota this
 * quarter comes from the quota file when configured, else from ForecastingQuota (nobody, without one).
 */
async function liveTree(config: Config, probe: OnlineProbe): Promise<HierarchyTree> {
  const calendar = createFiscalCalendar(config.calendar);
  const quarter = calendar.periodContaining(today(config.calendar.timezone), 'quarter');
  const live = await probe.liveHierarchy(quarter);
  let fileEmails: Set<string> | null = null;
  if (config.quotas.source === 'file') {
    const rows = await loadQuotaFile(config.quotas.path, calendar, config.calendar.baseCurrency);
    fileEmails = new Set(
      rows.filter((r) => r.period.start <= quarter.end && r.period.end >= quarter.start).map((r) => r.email),
    );
  }
  const people = live.users.map((u) => ({
    id: u.id,
    name: u.name,
    email: u.email,
    role: u.roleId,
    manager: u.managerId,
    quotaCarrying: fileEmails ? fileEmails.has(u.email) : (live.quotaOwners?.has(u.id) ?? false),
  }));
  const roles = live.roles.map((r) => ({ key: r.id, name: r.name, parent: r.parentId }));
  return hierarchyTree(placeByHierarchy(roles, people), people);
}

interface ConnectionUsers {
  id: string;
  kind: string;
  label: string;
  users: OnlineUser[];
}

/**
 * Where each team's alert tasks go, by the org file and the CRMs' users as they are now, through the rule delivery
 * routes them by (metrics/engine/task-routing.ts): the team's manager (most of its members name them; of a tie,
 * the first in the file), in the first of each rep's connections where that manager is a user (a user stands for
 * the file's row that binds its id, else for its email). Teams with a member who carries quota only. A line of its
 * own, not a failure: the figures are whole without the tasks.
 */
export function taskRoutingLines(
  rows: readonly OrgRow[],
  connections: readonly ConnectionUsers[],
  unread: readonly string[] = [],
): OnlineCheckLine[] {
  // A connection whose users could not be read hides its users: a manager may be one there after all.
  const incomplete: OnlineCheckLine[] =
    unread.length === 0
      ? []
      : [
          {
            ok: null,
            text: `incomplete: the users of ${unread.join(', ')} could not be read, so a manager named below as in no CRM may be a user there`,
          },
        ];
  return [...incomplete, ...routingLines(rows, connections)];
}

function routingLines(rows: readonly OrgRow[], connections: readonly ConnectionUsers[]): OnlineCheckLine[] {
  const bound = new Map<string, string>();
  for (const r of rows) {
    if (r.salesforceUserId !== null) bound.set(`salesforce:${r.salesforceUserId.slice(0, 15)}`, r.email);
    if (r.hubspotOwnerId !== null) bound.set(`hubspot:${r.hubspotOwnerId}`, r.email);
  }
  const all: RoutingUser<string>[] = connections.flatMap((c) =>
    c.users.map((u) => ({
      connectionId: c.id,
      externalId: u.id,
      person:
        bound.get(`${c.kind}:${c.kind === 'salesforce' ? u.id.slice(0, 15) : u.id}`) ??
        (u.email === '' ? null : u.email),
      active: u.active,
      managerExternalId: u.managerId,
    })),
  );
  const usersOf = new Map<string, RoutingUser<string>[]>();
  for (const u of all) if (u.person !== null) pushTo(usersOf, u.person, u);
  const personOf = new Map(all.map((u) => [`${u.connectionId}:${u.externalId}`, u.person]));
  const order = connections.map((c) => c.id);
  const rowOf = new Map(rows.map((r, i) => [r.email, i]));
  // The warehouse's rule (org-model.ts): a manager votes only as a person (a file row or a CRM user); a tie goes to
  // the first row in the file, then (no person ids before a sync) the email.
  const managers = pickTeamManagers(
    rows
      .filter((r) => r.team !== '')
      .map((r) => ({
        team: r.team,
        manager:
          r.managerEmail !== null && (rowOf.has(r.managerEmail) || usersOf.has(r.managerEmail)) ? r.managerEmail : null,
      })),
    (m) => rowOf.get(m),
    (a, b) => (a < b ? -1 : a > b ? 1 : 0),
  );
  const carries = (r: OrgRow) => r.quotaCarrying ?? r.role === 'rep';
  const teams = [...new Set(rows.filter((r) => r.team !== '' && carries(r)).map((r) => r.team))].sort((a, b) =>
    a.localeCompare(b),
  );
  const labelOf = new Map(connections.map((c) => [c.id, c.label]));
  const single = connections.length === 1 ? connections[0] : undefined;
  const userWord = (label: string) => (label === 'HubSpot' ? 'HubSpot owner' : `${label} user`);
  const routed: string[] = [];
  const missing: string[] = [];
  const fallback: string[] = [];
  let counted = 0;
  for (const team of teams) {
    const manager = managers.get(team) ?? null;
    const to = new Set<string>();
    const instead = new Set<string>();
    const none: string[] = [];
    let reps = 0;
    for (const r of rows) {
      if (r.team !== team || !carries(r)) continue;
      const repUsers = usersOf.get(r.email) ?? [];
      // Someone no CRM has yet (a new hire) has no figures, so no alerts.
      if (repUsers.length === 0) continue;
      reps++;
      const recipient = taskRecipient({
        order,
        repUsers,
        fileManager: manager,
        hierarchyManager: null,
        usersOf: (p) => usersOf.get(p) ?? [],
        personOfUser: (c, id) => personOf.get(`${c}:${id}`) ?? null,
      });
      if (recipient === null) {
        none.push(r.name);
        continue;
      }
      const who = `${recipient.managerPerson ?? '?'} (${recipient.connectionId} ${userWord(labelOf.get(recipient.connectionId) ?? '')} ${recipient.managerExternalId})`;
      // The file's manager is a user in no CRM of this rep's: delivery falls back to the CRM's manager.
      if (manager !== null && recipient.via !== 'file') instead.add(who);
      else to.add(who);
    }
    if (reps === 0) continue;
    counted++;
    if (to.size > 0) routed.push(`${team}: ${[...to].join(', ')}`);
    if (instead.size > 0)
      fallback.push(`${team}'s tasks go to ${[...instead].join(', ')} because ${manager} is in no CRM`);
    if (none.length === 0) continue;
    if (manager === null) missing.push(`${team} (no manager_email)`);
    else if (single) missing.push(`${team} (${manager} is no ${userWord(single.label)})`);
    else missing.push(`${team} (${manager} is a user in none of the CRMs of ${none.join(', ')})`);
  }
  const what = single ? userWord(single.label) : 'user in a CRM of its reps';
  if (missing.length === 0 && fallback.length === 0)
    return [
      {
        ok: true,
        text: `every team's manager in the org file is a ${what} (${counted} teams): tasks go to ${routed.join('; ')}`,
      },
    ];
  const lines: OnlineCheckLine[] = [];
  if (missing.length > 0)
    lines.push({
      ok: null,
      text: `${missing.length} team${missing.length > 1 ? 's have' : ' has'} no known manager and get${missing.length > 1 ? '' : 's'} no alert task: ${missing.join(', ')}; set manager_email in the org file to a ${what}'s email`,
    });
  if (fallback.length > 0)
    lines.push({
      ok: null,
      text: `${fallback.join('; ')} (the CRM's manager of each rep instead); set manager_email in the org file to a ${what}'s email`,
    });
  if (routed.length > 0) lines.push({ ok: true, text: `the other teams' tasks go to ${routed.join('; ')}` });
  return lines;
}

/**
 * Runs the online checks; returns the exit code (0 all good, 1 a check failed). With `json`, stdout carries one
 * document, the derived hierarchy `{ regions, unplaced }`, and the check lines go to stderr.
 */
export async function runOnlineChecks(config: Config, io: CliIo, log: Logger, json = false): Promise<number> {
  const out = json ? io.stderr : io.stdout;
  const trees: HierarchyTree[] = [];
  let ok = true;
  const connections = config.connections.filter((c) => c.enabled);
  if (connections.length === 0) out('Online checks: no enabled connection.');
  // Read once for every connection: a team's manager must be one of the CRM's users to get its alert tasks.
  const orgRows = config.org.file ? (await loadOrgFile(config.org.file)).rows : null;
  const crmUsers: ConnectionUsers[] = [];
  const unread: string[] = [];
  for (const conn of connections) {
    const kind = connectorKind(conn.type);
    if (!kind) {
      out(`connection ${conn.id}: ${crmLabel(conn.type)} online checks are not built yet`);
      continue;
    }
    const probe = kind.online(conn, {
      log,
      defaultTimeZone: config.calendar.timezone,
      defaultCurrency: config.calendar.baseCurrency,
      orgRows,
    });
    const result = await probe.check();
    out(`connection ${conn.id} (${kind.describe(conn)}):`);
    for (const line of result.lines) {
      const mark = line.ok === true ? 'ok  ' : line.ok === false ? 'FAIL' : '??  ';
      out(`  ${mark} ${line.text}`);
    }
    if (result.orgId !== undefined) {
      try {
        const tree = await liveTree(config, probe);
        trees.push(tree);
        out('  teams and regions as a sync will derive them (+ carries a quota this quarter):');
        for (const l of hierarchyTreeText(tree, '    ')) out(l);
      } catch (e) {
        ok = false;
        out(`  FAIL the hierarchy could not be read: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    if (orgRows !== null && probe.users) {
      try {
        crmUsers.push({ id: conn.id, kind: conn.type, label: crmLabel(conn.type), users: await probe.users() });
      } catch (e) {
        unread.push(conn.id);
        out(`  ??   its users could not be read: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    out(`  ${probe.apiCalls()} API calls`);
    if (!result.ok) ok = false;
  }
  if (orgRows !== null && crmUsers.length > 0) {
    out(`alert tasks (by the org file's managers):`);
    for (const line of taskRoutingLines(orgRows, crmUsers, unread)) {
      const mark = line.ok === true ? 'ok  ' : line.ok === false ? 'FAIL' : '??  ';
      out(`  ${mark} ${line.text}`);
    }
  }
  if (json) {
    const merged: HierarchyTree = {
      regions: trees.flatMap((t) => t.regions),
      unplaced: trees.flatMap((t) => t.unplaced),
    };
    io.stdout(JSON.stringify(merged, null, 2));
  }
  return ok ? 0 : 1;
}
