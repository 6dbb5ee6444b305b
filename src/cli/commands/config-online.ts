/**
 * The `--online` half of `quota-tracker config check`: logs in to every enabled connection through its registry
 * entry and checks what its CRM needs (for Salesforce: the org id, field access, View All on opportunities and the
 * org's features). It touches no database and writes nothing; secrets never reach the output (only org ids,
 * URLs and field names are printed).
 */

import { createFiscalCalendar } from '../../config/calendar.ts';
import { loadOrgFile } from '../../config/org-file.ts';
import { loadQuotaFile } from '../../config/quota-file.ts';
import type { Config } from '../../config/schema.ts';
import { connectorKind, crmLabel } from '../../connectors/registry.ts';
import type { OnlineProbe } from '../../connectors/types.ts';
import {
  type HierarchyTree,
  hierarchyTree,
  hierarchyTreeText,
  placeByHierarchy,
} from '../../metrics/engine/hierarchy.ts';
import { today } from '../../util/date.ts';
import type { Logger } from '../../util/log.ts';
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
    out(`  ${probe.apiCalls()} API calls`);
    if (!result.ok) ok = false;
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
