/**
 * Leads for lead conversion: HubSpot's leads object (`0-136`, Sales Hub Professional and Enterprise:
 * https://developers.hubspot.com/docs/methods/pipelines/pipelines_overview lists lead pipelines for those only) as
 * `leads` rows, the table Salesforce's `leads` stream fills.
 *
 * - owner `hubspot_owner_id`, created `hs_createdate` as a date in the portal's zone; status the label of the
 *   lead's `hs_pipeline_stage` in the lead pipeline (its id where the pipeline does not name it);
 * - converted: a lead is converted once it entered the lead pipeline's qualified stage (`qualified-stage-id`,
 *   HubSpot's id for the stage whose entry creates the deal), on the date its `hs_pipeline_stage` history says it
 *   last entered it. Like Salesforce's IsConverted it stays converted if moved on later: the deal exists. Search
 *   returns no history, so, as for deal stage history, the list asks for it (50 a page) and a search page's ids are
 *   batch-read with it; ⚠ a lead in the qualified stage with no history entry for it is dated by its stamp;
 * - the converted deal from the lead's associations to deals (v4 batch read, one call a page), the lowest id.
 *
 * On a portal without the leads object (HubSpot answers the leads read "Unable to infer object type", or 404) the
 * stream reads contacts' lifecycle instead (`contactLeadPlan`): a contact is a lead once it has
 * `hs_lifecyclestage_lead_date` (the day it became one), converted on the first of `hs_lifecyclestage_opportunity_date`
 * and `hs_lifecyclestage_customer_date` (a deal was made for it), its deal the lowest associated one
 * (https://knowledge.hubspot.com/records/use-lifecycle-stages: "date entered" properties per stage; contacts stamp
 * `lastmodifieddate`). A contact that never was a lead (a buyer made an opportunity at once) is not one.
 */
import type { LeadRow } from '../types.ts';
import { type HsObject, instantDate, stampOf, str, Unnormalizable } from './normalize.ts';
import type { ObjectStreamPlan } from './read.ts';
import { planRows } from './record-rows.ts';

/** HubSpot's id of the lead stage whose entry converts the lead (and creates its deal). */
export const QUALIFIED_LEAD_STAGE = 'qualified-stage-id';

export const LEAD_PROPERTIES = [
  'hubspot_owner_id',
  'hs_createdate',
  'hs_pipeline',
  'hs_pipeline_stage',
  'hs_lastmodifieddate',
] as const;
export const LEAD_HISTORY_PROPERTIES = ['hs_pipeline_stage'] as const;

export function normalizeLead(
  o: HsObject,
  dealIds: readonly string[] | undefined,
  timeZone: string,
  stageLabels: ReadonlyMap<string, string>,
): LeadRow {
  const p = o.properties;
  const created = instantDate(p.hs_createdate ?? o.createdAt, 'hs_createdate', timeZone);
  if (created === null) throw new Unnormalizable('MISSING_CREATED_DATE', 'hs_createdate is empty');
  const stage = str(p, 'hs_pipeline_stage');
  // History comes newest first; the last entry into the qualified stage dates the conversion.
  let entered: number | null = null;
  for (const h of o.propertiesWithHistory?.hs_pipeline_stage ?? []) {
    if (h.value !== QUALIFIED_LEAD_STAGE) continue;
    const t = Date.parse(h.timestamp);
    if (Number.isNaN(t)) throw new Unnormalizable('BAD_DATE', `hs_pipeline_stage history timestamp ${h.timestamp}`);
    if (entered === null || t > entered) entered = t;
  }
  const convertedAt =
    entered !== null
      ? new Date(entered).toISOString()
      : stage === QUALIFIED_LEAD_STAGE
        ? stampOf(o, 'hs_lastmodifieddate')
        : null;
  const converted = instantDate(convertedAt, 'hs_pipeline_stage', timeZone);
  return {
    owner_external_id: str(p, 'hubspot_owner_id'),
    created_date: created,
    status: stage === null ? null : (stageLabels.get(stage) ?? stage),
    is_converted: converted !== null,
    converted_date: converted,
    converted_deal_external_id: dealIds?.[0] ?? null,
  };
}

export function leadPlan(facts: () => Promise<{ timeZone: string; stageLabels: ReadonlyMap<string, string> }>) {
  const plan: ObjectStreamPlan<'leads'> = {
    objectType: 'leads',
    stampProperty: 'hs_lastmodifieddate',
    properties: LEAD_PROPERTIES,
    history: LEAD_HISTORY_PROPERTIES,
    deletes: true,
    associations: ['deals'],
    relinkColumn: 'converted_deal_external_id',
    toRows: async (objects, links) => {
      const f = await facts();
      const deals = links.get('deals');
      return planRows(objects, 'hs_lastmodifieddate', (o) =>
        normalizeLead(o, deals?.get(o.id), f.timeZone, f.stageLabels),
      );
    },
  };
  return plan;
}

/** Contacts' properties read for their lifecycle as leads (no leads object). */
export const CONTACT_LEAD_PROPERTIES = [
  'hubspot_owner_id',
  'createdate',
  'lifecyclestage',
  'hs_lifecyclestage_lead_date',
  'hs_lifecyclestage_opportunity_date',
  'hs_lifecyclestage_customer_date',
  'lastmodifieddate',
] as const;

/** Lifecycle stages past a lead's conversion: a deal exists for the contact. */
const CONVERTED_STAGES = new Set(['opportunity', 'customer']);

/** A contact that became a lead as a `leads` row, or null when it never was one. */
export function normalizeContactLead(
  o: HsObject,
  dealIds: readonly string[] | undefined,
  timeZone: string,
): LeadRow | null {
  const p = o.properties;
  if (str(p, 'hs_lifecyclestage_lead_date') === null) return null;
  const created = instantDate(p.hs_lifecyclestage_lead_date, 'hs_lifecyclestage_lead_date', timeZone);
  const stage = str(p, 'lifecyclestage');
  const dates = ['hs_lifecyclestage_opportunity_date', 'hs_lifecyclestage_customer_date']
    .map((k) => ({ k, t: str(p, k) }))
    .filter((x): x is { k: string; t: string } => x.t !== null)
    .map(({ k, t }) => ({ k, ms: Date.parse(t), t }));
  const bad = dates.find((d) => Number.isNaN(d.ms));
  if (bad) throw new Unnormalizable('BAD_DATE', `${bad.k} ${bad.t} is not an instant`);
  const first = dates.sort((a, b) => a.ms - b.ms)[0];
  // ⚠ A contact at a converted stage without its date is dated by its stamp, as a qualified lead without history.
  const convertedAt = first
    ? new Date(first.ms).toISOString()
    : stage !== null && CONVERTED_STAGES.has(stage)
      ? stampOf(o, 'lastmodifieddate')
      : null;
  const converted = instantDate(convertedAt, 'lifecyclestage', timeZone);
  return {
    owner_external_id: str(p, 'hubspot_owner_id'),
    created_date: created as string,
    status: stage,
    is_converted: converted !== null,
    converted_date: converted,
    converted_deal_external_id: dealIds?.[0] ?? null,
  };
}

/** Leads from contacts' lifecycle stages, for a portal without the leads object. */
export function contactLeadPlan(timeZone: () => Promise<string>): ObjectStreamPlan<'leads'> {
  return {
    objectType: 'contacts',
    stampProperty: 'lastmodifieddate',
    properties: CONTACT_LEAD_PROPERTIES,
    deletes: true,
    associations: ['deals'],
    relinkColumn: 'converted_deal_external_id',
    tagCursor: true,
    toRows: async (objects, links) => {
      const tz = await timeZone();
      const deals = links.get('deals');
      // Contacts that never were leads are not this stream's: left out (a row of one, should it exist, stays).
      const leads = objects.filter((o) => str(o.properties, 'hs_lifecyclestage_lead_date') !== null);
      return planRows(leads, 'lastmodifieddate', (o) => normalizeContactLead(o, deals?.get(o.id), tz) as LeadRow);
    },
  };
}
