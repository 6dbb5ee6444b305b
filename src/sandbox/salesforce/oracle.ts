/**
 * The oracle: what a loss-free sync of the sandbox org must leave in the warehouse, computed from the sandbox's
 * own store and nothing of quota-tracker's (no connector, normalizer or warehouse code), so that tests compare
 * the product's tables with an independent answer via `tableChecksum`.
 *
 * Normalization rules (the same list the connector follows):
 * - stage_category: won if IsWon, lost if closed and not won, else open (history rows: by stage name, since
 *   OpportunityHistory has no IsWon; 'Closed Won' is won, other 'Closed ...' stages lost).
 * - probability = Probability / 100; currency = CurrencyIsoCode, or the corporate currency in a single-currency org.
 * - activity_type: Task TaskSubtype Call -> call, Email / ListEmail / List Email -> email, Task -> task unless its
 *   Type is 'Proposal' (-> proposal); every Event -> meeting.
 * - dates as given; datetimes as dates in the org's time zone; instants (source_modified_at, changed_at) as ISO.
 * - is_deleted from IsDeleted; hard-deleted records keep their row with is_deleted true, with their last values
 *   (from the store's `hardDeletedRow`, or the life clock's copy) and the SystemModstamp of their last version.
 * - An Opportunity without CloseDate (which Salesforce itself would refuse) is quarantined as MISSING_CLOSE_DATE.
 *
 * Choices the spec leaves open, made here and named so the connector can agree or argue: deals.product_line is
 * the Product2.Family of the opportunity's largest live line item by TotalPrice (a missing price counts as 0;
 * lowest Id on a tie), null without line items; reps.start_date is Start_Date__c, else the CreatedDate as a date;
 * reps.quota_carrying is whether the user owns a live revenue ForecastingQuota, or true for everyone while the
 * org has none at all (quotas then come from elsewhere); deal_splits.split_percent stays in Salesforce's 0..100
 * and is_overlay is a split type that does not have to total 100%; quotas.period_end is the end of the quota's
 * Period (else start + 3 months - 1 day); crm_fiscal_periods holds the Period rows (their Year rows are the
 * fiscal years); a static rate (CurrencyType) holds from 1970-01-01, the warehouse's "always", and fx_rates keeps
 * no deleted rows and no is_deleted column (a rate gone from the org is gone from the table).
 */
import { createHash } from 'node:crypto';
import { addDays, addMonths, dateInZone } from '../../util/date.ts';
import { Dec } from '../../util/money.ts';
import type { FieldValue, SRecord } from './schema.ts';
import type { SalesforceStore } from './store.ts';

export type OracleValue = string | boolean | null;
export type OracleRow = Record<string, OracleValue>;

export interface QuarantinedRecord {
  stream: string;
  external_id: string;
  reason_code: string;
}

export interface ExpectedWarehouse {
  /** Rows per sync stream (several streams may fill one table: tasks and events both fill activities). */
  streams: Record<string, { table: string; rows: OracleRow[] }>;
  quarantined: QuarantinedRecord[];
  /** Hard deletes the oracle has no last values for (made outside the life clock): id and stream only. */
  unknownHardDeletes: { stream: string; external_id: string }[];
}

export interface OracleOptions {
  connectionId: string;
  /** The org's time zone; default the Organization's TimeZoneSidKey. */
  timezone?: string;
}

const STREAMS: Readonly<Record<string, { sobject: string; table: string }>> = {
  users: { sobject: 'User', table: 'reps' },
  user_roles: { sobject: 'UserRole', table: 'crm_roles' },
  opportunities: { sobject: 'Opportunity', table: 'deals' },
  opportunity_history: { sobject: 'OpportunityHistory', table: 'deal_stage_history' },
  opportunity_line_items: { sobject: 'OpportunityLineItem', table: 'deal_line_items' },
  opportunity_splits: { sobject: 'OpportunitySplit', table: 'deal_splits' },
  tasks: { sobject: 'Task', table: 'activities' },
  events: { sobject: 'Event', table: 'activities' },
  leads: { sobject: 'Lead', table: 'leads' },
  forecasting_quotas: { sobject: 'ForecastingQuota', table: 'quotas' },
  fiscal_periods: { sobject: 'Period', table: 'crm_fiscal_periods' },
  currency_types: { sobject: 'CurrencyType', table: 'fx_rates' },
  dated_conversion_rates: { sobject: 'DatedConversionRate', table: 'fx_rates' },
};

/** Stream names the oracle answers for, with the Salesforce object and warehouse table of each. */
export const ORACLE_STREAMS = STREAMS;

// Last values of records hard-deleted through the life clock, per store (the store itself forgets them).
const graveyards = new WeakMap<SalesforceStore, Map<string, SRecord>>();

/** Keeps a record's last values before a hard delete, so the oracle can still expect its (deleted) row. */
export function rememberHardDeleted(store: SalesforceStore, row: SRecord): void {
  let g = graveyards.get(store);
  if (!g) {
    g = new Map();
    graveyards.set(store, g);
  }
  g.set(String(row.Id), { ...row });
}

/** A number or numeric string in canonical decimal form: no exponent, no trailing zeros ("0.75", "120000"). */
export function decimalString(v: FieldValue | undefined): string | null {
  if (v === null || v === undefined || v === '') return null;
  return new Dec(v as string | number).toFixed();
}

function str(v: FieldValue | undefined): string | null {
  return v === null || v === undefined ? null : String(v);
}

function instant(v: FieldValue | undefined): string | null {
  return v === null || v === undefined ? null : new Date(String(v).replace(/\+0000$/, 'Z')).toISOString();
}

function ratio(v: FieldValue | undefined): string | null {
  const d = decimalString(v);
  return d === null ? null : new Dec(d).div(100).toFixed();
}

function stageCategory(
  stage: FieldValue | undefined,
  isWon?: FieldValue,
  isClosed?: FieldValue,
): 'open' | 'won' | 'lost' {
  if (isWon !== undefined) return isWon === true ? 'won' : isClosed === true ? 'lost' : 'open';
  const s = String(stage ?? '');
  return s === 'Closed Won' ? 'won' : s.startsWith('Closed') ? 'lost' : 'open';
}

function taskActivityType(r: SRecord): string {
  const subtype = String(r.TaskSubtype ?? 'Task');
  if (subtype === 'Call') return 'call';
  if (subtype === 'Email' || subtype === 'ListEmail' || subtype === 'List Email') return 'email';
  if (subtype === 'Task') return r.Type === 'Proposal' ? 'proposal' : 'task';
  return 'other';
}

/** The expected warehouse contents of every stream after a loss-free sync of `store`. */
export function expectedWarehouse(store: SalesforceStore, opts: OracleOptions): ExpectedWarehouse {
  // The oracle sees the org as the API shows it: an object the org lacks has no rows, a field hidden by field-level
  // security has no value (profiles.ts).
  const org = store.apiView('Organization', store.get('Organization', store.orgId) as SRecord);
  const tz = opts.timezone ?? String(org.TimeZoneSidKey ?? 'UTC');
  const currencyTypes = store.apiHasObject('CurrencyType') ? store.all('CurrencyType') : [];
  const corporate = currencyTypes.find((c) => c.IsCorporate === true);
  const multiCurrency = currencyTypes.length > 1 && store.apiHasField('Opportunity', 'CurrencyIsoCode');
  const corporateCode = String(corporate?.IsoCode ?? org.DefaultCurrencyIsoCode ?? 'USD');
  const day = (v: FieldValue | undefined): string | null =>
    v === null || v === undefined ? null : dateInZone(instant(v) as string, tz);
  const currency = (r: SRecord): string | null => (multiCurrency ? str(r.CurrencyIsoCode) : corporateCode);
  const graveyard = graveyards.get(store) ?? new Map<string, SRecord>();
  const quarantined: QuarantinedRecord[] = [];
  const unknownHardDeletes: { stream: string; external_id: string }[] = [];

  const rowsOf = (stream: string): SRecord[] => {
    const { sobject } = STREAMS[stream] as { sobject: string };
    if (!store.apiHasObject(sobject)) return [];
    const rows = store.all(sobject, { includeDeleted: true }).map((r) => store.apiView(sobject, r));
    for (const d of store.deletedLog(sobject)) {
      if (store.get(sobject, d.id, { includeDeleted: true })) continue;
      // The store keeps the last values of hard-deleted rows; the life clock's own copy covers older stores.
      const last = store.hardDeletedRow(sobject, d.id) ?? graveyard.get(d.id);
      if (last) rows.push({ ...store.apiView(sobject, last), IsDeleted: true });
      else unknownHardDeletes.push({ stream, external_id: d.id });
    }
    return rows;
  };
  const common = (r: SRecord): OracleRow => ({
    connection_id: opts.connectionId,
    external_id: String(r.Id),
    source_modified_at: instant(r.SystemModstamp),
    is_deleted: r.IsDeleted === true,
  });

  const lineItems = rowsOf('opportunity_line_items');
  const products = new Map(store.all('Product2', { includeDeleted: true }).map((p) => [String(p.Id), p]));
  const family = (li: SRecord): string | null => str(products.get(String(li.Product2Id))?.Family);
  const largestItem = new Map<string, SRecord>();
  const price = (li: SRecord | undefined): InstanceType<typeof Dec> => new Dec(decimalString(li?.TotalPrice) ?? 0);
  for (const li of lineItems) {
    if (li.IsDeleted === true) continue;
    const key = String(li.OpportunityId);
    const cur = largestItem.get(key);
    const cmp = cur ? price(li).cmp(price(cur)) : 1;
    if (!cur || cmp > 0 || (cmp === 0 && String(li.Id) < String(cur.Id))) largestItem.set(key, li);
  }
  const accounts = new Map(store.all('Account', { includeDeleted: true }).map((a) => [String(a.Id), a]));
  const liveQuotas = store.apiHasObject('ForecastingQuota')
    ? store.all('ForecastingQuota').filter((q) => q.IsQuantity !== true)
    : [];
  const quotaOwners = new Set(liveQuotas.map((q) => String(q.QuotaOwnerId)));
  const splitTypes = new Map(store.all('OpportunitySplitType', { includeDeleted: true }).map((t) => [String(t.Id), t]));
  const periods = new Map(store.all('Period').map((p) => [String(p.Id), p]));
  const fiscalYears = new Map(store.all('FiscalYearSettings').map((f) => [String(f.Id), f]));

  const streams: ExpectedWarehouse['streams'] = {};
  const put = (stream: string, rows: OracleRow[]): void => {
    streams[stream] = { table: (STREAMS[stream] as { table: string }).table, rows };
  };

  put(
    'users',
    rowsOf('users').map((r) => ({
      ...common(r),
      name: str(r.Name),
      email: str(r.Email),
      title: str(r.Title),
      role_external_id: str(r.UserRoleId),
      manager_external_id: str(r.ManagerId),
      is_active: r.IsActive === true,
      start_date: str(r.Start_Date__c) ?? day(r.CreatedDate),
      territory: str(r.Territory__c),
      quota_carrying: liveQuotas.length === 0 || quotaOwners.has(String(r.Id)),
      currency: str(r.DefaultCurrencyIsoCode),
    })),
  );
  put(
    'user_roles',
    rowsOf('user_roles').map((r) => ({ ...common(r), name: str(r.Name), parent_external_id: str(r.ParentRoleId) })),
  );
  const deals: OracleRow[] = [];
  for (const r of rowsOf('opportunities')) {
    if (r.CloseDate === null || r.CloseDate === undefined) {
      quarantined.push({ stream: 'opportunities', external_id: String(r.Id), reason_code: 'MISSING_CLOSE_DATE' });
      continue;
    }
    const item = largestItem.get(String(r.Id));
    deals.push({
      ...common(r),
      name: str(r.Name),
      owner_external_id: str(r.OwnerId),
      amount: decimalString(r.Amount),
      currency: currency(r),
      stage: str(r.StageName),
      stage_category: stageCategory(r.StageName, r.IsWon, r.IsClosed),
      forecast_category: str(r.ForecastCategoryName),
      probability: ratio(r.Probability),
      close_date: str(r.CloseDate),
      created_date: day(r.CreatedDate),
      deal_type: str(r.Type),
      product_line: item ? family(item) : null,
      segment: str(r.Segment__c),
      account_external_id: str(r.AccountId),
      account_name: str(accounts.get(String(r.AccountId))?.Name),
    });
  }
  put('opportunities', deals);
  put(
    'opportunity_history',
    rowsOf('opportunity_history').map((r) => ({
      ...common(r),
      deal_external_id: str(r.OpportunityId),
      stage: str(r.StageName),
      stage_category: stageCategory(r.StageName),
      amount: decimalString(r.Amount),
      close_date: str(r.CloseDate),
      probability: ratio(r.Probability),
      forecast_category: str(r.ForecastCategory),
      changed_at: instant(r.CreatedDate),
    })),
  );
  put(
    'opportunity_line_items',
    lineItems.map((r) => ({
      ...common(r),
      deal_external_id: str(r.OpportunityId),
      product_name: str(products.get(String(r.Product2Id))?.Name) ?? str(r.Name),
      product_family: family(r),
      quantity: decimalString(r.Quantity),
      amount: decimalString(r.TotalPrice),
    })),
  );
  put(
    'opportunity_splits',
    rowsOf('opportunity_splits').map((r) => {
      const type = splitTypes.get(String(r.SplitTypeId));
      return {
        ...common(r),
        deal_external_id: str(r.OpportunityId),
        owner_external_id: str(r.SplitOwnerId),
        split_percent: decimalString(r.SplitPercentage),
        split_amount: decimalString(r.SplitAmount),
        split_type: str(type?.MasterLabel),
        is_overlay: type ? type.IsTotalValidated !== true : false,
      };
    }),
  );
  const dealOf = (whatId: FieldValue | undefined): string | null =>
    typeof whatId === 'string' && whatId.startsWith('006') ? whatId : null;
  put(
    'tasks',
    // The alert tasks quota-tracker created (they carry Quota_Alert_Key__c) are nobody's activity: never synced.
    rowsOf('tasks')
      .filter((r) => r.Quota_Alert_Key__c === null || r.Quota_Alert_Key__c === undefined)
      .map((r) => ({
        ...common(r),
        kind: 'task',
        owner_external_id: str(r.OwnerId),
        activity_type: taskActivityType(r),
        subtype: str(r.TaskSubtype),
        activity_date: str(r.ActivityDate) ?? day(r.CreatedDate),
        is_completed: r.IsClosed === true,
        deal_external_id: dealOf(r.WhatId),
      })),
  );
  put(
    'events',
    rowsOf('events').map((r) => ({
      ...common(r),
      kind: 'event',
      owner_external_id: str(r.OwnerId),
      activity_type: 'meeting',
      subtype: str(r.EventSubtype),
      activity_date: str(r.ActivityDate) ?? day(r.ActivityDateTime ?? r.CreatedDate),
      is_completed: null,
      deal_external_id: dealOf(r.WhatId),
    })),
  );
  put(
    'leads',
    rowsOf('leads').map((r) => ({
      ...common(r),
      owner_external_id: str(r.OwnerId),
      created_date: day(r.CreatedDate),
      status: str(r.Status),
      is_converted: r.IsConverted === true,
      converted_date: str(r.ConvertedDate),
      converted_deal_external_id: str(r.ConvertedOpportunityId),
    })),
  );
  put(
    'forecasting_quotas',
    rowsOf('forecasting_quotas').map((r) => {
      const period = periods.get(String(r.PeriodId));
      const start = str(r.StartDate) as string;
      return {
        ...common(r),
        source: 'crm',
        owner_external_id: str(r.QuotaOwnerId),
        period_start: start,
        period_end: str(period?.EndDate) ?? addDays(addMonths(start, 3), -1),
        amount: decimalString(r.QuotaAmount),
        currency: currency(r),
        product_line: str(r.ProductFamily),
      };
    }),
  );
  put(
    'fiscal_periods',
    rowsOf('fiscal_periods').map((r) => ({
      ...common(r),
      period_type: str(r.Type),
      start_date: str(r.StartDate),
      end_date: str(r.EndDate),
      fiscal_year: decimalString(Number(fiscalYears.get(String(r.FiscalYearSettingsId))?.Name)),
      number: decimalString(r.Number),
    })),
  );
  // fx_rates has no is_deleted: a rate the org no longer has is not in the table.
  const rate = (r: SRecord): OracleRow => {
    const { is_deleted: _, ...rest } = common(r);
    return { ...rest, currency: str(r.IsoCode), rate: decimalString(r.ConversionRate) };
  };
  put(
    'currency_types',
    rowsOf('currency_types')
      .filter((r) => r.IsDeleted !== true)
      .map((r) => ({
        ...rate(r),
        valid_from: '1970-01-01',
        valid_to: null,
        source: 'crm_static',
      })),
  );
  put(
    'dated_conversion_rates',
    rowsOf('dated_conversion_rates')
      .filter((r) => r.IsDeleted !== true)
      .map((r) => ({
        ...rate(r),
        // Salesforce's open-range sentinels are stored as PostgreSQL's open ends.
        valid_from: r.StartDate === '0000-12-30' ? '-infinity' : str(r.StartDate),
        valid_to: r.NextStartDate === '9999-12-31' ? 'infinity' : str(r.NextStartDate),
        source: 'crm_dated',
      })),
  );
  return { streams, quarantined, unknownHardDeletes };
}

/**
 * `salesforceOracle(store, stream)`: the hook the sandbox's test API calls; one stream's expected rows and their
 * checksum (all streams when none is named), for connection id 'sandbox'.
 */
export function salesforceOracle(store: SalesforceStore, stream?: unknown): unknown {
  const all = expectedWarehouse(store, { connectionId: 'sandbox' });
  const pick = typeof stream === 'string' && stream in all.streams ? [stream] : Object.keys(all.streams);
  return {
    streams: Object.fromEntries(
      pick.map((s) => {
        const v = all.streams[s] as { table: string; rows: OracleRow[] };
        return [s, { ...v, checksum: tableChecksum(v.rows) }];
      }),
    ),
    quarantined: all.quarantined,
    unknownHardDeletes: all.unknownHardDeletes,
  };
}

const NUMERIC = /^-?\d+(\.\d+)?$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/;

/**
 * One value in canonical text: numbers and numeric strings as decimals without trailing zeros ("0.7500" and 0.75
 * both "0.75"), instants (Date or ISO text) as ISO UTC, dates as they are, booleans as true/false, null as null.
 */
export function canonicalValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number' || typeof v === 'bigint') return new Dec(String(v)).toFixed();
  if (v instanceof Date) return v.toISOString();
  const s = String(v);
  if (NUMERIC.test(s)) return new Dec(s).toFixed();
  if (INSTANT.test(s)) return new Date(s.replace(/([+-]\d{2})(\d{2})$/, '$1:$2')).toISOString();
  return JSON.stringify(s);
}

/**
 * Count and sha256 of a table's rows in canonical form, sorted by external id: the same for the oracle's rows and
 * the warehouse's (as the pg client returns them) when they hold the same data. `columns` limits the comparison
 * (the warehouse has columns the oracle cannot know: synced_at, content_hash, person_id).
 */
export function tableChecksum(
  rows: readonly Record<string, unknown>[],
  columns?: readonly string[],
): { count: number; sha256: string } {
  const lines = rows.map((r) => {
    const keys = (columns ?? Object.keys(r)).slice().sort();
    return { id: String(r.external_id ?? ''), line: keys.map((k) => `${k}=${canonicalValue(r[k])}`).join('\u001f') };
  });
  lines.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.line < b.line ? -1 : a.line > b.line ? 1 : 0));
  const h = createHash('sha256');
  for (const l of lines) h.update(`${l.line}\n`);
  return { count: rows.length, sha256: h.digest('hex') };
}
