/**
 * The warehouse as kysely sees it: one interface per table, with the same snake_case names as the SQL in
 * `migrations/` (no camel-case plugin). This is the contract between sync, metrics, write-back and reports.
 *
 * Value conventions (set by the pg type parsers in `index.ts`):
 * - `date` columns are `PlainDate` strings (`'YYYY-MM-DD'`), never JS Dates, so no time zone can shift them;
 * - `numeric` columns (money, rates, probabilities) are decimal strings; parse them with `Dec`, never `Number`;
 *   write them as strings (`dec.toString()`);
 * - `bigint`/`bigserial` ids and counts are JS numbers;
 * - `timestamptz` columns read as `Date` and accept a `Date` or an ISO string;
 * - `jsonb` columns read as parsed JSON and are written as a JSON string (`toJsonb(value)`), because node-pg
 *   would turn a JS array into a PostgreSQL array rather than JSON.
 */
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { PlainDate } from '../util/date.ts';

/** timestamptz: reads as Date; accepts Date or ISO string. */
export type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** timestamptz with a database default (usually now()). */
export type TimestampDefault = ColumnType<Date, Date | string | undefined, Date | string>;
/** date: a `'YYYY-MM-DD'` string both ways. */
export type DateColumn = PlainDate;
/** numeric: a decimal string both ways. */
export type Numeric = string;
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** jsonb: reads as parsed JSON, written as a JSON string (see `toJsonb`). */
export type Jsonb<T = JsonValue> = ColumnType<T, string, string>;

/** Serializes a value for a jsonb column. */
export function toJsonb(value: unknown): string {
  return JSON.stringify(value);
}

export type ConnectionKind = 'salesforce' | 'hubspot';
export type StageCategory = 'open' | 'won' | 'lost';
export type SubjectKind = 'rep' | 'team' | 'region' | 'org';
export type TokenRole = 'admin' | 'manager' | 'rep';

/** Columns of every row copied from a CRM. `last_seen_run_id` lets a full scan mark unseen rows deleted. */
export interface SyncedColumns {
  connection_id: string;
  external_id: string;
  /** The CRM's own modification time (SystemModstamp, hs_lastmodifieddate). */
  source_modified_at: Timestamp | null;
  /** sha256 of the normalized record (`contentHash`); a write happens only when it changes. */
  content_hash: string;
  is_deleted: ColumnType<boolean, boolean | undefined, boolean>;
  deleted_at: Timestamp | null;
  last_seen_run_id: number | null;
  synced_at: TimestampDefault;
}

export interface ConnectionsTable {
  /** The connection id from the config file. */
  id: string;
  kind: ConnectionKind;
  /** The Salesforce org id or HubSpot portal id, bound on first sync; a later mismatch is CRM_ORG_MISMATCH. */
  crm_org_id: string | null;
  instance_url: string | null;
  /** The CRM's corporate (base) currency, when it reports one. */
  corporate_currency: string | null;
  bound_at: Timestamp | null;
  /** When the CRM last rotated the connection's refresh token (then the secret key is required to keep it). */
  refresh_token_rotated_at: Timestamp | null;
  created_at: TimestampDefault;
  updated_at: TimestampDefault;
}

export interface CrmCredentialsTable {
  connection_id: string;
  /** e.g. 'refresh_token', 'access_token'. */
  kind: string;
  /** First 16 hex chars of sha256(key): tells a wrong key from corrupt data. */
  key_id: string;
  ciphertext: Buffer;
  iv: Buffer;
  auth_tag: Buffer;
  updated_at: TimestampDefault;
}

/** Ids a paged full-scan sweep has seen (src/sync/apply-page.ts). */
export interface SyncSweepSeenTable {
  connection_id: string;
  stream: string;
  external_id: string;
}

export interface SyncCursorsTable {
  connection_id: string;
  stream: string;
  cursor: Jsonb;
  updated_at: TimestampDefault;
}

/** `abandoned`: its process went away before it finished (see src/sync/abandoned.ts). */
export type SyncRunStatus = 'running' | 'succeeded' | 'failed' | 'stopped_budget' | 'abandoned' | 'skipped';

export interface SyncRunsTable {
  id: Generated<number>;
  connection_id: string;
  stream: string;
  /** What started the run: 'schedule', 'cli', 'webhook', ... */
  trigger: string;
  full_scan: ColumnType<boolean, boolean | undefined, boolean>;
  started_at: TimestampDefault;
  finished_at: Timestamp | null;
  status: ColumnType<SyncRunStatus, SyncRunStatus | undefined, SyncRunStatus>;
  records_read: Generated<number>;
  records_changed: Generated<number>;
  records_deleted: Generated<number>;
  records_quarantined: Generated<number>;
  api_calls: Generated<number>;
  error_code: string | null;
  error_message: string | null;
}

/** Sync runs by connection and outcome, counted once each when it finished (kept past the runs' retention). */
export interface SyncRunTotalsTable {
  connection_id: string;
  status: SyncRunStatus;
  runs: ColumnType<number, never, never>;
}

/** API calls per connection and UTC day, shared by all workers for the daily budget. */
export interface CrmApiUsageTable {
  connection_id: string;
  day: DateColumn;
  api_calls: Generated<number>;
  /** What the CRM itself last reported (Sforce-Limit-Info, HubSpot daily headers). */
  reported_used: number | null;
  reported_limit: number | null;
  updated_at: TimestampDefault;
}

/** A slot of a shared rate window (src/sync/rate-budget.ts). */
export interface CrmRateSlotsTable {
  id: Generated<number>;
  budget_key: string;
  held_until: Date;
}

/** A CRM account's daily allocation as last reported, plus the calls counted since. */
export interface CrmDailyBudgetTable {
  budget_key: string;
  used: number;
  usage_limit: number;
  resets_at: string;
  updated_at: TimestampDefault;
}

export interface WebhookEventsTable {
  connection_id: string;
  event_id: string;
  received_at: TimestampDefault;
}

/** A full recompute split into rep shards (src/metrics/engine/shards.ts). */
export interface RecomputeRunsTable {
  id: Generated<number>;
  as_of: DateColumn;
  period_ids: string[];
  config_hash: string;
  shards: number;
  pending: number;
  inputs_at: Timestamp;
  claimed: Generated<string[]>;
  /** The forecast learned once for the run, per period (shards.ts). */
  forecast: ColumnType<JsonValue, string | undefined, string>;
  reason: string;
  always_writeback: Generated<boolean>;
  status: Generated<'running' | 'done' | 'abandoned'>;
  rep_changes: Generated<number>;
  alert_events: Generated<number>;
  superseded: Generated<number>;
  created_at: TimestampDefault;
  finished_at: Date | null;
}

export interface RecomputeShardsTable {
  run_id: number;
  shard: number;
  done_at: Date | null;
  done_by: string | null;
  subjects: number | null;
  forecast: Jsonb | null;
}

export interface RecomputePartsTable {
  run_id: number;
  shard: number;
  group_key: string;
  part: Jsonb;
  trials: Buffer;
}

/** The forecast a full recompute learned for a period (src/metrics/engine/cold.ts). */
export interface LearnedForecastsTable {
  period_id: string;
  as_of: DateColumn;
  config_hash: string;
  people: string;
  hash: string;
  forecast: Jsonb;
}

/** A team's merged partial for a period, as the last recompute of the team left it (src/metrics/engine/cold.ts). */
export interface TeamPartsTable {
  period_id: string;
  team_id: string;
  as_of: DateColumn;
  config_hash: string;
  people: string;
  forecast_hash: string;
  inputs_at: Timestamp;
  part: Jsonb;
  trials: Buffer;
}

export interface ReportDeliveriesTable {
  delivery_id: string;
  slot: string;
  period_id: string;
  as_of: DateColumn;
  state: 'claimed' | 'written' | 'sending' | 'sent';
  webhook_status: number | null;
  last_error: string | null;
  claimed_at: TimestampDefault;
  finished_at: Date | null;
}

export interface ReportDeliveryFilesTable {
  delivery_id: string;
  slot: string;
  name: string;
  report_kind: 'org' | 'team' | 'leaderboard';
  team: string | null;
  content_type: string;
  body: string;
}

export interface QuarantineTable {
  id: Generated<number>;
  connection_id: string;
  stream: string;
  external_id: string;
  reason_code: string;
  reason: string;
  payload: Jsonb | null;
  seen_count: Generated<number>;
  first_seen_at: TimestampDefault;
  last_seen_at: TimestampDefault;
  resolved_at: Timestamp | null;
}

export interface DirtyKeysTable {
  id: Generated<number>;
  subject_kind: 'rep';
  /** `<connection_id>:<owner external id>` or `person:<id>`. */
  subject_key: string;
  period_id: string;
  reason: string;
  enqueued_at: TimestampDefault;
  claimed_at: Timestamp | null;
  claimed_by: string | null;
  attempts: Generated<number>;
}

export interface PersonsTable {
  id: Generated<number>;
  /** Unique case-insensitively. */
  email: string;
  name: string | null;
  /** Org-file overrides; null means "ask the CRM". */
  start_date: DateColumn | null;
  territory: string | null;
  territory_index: Numeric | null;
  quota_carrying: boolean | null;
  source: ColumnType<'crm' | 'file', 'crm' | 'file' | undefined, 'crm' | 'file'>;
  created_at: TimestampDefault;
  updated_at: TimestampDefault;
}

/** org.csv's CRM id bindings (migration 2026-12-14_01): that CRM user is the person with `email`. */
export interface PersonBindingsTable {
  crm: ConnectionKind;
  /** A HubSpot owner id, or a Salesforce user id's first 15 characters. */
  external_id: string;
  email: string;
}

export interface RepsTable extends SyncedColumns {
  person_id: number | null;
  name: string;
  email: string | null;
  title: string | null;
  role_external_id: string | null;
  manager_external_id: string | null;
  is_active: boolean;
  start_date: DateColumn | null;
  territory: string | null;
  quota_carrying: ColumnType<boolean, boolean | undefined, boolean>;
  /** The user's default currency (Salesforce DefaultCurrencyIsoCode). */
  currency: string | null;
}

export interface CrmRolesTable extends SyncedColumns {
  name: string;
  parent_external_id: string | null;
}

export interface OrgUnitsTable {
  id: Generated<number>;
  kind: 'org' | 'region' | 'team';
  name: string;
  parent_id: number | null;
  manager_person_id: number | null;
  source: 'crm' | 'file';
  created_at: TimestampDefault;
  updated_at: TimestampDefault;
}

/** A person's membership of a team; `valid_to` is exclusive and null while current; ranges never overlap. */
export interface MembershipsTable {
  id: Generated<number>;
  person_id: number;
  org_unit_id: number;
  role: string | null;
  valid_from: DateColumn;
  valid_to: DateColumn | null;
  source: 'crm' | 'file';
  created_at: TimestampDefault;
}

export interface DealsTable extends SyncedColumns {
  name: string | null;
  owner_external_id: string | null;
  /** Native currency amount (the configured amount field); null when the CRM has none. */
  amount: Numeric | null;
  /** ISO 4217, upper case. */
  currency: string;
  stage: string;
  stage_category: StageCategory;
  forecast_category: string | null;
  /** 0..1. */
  probability: Numeric | null;
  close_date: DateColumn | null;
  created_date: DateColumn;
  deal_type: string | null;
  product_line: string | null;
  segment: string | null;
  /** HubSpot pipeline id; null for Salesforce. */
  pipeline: string | null;
  account_external_id: string | null;
  account_name: string | null;
}

export interface DealStageHistoryTable extends SyncedColumns {
  deal_external_id: string;
  stage: string;
  stage_category: StageCategory;
  amount: Numeric | null;
  close_date: DateColumn | null;
  probability: Numeric | null;
  forecast_category: string | null;
  changed_at: Timestamp;
}

export interface DealLineItemsTable extends SyncedColumns {
  deal_external_id: string;
  product_name: string | null;
  product_family: string | null;
  quantity: Numeric | null;
  amount: Numeric | null;
}

export interface DealSplitsTable extends SyncedColumns {
  deal_external_id: string;
  owner_external_id: string;
  /** 0..100, as Salesforce's SplitPercentage. */
  split_percent: Numeric;
  split_amount: Numeric | null;
  split_type: string | null;
  is_overlay: ColumnType<boolean, boolean | undefined, boolean>;
}

export type ActivityType = 'call' | 'meeting' | 'email' | 'task' | 'proposal' | 'other';

export interface ActivitiesTable extends SyncedColumns {
  kind: 'task' | 'event';
  owner_external_id: string | null;
  activity_type: ActivityType;
  subtype: string | null;
  activity_date: DateColumn;
  is_completed: boolean | null;
  deal_external_id: string | null;
}

export interface LeadsTable extends SyncedColumns {
  owner_external_id: string | null;
  created_date: DateColumn;
  status: string | null;
  is_converted: ColumnType<boolean, boolean | undefined, boolean>;
  converted_date: DateColumn | null;
  converted_deal_external_id: string | null;
}

/** A quota from a CRM (connection + external id, owner) or from RevOps' file (person or org unit). */
export interface QuotasTable {
  id: Generated<number>;
  source: 'crm' | 'file';
  connection_id: string | null;
  external_id: string | null;
  person_id: number | null;
  owner_external_id: string | null;
  org_unit_id: number | null;
  period_start: DateColumn;
  period_end: DateColumn;
  amount: Numeric;
  currency: string;
  product_line: string | null;
  source_modified_at: Timestamp | null;
  content_hash: string | null;
  is_deleted: ColumnType<boolean, boolean | undefined, boolean>;
  deleted_at: Timestamp | null;
  last_seen_run_id: number | null;
  synced_at: TimestampDefault;
}

/** `rate` = units of `currency` per 1 unit of the base currency; `valid_to` exclusive, null while current. */
export interface FxRatesTable {
  id: Generated<number>;
  connection_id: string | null;
  external_id: string | null;
  currency: string;
  rate: Numeric;
  valid_from: DateColumn;
  valid_to: DateColumn | null;
  source: 'crm_dated' | 'crm_static' | 'file';
  source_modified_at: Timestamp | null;
  synced_at: TimestampDefault;
}

export interface CrmFiscalPeriodsTable extends SyncedColumns {
  period_type: string;
  start_date: DateColumn;
  end_date: DateColumn;
  fiscal_year: number | null;
  number: number | null;
}

interface SnapshotColumns {
  subject_kind: SubjectKind;
  subject_id: string;
  period_id: string;
  as_of: DateColumn;
  metrics: Jsonb;
  /** Hash of `metrics`: unchanged means no write-back, no alert re-evaluation. */
  value_hash: string;
  config_hash: string;
  computed_at: TimestampDefault;
}

export interface MetricSnapshotsTable extends SnapshotColumns {
  /** When the warehouse reads behind the figures began: a write that read earlier never replaces this row. */
  inputs_at: TimestampDefault;
  /** The attainment at full precision (the document rounds it), for ranks; null without a quota. */
  exact_attainment: string | null;
  /** Whether the writer set `exact_attainment` (false on rows written before it existed). */
  exact_stored: Generated<boolean>;
}

export interface MetricSnapshotHistoryTable extends SnapshotColumns {
  day: DateColumn;
}

export interface ConfigStateTable {
  key: string;
  hash: string;
  value: Jsonb | null;
  applied_at: TimestampDefault;
}

export type AlertSeverity = 'info' | 'warning' | 'critical';
export type AlertStatus = 'open' | 'escalated' | 'resolved';

export interface AlertsTable {
  id: Generated<number>;
  rule: string;
  subject_kind: SubjectKind;
  subject_id: string;
  period_id: string;
  dedupe_key: string;
  severity: AlertSeverity;
  status: ColumnType<AlertStatus, AlertStatus | undefined, AlertStatus>;
  message: string;
  details: Jsonb | null;
  value: Numeric | null;
  opened_at: TimestampDefault;
  escalated_at: Timestamp | null;
  resolved_at: Timestamp | null;
  updated_at: TimestampDefault;
  /** The business day the daily task cap held this alert's task back, and the day it goes out. */
  task_held_on: ColumnType<DateColumn | null, DateColumn | null | undefined, DateColumn | null>;
  task_goes_out_on: ColumnType<DateColumn | null, DateColumn | null | undefined, DateColumn | null>;
}

export interface AlertTasksTable {
  alert_id: number;
  severity: AlertSeverity;
  connection_id: string;
  /** Stored in the Task's unique external-id field (Quota_Alert_Key__c). */
  task_external_key: string;
  /** The CRM user the task is assigned to (the rep's manager). */
  assignee_external_id: string | null;
  manager_person_id: number | null;
  crm_task_id: string | null;
  last_error: string | null;
  /** The day (org time zone, program clock) the task counts against its manager's daily cap. */
  sent_on: string;
  created_at: TimestampDefault;
  closed_at: Timestamp | null;
}

/** `abandoned`: its process went away before it finished (see src/writeback/lock.ts). */
export type WritebackRunStatus = 'running' | 'succeeded' | 'partial' | 'failed' | 'stopped_budget' | 'abandoned';

export interface WritebackRunsTable {
  id: Generated<number>;
  connection_id: string;
  kind: ColumnType<'push' | 'revert', 'push' | 'revert' | undefined, 'push' | 'revert'>;
  reverts_run_id: number | null;
  mode: 'live' | 'dry-run';
  as_of: DateColumn | null;
  started_at: TimestampDefault;
  finished_at: Timestamp | null;
  status: ColumnType<WritebackRunStatus, WritebackRunStatus | undefined, WritebackRunStatus>;
  api_calls: Generated<number>;
  records_written: Generated<number>;
  records_unchanged: Generated<number>;
  records_failed: Generated<number>;
  error_code: string | null;
  error_message: string | null;
  /** What the run's CRM call carries while it is out: [object, record id, field, value] per field. */
  in_flight: Jsonb<Array<[string, string, string, string | null]>> | null;
  /** Until when that call can still land at the CRM (the lease the run renews while it waits for the answer). */
  write_deadline: Timestamp | null;
}

interface WritebackTarget {
  connection_id: string;
  /** e.g. 'User', 'Quota_Scorecard__c'. */
  target_object: string;
  target_record_id: string;
  field: string;
}

/** The value last pushed per CRM record and field, in the field's own units, as text; null clears the field. */
export interface WritebackLedgerTable extends WritebackTarget {
  value: string | null;
  pushed_at: TimestampDefault;
  run_id: number | null;
  /** The CRM may hold something else (a run died with this field in flight): the next run sends it again. */
  uncertain: Generated<boolean>;
  /** False for a field we never wrote that a dead call of ours may have written: `value` is then no value of ours. */
  written: Generated<boolean>;
}

/** The newest value waiting to be pushed per target (an upsert replaces an older pending value). */
export interface WritebackPendingTable extends WritebackTarget {
  value: string | null;
  as_of: DateColumn | null;
  attempts: Generated<number>;
  last_error: string | null;
  enqueued_at: TimestampDefault;
}

/** Append-only: the database rejects UPDATE, DELETE and TRUNCATE. */
export interface WritebackAuditTable extends WritebackTarget {
  id: Generated<number>;
  run_id: number;
  value_before: string | null;
  /** The field was never written by us and a dead call of ours may have written it: `value_before` is unknown. */
  before_unknown: Generated<boolean>;
  value_after: string | null;
  ok: boolean;
  error_code: string | null;
  response: Jsonb | null;
  at: TimestampDefault;
}

export interface ApiTokensTable {
  id: string;
  /** sha256 hex of the whole token; the token itself is never stored. */
  token_hash: string;
  role: TokenRole;
  /** The manager's or rep's email; required for those roles. */
  subject_email: string | null;
  created_at: TimestampDefault;
  revoked_at: Timestamp | null;
  last_used_at: Timestamp | null;
}

export interface WebSessionsTable {
  /** sha256 hex of the session id the cookie holds. */
  id_hash: string;
  token_id: string;
  /** The token every form and unsafe request of the session must carry. */
  csrf_token: string;
  created_at: TimestampDefault;
  expires_at: Timestamp;
}

/** One backtest of the forecast (`report forecast --backtest`); `result` is its JSON as the report prints it. */
export interface ForecastCalibrationsTable {
  id: Generated<number>;
  period_kind: 'year' | 'quarter' | 'month';
  as_of: DateColumn;
  config_hash: string;
  basis: 'calibrated' | 'crm_fallback';
  periods: number;
  origins: number;
  p10_held: Numeric | null;
  result: Jsonb;
  computed_at: TimestampDefault;
}

export interface Database {
  connections: ConnectionsTable;
  crm_credentials: CrmCredentialsTable;
  sync_cursors: SyncCursorsTable;
  sync_sweep_seen: SyncSweepSeenTable;
  sync_runs: SyncRunsTable;
  sync_run_totals: SyncRunTotalsTable;
  crm_api_usage: CrmApiUsageTable;
  crm_rate_slots: CrmRateSlotsTable;
  crm_daily_budget: CrmDailyBudgetTable;
  webhook_events: WebhookEventsTable;
  report_deliveries: ReportDeliveriesTable;
  recompute_runs: RecomputeRunsTable;
  recompute_shards: RecomputeShardsTable;
  recompute_parts: RecomputePartsTable;
  learned_forecasts: LearnedForecastsTable;
  team_parts: TeamPartsTable;
  report_delivery_files: ReportDeliveryFilesTable;
  quarantine: QuarantineTable;
  dirty_keys: DirtyKeysTable;
  persons: PersonsTable;
  person_bindings: PersonBindingsTable;
  reps: RepsTable;
  crm_roles: CrmRolesTable;
  org_units: OrgUnitsTable;
  memberships: MembershipsTable;
  deals: DealsTable;
  deal_stage_history: DealStageHistoryTable;
  deal_line_items: DealLineItemsTable;
  deal_splits: DealSplitsTable;
  activities: ActivitiesTable;
  leads: LeadsTable;
  quotas: QuotasTable;
  fx_rates: FxRatesTable;
  crm_fiscal_periods: CrmFiscalPeriodsTable;
  metric_snapshots: MetricSnapshotsTable;
  metric_snapshot_history: MetricSnapshotHistoryTable;
  config_state: ConfigStateTable;
  alerts: AlertsTable;
  alert_tasks: AlertTasksTable;
  writeback_runs: WritebackRunsTable;
  writeback_ledger: WritebackLedgerTable;
  writeback_pending: WritebackPendingTable;
  writeback_audit: WritebackAuditTable;
  api_tokens: ApiTokensTable;
  web_sessions: WebSessionsTable;
  forecast_calibrations: ForecastCalibrationsTable;
}

/** Every table the migrations create; the schema test checks the database against this list. */
export const TABLE_NAMES = [
  'connections',
  'crm_credentials',
  'sync_cursors',
  'sync_runs',
  'crm_api_usage',
  'quarantine',
  'dirty_keys',
  'persons',
  'reps',
  'crm_roles',
  'org_units',
  'memberships',
  'deals',
  'deal_stage_history',
  'deal_line_items',
  'deal_splits',
  'activities',
  'leads',
  'quotas',
  'fx_rates',
  'crm_fiscal_periods',
  'metric_snapshots',
  'metric_snapshot_history',
  'config_state',
  'alerts',
  'alert_tasks',
  'writeback_runs',
  'writeback_ledger',
  'writeback_pending',
  'writeback_audit',
  'api_tokens',
  'web_sessions',
  'forecast_calibrations',
  'sync_sweep_seen',
  'crm_rate_slots',
  'crm_daily_budget',
  'webhook_events',
  'report_deliveries',
  'report_delivery_files',
  'person_bindings',
  'recompute_runs',
  'recompute_shards',
  'recompute_parts',
  'learned_forecasts',
  'team_parts',
  'sync_run_totals',
] as const satisfies readonly (keyof Database)[];

export type Deal = Selectable<DealsTable>;
export type NewDeal = Insertable<DealsTable>;
export type DealUpdate = Updateable<DealsTable>;
export type Rep = Selectable<RepsTable>;
export type NewRep = Insertable<RepsTable>;
export type Quota = Selectable<QuotasTable>;
export type MetricSnapshot = Selectable<MetricSnapshotsTable>;
export type Alert = Selectable<AlertsTable>;
export type ApiToken = Selectable<ApiTokensTable>;
