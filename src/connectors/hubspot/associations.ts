/**
 * Which records a page's records are associated with, through the associations v4 batch read
 * (`POST /crm/v4/associations/{from}/{to}/batch/read`,
 * https://developers.hubspot.com/docs/api-reference/latest/crm/associations/association-details/batch/read): one call
 * per page and association type, never one per record. A call takes at most 1,000 ids
 * (https://developers.hubspot.com/changelog/bug-fix-batch-read-limit-for-hubspot-associations-api); a page holds at
 * most 200, so it is one call.
 *
 * A record with more associations than one answer holds gets `paging.next.after` on its result ("The 'after' field in
 * a returned paging object can be added alongside the 'id' to retrieve the next page of associations from that
 * objectId ... The 'paging' field will only be present if there are more pages", the batch read's reference above):
 * those records are asked again with their `after`, up to 1,000 a call, until no result pages, so every link is
 * read, whatever page the lowest deal id is on.
 *
 * A record with no association of the type is an error inside a 207 (`NO_ASSOCIATIONS_FOUND`): that is an empty
 * answer, not a failure. Any other per-record error means the page's links are not known, so the page fails (and is
 * read again by the next attempt) rather than being written without them.
 *
 * Associations do not move the modification stamp (airbytehq/airbyte#44554): a link added after a record was read is
 * found by the relink pass after each search window (read.ts, README "Links made later").
 */
import { AppError } from '../../errors.ts';
import type { HubSpotClient } from './client.ts';
import { HUBSPOT_PATHS } from './paths.ts';

/** Most ids one association batch read takes. */
export const ASSOCIATION_BATCH = 1000;

interface AssociationAnswer {
  results?: Array<{
    from: { id: string };
    to: Array<{ toObjectId: number | string }>;
    paging?: { next?: { after?: string } };
  }>;
  errors?: Array<{ category?: string; subCategory?: string; message?: string; context?: { fromObjectId?: string[] } }>;
}

/** Ids of the `toType` records each `from` record is associated with, ascending by id (records with none absent). */
export type Links = ReadonlyMap<string, readonly string[]>;

function isNone(e: NonNullable<AssociationAnswer['errors']>[number]): boolean {
  return e.subCategory === 'crm.associations.NO_ASSOCIATIONS_FOUND';
}

export async function readAssociations(
  client: HubSpotClient,
  fromType: string,
  toType: string,
  ids: readonly string[],
): Promise<Links> {
  const out = new Map<string, string[]>();
  let inputs: Array<{ id: string; after?: string }> = ids.map((id) => ({ id }));
  const asked = new Set<string>();
  while (inputs.length > 0) {
    // The records whose answer paged, asked again from where it stopped.
    const more: Array<{ id: string; after: string }> = [];
    for (let i = 0; i < inputs.length; i += ASSOCIATION_BATCH) {
      const res = await client.post<AssociationAnswer>(HUBSPOT_PATHS.associationsBatchRead(fromType, toType), {
        inputs: inputs.slice(i, i + ASSOCIATION_BATCH),
      });
      const failed = (res.errors ?? []).filter((e) => !isNone(e));
      if (failed.length > 0) {
        throw new AppError(
          'CRM_UNAVAILABLE',
          `HubSpot could not say which ${toType} ${failed.length} ${fromType} are associated with: ${failed[0]?.message ?? failed[0]?.category ?? 'no reason given'}`,
          { where: `POST ${HUBSPOT_PATHS.associationsBatchRead(fromType, toType)}`, retryable: true },
        );
      }
      for (const r of res.results ?? []) {
        const from = String(r.from.id);
        out.set(from, [...(out.get(from) ?? []), ...r.to.map((t) => String(t.toObjectId))]);
        const after = r.paging?.next?.after;
        if (after) {
          // A marker HubSpot gave for this record before would read the same page again, for ever.
          if (asked.has(`${from}|${after}`))
            throw new AppError(
              'CRM_UNAVAILABLE',
              `HubSpot gave the same association page marker twice for ${fromType} ${from}: its ${toType} links cannot be read to the end`,
              { where: `POST ${HUBSPOT_PATHS.associationsBatchRead(fromType, toType)}`, retryable: true },
            );
          asked.add(`${from}|${after}`);
          more.push({ id: from, after });
        }
      }
    }
    inputs = more;
  }
  for (const [k, v] of out) out.set(k, [...new Set(v)].sort(byNumericId));
  return out;
}

/** HubSpot ids are numbers sent as strings: order them as numbers. */
export function byNumericId(a: string, b: string): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}
