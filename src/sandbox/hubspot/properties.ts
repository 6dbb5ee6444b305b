/**
 * Property definitions and groups of the sandbox portal: HubSpot's own properties the sandbox writes (typed as
 * HubSpot types them: `number`, `datetime`, `enumeration`, `string`, `bool`), and the portal's custom ones
 * (`segment` and `lead_source` on deals, `product_family` on line items, `activity_kind` on tasks), which are what a
 * real portal's admin adds and what the connector's field mapping must be able to name.
 */
import type { HubSpotStore, PropertyDef, PropertyGroup } from './store.ts';

type Kind = 'string' | 'number' | 'datetime' | 'enumeration' | 'bool';

const FIELD_TYPE: Readonly<Record<Kind, string>> = {
  string: 'text',
  number: 'number',
  datetime: 'date',
  enumeration: 'select',
  bool: 'booleancheckbox',
};

/** [name, kind, read-only value (calculated by HubSpot)] per type; custom ones listed apart. */
const HUBSPOT_DEFINED: Readonly<Record<string, [string, Kind, boolean?][]>> = {
  deals: [
    ['dealname', 'string'],
    ['amount', 'number'],
    ['amount_in_home_currency', 'number', true],
    ['deal_currency_code', 'enumeration'],
    ['closedate', 'datetime'],
    ['createdate', 'datetime'],
    ['dealstage', 'enumeration'],
    ['pipeline', 'enumeration'],
    ['dealtype', 'enumeration'],
    ['hubspot_owner_id', 'enumeration'],
    ['hs_deal_stage_probability', 'number'],
    ['hs_is_closed', 'bool', true],
    ['hs_is_closed_won', 'bool', true],
    ['hs_manual_forecast_category', 'enumeration'],
    ['hs_lastmodifieddate', 'datetime', true],
    ['hs_object_id', 'number', true],
  ],
  contacts: [
    ['firstname', 'string'],
    ['lastname', 'string'],
    ['email', 'string'],
    ['company', 'string'],
    ['lifecyclestage', 'enumeration'],
    ['hubspot_owner_id', 'enumeration'],
    ['createdate', 'datetime'],
    ['lastmodifieddate', 'datetime', true],
    ['hs_object_id', 'number', true],
  ],
  companies: [
    ['name', 'string'],
    ['domain', 'string'],
    ['industry', 'enumeration'],
    ['hubspot_owner_id', 'enumeration'],
    ['createdate', 'datetime'],
    ['hs_lastmodifieddate', 'datetime', true],
    ['hs_object_id', 'number', true],
  ],
  line_items: [
    ['name', 'string'],
    ['quantity', 'number'],
    ['price', 'number'],
    ['amount', 'number', true],
    ['hs_line_item_currency_code', 'enumeration'],
    ['createdate', 'datetime'],
    ['hs_lastmodifieddate', 'datetime', true],
    ['hs_object_id', 'number', true],
  ],
  calls: [
    ['hs_timestamp', 'datetime'],
    ['hs_call_title', 'string'],
    ['hs_call_duration', 'number'],
    ['hs_call_status', 'enumeration'],
    ['hs_call_direction', 'enumeration'],
  ],
  emails: [
    ['hs_timestamp', 'datetime'],
    ['hs_email_subject', 'string'],
    ['hs_email_direction', 'enumeration'],
    ['hs_email_status', 'enumeration'],
    ['hs_email_sent_via', 'enumeration'],
  ],
  meetings: [
    ['hs_timestamp', 'datetime'],
    ['hs_meeting_title', 'string'],
    ['hs_meeting_start_time', 'datetime'],
    ['hs_meeting_end_time', 'datetime'],
    ['hs_meeting_outcome', 'enumeration'],
  ],
  tasks: [
    ['hs_timestamp', 'datetime'],
    ['hs_task_subject', 'string'],
    ['hs_task_body', 'string'],
    ['hs_task_status', 'enumeration'],
    ['hs_task_priority', 'enumeration'],
    ['hs_task_type', 'enumeration'],
  ],
  notes: [
    ['hs_timestamp', 'datetime'],
    ['hs_note_body', 'string'],
  ],
  goal_targets: [
    ['hs_goal_name', 'string'],
    ['hs_goal_type', 'enumeration'],
    ['hs_target_amount', 'number'],
    ['hs_target_amount_in_home_currency', 'number', true],
    ['hs_goal_target_currency_code', 'enumeration'],
    ['hs_start_datetime', 'datetime'],
    ['hs_end_datetime', 'datetime'],
    ['hs_assignee_user_id', 'number'],
    ['hs_assignee_team_id', 'number'],
    ['hs_group_correlation_uuid', 'string'],
    ['hs_goal_target_group_id', 'number'],
    ['hs_kpi_value', 'number', true],
    ['hs_kpi_progress_percent', 'number', true],
  ],
  users: [
    ['hs_email', 'string'],
    ['hs_internal_user_id', 'number', true],
    ['hs_given_name', 'string'],
    ['hs_family_name', 'string'],
    ['hs_job_title', 'string'],
    ['hs_deactivated', 'bool', true],
    ['hs_standard_time_zone', 'enumeration'],
  ],
  leads: [
    ['hs_lead_name', 'string'],
    ['hs_pipeline', 'enumeration'],
    ['hs_pipeline_stage', 'enumeration'],
    ['hs_lead_source', 'string'],
  ],
};

const ENGAGEMENT_COMMON: [string, Kind, boolean?][] = [
  ['hubspot_owner_id', 'enumeration'],
  ['hs_createdate', 'datetime'],
  ['hs_lastmodifieddate', 'datetime', true],
  ['hs_object_id', 'number', true],
];

const CUSTOM: Readonly<Record<string, [string, string, string[]][]>> = {
  deals: [
    ['segment', 'Segment', ['Enterprise', 'Mid-Market', 'SMB']],
    ['lead_source', 'Lead source', []],
  ],
  line_items: [['product_family', 'Product family', ['Platform', 'Analytics', 'Services', 'Support']]],
  tasks: [['activity_kind', 'Activity kind', ['proposal']]],
};

const GROUP_OF: Readonly<Record<string, string>> = {
  deals: 'dealinformation',
  contacts: 'contactinformation',
  companies: 'companyinformation',
  line_items: 'lineiteminformation',
  goal_targets: 'goal_target_information',
  users: 'userinformation',
  leads: 'lead_information',
};

export function groupNameOf(type: string): string {
  return GROUP_OF[type] ?? 'engagement';
}

export function makeProperty(
  name: string,
  label: string,
  kind: string,
  group: string,
  opts: { custom?: boolean; readOnly?: boolean; unique?: boolean; options?: string[]; at: number; order: number },
): PropertyDef {
  const stamp = new Date(opts.at).toISOString();
  return {
    name,
    label,
    type: kind,
    fieldType: FIELD_TYPE[kind as Kind] ?? 'text',
    groupName: group,
    description: '',
    options: (opts.options ?? []).map((v, i) => ({ label: v, value: v, displayOrder: i, hidden: false })),
    hasUniqueValue: opts.unique ?? false,
    calculated: opts.readOnly ?? false,
    externalOptions: false,
    hidden: false,
    formField: !opts.readOnly,
    displayOrder: opts.order,
    ...(opts.custom ? {} : { hubspotDefined: true }),
    modificationMetadata: {
      archivable: opts.custom ?? false,
      readOnlyDefinition: !opts.custom,
      readOnlyValue: opts.readOnly ?? false,
    },
    createdAt: stamp,
    updatedAt: stamp,
    archived: false,
  };
}

/** Writes the portal's property definitions and groups into the store (at the setup instant). */
export function definePortalProperties(store: HubSpotStore, at: number): void {
  for (const type of store.typeNames()) {
    const group = groupNameOf(type);
    const groups: PropertyGroup[] = [
      { name: group, label: `${type.replace('_', ' ')} information`, displayOrder: 0, archived: false },
    ];
    const rows = [...(HUBSPOT_DEFINED[type] ?? []), ...(GROUP_OF[type] ? [] : ENGAGEMENT_COMMON)];
    const defs = rows.map(([name, kind, readOnly], i) =>
      makeProperty(name, name, kind, group, { readOnly: readOnly ?? false, at, order: i }),
    );
    const custom = CUSTOM[type];
    if (custom) {
      groups.push({ name: 'sales_ops', label: 'Sales ops', displayOrder: 1, archived: false });
      custom.forEach(([name, label, options], i) => {
        defs.push(
          makeProperty(name, label, options.length ? 'enumeration' : 'string', 'sales_ops', {
            custom: true,
            options,
            at,
            order: defs.length + i,
          }),
        );
      });
    }
    store.properties.set(type, defs);
    store.groups.set(type, groups);
  }
}
