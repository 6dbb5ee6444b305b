/**
 * Names and places of subjects for documents and reports: a rep's team, region and manager on D, a group's name
 * and manager, and the lookups from what users type (`--rep EMAIL`, `--team NAME`) to subject ids.
 */
import { AppError } from '../../errors.ts';
import type { SubjectInfo } from '../document.ts';
import { membershipOn, ORG_ID } from '../math/rollup.ts';
import type { MetricsModel } from './model.ts';
import type { SubjectRef } from './types.ts';

function personName(model: MetricsModel, personId: number | null): string | null {
  if (personId === null) return null;
  const rep = model.data.reps.get(`person:${personId}`);
  return rep ? rep.name : null;
}

/** The subject block of a document. */
export function describeSubject(model: MetricsModel, subject: SubjectRef): SubjectInfo {
  const units = model.data.units;
  if (subject.kind === 'rep') {
    const rep = model.data.reps.get(subject.id);
    const m = membershipOn(model.memberships, subject.id, model.asOf);
    const team = m ? units.get(m.teamId) : undefined;
    const region = m && m.regionId !== 'none' ? units.get(m.regionId) : undefined;
    // The person who receives the rep's alert tasks (alert delivery picks them by the same rule): the manager of
    // the rep's team in an org file (it wins); else the manager the rep's CRM user names (the first connection that
    // names one); else the team's manager the CRM hierarchy chose.
    const teamManager = team && team.managerPersonId !== rep?.personId ? team.managerPersonId : null;
    let manager: string | null = team?.source === 'file' ? personName(model, teamManager) : null;
    for (const u of manager === null ? (rep?.users ?? []) : []) {
      if (u.managerExternalId === null) continue;
      const key = model.data.ownerToRep.get(`${u.connectionId}:${u.managerExternalId}`);
      const mgr = key === undefined ? undefined : model.data.reps.get(key);
      if (mgr) {
        manager = mgr.name;
        break;
      }
    }
    manager ??= personName(model, teamManager);
    return {
      type: 'rep',
      id: subject.id,
      name: rep?.name ?? subject.id,
      email: rep?.email ?? null,
      team: team?.name ?? null,
      region: region?.name ?? null,
      manager,
    };
  }
  if (subject.kind === 'org') {
    const org = [...units.values()].find((u) => u.kind === 'org');
    return {
      type: 'org',
      id: ORG_ID,
      name: org?.name ?? 'Organization',
      email: null,
      team: null,
      region: null,
      manager: personName(model, org?.managerPersonId ?? null),
    };
  }
  const unit = units.get(subject.id);
  const parent = unit?.parentId ? units.get(unit.parentId) : undefined;
  return {
    type: subject.kind,
    id: subject.id,
    name: unit?.name ?? subject.id,
    email: null,
    team: subject.kind === 'team' ? (unit?.name ?? null) : null,
    region: subject.kind === 'team' ? (parent?.kind === 'region' ? parent.name : null) : (unit?.name ?? null),
    manager: personName(model, unit?.managerPersonId ?? null),
  };
}

/** The rep with this email (the person's or any of their CRM users', case-insensitive) or name, or NOT_FOUND. */
export function findRep(model: MetricsModel, emailOrName: string): SubjectRef {
  const want = emailOrName.trim().toLowerCase();
  for (const rep of model.data.reps.values()) if (rep.email === want) return { kind: 'rep', id: rep.key };
  // A person bound across CRMs (org.csv) is found by the email any of their CRM users has too; two persons whose
  // users share an email are as ambiguous as two of one name.
  const byUser = [...model.data.reps.values()].filter((r) => r.users.some((u) => u.email === want));
  // Not an email of anyone: a name, case-insensitive, which must name one person.
  const named =
    byUser.length > 0 ? byUser : [...model.data.reps.values()].filter((r) => r.name.trim().toLowerCase() === want);
  if (named.length === 1) return { kind: 'rep', id: (named[0] as (typeof named)[number]).key };
  if (named.length > 1) {
    const who = named
      .map((r) => {
        const team = describeSubject(model, { kind: 'rep', id: r.key }).team;
        return `${r.name} <${r.email ?? r.key}>${team ? ` (${team})` : ''}`;
      })
      .sort();
    throw new AppError(
      'USAGE',
      byUser.length > 0
        ? `${named.length} people have a CRM user with the email ${emailOrName.trim()}: ${who.join(', ')}; give --rep the person's own email`
        : `${named.length} people are named "${emailOrName.trim()}": ${who.join(', ')}; give --rep EMAIL`,
      {
        where: '--rep',
      },
    );
  }
  const asked = emailOrName.trim();
  throw new AppError(
    'NOT_FOUND',
    asked.includes('@') ? `no rep has the email ${asked}` : `no rep is named "${asked}"`,
    {
      where: '--rep',
    },
  );
}

/** The team or region with this name (case-insensitive), or NOT_FOUND naming it. */
export function findUnit(model: MetricsModel, kind: 'team' | 'region', name: string): SubjectRef {
  const want = name.trim().toLowerCase();
  for (const u of model.data.units.values())
    if (u.kind === kind && u.name.toLowerCase() === want) return { kind, id: u.id };
  throw new AppError('NOT_FOUND', `no ${kind} is named "${name}"; ${unitChoices(model, kind)}`, {
    where: `--${kind}`,
  });
}

/**
 * The names of the teams or regions someone belongs to on the as-of date, sorted (all units of the kind when nobody
 * does, so that units kept only for past memberships still answer).
 */
export function liveUnitNames(model: MetricsModel, kind: 'team' | 'region'): string[] {
  const current = new Set<string>();
  for (const rep of model.memberships.keys()) {
    const m = membershipOn(model.memberships, rep, model.asOf);
    if (m) current.add(kind === 'team' ? m.teamId : m.regionId);
  }
  const units = [...model.data.units.values()].filter((u) => u.kind === kind);
  const live = units.filter((u) => current.has(u.id));
  return [...new Set((live.length > 0 ? live : units).map((u) => u.name))].sort((a, b) => a.localeCompare(b));
}

/** "teams: A, B, C" (the first 20 of `liveUnitNames`), for a message that tells the user what they can ask for. */
export function unitChoices(model: MetricsModel, kind: 'team' | 'region'): string {
  const names = liveUnitNames(model, kind);
  if (names.length === 0) return `there are no ${kind}s yet (run a sync first)`;
  const shown = names.slice(0, 20).join(', ');
  return `${kind}s: ${shown}${names.length > 20 ? `, and ${names.length - 20} more` : ''}`;
}
