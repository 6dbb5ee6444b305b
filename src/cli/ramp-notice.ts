/**
 * Ramp scales a rep's quota by month of tenure, from the rep's start date. Where no start date is known the rep
 * carries full quota from day one, silently: a new hire then reads as far behind. These say so, once per command:
 * `config check` from the configuration (HubSpot owners have no start date of their own, so with HubSpot alone only
 * the org file's `start_date` column can give one), `sync` from the warehouse (the reps with a quota who have none).
 */
import { type Kysely, sql } from 'kysely';
import type { OrgRow } from '../config/org-file.ts';
import type { Config } from '../config/schema.ts';
import { carriesQuota } from '../db/quota-carrying.ts';
import type { Database } from '../db/schema.ts';

/** A schedule of all ones changes nothing, so nothing is lost without start dates. */
function rampScales(config: Config): boolean {
  return config.ramp.some((share) => share < 1);
}

const HOW = 'add a start_date column to the org file (org: { file })';

/** The config check's sentence, or null when every connection has a source of start dates. */
export function rampConfigNotice(config: Config, orgRows: readonly OrgRow[] | null): string | null {
  if (!rampScales(config)) return null;
  if (orgRows?.some((r) => r.startDate !== null)) return null;
  const enabled = config.connections.filter((c) => c.enabled);
  // Beside Salesforce, HubSpot owners may be the same people (matched by email), dated by their Salesforce user:
  // only the warehouse can tell, and `sync` says so from there.
  if (enabled.length === 0 || enabled.some((c) => c.type !== 'hubspot')) return null;
  const hubspot = enabled.map((c) => c.id);
  const which = `connection${hubspot.length === 1 ? '' : 's'} ${hubspot.join(', ')}`;
  return `ramp cannot apply to the reps of ${which}: HubSpot owners have no start date and ${orgRows ? 'the org file gives none' : 'there is no org file'}, so their quotas count in full from their first day; ${HOW}.`;
}

/** The sync's sentence from the warehouse, or null when every rep with a quota has a start date. */
export async function rampWarehouseNotice(db: Kysely<Database>, config: Config): Promise<string | null> {
  if (!rampScales(config)) return null;
  // One row per person (a person in two CRMs is one rep), as the metrics load them: the org file's date first.
  const { rows } = await sql<{ carrying: number; undated: number }>`
    select count(*)::int as carrying, count(*) filter (where undated)::int as undated
    from (
      select bool_and(coalesce(p.start_date, r.start_date) is null) as undated, bool_or(${carriesQuota('r', 'p')}) as carrying
      from reps r left join persons p on p.id = r.person_id
      where not r.is_deleted and r.is_active
      group by coalesce('person:' || r.person_id::text, r.connection_id || ':' || r.external_id)
    ) people
    where carrying`.execute(db);
  const { carrying = 0, undated = 0 } = rows[0] ?? {};
  if (undated === 0) return null;
  const who =
    undated === carrying
      ? `none of the ${carrying} reps with a quota has a start date`
      : `${undated} of the ${carrying} reps with a quota have no start date`;
  return `ramp cannot apply: ${who} (HubSpot owners have none), so their quotas count in full from their first day; ${HOW}.`;
}
