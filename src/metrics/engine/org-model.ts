/**
 * The org model the roll-ups use: one person per human (reps of every CRM joined by email), teams and regions
 * (from RevOps' org file when configured, else from the CRM role tree), and dated team memberships. When a
 * person's team changes, the old membership ends on the day of the change (exclusive) and a new one starts, so
 * closed deals keep counting for the team the owner was in on their close date; the person's current period is
 * marked dirty.
 *
 * The role tree is read as Salesforce's forecast hierarchy reads it: a manager's role rolls up the roles below it.
 * - A team is the people whose role reports into one manager role (a role with roles below it); its manager is
 *   the person in that role, and its region is the role above it. A flat org's root role with nobody above it
 *   is a team of its own, without a region.
 * - A person whose role has roles below it and who carries no quota manages the team below (a manager, a
 *   director, the VP) and is in no team; one who carries a quota too (a player-coach) is in the team they manage.
 * - Teams and regions are named after their role without its job title ("NA Mid-Market Manager" gives the team
 *   "NA Mid-Market", "Director North America" the region "North America"), so the name follows the role tree and
 *   not who holds a role, and a rep changing role, or a manager changing, keeps the team's name. Two roles that
 *   would share a name keep their full role names.
 * - A person without a role keeps the team they have (set by an earlier org file, say), else "Unassigned".
 */
import { type Kysely, sql } from 'kysely';
import type { OrgFile } from '../../config/org-file.ts';
import type { Database } from '../../db/schema.ts';
import { addDays, earlierOf, type PlainDate } from '../../util/date.ts';
import { pushTo } from '../../util/multimap.ts';
import type { DirtyKey } from './types.ts';

export interface OrgModelOptions {
  /** RevOps' org file, or null to derive teams from the CRM role tree. */
  orgFile: OrgFile | null;
  /** The day a change takes effect (today, or the as-of date of a backfill). */
  asOf: PlainDate;
  /** The period marked dirty for people who changed team. */
  periodId: string;
  /** First day of a membership with no earlier one, when the person has no start date. */
  defaultSince?: PlainDate;
}

export interface OrgModelResult {
  /** Persons whose team changed (or who got their first one). */
  moved: number[];
  dirty: DirtyKey[];
}

interface Placement {
  team: string;
  region: string | null;
  /** The team manager's email (org file) or person id (CRM). */
  managerEmail: string | null;
  managerPersonId: number | null;
  /** The region's manager (the person in the region's CRM role); undefined leaves it as it is. */
  regionManagerPersonId?: number | null;
  /**
   * Set for someone first seen already deactivated: the day they left (their user record's last change). Their
   * deals up to then still count for the team their role places them in, through a membership that ends that day
   * (null: the day is unknown, take the day of the sync).
   */
  leftOn?: PlainDate | null;
}

const UNASSIGNED = 'Unassigned';

/** One person per human: a person for every synced user's email, and each user linked to theirs. */
export async function linkPersons(db: Kysely<Database>): Promise<void> {
  // Persons by email for every rep not yet linked; the unique index is on lower(email).
  await sql`insert into persons (email, name)
    select distinct on (lower(r.email)) lower(r.email), r.name from reps r
    where r.email is not null and r.email <> '' and not r.is_deleted
      and not exists (select 1 from persons p where lower(p.email) = lower(r.email))
    order by lower(r.email), r.connection_id`.execute(db);
  await sql`update reps r set person_id = p.id from persons p
    where lower(p.email) = lower(r.email) and r.person_id is distinct from p.id`.execute(db);
}

async function placementsFromFile(db: Kysely<Database>, file: OrgFile): Promise<Map<number, Placement>> {
  // The file's people exist even when no CRM has them (managers, new hires); its facts win over the CRM's.
  for (const row of file.rows) {
    await sql`insert into persons (email, name, start_date, territory, territory_index, quota_carrying, source)
      values (${row.email}, ${row.name}, ${row.startDate}, ${row.territory}, ${row.territoryIndex?.toString() ?? null}, ${row.quotaCarrying}, 'file')
      on conflict (lower(email)) do update set name = excluded.name, start_date = excluded.start_date,
        territory = excluded.territory, territory_index = excluded.territory_index,
        quota_carrying = excluded.quota_carrying, source = 'file', updated_at = now()`.execute(db); // wall-clock: an audit stamp
  }
  const ids = await db.selectFrom('persons').select(['id', 'email']).execute();
  const byEmail = new Map(ids.map((p) => [p.email.toLowerCase(), p.id] as const));
  const out = new Map<number, Placement>();
  for (const row of file.rows) {
    const id = byEmail.get(row.email);
    if (id === undefined || row.team === '') continue;
    out.set(id, { team: row.team, region: row.region || null, managerEmail: row.managerEmail, managerPersonId: null });
  }
  for (const p of out.values()) if (p.managerEmail) p.managerPersonId = byEmail.get(p.managerEmail) ?? null;
  return out;
}

interface RoleNode {
  name: string;
  parent: string | null;
}

/** A CRM role across connections: `<connection>:<external id>`. */
const roleKey = (connection: string, externalId: string) => `${connection}:${externalId}`;

// A job title at the start or end of a role name: "Director North America", "NA Mid-Market Manager", "VP, Sales",
// "Head of EMEA", "West Sales Team". Only these words: a role name is the one naming RevOps maintains, so anything
// else is kept as written.
const TITLE = String.raw`(?:manager|mgr\.?|director|dir\.?|vice president|[sear]?vp|head|lead|leader|team)s?`;
const LEADING_TITLE = new RegExp(
  String.raw`^(?:(?:regional|area|senior|sr\.?)\s+)?${TITLE}(?:\s+of)?(?:\s*[,:\u2013-]\s*|\s+)`,
  'i',
);
const TRAILING_TITLE = new RegExp(String.raw`(?:\s*[,\u2013-]\s*|\s+)${TITLE}$`, 'i');

function withoutTitle(name: string): string {
  const trimmed = name.trim();
  const short = TRAILING_TITLE.test(trimmed) ? trimmed.replace(TRAILING_TITLE, '') : trimmed.replace(LEADING_TITLE, '');
  return /\p{L}/u.test(short) ? short.trim() : trimmed;
}

/**
 * The team or region name of every role that can name one: roles with roles below them, by their name without
 * the job title, and roots without any (a flat org's only role), as written. When two such roles would share a
 * name (a "West Manager" team under a "West Director" region, say), both keep their full names. The names depend
 * on the role tree alone, never on who holds a role.
 */
function unitNames(roles: ReadonlyMap<string, RoleNode>, parents: ReadonlySet<string>): Map<string, string> {
  const proposed = new Map<string, string>();
  for (const [key, role] of roles) {
    if (parents.has(key)) proposed.set(key, withoutTitle(role.name));
    else if (role.parent === null) proposed.set(key, role.name);
  }
  const fullNames = new Map<string, Set<string>>();
  for (const [key, name] of proposed) {
    const names = fullNames.get(name.toLowerCase()) ?? new Set<string>();
    names.add((roles.get(key) as RoleNode).name);
    fullNames.set(name.toLowerCase(), names);
  }
  for (const [key, name] of proposed)
    if ((fullNames.get(name.toLowerCase())?.size ?? 0) > 1) proposed.set(key, (roles.get(key) as RoleNode).name);
  return proposed;
}

/** The most frequent entry, ties to the lowest: the manager most members name. */
function mostNamed(ids: readonly number[]): number | null {
  const votes = new Map<number, number>();
  for (const id of ids) votes.set(id, (votes.get(id) ?? 0) + 1);
  return [...votes.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0] ?? null;
}

async function placementsFromRoles(db: Kysely<Database>): Promise<Map<number, Placement>> {
  const roleRows = await db
    .selectFrom('crm_roles')
    .select(['connection_id', 'external_id', 'name', 'parent_external_id'])
    .where('is_deleted', '=', false)
    .execute();
  const roles = new Map<string, RoleNode>();
  for (const r of roleRows)
    roles.set(roleKey(r.connection_id, r.external_id), {
      name: r.name,
      parent: r.parent_external_id === null ? null : roleKey(r.connection_id, r.parent_external_id),
    });
  // A parent that is gone (deleted, not synced yet) makes its child a root.
  for (const role of roles.values()) if (role.parent !== null && !roles.has(role.parent)) role.parent = null;
  const parents = new Set<string>();
  for (const role of roles.values()) if (role.parent !== null) parents.add(role.parent);
  const names = unitNames(roles, parents);

  // One CRM user per person (an active one first, then the first connection), with whether the person carries a
  // quota in any CRM. Deactivated people come too when we never placed them (first seen after they left).
  const people = await sql<{
    person_id: number;
    connection_id: string;
    role_external_id: string | null;
    manager_person_id: number | null;
    quota_carrying: boolean;
    active: boolean;
    left_on: PlainDate | null;
  }>`
    select distinct on (r.person_id) r.person_id, r.connection_id, r.role_external_id,
      m.person_id as manager_person_id,
      coalesce(p.quota_carrying, (select bool_or(q.quota_carrying) from reps q where q.person_id = r.person_id and not q.is_deleted), false) as quota_carrying,
      r.is_active as active,
      (select max(q.source_modified_at) from reps q where q.person_id = r.person_id)::date::text as left_on
    from reps r
    join persons p on p.id = r.person_id
    left join reps m on m.connection_id = r.connection_id and m.external_id = r.manager_external_id
    where r.person_id is not null and not r.is_deleted
      and (r.is_active or (
        not exists (select 1 from reps a where a.person_id = r.person_id and a.is_active and not a.is_deleted)
        and not exists (select 1 from memberships ms where ms.person_id = r.person_id)))
    order by r.person_id, r.is_active desc, r.connection_id`.execute(db);

  const roleOf = new Map<number, string | null>();
  const holders = new Map<string, number[]>();
  for (const p of people.rows) {
    const key = p.role_external_id === null ? null : roleKey(p.connection_id, p.role_external_id);
    const role = key !== null && roles.has(key) ? key : null;
    roleOf.set(p.person_id, role);
    // Who holds a role now: the leavers did once.
    if (role !== null && p.active) pushTo(holders, role, p.person_id);
  }
  // The role whose team a person is in: the role they report into, or their own when others report into it and
  // they sell too (a player-coach). A person with reports and no quota is a manager, in no team.
  const teamRoleOf = new Map<number, string>();
  for (const p of people.rows) {
    const role = roleOf.get(p.person_id) ?? null;
    if (role === null) continue;
    if (parents.has(role)) {
      if (p.quota_carrying) teamRoleOf.set(p.person_id, role);
    } else teamRoleOf.set(p.person_id, (roles.get(role) as RoleNode).parent ?? role);
  }
  const membersOf = new Map<string, number[]>();
  for (const [person, team] of teamRoleOf) pushTo(membersOf, team, person);
  const managerOf = new Map(people.rows.map((p) => [p.person_id, p.manager_person_id] as const));
  // A team's manager: whoever holds its role (the one most members name when several do); a vacant or flat role
  // falls back to the manager most members name in the CRM.
  const teamManager = new Map<string, number | null>();
  for (const [team, members] of membersOf) {
    const named = members.map((m) => managerOf.get(m) ?? null).filter((m): m is number => m !== null);
    const inRole = parents.has(team) ? (holders.get(team) ?? []) : [];
    const preferred = named.filter((m) => inRole.includes(m));
    teamManager.set(team, mostNamed(preferred.length > 0 ? preferred : inRole.length > 0 ? inRole : named));
  }

  const out = new Map<number, Placement>();
  // A user with no role keeps the team it has (set by an earlier org file, say); only the teamless go to Unassigned.
  const current = await sql<{ person_id: number; team: string; region: string | null }>`
    select m.person_id, t.name as team, case when p.kind = 'region' then p.name end as region
    from memberships m join org_units t on t.id = m.org_unit_id left join org_units p on p.id = t.parent_id
    where m.valid_to is null`.execute(db);
  const kept = new Map(current.rows.map((c) => [c.person_id, c] as const));
  for (const p of people.rows) {
    const left = p.active ? {} : { leftOn: p.left_on };
    if (roleOf.get(p.person_id) === null) {
      const keep = kept.get(p.person_id);
      out.set(p.person_id, {
        team: keep?.team ?? UNASSIGNED,
        region: keep ? keep.region : null,
        managerEmail: null,
        managerPersonId: p.manager_person_id,
        ...left,
      });
      continue;
    }
    const team = teamRoleOf.get(p.person_id);
    if (team === undefined) continue;
    const regionRole = (roles.get(team) as RoleNode).parent;
    out.set(p.person_id, {
      team: names.get(team) as string,
      region: regionRole === null ? null : (names.get(regionRole) as string),
      managerEmail: null,
      managerPersonId: teamManager.get(team) ?? null,
      regionManagerPersonId: regionRole === null ? null : mostNamed(holders.get(regionRole) ?? []),
      ...left,
    });
  }
  return out;
}

async function unitId(
  db: Kysely<Database>,
  kind: 'org' | 'region' | 'team',
  name: string,
  parentId: number | null,
  source: 'crm' | 'file',
): Promise<number> {
  const row = await sql<{ id: number }>`
    insert into org_units (kind, name, parent_id, source) values (${kind}, ${name}, ${parentId}, ${source})
    on conflict (kind, name) do update set parent_id = excluded.parent_id, source = excluded.source,
      updated_at = case when org_units.parent_id is distinct from excluded.parent_id then now() else org_units.updated_at end -- wall-clock: an audit stamp
    returning id`.execute(db);
  return (row.rows[0] as { id: number }).id;
}

/**
 * Brings persons, org units and memberships in line with the org file (or the CRM role tree) as of `asOf`. Without
 * an org file, a CRM user with no role keeps its current team.
 */
export async function syncOrgModel(db: Kysely<Database>, o: OrgModelOptions): Promise<OrgModelResult> {
  const source = o.orgFile ? 'file' : 'crm';
  return db.transaction().execute(async (trx) => {
    await linkPersons(trx);
    const placements = o.orgFile ? await placementsFromFile(trx, o.orgFile) : await placementsFromRoles(trx);
    // The org's root keeps whatever name it was given (by an earlier org file or by hand).
    const root = await trx
      .selectFrom('org_units')
      .select('id')
      .where('kind', '=', 'org')
      .orderBy('id')
      .executeTakeFirst();
    const orgId = root?.id ?? (await unitId(trx, 'org', 'Organization', null, source));
    const teamIds = new Map<string, number>();
    const managers = new Map<number, number | null>();
    const regionManagers = new Map<number, number | null>();
    for (const p of placements.values()) {
      if (teamIds.has(p.team)) continue;
      const parent = p.region === null ? orgId : await unitId(trx, 'region', p.region, orgId, source);
      const id = await unitId(trx, 'team', p.team, parent, source);
      teamIds.set(p.team, id);
      if (p.region !== null && p.regionManagerPersonId !== undefined)
        regionManagers.set(parent, p.regionManagerPersonId);
    }
    // A team's manager: the manager most of its members name.
    const votes = new Map<number, Map<number, number>>();
    for (const p of placements.values()) {
      if (p.managerPersonId === null) continue;
      const team = teamIds.get(p.team) as number;
      const v = votes.get(team) ?? new Map<number, number>();
      v.set(p.managerPersonId, (v.get(p.managerPersonId) ?? 0) + 1);
      votes.set(team, v);
    }
    for (const [team, v] of votes)
      managers.set(team, [...v.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0] ?? null);
    for (const [unit, manager] of [...managers, ...regionManagers])
      await trx.updateTable('org_units').set({ manager_person_id: manager }).where('id', '=', unit).execute();

    const current = await trx
      .selectFrom('memberships')
      .innerJoin('persons', 'persons.id', 'memberships.person_id')
      .select([
        'memberships.id',
        'memberships.person_id',
        'memberships.org_unit_id',
        'memberships.valid_from',
        'persons.start_date',
      ])
      .where('memberships.valid_to', 'is', null)
      .execute();
    const currentOf = new Map(current.map((m) => [m.person_id, m] as const));
    // The org file's start date, else the earliest the CRMs give.
    const starts = await sql<{ id: number; start: PlainDate | null }>`
      select p.id, coalesce(p.start_date, min(r.start_date))::text as start from persons p
      left join reps r on r.person_id = p.id group by p.id`.execute(trx);
    const startOf = new Map(starts.rows.map((p) => [p.id, p.start] as const));
    const past = await trx
      .selectFrom('memberships')
      .select('person_id')
      .distinct()
      .where('valid_to', 'is not', null)
      .execute();
    const hadTeam = new Set(past.map((m) => m.person_id));
    const moved: number[] = [];
    for (const [person, p] of placements) {
      const team = teamIds.get(p.team) as number;
      const cur = currentOf.get(person);
      if (p.leftOn !== undefined) {
        // First seen after leaving (never placed before): a membership that ends the day after they left.
        const leftOn = p.leftOn ?? o.asOf;
        const until = addDays(leftOn, 1);
        const start = startOf.get(person) ?? o.defaultSince ?? '2000-01-01';
        await trx
          .insertInto('memberships')
          .values({
            person_id: person,
            org_unit_id: team,
            valid_from: earlierOf(start, leftOn),
            valid_to: until,
            source,
          })
          .execute();
        moved.push(person);
        continue;
      }
      if (cur && cur.org_unit_id === team) continue;
      if (cur && cur.valid_from >= o.asOf) {
        // Moved again on the day it began: correct it rather than leave a zero-length membership.
        await trx.updateTable('memberships').set({ org_unit_id: team, source }).where('id', '=', cur.id).execute();
      } else {
        if (cur) await trx.updateTable('memberships').set({ valid_to: o.asOf }).where('id', '=', cur.id).execute();
        // A first membership reaches back to the start date, so earlier deals roll up; a rejoin starts today.
        const since = cur || hadTeam.has(person) ? o.asOf : (startOf.get(person) ?? o.defaultSince ?? '2000-01-01');
        await trx
          .insertInto('memberships')
          .values({ person_id: person, org_unit_id: team, valid_from: since, valid_to: null, source })
          .execute();
      }
      moved.push(person);
    }
    // People no longer placed anywhere leave their team today.
    for (const cur of current) {
      if (placements.has(cur.person_id) || cur.valid_from >= o.asOf) continue;
      await trx.updateTable('memberships').set({ valid_to: o.asOf }).where('id', '=', cur.id).execute();
      moved.push(cur.person_id);
    }
    moved.sort((a, b) => a - b);
    return {
      moved,
      dirty: moved.map((id) => ({ subjectKey: `person:${id}`, periodId: o.periodId, reason: 'team_changed' })),
    };
  });
}
