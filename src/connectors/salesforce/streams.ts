/**
 * The Salesforce streams: which object each reads, the default field list, the fields read only where the org has
 * them, how a record becomes a warehouse row, and how changes are found. Custom fields come from the connection's
 * `fields` mapping (amount, segment, product line, deal type, forecast category, start date, territory).
 */
import type { StreamSpec, TableRows, WarehouseTable } from '../types.ts';
import { normalizeEvent, normalizeTask } from './normalize/activities.ts';
import {
  normalizeLead,
  normalizeLineItem,
  normalizeOpportunity,
  normalizeOpportunityHistory,
  normalizeSplit,
} from './normalize/deals.ts';
import type { NormalizeContext, RawRecord, SalesforceFieldMapping } from './normalize/fields.ts';
import { normalizeRole, normalizeUser } from './normalize/people.ts';
import {
  normalizeCurrencyType,
  normalizeDatedRate,
  normalizeForecastingQuota,
  normalizePeriod,
} from './normalize/planning.ts';

/** The mapping lives beside the normalizers that read it; re-exported for the connector's callers. */
export type { SalesforceFieldMapping } from './normalize/fields.ts';

/** One object read by a stream. */
export interface ObjectRead<T extends WarehouseTable = WarehouseTable> {
  sobject: string;
  /** Always selected (the org must have them). */
  fields: readonly string[];
  /** Selected only when describe shows the org has them (Start_Date__c, CurrencyIsoCode, ...). */
  optionalFields?: readonly string[];
  /**
   * Records that are not the org's own and never count: when the org has `field`, the read adds `condition`.
   * (Alert tasks quota-tracker created carry Quota_Alert_Key__c; they are nobody's activity.)
   */
  excludeWhen?: { field: string; condition: string };
  /** Whether the object has IsDeleted (then it is read through queryAll and soft deletes arrive). */
  hasIsDeleted: boolean;
  normalize: (raw: RawRecord, ctx: NormalizeContext) => TableRows[T];
}

export interface SalesforceStream<T extends WarehouseTable = WarehouseTable> extends StreamSpec {
  readonly table: T;
  readonly objects: readonly ObjectRead<T>[];
  /** A feature the org may not have: the stream reads nothing there (e.g. splits, dated rates). */
  readonly optional?: boolean;
  /** The modification stamp used as keyset cursor (SystemModstamp); null for full_refresh. */
  readonly cursorField: string | null;
  /** Whether the object has a hard-delete feed (`deleted()`); without one a full-scan sweep finds deletes. */
  readonly supportsDeletedFeed: boolean;
  /** CRM fields computed by formulas: their changes do not move the cursor, so they are re-read on a slower pass. */
  readonly formulaFields: readonly string[];
  /** Warehouse column for each mapped CRM field, so a formula pass can patch it. */
  readonly mappedColumns: Readonly<Record<string, string>>;
}

const AUDIT = ['Id', 'SystemModstamp'] as const;

function def<T extends WarehouseTable>(s: SalesforceStream<T>): SalesforceStream<T> {
  return s;
}

/** Every stream, in the order a full sync runs them (people before the records that point at them). */
export function salesforceStreams(mapping: SalesforceFieldMapping = {}): SalesforceStream[] {
  const m = mapping;
  const oppMapped: Record<string, string> = {};
  if (m.amount) oppMapped[m.amount] = 'amount';
  if (m.segment) oppMapped[m.segment] = 'segment';
  if (m.productLine) oppMapped[m.productLine] = 'product_line';
  if (m.dealType) oppMapped[m.dealType] = 'deal_type';
  if (m.forecastCategory) oppMapped[m.forecastCategory] = 'forecast_category';
  const userMapped: Record<string, string> = {};
  if (m.startDate) userMapped[m.startDate] = 'start_date';
  if (m.territory) userMapped[m.territory] = 'territory';
  if (m.quotaCarrying) userMapped[m.quotaCarrying] = 'quota_carrying';
  // Unmapped, these two are worked out in the warehouse once the streams they come from have synced.
  const repDerives = m.quotaCarrying ? [] : (['rep_quota_carrying'] as const);
  const dealDerives = m.productLine ? [] : (['deal_product_line'] as const);

  const incremental = { mode: 'incremental' as const, cursorField: 'SystemModstamp', formulaFields: [] };
  const fullRefresh = {
    mode: 'full_refresh' as const,
    cursorField: null,
    supportsDeletedFeed: false,
    formulaFields: [],
  };

  const streams: SalesforceStream[] = [
    def({
      name: 'users',
      table: 'reps',
      ...incremental,
      // Users are deactivated, never deleted.
      supportsDeletedFeed: false,
      // A user's own change (name, manager, active flag) moves all of their figures in the current period; it also
      // places the deals and quotas synced before the user arrived.
      dirty: { ownerColumn: 'external_id' },
      derives: repDerives,
      mappedColumns: userMapped,
      objects: [
        {
          sobject: 'User',
          fields: [
            ...AUDIT,
            'Name',
            'FirstName',
            'LastName',
            'Username',
            'Email',
            'Title',
            'UserRoleId',
            'ManagerId',
            'IsActive',
            'CreatedDate',
            ...Object.keys(userMapped),
          ],
          optionalFields: ['DefaultCurrencyIsoCode', 'Start_Date__c', 'Territory__c'],
          hasIsDeleted: false,
          normalize: normalizeUser,
        },
      ],
    }),
    def({
      name: 'user_roles',
      table: 'crm_roles',
      ...fullRefresh,
      mappedColumns: {},
      objects: [
        {
          sobject: 'UserRole',
          fields: [...AUDIT, 'Name', 'ParentRoleId'],
          hasIsDeleted: false,
          normalize: normalizeRole,
        },
      ],
    }),
    def({
      name: 'opportunities',
      table: 'deals',
      ...incremental,
      supportsDeletedFeed: true,
      dirty: { ownerColumn: 'owner_external_id', dateColumn: 'close_date' },
      derives: dealDerives,
      mappedColumns: oppMapped,
      objects: [
        {
          sobject: 'Opportunity',
          fields: [
            ...AUDIT,
            'IsDeleted',
            'Name',
            'OwnerId',
            'Amount',
            'StageName',
            'IsClosed',
            'IsWon',
            'ForecastCategoryName',
            'Probability',
            'CloseDate',
            'CreatedDate',
            'Type',
            'AccountId',
            'Account.Name',
            ...Object.keys(oppMapped),
          ],
          optionalFields: ['CurrencyIsoCode', 'Segment__c'],
          hasIsDeleted: true,
          normalize: normalizeOpportunity,
        },
      ],
    }),
    def({
      name: 'opportunity_history',
      table: 'deal_stage_history',
      ...incremental,
      supportsDeletedFeed: true,
      mappedColumns: {},
      objects: [
        {
          sobject: 'OpportunityHistory',
          fields: [
            ...AUDIT,
            'IsDeleted',
            'OpportunityId',
            'StageName',
            'Amount',
            'CloseDate',
            'Probability',
            'ForecastCategory',
            'CreatedDate',
          ],
          hasIsDeleted: true,
          normalize: normalizeOpportunityHistory,
        },
      ],
    }),
    def({
      name: 'opportunity_line_items',
      table: 'deal_line_items',
      ...incremental,
      supportsDeletedFeed: true,
      derives: dealDerives,
      mappedColumns: {},
      objects: [
        {
          sobject: 'OpportunityLineItem',
          fields: [
            ...AUDIT,
            'IsDeleted',
            'OpportunityId',
            'Name',
            'Product2.Name',
            'Product2.Family',
            'Quantity',
            'TotalPrice',
          ],
          hasIsDeleted: true,
          normalize: normalizeLineItem,
        },
      ],
    }),
    def({
      name: 'opportunity_splits',
      table: 'deal_splits',
      ...incremental,
      supportsDeletedFeed: true,
      optional: true,
      mappedColumns: {},
      objects: [
        {
          sobject: 'OpportunitySplit',
          fields: [
            ...AUDIT,
            'IsDeleted',
            'OpportunityId',
            'SplitOwnerId',
            'SplitPercentage',
            'SplitAmount',
            'SplitTypeId',
            'SplitType.MasterLabel',
            'SplitType.IsTotalValidated',
          ],
          hasIsDeleted: true,
          normalize: normalizeSplit,
        },
      ],
    }),
    def({
      name: 'tasks',
      table: 'activities',
      ...incremental,
      supportsDeletedFeed: true,
      scope: { column: 'kind', value: 'task' },
      dirty: { ownerColumn: 'owner_external_id', dateColumn: 'activity_date' },
      mappedColumns: {},
      objects: [
        {
          sobject: 'Task',
          fields: [...AUDIT, 'IsDeleted', 'OwnerId', 'Type', 'ActivityDate', 'CreatedDate', 'WhatId', 'IsClosed'],
          // TaskSubtype came with API 30 and Lightning's email logging; CompletedDateTime with API 44.
          optionalFields: ['TaskSubtype', 'CompletedDateTime'],
          excludeWhen: { field: 'Quota_Alert_Key__c', condition: 'Quota_Alert_Key__c = null' },
          hasIsDeleted: true,
          normalize: normalizeTask,
        },
      ],
    }),
    def({
      name: 'events',
      table: 'activities',
      ...incremental,
      supportsDeletedFeed: true,
      scope: { column: 'kind', value: 'event' },
      dirty: { ownerColumn: 'owner_external_id', dateColumn: 'activity_date' },
      mappedColumns: {},
      objects: [
        {
          sobject: 'Event',
          fields: [
            ...AUDIT,
            'IsDeleted',
            'OwnerId',
            'Type',
            'ActivityDate',
            'ActivityDateTime',
            'StartDateTime',
            'CreatedDate',
            'WhatId',
          ],
          optionalFields: ['EventSubtype'],
          hasIsDeleted: true,
          normalize: normalizeEvent,
        },
      ],
    }),
    def({
      name: 'leads',
      table: 'leads',
      ...incremental,
      supportsDeletedFeed: true,
      // Lead conversion metrics count leads by owner and creation date.
      dirty: { ownerColumn: 'owner_external_id', dateColumn: 'created_date' },
      mappedColumns: {},
      objects: [
        {
          sobject: 'Lead',
          fields: [
            ...AUDIT,
            'IsDeleted',
            'OwnerId',
            'CreatedDate',
            'Status',
            'IsConverted',
            'ConvertedDate',
            'ConvertedOpportunityId',
          ],
          hasIsDeleted: true,
          normalize: normalizeLead,
        },
      ],
    }),
    def({
      name: 'forecasting_quotas',
      table: 'quotas',
      ...incremental,
      supportsDeletedFeed: true,
      optional: true,
      dirty: { ownerColumn: 'owner_external_id', dateColumn: 'period_start' },
      derives: repDerives,
      mappedColumns: {},
      objects: [
        {
          sobject: 'ForecastingQuota',
          fields: [...AUDIT, 'QuotaOwnerId', 'QuotaAmount', 'StartDate', 'PeriodId', 'Period.EndDate'],
          // ProductFamily exists only with product-family forecasts, IsQuantity with quantity forecasts.
          optionalFields: ['CurrencyIsoCode', 'ProductFamily', 'IsQuantity'],
          hasIsDeleted: false,
          normalize: normalizeForecastingQuota,
        },
      ],
    }),
    def({
      name: 'fiscal_periods',
      table: 'crm_fiscal_periods',
      ...fullRefresh,
      mappedColumns: {},
      objects: [
        {
          sobject: 'Period',
          fields: [...AUDIT, 'Type', 'StartDate', 'EndDate', 'Number', 'FiscalYearSettings.Name'],
          hasIsDeleted: false,
          normalize: normalizePeriod,
        },
      ],
    }),
    def({
      name: 'currency_types',
      table: 'fx_rates',
      ...fullRefresh,
      optional: true,
      scope: { column: 'source', value: 'crm_static' },
      mappedColumns: {},
      objects: [
        {
          sobject: 'CurrencyType',
          fields: [...AUDIT, 'IsoCode', 'ConversionRate', 'IsActive'],
          hasIsDeleted: false,
          normalize: normalizeCurrencyType,
        },
      ],
    }),
    def({
      name: 'dated_conversion_rates',
      table: 'fx_rates',
      ...fullRefresh,
      optional: true,
      scope: { column: 'source', value: 'crm_dated' },
      mappedColumns: {},
      objects: [
        {
          sobject: 'DatedConversionRate',
          fields: [...AUDIT, 'IsoCode', 'ConversionRate', 'StartDate', 'NextStartDate'],
          hasIsDeleted: false,
          normalize: normalizeDatedRate,
        },
      ],
    }),
  ];
  return streams;
}
