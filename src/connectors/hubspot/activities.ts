/**
 * Calls, emails, meetings and tasks as warehouse activities, one stream per HubSpot engagement object, into the
 * table Salesforce's `tasks` and `events` fill:
 *
 * - kind: a meeting is an `event` (Salesforce's Event); a call, an email or a task a `task` (Salesforce logs calls
 *   and emails as Tasks). `subtype` is the engagement object (`calls` ...), which is also each stream's scope in
 *   the shared table;
 * - type: calls `call`, emails `email` (list emails too, `hs_email_sent_via: BULK`), meetings `meeting`, tasks
 *   `task`, or `proposal` where the portal's custom task property `activity_kind` says so (HubSpot has no proposal
 *   type; the property is the portal admin's mapping);
 * - owner `hubspot_owner_id`; date `hs_timestamp`, the engagement's own instant
 *   (https://developers.hubspot.com/docs/api/crm/tasks: a task's `hs_timestamp` is its due date), as a date in the
 *   portal's time zone, else the creation date; an `hs_timestamp` that is not an instant quarantines the record;
 * - the deal from the engagement's associations to deals (v4 batch read, one call a page); HubSpot gives
 *   engagement-to-deal links no primary, so of several the lowest deal id is taken;
 * - completed: a task by `hs_task_status` COMPLETED; a logged call or email happened (true); a meeting null, as a
 *   Salesforce Event.
 *
 * The alert tasks quota-tracker will create in HubSpot carry the task property `quota_alert_key` (the marker
 * Salesforce's carry in `Quota_Alert_Key__c`, docs/metrics.md "Activity"): a task with it is nobody's activity. It
 * is left out, and flagged deleted should a row of it exist. HubSpot ignores a property a read names that the
 * portal does not have, so asking for it before the write side creates it costs nothing.
 *
 * Engagement ids are one id space in HubSpot (the v1 engagements API and the v3 objects share them), so the
 * warehouse keeps the bare id, as the alert-task bookkeeping (`alert_tasks.crm_task_id`) does.
 */
import type { ActivityRow, ActivityType } from '../types.ts';
import type { Links } from './associations.ts';
import { type HsObject, instantDate, str, Unnormalizable } from './normalize.ts';
import type { ObjectStreamPlan } from './read.ts';
import { planRows } from './record-rows.ts';

export const ENGAGEMENT_STREAMS = ['calls', 'emails', 'meetings', 'tasks'] as const;
export type EngagementType = (typeof ENGAGEMENT_STREAMS)[number];

/** The task property marking an alert task quota-tracker created (never activity). */
export const ALERT_KEY_PROPERTY = 'quota_alert_key';

const COMMON = ['hubspot_owner_id', 'hs_timestamp', 'hs_createdate', 'hs_lastmodifieddate'] as const;

/** Engagement properties read (HubSpot returns only the properties asked for). */
export const ENGAGEMENT_PROPERTIES: Readonly<Record<EngagementType, readonly string[]>> = {
  calls: [...COMMON, 'hs_call_status'],
  emails: [...COMMON, 'hs_email_sent_via'],
  meetings: [...COMMON],
  tasks: [...COMMON, 'hs_task_status', 'hs_task_type', 'activity_kind', ALERT_KEY_PROPERTY],
};

export function isEngagementType(s: string): s is EngagementType {
  return (ENGAGEMENT_STREAMS as readonly string[]).includes(s);
}

function activityType(type: EngagementType, o: HsObject): ActivityType {
  switch (type) {
    case 'calls':
      return 'call';
    case 'emails':
      return 'email';
    case 'meetings':
      return 'meeting';
    case 'tasks':
      return /proposal/i.test(str(o.properties, 'activity_kind') ?? '') ? 'proposal' : 'task';
  }
}

export function normalizeEngagement(
  type: EngagementType,
  o: HsObject,
  dealIds: readonly string[] | undefined,
  timeZone: string,
): ActivityRow {
  const p = o.properties;
  const date =
    instantDate(p.hs_timestamp, 'hs_timestamp', timeZone) ??
    instantDate(p.hs_createdate ?? o.createdAt, 'hs_createdate', timeZone);
  if (date === null) throw new Unnormalizable('MISSING_ACTIVITY_DATE', 'hs_timestamp and hs_createdate are empty');
  const status = str(p, 'hs_task_status');
  return {
    kind: type === 'meetings' ? 'event' : 'task',
    owner_external_id: str(p, 'hubspot_owner_id'),
    activity_type: activityType(type, o),
    subtype: type,
    activity_date: date,
    is_completed:
      type === 'meetings' ? null : type === 'tasks' ? (status === null ? null : status === 'COMPLETED') : true,
    deal_external_id: dealIds?.[0] ?? null,
  };
}

export function engagementPlan(type: EngagementType, timeZone: () => Promise<string>): ObjectStreamPlan<'activities'> {
  return {
    objectType: type,
    stampProperty: 'hs_lastmodifieddate',
    properties: ENGAGEMENT_PROPERTIES[type],
    deletes: true,
    associations: ['deals'],
    toRows: async (objects, links) => {
      const tz = await timeZone();
      const deals: Links = links.get('deals') ?? new Map();
      const alerts = objects.filter((o) => str(o.properties, ALERT_KEY_PROPERTY) !== null);
      const own = alerts.length ? objects.filter((o) => str(o.properties, ALERT_KEY_PROPERTY) === null) : objects;
      return {
        ...planRows(own, 'hs_lastmodifieddate', (o) => normalizeEngagement(type, o, deals.get(o.id), tz)),
        ...(alerts.length ? { deletedIds: alerts.map((o) => o.id) } : {}),
      };
    },
  };
}
