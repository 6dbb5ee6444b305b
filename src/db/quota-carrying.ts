/**
 * Who carries a quota, decided once for the warehouse: the person's own flag where RevOps' files set it (the org
 * file's `quota_carrying`, or the quota file: having a row), else any of the person's live CRM users flagged by
 * the sync (a CRM quota of their own, or every user while the CRM has no quotas at all: sync/derive.ts), else
 * not. A CRM user linked to no person (no email) answers for itself. The metrics engine (who is watched and
 * ranked, who manages) and write-back (who gets scores written) read it through this expression.
 */
import { type RawBuilder, sql } from 'kysely';

/**
 * The rule as an SQL expression over a `reps` row aliased `rep` and its `persons` row aliased `person` (joined on
 * `person.id = rep.person_id`, left-joined where a rep may have none).
 */
export function carriesQuota(rep: string, person: string): RawBuilder<boolean> {
  const r = (column: string) => sql.ref(`${rep}.${column}`);
  const p = (column: string) => sql.ref(`${person}.${column}`);
  return sql<boolean>`coalesce(${p('quota_carrying')}, case when ${r('person_id')} is null then ${r('quota_carrying')}
    else (select bool_or(u.quota_carrying) from reps u where u.person_id = ${r('person_id')} and not u.is_deleted) end,
    false)`;
}
