/**
 * HubSpot's CRM object types as the sandbox serves them: names, object type ids, the property each stamps its last
 * modification in, and the association type ids between them (HubSpot-defined, unlabeled and primary).
 *
 * Object type ids and association type ids are HubSpot's published ones (see README.md, "Objects" and
 * "Associations"); the few the sandbox could not confirm are marked there.
 */

export interface ObjectTypeDef {
  /** The plural name used in paths (`deals`). */
  name: string;
  /** `0-3` style id; custom objects get `2-<n>`. */
  objectTypeId: string;
  /** Names accepted in paths besides `name` and the id (`deal`, `DEAL`...). */
  aliases: readonly string[];
  /** The property holding the last-modified stamp: `lastmodifieddate` on contacts, else `hs_lastmodifieddate`. */
  stampProperty: string;
  /** The property holding the creation instant. */
  createdProperty: string;
  /** Properties returned when a request names none. */
  defaultProperties: readonly string[];
  /** Writes through the API (goal targets are read-only). */
  writable: boolean;
  /** A custom object (schemas API). */
  custom?: boolean;
}

const ENGAGEMENT_DEFAULTS = [
  'hs_createdate',
  'hs_lastmodifieddate',
  'hs_object_id',
  'hs_timestamp',
  'hubspot_owner_id',
];

function def(
  name: string,
  objectTypeId: string,
  aliases: string[],
  defaults: string[],
  opts: { stamp?: string; created?: string; writable?: boolean } = {},
): ObjectTypeDef {
  return {
    name,
    objectTypeId,
    aliases,
    stampProperty: opts.stamp ?? 'hs_lastmodifieddate',
    createdProperty: opts.created ?? 'createdate',
    defaultProperties: defaults,
    writable: opts.writable ?? true,
  };
}

export const OBJECT_TYPES: readonly ObjectTypeDef[] = [
  def(
    'contacts',
    '0-1',
    ['contact'],
    ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'],
    {
      stamp: 'lastmodifieddate',
    },
  ),
  def('companies', '0-2', ['company'], ['createdate', 'domain', 'hs_lastmodifieddate', 'hs_object_id', 'name']),
  def(
    'deals',
    '0-3',
    ['deal'],
    ['amount', 'closedate', 'createdate', 'dealname', 'dealstage', 'hs_lastmodifieddate', 'hs_object_id', 'pipeline'],
  ),
  def(
    'line_items',
    '0-8',
    ['line_item'],
    ['createdate', 'hs_lastmodifieddate', 'hs_object_id', 'name', 'price', 'quantity'],
  ),
  def('tasks', '0-27', ['task'], [...ENGAGEMENT_DEFAULTS, 'hs_task_subject', 'hs_task_status'], {
    created: 'hs_createdate',
  }),
  def('notes', '0-46', ['note'], [...ENGAGEMENT_DEFAULTS, 'hs_note_body'], { created: 'hs_createdate' }),
  def('meetings', '0-47', ['meeting'], [...ENGAGEMENT_DEFAULTS, 'hs_meeting_title'], { created: 'hs_createdate' }),
  def('calls', '0-48', ['call'], [...ENGAGEMENT_DEFAULTS, 'hs_call_title'], { created: 'hs_createdate' }),
  def('emails', '0-49', ['email'], [...ENGAGEMENT_DEFAULTS, 'hs_email_subject'], { created: 'hs_createdate' }),
  def(
    'goal_targets',
    '0-74',
    ['goal_target', 'goals', 'goal'],
    [
      'hs_createdate',
      'hs_lastmodifieddate',
      'hs_object_id',
      'hs_goal_name',
      'hs_target_amount',
      'hs_start_datetime',
      'hs_end_datetime',
    ],
    { created: 'hs_createdate', writable: false },
  ),
  def(
    'users',
    '0-115',
    ['user'],
    ['hs_createdate', 'hs_lastmodifieddate', 'hs_object_id', 'hs_email', 'hs_internal_user_id'],
    {
      created: 'hs_createdate',
    },
  ),
  def(
    'leads',
    '0-136',
    ['lead'],
    ['hs_createdate', 'hs_lastmodifieddate', 'hs_object_id', 'hs_lead_name', 'hs_pipeline_stage'],
    {
      created: 'hs_createdate',
    },
  ),
];

/** Engagement types: each can be associated with contacts, companies and deals. */
export const ENGAGEMENTS = ['calls', 'emails', 'meetings', 'notes', 'tasks'] as const;

/**
 * HubSpot-defined association types: [from, to, typeId, primaryTypeId?]. The reverse direction is its own row, as
 * in HubSpot (deal->company 341, company->deal 342).
 */
const ASSOCIATION_ROWS: readonly [string, string, number, number?][] = [
  ['contacts', 'companies', 279, 1],
  ['companies', 'contacts', 280, 2],
  ['deals', 'contacts', 3],
  ['contacts', 'deals', 4],
  ['deals', 'companies', 341, 5],
  ['companies', 'deals', 342, 6],
  ['deals', 'line_items', 19],
  ['line_items', 'deals', 20],
  ['companies', 'calls', 181],
  ['calls', 'companies', 182],
  ['companies', 'emails', 185],
  ['emails', 'companies', 186],
  ['companies', 'meetings', 187],
  ['meetings', 'companies', 188],
  ['companies', 'notes', 189],
  ['notes', 'companies', 190],
  ['companies', 'tasks', 191],
  ['tasks', 'companies', 192],
  ['contacts', 'calls', 193],
  ['calls', 'contacts', 194],
  ['contacts', 'emails', 197],
  ['emails', 'contacts', 198],
  ['contacts', 'meetings', 199],
  ['meetings', 'contacts', 200],
  ['contacts', 'notes', 201],
  ['notes', 'contacts', 202],
  ['contacts', 'tasks', 203],
  ['tasks', 'contacts', 204],
  ['deals', 'calls', 205],
  ['calls', 'deals', 206],
  ['deals', 'emails', 209],
  ['emails', 'deals', 210],
  ['deals', 'meetings', 211],
  ['meetings', 'deals', 212],
  ['deals', 'notes', 213],
  ['notes', 'deals', 214],
  ['deals', 'tasks', 215],
  ['tasks', 'deals', 216],
  // Leads: the primary contact (578) and the deal a qualified lead became (sandbox ids, see README).
  ['leads', 'contacts', 608, 578],
  ['contacts', 'leads', 609],
  ['leads', 'deals', 583],
  ['deals', 'leads', 584],
];

export interface AssociationType {
  from: string;
  to: string;
  typeId: number;
  primaryTypeId: number | null;
}

const ASSOCIATIONS = new Map<string, AssociationType>(
  ASSOCIATION_ROWS.map(([from, to, typeId, primary]) => [
    `${from}>${to}`,
    { from, to, typeId, primaryTypeId: primary ?? null },
  ]),
);

export function associationType(from: string, to: string): AssociationType | undefined {
  return ASSOCIATIONS.get(`${from}>${to}`);
}

/** Every HubSpot-defined association type (both directions). */
export function associationTypes(): AssociationType[] {
  return [...ASSOCIATIONS.values()];
}
