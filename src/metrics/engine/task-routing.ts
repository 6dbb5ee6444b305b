/**
 * Who receives a rep's alert tasks, and in which CRM: one rule, used by alert delivery (writeback/alert-tasks.ts, on
 * the warehouse) and by `config check --online` (on the org file and the CRMs' live users), so the check names
 * exactly the user delivery will give the tasks to. docs/metrics.md, "Early warnings".
 *
 * - A team's manager is the one most of its members name; of a tie, the one whose row comes first in the org file
 *   (a manager with no row after every row), then the lowest person id (`managerOrder`).
 * - The rep's manager is their team's manager from the org file when it names one and that manager is a user in one
 *   of the rep's connections (it wins); else the user the rep's CRM user names as its manager (`ManagerId`; the
 *   first connection whose user names one); else the manager the CRM hierarchy chose for the team. A file manager
 *   no CRM of the rep's knows (a new hire, someone outside sales) so still leaves the task with someone.
 * - The task goes to the first of the rep's connections (config order) where that manager is a user, as the
 *   manager's user there (an active one first, then the lowest id); only when none of the three is a user in any of
 *   the rep's connections is there no task.
 */

/**
 * The order of a tie between team managers, the same for delivery and the check: the manager's row in the org file
 * first (one with no row after every row), then `then` (the lowest person id; before a sync, the email).
 */
export function managerOrder<K>(
  fileRow: (manager: K) => number | undefined,
  then: (a: K, b: K) => number,
): (a: K, b: K) => number {
  return (a, b) => {
    const ra = fileRow(a) ?? Number.POSITIVE_INFINITY;
    const rb = fileRow(b) ?? Number.POSITIVE_INFINITY;
    return ra === rb ? then(a, b) : ra < rb ? -1 : 1;
  };
}

/**
 * A team's manager by its members' votes; of a tie, the first by `managerOrder`. Members without a manager (none
 * named, or one who is nobody: no file row and no CRM user) do not vote.
 */
export function pickTeamManagers<K>(
  members: Iterable<{ team: string; manager: K | null }>,
  fileRow: (manager: K) => number | undefined,
  then: (a: K, b: K) => number,
): Map<string, K> {
  const order = managerOrder(fileRow, then);
  const votes = new Map<string, Map<K, number>>();
  for (const m of members) {
    if (m.manager === null) continue;
    const v = votes.get(m.team) ?? new Map<K, number>();
    v.set(m.manager, (v.get(m.manager) ?? 0) + 1);
    votes.set(m.team, v);
  }
  const out = new Map<string, K>();
  for (const [team, v] of votes) {
    const best = [...v].sort((a, b) => b[1] - a[1] || order(a[0], b[0]))[0];
    if (best) out.set(team, best[0]);
  }
  return out;
}

/** A CRM user, as routing sees it. `person` is who they stand for (a person id, or an email before any sync). */
export interface RoutingUser<P> {
  connectionId: string;
  externalId: string;
  person: P | null;
  active: boolean;
  /** The user its CRM names as its manager (Salesforce `ManagerId`); null in HubSpot. */
  managerExternalId: string | null;
}

export interface RoutingInput<P> {
  /** Connection ids in config order. */
  order: readonly string[];
  /** The rep's users (any connection). */
  repUsers: readonly RoutingUser<P>[];
  /** The manager the org file names for the rep's team; null: no file team, or it names nobody. */
  fileManager: P | null;
  /** The manager the CRM hierarchy chose for the rep's team (no org file); null: none. */
  hierarchyManager: P | null;
  /** The users who stand for a person. */
  usersOf(person: P): readonly RoutingUser<P>[];
  /** The person a connection's user stands for (null: unknown, or not linked yet). */
  personOfUser(connectionId: string, externalId: string): P | null;
}

export interface TaskRecipient<P> {
  connectionId: string;
  /** The rep's user in that connection (the task is about them). */
  repExternalId: string;
  /** The manager's user there, who owns the task. */
  managerExternalId: string;
  managerPerson: P | null;
  /** Whose manager it is: the org file's, the CRM user's `ManagerId`, or the CRM hierarchy's. */
  via: 'file' | 'crm' | 'hierarchy';
}

const rankOf = (order: readonly string[], c: string) => {
  const i = order.indexOf(c);
  return i === -1 ? order.length : i;
};

/** The manager's user in a connection: an active one first, then the lowest id. */
function userIn<P>(users: readonly RoutingUser<P>[], connectionId: string): RoutingUser<P> | undefined {
  return users
    .filter((u) => u.connectionId === connectionId)
    .sort((a, b) => Number(b.active) - Number(a.active) || (a.externalId < b.externalId ? -1 : 1))[0];
}

/** Where the rep's alert tasks go, or null when no manager of theirs is a user in any of the rep's connections. */
export function taskRecipient<P>(o: RoutingInput<P>): TaskRecipient<P> | null {
  const repUsers = [...o.repUsers].sort((a, b) => rankOf(o.order, a.connectionId) - rankOf(o.order, b.connectionId));
  const self = repUsers[0]?.person ?? null;
  const fileManager = o.fileManager !== null && o.fileManager !== self ? o.fileManager : null;
  const inFirstConnection = (manager: P, via: 'file' | 'hierarchy'): TaskRecipient<P> | null => {
    const theirs = o.usersOf(manager);
    for (const r of repUsers) {
      const u = userIn(theirs, r.connectionId);
      if (u)
        return {
          connectionId: r.connectionId,
          repExternalId: r.externalId,
          managerExternalId: u.externalId,
          managerPerson: manager,
          via,
        };
    }
    return null;
  };
  if (fileManager !== null) {
    const to = inFirstConnection(fileManager, 'file');
    if (to !== null) return to;
  }
  for (const r of repUsers) {
    if (r.managerExternalId === null) continue;
    return {
      connectionId: r.connectionId,
      repExternalId: r.externalId,
      managerExternalId: r.managerExternalId,
      managerPerson: o.personOfUser(r.connectionId, r.managerExternalId),
      via: 'crm',
    };
  }
  const hierarchy = o.hierarchyManager !== null && o.hierarchyManager !== self ? o.hierarchyManager : null;
  return hierarchy === null ? null : inFirstConnection(hierarchy, 'hierarchy');
}
