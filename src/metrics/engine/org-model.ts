/**
 * The org model the roll-ups use: one person per human (reps of every CRM joined by email), teams and regions
 * (from RevOps' org file when configured, else from the CRM role tree), and dated team memberships. When a
 * person's team changes, the old membership ends on the day of the change (exclusive) and a new one starts, so
 * closed deals keep counting for the team the owner was in on their close date; the person's current period is
 * marked dirty.
 *
 * Without an org file, teams and regions come from the CRM hierarchy by one rule for its three layouts (manager in
 * the parent role, manager sharing the reps' role, no roles at all: see hierarchy.ts and docs/metrics.md). A person
 * the hierarchy cannot place keeps the team they have (set by an earlier org file, say), else "Unassigned".
 */
import { type Kysely, sql } from 'kysely';
import type { OrgFile } from '../../config/org-file.ts';
import { carriesQuota } from '../../db/quota-carrying.ts';
import type { Database } from '../../db/schema.ts';
import { addDays, earlierOf, type PlainDate } from '../../util/date.ts';
import { type HierarchyRole, placeByHierarchy } from './hierarchy.ts';
import { pickTeamManagers } from './task-routing.ts';
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
  /** The manager's row in the org file (its index): of a tie between managers, the first wins. */
  managerRank?: number;
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

/**
 * The org file's CRM id bindings (`salesforce_user_id`, `hubspot_owner_id`) replace the stored ones: the file is the
 * whole truth about them, so a binding it drops is dropped. Without an org file there are none.
 */
export async function writeBindings(db: Kysely<Database>, file: OrgFile | null): Promise<void> {
  const rows = (file?.rows ?? []).flatMap((r) => [
    ...(r.salesforceUserId !== null
      ? [{ crm: 'salesforce' as const, external_id: r.salesforceUserId.slice(0, 15), email: r.email }]
      : []),
    ...(r.hubspotOwnerId !== null ? [{ crm: 'hubspot' as const, external_id: r.hubspotOwnerId, email: r.email }] : []),
  ]);
  // Replaced in one transaction, and only when the file says something else: a sync linking users meanwhile must
  // never see the table empty (it would link a bound user back to its own email's person).
  const write = async (trx: Kysely<Database>) => {
    const now = await trx.selectFrom('person_bindings').select(['crm', 'external_id', 'email']).execute();
    const key = (r: { crm: string; external_id: string; email: string }) => `${r.crm}|${r.external_id}|${r.email}`;
    const same = now.length === rows.length && new Set(now.map(key)).size === new Set([...now, ...rows].map(key)).size;
    if (same) return;
    await trx.deleteFrom('person_bindings').execute();
    if (rows.length > 0) await trx.insertInto('person_bindings').values(rows).execute();
  };
  if (db.isTransaction) await write(db);
  else await db.transaction().execute(write);
}

/**
 * The email a rep stands for, as SQL over `reps r`: the email the org file binds its CRM id to, else its own.
 * A Salesforce binding holds the id's first 15 characters (the 18-character id adds a checksum).
 */
export const personEmailOf = sql<string | null>`coalesce((select b.email from person_bindings b
  join connections c on c.kind = b.crm where c.id = r.connection_id
    and b.external_id = case when c.kind = 'salesforce' then left(r.external_id, 15) else r.external_id end), r.email)`;

/**
 * One person per human: a person for every synced user's email (or the email org.csv binds the user to), and each
 * user linked to theirs. With `file` (null: no org file), its bindings are stored first. Returns the persons whose
 * users changed: the one a user left and the one it joined, whose figures move with the user's deals.
 */
export async function linkPersons(db: Kysely<Database>, file?: OrgFile | null): Promise<number[]> {
  if (file !== undefined) await writeBindings(db, file);
  // Persons by email for every rep not yet linked; the unique index is on lower(email).
  await sql`insert into persons (email, name)
    select distinct on (lower(e.email)) lower(e.email), e.name
    from (select ${personEmailOf} as email, r.name, r.connection_id from reps r
      where r.email is not null and r.email <> '' and not r.is_deleted) e
    where e.email is not null and e.email <> ''
      and not exists (select 1 from persons p where lower(p.email) = lower(e.email))
    order by lower(e.email), e.connection_id`.execute(db);
  const moved = await sql<{ before: number | null; after: number }>`
    with e as (select r.connection_id, r.external_id, r.person_id, ${personEmailOf} as email from reps r),
    m as (select e.connection_id, e.external_id, e.person_id as before, p.id as after
      from e join persons p on lower(p.email) = lower(e.email) where e.person_id is distinct from p.id)
    update reps r set person_id = m.after from m
    where r.connection_id = m.connection_id and r.external_id = m.external_id
    returning m.before, m.after`.execute(db);
  // A person made for a user's own email before the org file bound that user elsewhere stood for nobody: gone,
  // unless anything else holds it (a membership, a unit it manages, a quota file's row, the org file).
  const left = [...new Set(moved.rows.flatMap((m) => (m.before === null ? [] : [m.before])))];
  const gone = new Set<number>();
  if (left.length > 0) {
    const deleted = await sql<{
      id: number;
    }>`delete from persons p where p.id in (${sql.join(left)}) and p.source = 'crm'
      and not exists (select 1 from reps r where r.person_id = p.id)
      and not exists (select 1 from memberships m where m.person_id = p.id)
      and not exists (select 1 from org_units u where u.manager_person_id = p.id)
      and not exists (select 1 from quotas q where q.person_id = p.id)
      returning p.id`.execute(db);
    for (const d of deleted.rows) gone.add(Number(d.id));
  }
  await retireUnlinked(db, [...gone]);
  return [...new Set(moved.rows.flatMap((m) => (m.before === null ? [m.after] : [m.before, m.after])))]
    .filter((id) => !gone.has(Number(id)))
    .sort((a, b) => a - b);
}

/**
 * A rep subject that stands for no CRM user any more (a person whose users an org.csv binding moved to another, or a
 * user's own key once the user has a person) is computed by nobody: the engine only sees users. Its open alerts are
 * resolved, so write-back closes their CRM tasks like any other's (the person who has the user now is recomputed
 * and gets alerts of their own, to their own manager), and its stored figures go, so no report or leaderboard lists
 * it beside the person it was merged into (`deleted`: the persons this link removed). Reps rows are never deleted, so
 * a person without any never had a user of its own or has lost them all to a binding; one whose users the CRMs all
 * deleted is computed by nobody either and goes the same way. A malformed `person:` id is left alone rather than
 * failing every sync. The reads go through the open-alerts index and the reps' keys.
 */
async function retireUnlinked(db: Kysely<Database>, deleted: readonly number[]): Promise<void> {
  const resolved = await sql<{
    subject_id: string;
  }>`update alerts a set status = 'resolved', resolved_at = now(), updated_at = now() -- wall-clock: audit stamps
    where a.status <> 'resolved' and a.subject_kind = 'rep' and case
      when a.subject_id ~ '^person:[0-9]+$' then not exists (
        select 1 from reps r where r.person_id = substr(a.subject_id, 8)::bigint and not r.is_deleted)
      when a.subject_id like 'person:%' then false
      else exists (
        select 1 from reps r where r.connection_id = split_part(a.subject_id, ':', 1)
          and r.external_id = substr(a.subject_id, length(split_part(a.subject_id, ':', 1)) + 2)
          and r.person_id is not null)
      end
    returning a.subject_id`.execute(db);
  const unlinked = await sql<{ subject_id: string }>`select 'person:' || p.id as subject_id from persons p
    where not exists (select 1 from reps r where r.person_id = p.id and not r.is_deleted)`.execute(db);
  const ids = [
    ...new Set([
      ...unlinked.rows.map((r) => r.subject_id),
      ...resolved.rows.map((r) => r.subject_id),
      ...deleted.map((id) => `person:${id}`),
    ]),
  ];
  if (ids.length === 0) return;
  for (const table of ['metric_snapshots', 'metric_snapshot_history'] as const)
    await db
      .deleteFrom(table)
      .where('subject_kind', '=', 'rep')
      .where(sql<boolean>`subject_id = any(${ids}::text[])`)
      .execute();
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
  const rowOf = new Map(file.rows.map((r, i) => [r.email, i]));
  for (const p of out.values()) {
    if (!p.managerEmail) continue;
    p.managerPersonId = byEmail.get(p.managerEmail) ?? null;
    const rank = rowOf.get(p.managerEmail);
    if (rank !== undefined) p.managerRank = rank;
  }
  // The file names who sits where, the CRMs who has left, as the role tree has it: someone deactivated in every CRM
  // (a HubSpot owner archived with its user) first seen that way gets a membership that ends the day they left; one
  // already placed is placed no more, so a current membership ends today and an ended one is not reopened.
  const left = await sql<{ person_id: number; left_on: PlainDate | null; placed: boolean }>`
    select r.person_id, max(r.source_modified_at)::date::text as left_on,
      exists (select 1 from memberships ms where ms.person_id = r.person_id) as placed
    from reps r
    where r.person_id is not null and not r.is_deleted
      and not exists (select 1 from reps a where a.person_id = r.person_id and a.is_active and not a.is_deleted)
    group by r.person_id`.execute(db);
  for (const l of left.rows) {
    const p = out.get(l.person_id);
    if (!p) continue;
    if (l.placed) out.delete(l.person_id);
    else p.leftOn = l.left_on;
  }
  return out;
}

/** A CRM role across connections: `<connection>:<external id>`. */
const roleKey = (connection: string, externalId: string) => `${connection}:${externalId}`;

async function placementsFromRoles(db: Kysely<Database>): Promise<Map<number, Placement>> {
  const roleRows = await db
    .selectFrom('crm_roles')
    .select(['connection_id', 'external_id', 'name', 'parent_external_id'])
    .where('is_deleted', '=', false)
    .execute();
  const roles: HierarchyRole[] = roleRows.map((r) => ({
    key: roleKey(r.connection_id, r.external_id),
    name: r.name,
    parent: r.parent_external_id === null ? null : roleKey(r.connection_id, r.parent_external_id),
  }));

  // One CRM user per person (an active one first, then the first connection), with whether the person carries a
  // quota in any CRM. Deactivated people come too when we never placed them (first seen after they left).
  const people = await sql<{
    person_id: number;
    name: string | null;
    connection_id: string;
    role_external_id: string | null;
    manager_person_id: number | null;
    quota_carrying: boolean;
    active: boolean;
    left_on: PlainDate | null;
  }>`
    select distinct on (r.person_id) r.person_id, r.name, r.connection_id, r.role_external_id,
      m.person_id as manager_person_id,
      ${carriesQuota('r', 'p')} as quota_carrying,
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

  const tree = placeByHierarchy(
    roles,
    people.rows.map((p) => ({
      id: p.person_id,
      name: p.name ?? String(p.person_id),
      role: p.role_external_id === null ? null : roleKey(p.connection_id, p.role_external_id),
      manager: p.manager_person_id,
      quotaCarrying: p.quota_carrying,
      active: p.active,
    })),
  );

  const out = new Map<number, Placement>();
  // Whoever the hierarchy cannot place keeps the team they have (set by an earlier org file, say), else Unassigned.
  const current = await sql<{ person_id: number; team: string; region: string | null; source: string }>`
    select m.person_id, t.name as team, case when p.kind = 'region' then p.name end as region, m.source
    from memberships m join org_units t on t.id = m.org_unit_id left join org_units p on p.id = t.parent_id
    where m.valid_to is null`.execute(db);
  const kept = new Map(current.rows.map((c) => [c.person_id, c] as const));
  const unplaced = new Set(tree.unplaced);
  for (const p of people.rows) {
    const left = p.active ? {} : { leftOn: p.left_on };
    // Without a role, a team an org file once gave stays: the CRM has nothing better to say about where they sit.
    const fromFile = p.role_external_id === null && kept.get(p.person_id)?.source === 'file';
    if (unplaced.has(p.person_id) || fromFile) {
      const keep = kept.get(p.person_id);
      out.set(p.person_id, {
        team: keep?.team ?? UNASSIGNED,
        region: keep ? keep.region : null,
        managerEmail: null,
        // Unplaced: no role and no active manager, so nobody to name.
        managerPersonId: null,
        ...left,
      });
      continue;
    }
    const placed = tree.placed.get(p.person_id);
    if (!placed) continue;
    out.set(p.person_id, {
      team: placed.team,
      region: placed.region,
      managerEmail: null,
      managerPersonId: placed.teamManager,
      regionManagerPersonId: placed.region === null ? null : placed.regionManager,
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
    const relinked = await linkPersons(trx, o.orgFile);
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
    // A team's manager: the manager most of its members name; of a tie, the first in the org file (else the lowest
    // person id). `config check --online` names the same one (task-routing.ts).
    const fileRank = new Map<number, number>();
    for (const p of placements.values())
      if (p.managerPersonId !== null && p.managerRank !== undefined) fileRank.set(p.managerPersonId, p.managerRank);
    const picked = pickTeamManagers(
      [...placements.values()].map((p) => ({ team: p.team, manager: p.managerPersonId })),
      (id) => fileRank.get(id),
      (a, b) => a - b,
    );
    for (const [team, manager] of picked) managers.set(teamIds.get(team) as number, manager);
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
      dirty: [
        ...moved.map((id) => ({ subjectKey: `person:${id}`, periodId: o.periodId, reason: 'team_changed' })),
        // A user now standing for another person (an org.csv binding) takes its deals, quotas and activity along.
        ...relinked.map((id) => ({ subjectKey: `person:${id}`, periodId: o.periodId, reason: 'person_linked' })),
      ],
    };
  });
}
