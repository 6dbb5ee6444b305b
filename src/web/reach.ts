/**
 * What a principal may see of a report's model: an admin everything; a manager the units they manage (team,
 * region or the whole org, by `org_units.manager_person_id`, which the org file or the CRM hierarchy rule of
 * src/metrics/engine/hierarchy.ts sets), every unit below those and every rep who is a member of one on the as-of
 * date, and themselves; a rep themselves only. The leaderboard is open to all, but a rep (or a manager, outside
 * their subtree) sees other reps' names and ranks only, not their figures.
 */
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Database } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import type { JsonObject } from '../metrics/document.ts';
import type { MetricsModel } from '../metrics/engine/model.ts';
import type { SubjectRef } from '../metrics/engine/types.ts';
import { membershipOn, ORG_ID } from '../metrics/math/rollup.ts';
import type { Principal } from './tokens.ts';

export interface Reach {
  all: boolean;
  /** The principal's own rep key in the model, if they are a rep there. */
  self: string | null;
  /** Unit ids (team, region, org) the principal manages, with every unit below them. */
  units: ReadonlySet<string>;
  /** The model the reach was computed over (memberships on its as-of date). */
  model: MetricsModel;
}

/** The person id of an email in the warehouse (a manager may be in the org file without being a CRM rep). */
async function personIdOf(db: Kysely<Database>, email: string): Promise<number | null> {
  const row = await db
    .selectFrom('persons')
    .select('id')
    .where(sql<string>`lower(email)`, '=', email)
    .executeTakeFirst();
  return row?.id ?? null;
}

export async function reachOf(db: Kysely<Database>, model: MetricsModel, principal: Principal): Promise<Reach> {
  if (principal.role === 'admin') return { all: true, self: null, units: new Set(), model };
  // Emails compare whatever their case: a token's subject and a CRM's address may be written differently.
  const email = principal.subjectEmail?.toLowerCase() ?? null;
  let self: string | null = null;
  if (email !== null)
    for (const rep of model.data.reps.values()) if (rep.email?.toLowerCase() === email) self = rep.key;
  const units = new Set<string>();
  if (principal.role === 'manager' && email !== null) {
    const personId = await personIdOf(db, email);
    const children = new Map<string, string[]>();
    for (const u of model.data.units.values()) {
      if (u.parentId === null) continue;
      const list = children.get(u.parentId) ?? [];
      list.push(u.id);
      children.set(u.parentId, list);
    }
    const stack = [...model.data.units.values()]
      .filter((u) => personId !== null && u.managerPersonId === personId)
      .map((u) => u.id);
    while (stack.length > 0) {
      const id = stack.pop() as string;
      if (units.has(id)) continue;
      units.add(id);
      stack.push(...(children.get(id) ?? []));
    }
  }
  return { all: false, self, units, model };
}

/** The unit id of a subject (`org` is the org unit's id in the model). */
function unitIdOf(model: MetricsModel, subject: SubjectRef): string | null {
  if (subject.kind === 'rep') return null;
  if (subject.kind !== 'org') return subject.id;
  return [...model.data.units.values()].find((u) => u.kind === 'org')?.id ?? null;
}

/** Whether the reach covers a subject: a rep through their team or region on the as-of date. */
export function canSee(reach: Reach, subject: SubjectRef): boolean {
  if (reach.all) return true;
  if (subject.kind === 'rep') {
    if (subject.id === reach.self) return true;
    const m = membershipOn(reach.model.memberships, subject.id, reach.model.asOf);
    if (!m) return false;
    const orgId = unitIdOf(reach.model, { kind: 'org', id: ORG_ID });
    return reach.units.has(m.teamId) || reach.units.has(m.regionId) || (orgId !== null && reach.units.has(orgId));
  }
  const id = unitIdOf(reach.model, subject);
  return id !== null && reach.units.has(id);
}

/** Throws AUTH_FORBIDDEN (403) unless the reach covers the subject. */
export function mustSee(reach: Reach, subject: SubjectRef, what: string): void {
  if (!canSee(reach, subject)) throw new AppError('AUTH_FORBIDDEN', `this token may not see ${what}`, { where: what });
}

/**
 * The leaderboard as this reach may see it: entries of reps outside it keep rank and name (and team) only, so a
 * rep learns where they stand without reading anyone else's quota, actual or pipeline.
 */
export function leaderboardFor(reach: Reach, doc: JsonObject): JsonObject {
  if (reach.all) return doc;
  const entries = (doc.entries as JsonObject[]).map((e): JsonObject => {
    const subject = e.subject as JsonObject;
    if (canSee(reach, { kind: 'rep', id: String(subject.id) })) return e;
    return {
      rank: e.rank ?? null,
      subject: { type: 'rep', id: subject.id ?? null, name: subject.name ?? null, team: subject.team ?? null },
    };
  });
  return { ...doc, entries };
}

/** The alerts report with only the alerts about subjects this reach covers. */
export function alertsFor(reach: Reach, doc: JsonObject): JsonObject {
  if (reach.all) return doc;
  const alerts = (doc.alerts as JsonObject[]).filter((a) => {
    const s = a.subject as JsonObject;
    return canSee(reach, { kind: s.type as SubjectRef['kind'], id: String(s.id) });
  });
  return { ...doc, alerts };
}
