/**
 * Calls, emails, meetings and tasks as warehouse activities, one stream per HubSpot engagement object, into the
 * table Salesforce's `tasks` and `events` fill:
 *
 * - kind: a meeting is an `event` (Salesforce's Event); a call, an email or a task a `task` (Salesforce logs calls
 *   and emails as Tasks). `subtype` is the engagement object (`calls` ...), which is also each stream's scope in
 *   the shared table;
 * - type: calls `call`, emails `email` (list emails too, as Salesforce's ListEmail), meetings `meeting`, tasks
 *   `task`, or `proposal` where the portal's custom task property `activity_kind` says so (HubSpot has no proposal
 *   type; the property is the portal admin's mapping);
 * - owner `hubspot_owner_id`; date `hs_timestamp`, the engagement's own instant
 *   (https://developers.hubspot.com/docs/api/crm/tasks: a task's `hs_timestamp` is its due date), as a date in the
 *   portal's time zone, else the creation date; an `hs_timestamp` that is not an instant quarantines the record;
 * - the deal from the engagement's associations to deals (v4 batch read, one call a page); HubSpot gives
 *   engagement-to-deal links no primary, so of several the lowest deal id is taken;
 * - completed (`is_completed`, a flag the figures do not filter on: every engagement counts, as every Salesforce
 *   Task and Event does): a task by `hs_task_status` COMPLETED; a call by `hs_call_status` (held: COMPLETED, BUSY,
 *   NO_ANSWER or none; not: queued, ringing, canceled, failed); a meeting by `hs_meeting_outcome` COMPLETED (null
 *   without one, as a Salesforce Event); an email true.
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
  // A list (bulk) email counts as an email, as Salesforce's ListEmail task does: its sender is not read.
  emails: [...COMMON],
  meetings: [...COMMON, 'hs_meeting_outcome'],
  tasks: [...COMMON, 'hs_task_status', 'activity_kind', ALERT_KEY_PROPERTY],
};

/**
 * Call statuses of a call that took place, answered or not (https://developers.hubspot.com/docs/api/crm/calls:
 * `hs_call_status` BUSY, CALLING_CRM_USER, CANCELED, COMPLETED, CONNECTING, FAILED, IN_PROGRESS, NO_ANSWER, QUEUED,
 * RINGING). A call logged by hand carries no status and took place; a queued, ringing or canceled one has not.
 */
const CALL_DONE = new Set(['COMPLETED', 'BUSY', 'NO_ANSWER']);

/**
 * Whether the engagement is done (`is_completed`): a task by `hs_task_status`, a call by `hs_call_status`, a meeting
 * by `hs_meeting_outcome` (https://developers.hubspot.com/docs/api/crm/meetings: SCHEDULED, COMPLETED, RESCHEDULED,
 * NO_SHOW, CANCELED; none: unknown, as a Salesforce event's), an email always.
 */
function completed(type: EngagementType, p: HsObject['properties']): boolean | null {
  switch (type) {
    case 'calls': {
      const s = str(p, 'hs_call_status');
      return s === null || CALL_DONE.has(s.toUpperCase());
    }
    case 'emails':
      return true;
    case 'meetings': {
      const s = str(p, 'hs_meeting_outcome');
      return s === null ? null : s.toUpperCase() === 'COMPLETED';
    }
    case 'tasks': {
      const s = str(p, 'hs_task_status');
      return s === null ? null : s === 'COMPLETED';
    }
  }
}

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
  return {
    kind: type === 'meetings' ? 'event' : 'task',
    owner_external_id: str(p, 'hubspot_owner_id'),
    activity_type: activityType(type, o),
    subtype: type,
    activity_date: date,
    is_completed: completed(type, p),
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
    relinkColumn: 'deal_external_id',
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
