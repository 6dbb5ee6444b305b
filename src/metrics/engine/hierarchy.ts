/**
 * Teams and regions from a CRM's hierarchy, by one rule for the three layouts real Salesforce orgs use (written
 * down in docs/metrics.md, "Teams and regions from the CRM"):
 *
 * - parent-role: reps hold a role that reports into their manager's role; the team is the manager's role, the
 *   region the role above it.
 * - shared-role: the manager holds the same role as the reps and `ManagerId` names them; the team is that role,
 *   the region the role above it. A leaf role is shared when most of its holders who have a manager name one who
 *   holds the same role.
 * - manager-only: no roles; the team is the people whose `ManagerId` names the same person (named after them),
 *   the region the people their manager reports to.
 *
 * Who is in no team: a person who manages others (people report to them through `ManagerId`, or their role has
 * roles below it) and carries no quota. A player-coach (manages and carries a quota) is in the team they manage.
 * A person with no role joins their manager's team. Whoever has neither a role nor a manager (nor reports) is
 * unplaced. Pure: the warehouse's org model and `config check --online` (on live CRM data) both use it.
 */
import { pushTo } from '../../util/multimap.ts';

export interface HierarchyRole {
  key: string;
  name: string;
  parent: string | null;
}

export interface HierarchyPerson<Id extends string | number> {
  id: Id;
  name: string;
  /** Role key, or null. */
  role: string | null;
  /** The person `ManagerId` names, or null. */
  manager: Id | null;
  quotaCarrying: boolean;
  /** False for someone who has left: they hold no role any more and manage nobody. Default true. */
  active?: boolean;
}

export interface HierarchyPlacement<Id> {
  /** Stable unit keys (`role:<key>` or `manager:<id>`) and display names. */
  teamKey: string;
  team: string;
  regionKey: string | null;
  region: string | null;
  /** The team's manager: whom most of its members' `ManagerId` name, else the holder of its role. */
  teamManager: Id | null;
  regionManager: Id | null;
}

export interface HierarchyResult<Id> {
  placed: Map<Id, HierarchyPlacement<Id>>;
  /** Managers (in no team) and the unplaced (no role, no manager, nobody reporting to them). */
  managers: Id[];
  unplaced: Id[];
}

// A job title at the start or end of a role name: "Director North America", "NA Mid-Market Manager", "VP, Sales",
// "Head of EMEA", "West Sales Team". Only these words: a role name is the one naming RevOps maintains, so anything
// else is kept as written.
const TITLE = String.raw`(?:manager|mgr\.?|director|dir\.?|vice president|[sear]?vp|head|lead|leader|team|rep)s?`;
const LEADING_TITLE = new RegExp(
  String.raw`^(?:(?:regional|area|senior|sr\.?)\s+)?${TITLE}(?:\s+of)?(?:\s*[,:\u2013-]\s*|\s+)`,
  'i',
);
const TRAILING_TITLE = new RegExp(String.raw`(?:\s*[,\u2013-]\s*|\s+)${TITLE}$`, 'i');

export function withoutTitle(name: string): string {
  const trimmed = name.trim();
  const short = TRAILING_TITLE.test(trimmed) ? trimmed.replace(TRAILING_TITLE, '') : trimmed.replace(LEADING_TITLE, '');
  return /\p{L}/u.test(short) ? short.trim() : trimmed;
}

/** The most frequent entry, ties to the lowest: the manager most members name. */
function mostNamed<Id extends string | number>(ids: readonly Id[]): Id | null {
  const votes = new Map<Id, number>();
  for (const id of ids) votes.set(id, (votes.get(id) ?? 0) + 1);
  return [...votes.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))[0]?.[0] ?? null;
}

export function placeByHierarchy<Id extends string | number>(
  roleList: readonly HierarchyRole[],
  people: readonly HierarchyPerson<Id>[],
): HierarchyResult<Id> {
  const roles = new Map(roleList.map((r) => [r.key, { ...r }]));
  // A parent that is gone makes its child a root.
  for (const r of roles.values()) if (r.parent !== null && !roles.has(r.parent)) r.parent = null;
  const parents = new Set<string>();
  for (const r of roles.values()) if (r.parent !== null) parents.add(r.parent);
  const byId = new Map(people.map((p) => [p.id, p]));
  const roleOf = (id: Id | null): string | null => {
    const r = id === null ? null : (byId.get(id)?.role ?? null);
    return r !== null && roles.has(r) ? r : null;
  };
  const holders = new Map<string, Id[]>();
  for (const p of people) {
    const r = roleOf(p.id);
    if (r !== null && p.active !== false) pushTo(holders, r, p.id);
  }
  const reportsTo = new Map<Id, Id[]>();
  for (const p of people) if (p.manager !== null && byId.has(p.manager)) pushTo(reportsTo, p.manager, p.id);

  // Shared roles: leaf roles whose holders mostly report to a holder of the same role.
  const shared = new Set<string>();
  for (const [role, ids] of holders) {
    if (parents.has(role)) continue;
    const withManager = ids.filter((id) => byId.get(id)?.manager != null);
    const inside = withManager.filter((id) => roleOf(byId.get(id)?.manager ?? null) === role);
    if (inside.length > 0 && inside.length * 2 > withManager.length) shared.add(role);
  }
  const managesOthers = (p: HierarchyPerson<Id>): boolean => {
    const r = roleOf(p.id);
    return (reportsTo.get(p.id)?.length ?? 0) > 0 || (r !== null && parents.has(r));
  };

  // Names of the roles that name a unit: team roles (with roles below them, or shared) and roots.
  const naming = new Map<string, string>();
  for (const [key, r] of roles) {
    if (parents.has(key) || shared.has(key)) naming.set(key, withoutTitle(r.name));
    else if (r.parent === null) naming.set(key, r.name);
  }
  const fullNames = new Map<string, Set<string>>();
  for (const [key, name] of naming) {
    const set = fullNames.get(name.toLowerCase()) ?? new Set<string>();
    set.add((roles.get(key) as HierarchyRole).name);
    fullNames.set(name.toLowerCase(), set);
  }
  for (const [key, name] of naming)
    if ((fullNames.get(name.toLowerCase())?.size ?? 0) > 1) naming.set(key, (roles.get(key) as HierarchyRole).name);
  const roleName = (key: string) => naming.get(key) ?? withoutTitle((roles.get(key) as HierarchyRole).name);

  const managers: Id[] = [];
  const unplaced: Id[] = [];
  // The team role of each role-holding member.
  const teamRole = new Map<Id, string>();
  const roleless: HierarchyPerson<Id>[] = [];
  for (const p of people) {
    const role = roleOf(p.id);
    const manages = managesOthers(p);
    if (manages && !p.quotaCarrying) {
      managers.push(p.id);
      continue;
    }
    if (role === null) {
      roleless.push(p);
      continue;
    }
    if (parents.has(role) || shared.has(role)) teamRole.set(p.id, role);
    else teamRole.set(p.id, roles.get(role)?.parent ?? role);
  }

  const placed = new Map<Id, HierarchyPlacement<Id>>();
  const membersOf = new Map<string, Id[]>();
  for (const [id, role] of teamRole) pushTo(membersOf, role, id);
  // A team role's manager: whom most members name among those who hold the role and manage, else whoever holds
  // the role and manages (a player-coach), else the one most members name.
  const roleTeam = new Map<string, HierarchyPlacement<Id>>();
  const placementOf = (role: string): HierarchyPlacement<Id> => {
    const known = roleTeam.get(role);
    if (known) return known;
    const members = membersOf.get(role) ?? [];
    const named = members.map((m) => byId.get(m)?.manager ?? null).filter((m): m is Id => m !== null);
    const inRole = (holders.get(role) ?? []).filter((id) => managesOthers(byId.get(id) as HierarchyPerson<Id>));
    const preferred = named.filter((m) => inRole.includes(m));
    const regionRole = roles.get(role)?.parent ?? null;
    const pl: HierarchyPlacement<Id> = {
      teamKey: `role:${role}`,
      team: roleName(role),
      regionKey: regionRole === null ? null : `role:${regionRole}`,
      region: regionRole === null ? null : roleName(regionRole),
      teamManager: mostNamed(preferred.length > 0 ? preferred : inRole.length > 0 ? inRole : named),
      regionManager: regionRole === null ? null : mostNamed(holders.get(regionRole) ?? []),
    };
    roleTeam.set(role, pl);
    return pl;
  };
  for (const [id, role] of teamRole) placed.set(id, placementOf(role));

  // No role: the team of the (active) manager `ManagerId` names: the team they lead, or the team their own role
  // names; otherwise the manager's people are a team named after them, in the region of the manager's manager.
  const ledTeam = new Map<Id, HierarchyPlacement<Id>>();
  for (const pl of placed.values())
    if (pl.teamManager !== null && !ledTeam.has(pl.teamManager)) ledTeam.set(pl.teamManager, pl);
  const nameOf = (id: Id | null) => (id === null ? null : (byId.get(id)?.name ?? String(id)));
  const activeManager = (id: Id | null): Id | null =>
    id !== null && byId.has(id) && byId.get(id)?.active !== false ? id : null;
  for (const p of roleless) {
    const m = activeManager(p.manager);
    if (m === null) {
      unplaced.push(p.id);
      continue;
    }
    const led = ledTeam.get(m);
    const mRole = roleOf(m);
    if (led) placed.set(p.id, led);
    else if (mRole !== null && (parents.has(mRole) || shared.has(mRole))) placed.set(p.id, placementOf(mRole));
    else {
      const regionManager = activeManager(byId.get(m)?.manager ?? null);
      placed.set(p.id, {
        teamKey: `manager:${String(m)}`,
        team: `${nameOf(m)}'s team`,
        regionKey: regionManager === null ? null : `manager:${String(regionManager)}`,
        region: regionManager === null ? null : `${nameOf(regionManager)}'s region`,
        teamManager: m,
        regionManager,
      });
    }
  }
  return { placed, managers, unplaced };
}

/** The tree `config check --online` prints: regions, their teams with the manager, each rep with or without quota. */
export interface HierarchyTree {
  regions: Array<{
    name: string | null;
    teams: Array<{
      name: string;
      manager: string | null;
      reps: Array<{ email: string; name: string; hasQuota: boolean }>;
    }>;
  }>;
  unplaced: Array<{ email: string; name: string }>;
}

/** Groups a placement into the tree, sorted by name (teams without a region under a region named null, last). */
export function hierarchyTree<Id extends string | number>(
  result: HierarchyResult<Id>,
  people: readonly (HierarchyPerson<Id> & { email: string })[],
): HierarchyTree {
  const byId = new Map(people.map((p) => [p.id, p]));
  const regions = new Map<string, HierarchyTree['regions'][number]>();
  const teams = new Map<string, HierarchyTree['regions'][number]['teams'][number]>();
  for (const [id, pl] of result.placed) {
    const p = byId.get(id);
    if (!p) continue;
    const regionKey = pl.region ?? '\u0000';
    let region = regions.get(regionKey);
    if (!region) {
      region = { name: pl.region, teams: [] };
      regions.set(regionKey, region);
    }
    let team = teams.get(pl.teamKey);
    if (!team) {
      team = {
        name: pl.team,
        manager: pl.teamManager === null ? null : (byId.get(pl.teamManager)?.name ?? null),
        reps: [],
      };
      teams.set(pl.teamKey, team);
      region.teams.push(team);
    }
    team.reps.push({ email: p.email, name: p.name, hasQuota: p.quotaCarrying });
  }
  const byName = (a: { name: string | null }, b: { name: string | null }) =>
    a.name === b.name ? 0 : a.name === null ? 1 : b.name === null ? -1 : a.name < b.name ? -1 : 1;
  const out = [...regions.values()].sort(byName);
  for (const r of out) {
    r.teams.sort(byName);
    for (const t of r.teams) t.reps.sort((a, b) => (a.email < b.email ? -1 : a.email > b.email ? 1 : 0));
  }
  const unplaced = result.unplaced
    .map((id) => byId.get(id))
    .filter((p): p is HierarchyPerson<Id> & { email: string } => p !== undefined)
    .map((p) => ({ email: p.email, name: p.name }))
    .sort((a, b) => (a.email < b.email ? -1 : 1));
  return { regions: out, unplaced };
}

/** The tree as indented text: region, then team with its manager, then each rep marked with or without quota. */
export function hierarchyTreeText(tree: HierarchyTree, indent = '  '): string[] {
  const lines: string[] = [];
  for (const r of tree.regions) {
    lines.push(`${indent}${r.name ?? '(no region)'}`);
    for (const t of r.teams) {
      lines.push(`${indent}  ${t.name} (manager ${t.manager ?? 'none'})`);
      for (const rep of t.reps)
        lines.push(
          `${indent}    ${rep.hasQuota ? '+' : '-'} ${rep.name} <${rep.email}>${rep.hasQuota ? '' : ' (no quota)'}`,
        );
    }
  }
  lines.push(
    `${indent}unplaced (no role, no manager): ${tree.unplaced.length === 0 ? 'none' : tree.unplaced.map((u) => `${u.name} <${u.email}>`).join(', ')}`,
  );
  return lines;
}
