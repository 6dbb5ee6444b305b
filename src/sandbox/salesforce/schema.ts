/**
 * Object and field metadata of the sandbox Salesforce org: the objects quota-tracker reads and writes, with the
 * field types, flags and relationships that `describe`, the SOQL evaluator and composite-write validation use.
 *
 * Simplifications (said here once): every object shares one field-level security (everything readable by the
 * integration user); polymorphic lookups (Task.WhoId/WhatId, OwnerId on activities) point at a fixed list of
 * types; OpportunityLineItem carries `Product2Id` (a real field since v38) and the product family is read as
 * `Product2.Family` — there is no PricebookEntry object; IsClosed/IsWon/Name and similar standard derived fields
 * are computed by the store from other fields rather than configured per org; key prefixes of the less common
 * objects (OpportunitySplitType, the custom object) are plausible rather than copied from a real org.
 */

export type FieldType =
  | 'id'
  | 'string'
  | 'textarea'
  | 'picklist'
  | 'boolean'
  | 'int'
  | 'double'
  | 'currency'
  | 'percent'
  | 'date'
  | 'datetime'
  | 'reference'
  | 'email'
  | 'phone'
  | 'url';

/** A stored field value: dates as `YYYY-MM-DD`, datetimes as `2026-01-01T00:00:00.000+0000`, numbers as JS numbers. */
export type FieldValue = string | number | boolean | null;

/** One row as the store holds it: schema-cased field names to values. */
export type SRecord = Record<string, FieldValue>;

export interface FieldDef {
  name: string;
  type: FieldType;
  label: string;
  nillable: boolean;
  createable: boolean;
  updateable: boolean;
  externalId?: boolean;
  unique?: boolean;
  /** A formula field: `describe` says calculated, the value is computed at read time and never bumps SystemModstamp. */
  calculated?: boolean;
  /** The formula text `describe` reports for a calculated field. */
  formula?: string;
  /** How the store derives the value from the rest of the row (formula fields and standard derived fields). */
  compute?: (row: SRecord) => FieldValue;
  referenceTo?: string[];
  relationshipName?: string;
  picklistValues?: string[];
  /** Required on create (nillable false, createable, and no default). */
  required?: boolean;
  length?: number;
  precision?: number;
  scale?: number;
}

export interface SObjectDef {
  name: string;
  label: string;
  labelPlural: string;
  keyPrefix: string;
  fields: FieldDef[];
  custom?: boolean;
  replicateable: boolean;
  queryable: boolean;
  createable: boolean;
  updateable: boolean;
  deletable: boolean;
  /** Whether the object has an IsDeleted field (User, Organization and setup objects do not). */
  hasIsDeleted: boolean;
}

type FieldOpts = Partial<Omit<FieldDef, 'name' | 'type'>>;

function field(name: string, type: FieldType, opts: FieldOpts = {}): FieldDef {
  const readOnly = type === 'id' || opts.calculated === true || opts.compute !== undefined;
  return {
    name,
    type,
    label: opts.label ?? labelOf(name),
    nillable: opts.nillable ?? (type !== 'id' && type !== 'boolean'),
    createable: opts.createable ?? !readOnly,
    updateable: opts.updateable ?? !readOnly,
    ...(type === 'reference' ? { relationshipName: defaultRelationship(name) } : {}),
    ...opts,
  };
}

/** `Quota_Attainment__c` -> `Quota Attainment`, `CloseDate` -> `Close Date`. */
function labelOf(name: string): string {
  return name
    .replace(/__c$/, '')
    .replace(/_/g, ' ')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .replace(/ Id$/, ' ID');
}

/** `OwnerId` -> `Owner`; custom `Rep__c` -> `Rep__r`. */
function defaultRelationship(name: string): string | undefined {
  if (name.endsWith('__c')) return `${name.slice(0, -3)}__r`;
  if (name.endsWith('Id') && name.length > 2) return name.slice(0, -2);
  return undefined;
}

function ref(name: string, to: string[], opts: FieldOpts = {}): FieldDef {
  return field(name, 'reference', { referenceTo: to, ...opts });
}

const RO = { createable: false, updateable: false } as const;

/** Id, audit fields, SystemModstamp and (where the object has it) IsDeleted, all maintained by the store. */
function systemFields(hasIsDeleted: boolean, lastModified = true): FieldDef[] {
  const fs: FieldDef[] = [
    field('Id', 'id', { label: 'Record ID', nillable: false }),
    field('CreatedDate', 'datetime', { ...RO, nillable: false }),
    ref('CreatedById', ['User'], { ...RO, nillable: false, relationshipName: 'CreatedBy' }),
  ];
  if (lastModified) {
    fs.push(
      field('LastModifiedDate', 'datetime', { ...RO, nillable: false }),
      ref('LastModifiedById', ['User'], { ...RO, nillable: false, relationshipName: 'LastModifiedBy' }),
    );
  }
  fs.push(field('SystemModstamp', 'datetime', { ...RO, nillable: false }));
  if (hasIsDeleted) fs.push(field('IsDeleted', 'boolean', { ...RO, label: 'Deleted', nillable: false }));
  return fs;
}

function sobject(
  name: string,
  keyPrefix: string,
  fields: FieldDef[],
  opts: Partial<Omit<SObjectDef, 'name' | 'keyPrefix' | 'fields'>> & { lastModified?: boolean } = {},
): SObjectDef {
  const hasIsDeleted = opts.hasIsDeleted ?? true;
  const { lastModified, ...rest } = opts;
  const label = rest.label ?? labelOf(name);
  return {
    name,
    label,
    labelPlural: rest.labelPlural ?? `${label}s`,
    keyPrefix,
    fields: [...systemFields(hasIsDeleted, lastModified ?? true), ...fields],
    replicateable: true,
    queryable: true,
    createable: true,
    updateable: true,
    deletable: true,
    hasIsDeleted,
    ...rest,
  };
}

const CURRENCY_ISO = field('CurrencyIsoCode', 'picklist', {
  label: 'Currency ISO Code',
  picklistValues: ['USD', 'EUR', 'GBP', 'JPY', 'CAD', 'AUD'],
});

export const OPPORTUNITY_STAGES = [
  'Prospecting',
  'Qualification',
  'Needs Analysis',
  'Value Proposition',
  'Id. Decision Makers',
  'Perception Analysis',
  'Proposal/Price Quote',
  'Negotiation/Review',
  'Closed Won',
  'Closed Lost',
] as const;

export const QUOTA_STATUSES = [
  'on_track',
  'likely_to_hit',
  'at_risk',
  'likely_miss',
  'significant_gap',
  'major_gap',
] as const;

const num = (v: FieldValue | undefined): number | null => (typeof v === 'number' ? v : null);

/** The write-back metric fields, shared by User and Quota_Scorecard__c. */
function metricFields(): FieldDef[] {
  return [
    field('Quota_Attainment__c', 'percent', { precision: 18, scale: 2 }),
    field('Quota_Pace__c', 'percent', { precision: 18, scale: 2 }),
    field('Projected_Attainment__c', 'percent', { precision: 18, scale: 2 }),
    field('Quota_Status__c', 'picklist', { picklistValues: [...QUOTA_STATUSES] }),
    field('Pipeline_Coverage__c', 'double', { precision: 18, scale: 4 }),
    field('Quota_Rank__c', 'double', { precision: 18, scale: 0 }),
    field('Quota_Metrics_As_Of__c', 'date', { label: 'Quota Metrics As Of' }),
  ];
}

const ACTIVITY_WHAT = ['Opportunity', 'Account'];

const list: SObjectDef[] = [
  sobject(
    'Organization',
    '00D',
    [
      field('Name', 'string', { nillable: false }),
      field('IsSandbox', 'boolean', RO),
      field('DefaultCurrencyIsoCode', 'picklist', { ...RO, picklistValues: ['USD', 'EUR', 'GBP'] }),
      field('FiscalYearStartMonth', 'int', RO),
      field('OrganizationType', 'string', RO),
      field('InstanceName', 'string', RO),
      field('TimeZoneSidKey', 'picklist', RO),
    ],
    { hasIsDeleted: false, createable: false, deletable: false, replicateable: false },
  ),
  sobject(
    'UserRole',
    '00E',
    [
      field('Name', 'string', { nillable: false, required: true }),
      field('DeveloperName', 'string'),
      ref('ParentRoleId', ['UserRole'], { relationshipName: undefined }),
      field('RollupDescription', 'string'),
    ],
    { hasIsDeleted: false },
  ),
  sobject(
    'User',
    '005',
    [
      field('Username', 'string', { nillable: false, required: true, unique: true }),
      field('Email', 'email', { nillable: false, required: true }),
      field('FirstName', 'string'),
      field('LastName', 'string', { nillable: false, required: true }),
      field('Name', 'string', {
        label: 'Full Name',
        compute: (r) => [r.FirstName, r.LastName].filter((x) => typeof x === 'string' && x !== '').join(' '),
      }),
      field('Alias', 'string'),
      field('IsActive', 'boolean', { nillable: false }),
      ref('ManagerId', ['User']),
      ref('UserRoleId', ['UserRole']),
      field('Title', 'string'),
      field('Department', 'string'),
      field('Division', 'string'),
      field('TimeZoneSidKey', 'picklist'),
      field('DefaultCurrencyIsoCode', 'picklist', { picklistValues: ['USD', 'EUR', 'GBP', 'JPY', 'CAD', 'AUD'] }),
      CURRENCY_ISO,
      field('UserType', 'picklist', { picklistValues: ['Standard'] }),
      field('Start_Date__c', 'date'),
      field('Territory__c', 'string'),
      ...metricFields(),
    ],
    { hasIsDeleted: false, deletable: false },
  ),
  sobject('Account', '001', [
    field('Name', 'string', { nillable: false, required: true }),
    ref('OwnerId', ['User']),
    field('Industry', 'picklist'),
    field('Type', 'picklist'),
    field('BillingCountry', 'string'),
    CURRENCY_ISO,
  ]),
  sobject(
    'Product2',
    '01t',
    [
      field('Name', 'string', { nillable: false, required: true }),
      field('ProductCode', 'string'),
      field('Family', 'picklist', { picklistValues: ['Platform', 'Analytics', 'Services', 'Support', 'Add-on'] }),
      field('IsActive', 'boolean', { nillable: false }),
    ],
    { label: 'Product' },
  ),
  sobject('Opportunity', '006', [
    field('Name', 'string', { nillable: false, required: true }),
    ref('AccountId', ['Account']),
    ref('OwnerId', ['User']),
    field('Amount', 'currency', { precision: 18, scale: 2 }),
    field('CloseDate', 'date', { nillable: false, required: true }),
    field('StageName', 'picklist', { nillable: false, required: true, picklistValues: [...OPPORTUNITY_STAGES] }),
    field('Probability', 'percent', { precision: 3, scale: 0 }),
    field('ForecastCategoryName', 'picklist', {
      label: 'Forecast Category',
      picklistValues: ['Omitted', 'Pipeline', 'Best Case', 'Commit', 'Closed'],
    }),
    field('IsClosed', 'boolean', {
      label: 'Closed',
      nillable: false,
      compute: (r) => typeof r.StageName === 'string' && r.StageName.startsWith('Closed'),
    }),
    field('IsWon', 'boolean', { label: 'Won', nillable: false, compute: (r) => r.StageName === 'Closed Won' }),
    field('Type', 'picklist', { picklistValues: ['New Business', 'Existing Business', 'Renewal'] }),
    field('LeadSource', 'picklist'),
    field('Segment__c', 'picklist', { picklistValues: ['SMB', 'Mid-Market', 'Enterprise'] }),
    CURRENCY_ISO,
    field('ExpectedRevenue', 'currency', {
      compute: (r) => {
        const a = num(r.Amount);
        const p = num(r.Probability);
        return a === null || p === null ? null : Math.round(a * p) / 100;
      },
    }),
    // A true formula field: its value changes when its inputs do but, as on Salesforce, never moves SystemModstamp
    // on its own (the formula here only reads fields of the same row, so it moves together with them).
    field('Expected_Revenue_Formula__c', 'currency', {
      label: 'Expected Revenue (Formula)',
      calculated: true,
      formula: 'Amount * Probability / 100',
      compute: (r) => {
        const a = num(r.Amount);
        const p = num(r.Probability);
        return a === null || p === null ? null : Math.round(a * p) / 100;
      },
    }),
  ]),
  sobject(
    'OpportunityHistory',
    '008',
    [
      ref('OpportunityId', ['Opportunity'], { ...RO, nillable: false }),
      field('StageName', 'picklist', { ...RO, picklistValues: [...OPPORTUNITY_STAGES] }),
      field('Amount', 'currency', RO),
      field('ExpectedRevenue', 'currency', RO),
      field('CloseDate', 'date', RO),
      field('Probability', 'percent', RO),
      field('ForecastCategory', 'picklist', RO),
      field('PrevAmount', 'currency', RO),
      field('PrevCloseDate', 'date', RO),
      CURRENCY_ISO,
    ],
    { lastModified: false, createable: false, updateable: false, deletable: false, labelPlural: 'Opportunity History' },
  ),
  sobject('OpportunityLineItem', '00k', [
    ref('OpportunityId', ['Opportunity'], { nillable: false, required: true, updateable: false }),
    ref('Product2Id', ['Product2'], { updateable: false }),
    field('Name', 'string', RO),
    field('ProductCode', 'string', RO),
    field('Quantity', 'double', { nillable: false, required: true }),
    field('UnitPrice', 'currency'),
    field('ListPrice', 'currency', RO),
    field('TotalPrice', 'currency', {
      compute: (r) => {
        const q = num(r.Quantity);
        const u = num(r.UnitPrice);
        return q === null || u === null ? null : Math.round(q * u * 100) / 100;
      },
    }),
    field('ServiceDate', 'date'),
    field('Description', 'string'),
    CURRENCY_ISO,
  ]),
  sobject('OpportunitySplitType', '14A', [
    field('MasterLabel', 'string', { nillable: false, required: true }),
    field('DeveloperName', 'string', { nillable: false, required: true }),
    field('SplitField', 'string'),
    field('IsTotalValidated', 'boolean', { nillable: false }),
    field('IsActive', 'boolean', { nillable: false }),
  ]),
  sobject('OpportunitySplit', '149', [
    ref('OpportunityId', ['Opportunity'], { nillable: false, required: true, updateable: false }),
    ref('SplitOwnerId', ['User'], { nillable: false, required: true }),
    field('SplitPercentage', 'percent', { precision: 5, scale: 2 }),
    field('SplitAmount', 'currency', RO),
    ref('SplitTypeId', ['OpportunitySplitType']),
    field('SplitNote', 'string'),
    CURRENCY_ISO,
  ]),
  sobject('Task', '00T', [
    field('Subject', 'string'),
    field('Status', 'picklist', {
      nillable: false,
      picklistValues: ['Not Started', 'In Progress', 'Completed', 'Waiting on someone else', 'Deferred'],
    }),
    field('Priority', 'picklist', { nillable: false, picklistValues: ['High', 'Normal', 'Low'] }),
    ref('OwnerId', ['User'], { label: 'Assigned To ID' }),
    ref('WhoId', ['Lead'], { relationshipName: 'Who' }),
    ref('WhatId', ACTIVITY_WHAT, { relationshipName: 'What' }),
    field('ActivityDate', 'date', { label: 'Due Date Only' }),
    field('TaskSubtype', 'picklist', {
      updateable: false,
      picklistValues: ['Task', 'Email', 'ListEmail', 'Cadence', 'Call', 'LinkedIn'],
    }),
    field('Type', 'picklist', { picklistValues: ['Call', 'Email', 'Meeting', 'Proposal', 'Other'] }),
    field('IsClosed', 'boolean', { label: 'Closed', nillable: false, compute: (r) => r.Status === 'Completed' }),
    field('CompletedDateTime', 'datetime', RO),
    field('CallDurationInSeconds', 'int'),
    field('Description', 'textarea', { length: 32000 }),
    field('Quota_Alert_Key__c', 'string', { externalId: true, unique: true, length: 255 }),
  ]),
  sobject('Event', '00U', [
    field('Subject', 'string'),
    ref('OwnerId', ['User'], { label: 'Assigned To ID' }),
    ref('WhoId', ['Lead'], { relationshipName: 'Who' }),
    ref('WhatId', ACTIVITY_WHAT, { relationshipName: 'What' }),
    field('ActivityDate', 'date', { label: 'Due Date Only' }),
    field('ActivityDateTime', 'datetime', { label: 'Due Date Time' }),
    field('StartDateTime', 'datetime'),
    field('EndDateTime', 'datetime'),
    field('DurationInMinutes', 'int'),
    field('Type', 'picklist', { picklistValues: ['Call', 'Email', 'Meeting', 'Other'] }),
    field('EventSubtype', 'picklist', { updateable: false, picklistValues: ['Event'] }),
    field('Description', 'textarea', { length: 32000 }),
  ]),
  sobject('Lead', '00Q', [
    field('FirstName', 'string'),
    field('LastName', 'string', { nillable: false, required: true }),
    field('Name', 'string', {
      label: 'Full Name',
      compute: (r) => [r.FirstName, r.LastName].filter((x) => typeof x === 'string' && x !== '').join(' '),
    }),
    field('Company', 'string', { nillable: false, required: true }),
    field('Email', 'email'),
    field('Status', 'picklist', {
      nillable: false,
      picklistValues: ['Open - Not Contacted', 'Working - Contacted', 'Closed - Converted', 'Closed - Not Converted'],
    }),
    ref('OwnerId', ['User']),
    field('LeadSource', 'picklist'),
    field('IsConverted', 'boolean', { nillable: false, createable: false, updateable: false }),
    field('ConvertedDate', 'date', RO),
    ref('ConvertedOpportunityId', ['Opportunity'], RO),
    ref('ConvertedAccountId', ['Account'], RO),
    CURRENCY_ISO,
  ]),
  sobject(
    'FiscalYearSettings',
    '022',
    [
      field('Name', 'string', RO),
      field('StartDate', 'date', RO),
      field('EndDate', 'date', RO),
      field('IsStandardYear', 'boolean', { ...RO, nillable: false }),
      field('YearType', 'picklist', { ...RO, picklistValues: ['Standard', 'Custom'] }),
      field('QuarterLabelScheme', 'picklist', RO),
      field('PeriodLabelScheme', 'picklist', RO),
      field('WeekStartDay', 'int', RO),
      field('Description', 'string', RO),
    ],
    { hasIsDeleted: false, createable: false, updateable: false, deletable: false, label: 'Fiscal Year Settings' },
  ),
  sobject(
    'Period',
    '026',
    [
      ref('FiscalYearSettingsId', ['FiscalYearSettings'], RO),
      field('Type', 'picklist', { ...RO, picklistValues: ['Month', 'Quarter', 'Week', 'Year'] }),
      field('StartDate', 'date', { ...RO, nillable: false }),
      field('EndDate', 'date', { ...RO, nillable: false }),
      field('IsForecastPeriod', 'boolean', { ...RO, nillable: false }),
      field('Number', 'int', RO),
      field('QuarterLabel', 'string', RO),
      field('PeriodLabel', 'string', RO),
      field('FullyQualifiedLabel', 'string', RO),
    ],
    { hasIsDeleted: false, createable: false, updateable: false, deletable: false },
  ),
  sobject(
    'ForecastingQuota',
    '0J9',
    [
      ref('QuotaOwnerId', ['User'], { required: true, nillable: false }),
      field('QuotaAmount', 'currency'),
      field('QuotaQuantity', 'double'),
      field('StartDate', 'date', { nillable: false, required: true }),
      ref('PeriodId', ['Period'], RO),
      field('ForecastingTypeId', 'string', { label: 'Forecasting Type ID' }),
      field('ProductFamily', 'picklist'),
      field('IsQuantity', 'boolean', { nillable: false }),
      field('Territory2Id', 'string', { label: 'Territory ID' }),
      CURRENCY_ISO,
    ],
    { hasIsDeleted: false, label: 'Forecasting Quota' },
  ),
  sobject(
    'CurrencyType',
    '02B',
    [
      field('IsoCode', 'picklist', { nillable: false, required: true, updateable: false }),
      field('ConversionRate', 'double', { nillable: false, required: true, precision: 18, scale: 6 }),
      field('DecimalPlaces', 'int', { nillable: false }),
      field('IsActive', 'boolean', { nillable: false }),
      field('IsCorporate', 'boolean', { ...RO, nillable: false }),
    ],
    { hasIsDeleted: false, label: 'Currency Type' },
  ),
  sobject(
    'DatedConversionRate',
    '04w',
    [
      field('IsoCode', 'picklist', { nillable: false, required: true, updateable: false }),
      field('ConversionRate', 'double', { nillable: false, required: true, precision: 18, scale: 6 }),
      field('StartDate', 'date', { nillable: false, required: true }),
      field('NextStartDate', 'date', RO),
    ],
    { hasIsDeleted: false, label: 'Dated Conversion Rate' },
  ),
  // The permission objects `config check --online` reads to learn whether the integration user has View All on
  // opportunities (see permissions.ts). Simplified: no Profile object (a profile shows only as its permission set,
  // IsOwnedByProfile), no permission set groups or assignment expiry, and the audit fields of every other object.
  sobject(
    'PermissionSet',
    '0PS',
    [
      field('Name', 'string', { nillable: false, required: true }),
      field('Label', 'string', { nillable: false, required: true }),
      field('Description', 'string'),
      field('IsOwnedByProfile', 'boolean', { ...RO, nillable: false }),
      field('PermissionsViewAllData', 'boolean', { nillable: false, label: 'View All Data' }),
      field('PermissionsModifyAllData', 'boolean', { nillable: false, label: 'Modify All Data' }),
    ],
    { hasIsDeleted: false, label: 'Permission Set' },
  ),
  sobject(
    'PermissionSetAssignment',
    '0Pa',
    [
      ref('AssigneeId', ['User'], { nillable: false, required: true, updateable: false, label: 'Assignee ID' }),
      ref('PermissionSetId', ['PermissionSet'], { required: true, updateable: false, label: 'Permission Set ID' }),
    ],
    { hasIsDeleted: false, label: 'Permission Set Assignment' },
  ),
  sobject(
    'ObjectPermissions',
    '110',
    [
      ref('ParentId', ['PermissionSet'], { nillable: false, required: true, updateable: false, label: 'Parent ID' }),
      field('SobjectType', 'picklist', {
        nillable: false,
        required: true,
        updateable: false,
        label: 'SObject Type Name',
      }),
      field('PermissionsRead', 'boolean', { nillable: false, label: 'Read Records' }),
      field('PermissionsCreate', 'boolean', { nillable: false, label: 'Create Records' }),
      field('PermissionsEdit', 'boolean', { nillable: false, label: 'Edit Records' }),
      field('PermissionsDelete', 'boolean', { nillable: false, label: 'Delete Records' }),
      field('PermissionsViewAllRecords', 'boolean', { nillable: false, label: 'Read All Records' }),
      field('PermissionsModifyAllRecords', 'boolean', { nillable: false, label: 'Edit All Records' }),
    ],
    { hasIsDeleted: false, label: 'Object Permissions', labelPlural: 'Object Permissions' },
  ),
  sobject(
    'Quota_Scorecard__c',
    'a00',
    [
      field('Name', 'string'),
      ref('OwnerId', ['User']),
      ref('Rep__c', ['User'], { nillable: false, required: true, label: 'Rep' }),
      field('Period__c', 'string', { label: 'Period', length: 32 }),
      field('Period_Start__c', 'date'),
      field('Period_End__c', 'date'),
      ...metricFields(),
      field('Scorecard_Key__c', 'string', { externalId: true, unique: true, length: 255, label: 'Scorecard Key' }),
      CURRENCY_ISO,
    ],
    { custom: true, label: 'Quota Scorecard' },
  ),
];

/** Every object of the sandbox org by API name. */
export const SOBJECTS: Record<string, SObjectDef> = Object.fromEntries(list.map((o) => [o.name, o]));

const byLowerName = new Map(list.map((o) => [o.name.toLowerCase(), o]));
const byPrefix = new Map(list.map((o) => [o.keyPrefix, o]));
const fieldIndex = new Map<string, Map<string, FieldDef>>(
  list.map((o) => [o.name, new Map(o.fields.map((f) => [f.name.toLowerCase(), f]))]),
);

/** The object named `name`, case-insensitively (SOQL and URLs are), or undefined. */
export function findSObject(name: string): SObjectDef | undefined {
  return byLowerName.get(name.toLowerCase());
}

/** The object whose Ids start with the 3-character `prefix`. */
export function sobjectByKeyPrefix(prefix: string): SObjectDef | undefined {
  return byPrefix.get(prefix);
}

/** The field `name` of `obj`, case-insensitively, or undefined. */
export function findField(obj: SObjectDef, name: string): FieldDef | undefined {
  return fieldIndex.get(obj.name)?.get(name.toLowerCase());
}

/** The reference field of `obj` whose relationship is `relName` (`Owner` -> OwnerId), case-insensitively. */
export function findRelationship(obj: SObjectDef, relName: string): FieldDef | undefined {
  const lower = relName.toLowerCase();
  return obj.fields.find((f) => f.type === 'reference' && f.relationshipName?.toLowerCase() === lower);
}
