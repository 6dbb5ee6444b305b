/**
 * The CRM-neutral connector contract. A connector turns one CRM stream into an async generator of pages of
 * normalized warehouse rows, ascending by the stream's cursor, each page carrying the cursor to resume after it.
 * The sync runner (src/sync/) commits a page's rows and its cursor in one transaction, so a crash resumes where it
 * stopped. Connectors never touch the warehouse.
 */
import type { OrgRow } from '../config/org-file.ts';
import type { ConnectionConfig } from '../config/schema.ts';
import type { Logger } from '../util/log.ts';
import type { RateBudget } from './rate-budget.ts';
import type { RetryCodes } from './retry-policy.ts';

/** The warehouse tables a connector stream can fill (see src/db/schema.ts). */
export type WarehouseTable =
  | 'reps'
  | 'crm_roles'
  | 'deals'
  | 'deal_stage_history'
  | 'deal_line_items'
  | 'deal_splits'
  | 'activities'
  | 'leads'
  | 'quotas'
  | 'fx_rates'
  | 'crm_fiscal_periods';

/** How a stream finds what changed. */
export type StreamMode =
  /** Reads what changed since its cursor (each connector decides how: a keyset, a search window, ...). */
  | 'incremental'
  /** Small reference tables without a usable cursor: read whole every run; rows not seen are deleted. */
  | 'full_refresh';

/**
 * What the sync engine knows of a stream: where its rows go and how their changes reach the metrics. How the CRM
 * is read (objects, cursor fields, delete feeds, formula passes) stays inside the connector.
 */
export interface StreamSpec {
  /** Stream name as users type it (`--stream deals`). */
  readonly name: string;
  /** The warehouse table its rows go to. */
  readonly table: WarehouseTable;
  readonly mode: StreamMode;
  /**
   * The rows of the table that are this stream's own, when two streams share a table (tasks and events in
   * activities; static and dated rates in fx_rates): a full-scan sweep or a full refresh touches only these.
   */
  readonly scope?: { readonly column: string; readonly value: string };
  /**
   * Which columns of a row decide the metric subjects it touches: the owner and the date whose fiscal period is
   * affected. Without a date column the change is rep-wide (a user's name, manager, active flag): it marks the rep
   * in the run's current period. Absent for streams that feed no per-rep metric (roles, rates, periods).
   */
  readonly dirty?: { readonly ownerColumn: string; readonly dateColumn?: string };
  /**
   * Warehouse-side values this stream's changes can move (see src/sync/derive.ts): the runner recomputes them in
   * the page's transaction. Their columns are not part of the normalized row, so not of its content hash.
   */
  readonly derives?: readonly Derivation[];
}

/**
 * A column computed in the warehouse from other streams' rows, when no CRM field is mapped to it:
 * - `deal_product_line`: deals.product_line is the product family of the deal's largest live line item (amount,
 *   null as 0; lowest id on a tie), null without line items;
 * - `rep_quota_carrying`: reps.quota_carrying is whether the user owns a live CRM quota, or true for every user
 *   while the connection has no CRM quota at all (quotas then come from a file). The org file's `quota_carrying`
 *   column still wins, in the metrics engine's person merge.
 */
export type Derivation = 'deal_product_line' | 'rep_quota_carrying';

// ---------------------------------------------------------------------------------------------------------------
// Cursor

/** A JSON value, as stored in a jsonb column. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * A stream's position, opaque to the sync engine: it stores what a page carries and hands it back on the next run.
 * Each connector parses and validates its own; one it cannot read means a full re-read of the stream.
 */
export type StreamCursor = JsonValue;

// ---------------------------------------------------------------------------------------------------------------
// Normalized rows

/** A column value as stored: money and ratios as decimal strings, dates `YYYY-MM-DD`, instants ISO strings. */
export type ColumnValue = string | number | boolean | null;

/** Columns every synced row carries besides its table's own. */
export interface NormalizedCommon {
  externalId: string;
  /** The CRM's modification stamp, ISO-8601. */
  sourceModifiedAt: string | null;
  isDeleted: boolean;
}

export interface RepRow {
  name: string;
  email: string | null;
  title: string | null;
  role_external_id: string | null;
  manager_external_id: string | null;
  is_active: boolean;
  start_date: string | null;
  territory: string | null;
  currency: string | null;
  /** Only when a CRM field is mapped to it; else derived (`rep_quota_carrying`). */
  quota_carrying?: boolean;
}

export interface CrmRoleRow {
  name: string;
  parent_external_id: string | null;
}

export interface DealRow {
  name: string | null;
  owner_external_id: string | null;
  amount: string | null;
  currency: string;
  stage: string;
  stage_category: 'open' | 'won' | 'lost';
  forecast_category: string | null;
  probability: string | null;
  close_date: string;
  created_date: string;
  deal_type: string | null;
  /** Only when a CRM field is mapped to it; else derived (`deal_product_line`). */
  product_line?: string | null;
  segment: string | null;
  account_external_id: string | null;
  account_name: string | null;
}

export interface DealStageHistoryRow {
  deal_external_id: string;
  stage: string;
  stage_category: 'open' | 'won' | 'lost';
  amount: string | null;
  close_date: string | null;
  probability: string | null;
  forecast_category: string | null;
  changed_at: string;
}

export interface DealLineItemRow {
  deal_external_id: string;
  product_name: string | null;
  product_family: string | null;
  quantity: string | null;
  amount: string | null;
}

export interface DealSplitRow {
  deal_external_id: string;
  owner_external_id: string;
  split_percent: string;
  split_amount: string | null;
  split_type: string | null;
  is_overlay: boolean;
}

export type ActivityType = 'call' | 'meeting' | 'email' | 'task' | 'proposal' | 'other';

export interface ActivityRow {
  kind: 'task' | 'event';
  owner_external_id: string | null;
  activity_type: ActivityType;
  subtype: string | null;
  activity_date: string;
  is_completed: boolean | null;
  deal_external_id: string | null;
}

export interface LeadRow {
  owner_external_id: string | null;
  created_date: string;
  status: string | null;
  is_converted: boolean;
  converted_date: string | null;
  converted_deal_external_id: string | null;
}

export interface QuotaRow {
  owner_external_id: string | null;
  period_start: string;
  period_end: string;
  amount: string;
  currency: string;
  product_line: string | null;
}

export interface FxRateRow {
  currency: string;
  rate: string;
  valid_from: string;
  valid_to: string | null;
  source: 'crm_dated' | 'crm_static';
}

export interface CrmFiscalPeriodRow {
  period_type: string;
  start_date: string;
  end_date: string;
  fiscal_year: number | null;
  number: number | null;
}

export interface TableRows {
  reps: RepRow;
  crm_roles: CrmRoleRow;
  deals: DealRow;
  deal_stage_history: DealStageHistoryRow;
  deal_line_items: DealLineItemRow;
  deal_splits: DealSplitRow;
  activities: ActivityRow;
  leads: LeadRow;
  quotas: QuotaRow;
  fx_rates: FxRateRow;
  crm_fiscal_periods: CrmFiscalPeriodRow;
}

/** One normalized record: the common columns plus its table's own columns (snake_case, as in the warehouse). */
export interface NormalizedRecord<T extends WarehouseTable = WarehouseTable> extends NormalizedCommon {
  row: TableRows[T];
}

/** A record that could not be normalized: kept aside with a reason, the run goes on. */
export interface QuarantinedRecord {
  externalId: string;
  /** Stable machine code, e.g. MISSING_ID, MISSING_CLOSE_DATE, BAD_NUMBER. */
  reasonCode: string;
  /** What is wrong, naming the field. */
  reason: string;
  payload: unknown;
}

/** Formula fields re-read on their slower pass: only these columns of an existing row change. */
export interface RecordPatch {
  externalId: string;
  columns: Record<string, ColumnValue>;
}

export interface Page<T extends WarehouseTable = WarehouseTable> {
  records: NormalizedRecord<T>[];
  /** Ids hard-deleted in the CRM (delete feed): their rows are kept and flagged deleted. */
  deletedIds: string[];
  quarantined: QuarantinedRecord[];
  patches?: RecordPatch[];
  /**
   * Set on the last page of a full scan: every id the CRM still has. Rows of this connection and stream whose id is
   * not listed are flagged deleted (the fallback when the delete feed cannot cover the gap).
   */
  sweepSeenIds?: string[];
  /**
   * A full-scan sweep spread over pages, for streams too large for one id list: `begin` forgets what an earlier,
   * unfinished sweep of the stream saw; each page's `seenIds` are remembered (in the warehouse, with the page); on
   * `end`, rows of this connection and stream not seen since `begin` are flagged deleted.
   */
  sweep?: { begin?: boolean; seenIds: string[]; end?: boolean };
  /** The cursor to store with this page's rows (opaque to the sync engine). */
  cursor: StreamCursor;
  /** CRM API calls spent producing this page. */
  apiCalls: number;
  /** How many records the current scan will return in all, when the CRM says (for progress bars). */
  totalEstimate?: number;
  /**
   * The account cannot be read for this stream (a scope the token lacks, an object the subscription lacks) and the
   * stream is optional: nothing was read, the cursor and rows stay, and the run's status is `skipped` with this code
   * and reason (not a failure every interval).
   */
  skipped?: { code: string; reason: string };
}

// ---------------------------------------------------------------------------------------------------------------
// Read context and the connector

export interface ReadContext {
  log: Logger;
  /** Aborts the read between pages (SIGINT, budget). */
  signal?: AbortSignal;
  /** Override for tests and `--as-of`: the instant the run treats as now. */
  now?: () => Date;
  /** Ignore the stored cursor's formula schedule and re-read formula fields now. */
  refreshFormulas?: boolean;
  /**
   * `sync --full`: the stored cursor is ignored and the stream read from its start. `hadCursor` says the stream was
   * synced before, so rows may exist that the CRM no longer has (a full read then owes a sweep).
   */
  full?: { hadCursor: boolean };
  /**
   * The stream's live rows as the warehouse holds them: external id and one column's value, ascending by external id
   * after `afterId`, at most `limit`. For links the CRM does not stamp (HubSpot's associations): a connector holds
   * what it reads now against what it wrote, and re-reads only the records whose link moved. With `quarantined` (a
   * reason code), the stream's open quarantine entries of that reason that have no live row come too, value null:
   * records kept out for a missing link, rechecked when the link may have come.
   */
  stored?: (column: string, afterId: string | null, limit: number, quarantined?: string) => Promise<StoredValue[]>;
  /**
   * How many rows `stored` goes through (with `quarantined`, the open quarantine entries of that reason too): what
   * a connector sizes a bounded pass over them by.
   */
  storedCount?: (quarantined?: string) => Promise<number>;
}

/** A stored row's id and one column's value (`ReadContext.stored`). */
export interface StoredValue {
  externalId: string;
  value: string | null;
}

/** What a connection learned about its CRM account when it logged in. */
export interface OrgIdentity {
  orgId: string;
  instanceUrl: string;
}

/** Where a connector keeps secrets that must outlive the process (rotated refresh tokens, a shared session). */
export interface CredentialStore {
  load(kind: string): Promise<string | null>;
  save(kind: string, plaintext: string): Promise<void>;
}

/** Runs `fn` while holding the connection's credential-refresh lock (one refresh at a time across workers). */
export interface RefreshLock {
  run<T>(fn: () => Promise<T>): Promise<T>;
}

// ---------------------------------------------------------------------------------------------------------------
// The write port: what the write-back engine (src/writeback/) calls on a CRM

/** The metrics written back per rep, by their config name (`connections[].writeback.fields.<name>`). */
export const WRITEBACK_METRICS = ['attainment', 'pace', 'projectedAttainment', 'status', 'coverage', 'rank'] as const;
export type WritebackMetric = (typeof WRITEBACK_METRICS)[number];

/** Config names of every overridable field, the metrics plus the as-of date. */
export type WritebackFieldKey = WritebackMetric | 'asOf';

/** How a CRM field holds a value. */
export type FieldUnit =
  /** Percent: a ratio times 100 (87 for 87%). */
  | 'percent'
  /** A plain number: the ratio or count as it is (0.87). */
  | 'number'
  /** Text or picklist: the value's own text. */
  | 'text'
  /** A date, `YYYY-MM-DD`. */
  | 'date';

export interface FieldSpec {
  /** The CRM field's API name. */
  name: string;
  unit: FieldUnit;
  /** Decimal places the field keeps (Salesforce `scale`); values are rounded half away from zero to it. */
  scale: number;
}

/** The field layout of one connection's write-back target. */
export type FieldLayout = Readonly<Record<WritebackFieldKey, FieldSpec>>;

/**
 * The unit and scale of each write-back value in every CRM's default layout: percents as 87.5 for 87.5% (Salesforce
 * Percent fields, HubSpot number properties alike), coverage to 4 places, the rank a whole number.
 */
export const DEFAULT_FIELD_UNITS: Readonly<Record<WritebackFieldKey, Omit<FieldSpec, 'name'>>> = {
  attainment: { unit: 'percent', scale: 2 },
  pace: { unit: 'percent', scale: 2 },
  projectedAttainment: { unit: 'percent', scale: 2 },
  status: { unit: 'text', scale: 0 },
  coverage: { unit: 'number', scale: 4 },
  rank: { unit: 'number', scale: 0 },
  asOf: { unit: 'date', scale: 0 },
};

/** One record's new field values, in the field's wire form. */
export interface WriteIntent {
  targetObject: string;
  targetRecordId: string;
  fields: Record<string, ColumnValue>;
}

export interface WriteResult {
  targetRecordId: string;
  ok: boolean;
  errorCode?: string;
  message?: string;
  retryable?: boolean;
}

/** A CRM write result, optionally with the raw per-record response kept in the audit. */
export interface SinkResult extends WriteResult {
  response?: unknown;
}

/**
 * What a sink calls around every CRM request of a write: each batch, each retry, each re-send. One write is many
 * requests (a Salesforce composite call carries 200 records, a HubSpot batch 100), and the write-back engine must be
 * able to stop a run between any two of them (src/writeback/lock.ts):
 * - `beforeCall`, awaited right before the request goes out (after any backoff pause), renews the run's lease and
 *   throws WRITEBACK_ABANDONED when a newer run took the connection over; the sink then sends nothing more and lets
 *   that error through;
 * - `afterCall` says how the request ended: the HTTP status the CRM answered (any status, the body read whole), or
 *   null when no answer came (a timeout, a reset connection, a body cut short): such a request may have been
 *   applied, or may still be, so the engine keeps its fields in doubt.
 */
export interface WriteCallGuard {
  beforeCall(): Promise<void>;
  afterCall(status: number | null): void;
}

/** The CRM side of a push: turns intents into batched API calls (connectors/<crm>/write). */
export interface WritebackSink {
  /** Sends the intents; calls `guard` around every request it makes (see WriteCallGuard). */
  write(intents: readonly WriteIntent[], guard: WriteCallGuard): Promise<SinkResult[]>;
  /** API calls spent so far (for the run's bookkeeping). */
  apiCalls(): number;
  /**
   * Longest a write call waits for the CRM's answer: a call sent by a process that then died may still land at
   * the CRM until then (write-back fences on it, src/writeback/lock.ts).
   */
  readonly callTimeoutMs?: number;
}

/** The record each rep's values go to: the rep's own user record, or one record per rep and period. */
export interface WriteTarget {
  kind: 'user_fields' | 'custom_object';
  /** The CRM object's API name (`User`, `Quota_Scorecard__c`). */
  object: string;
}

/** A connection's write-back side: where the values go, in which fields and units, and the sink that writes them. */
export interface WritePort extends WritebackSink {
  readonly target: WriteTarget;
  /** The connector's default field names under the connection's overrides, in the shipped metadata's units. */
  defaultLayout(): FieldLayout;
  /** Checks the target's fields against the CRM and returns the layout in the org's own units. */
  checkFields(layout: FieldLayout, connectionId: string): Promise<FieldLayout>;
}

export interface AlertTask {
  externalKey: string;
  ownerExternalId: string;
  subject: string;
  description: string;
  dueDate: string;
  relatedToExternalId?: string;
}

/** The CRM side of alert delivery (connectors/<crm>/tasks). */
export interface TaskSink {
  upsertTasks(
    tasks: readonly AlertTask[],
  ): Promise<Array<{ externalKey: string; ok: boolean; crmTaskId?: string; message?: string }>>;
  closeTasks(
    tasks: ReadonlyArray<{ externalKey: string; crmTaskId: string }>,
  ): Promise<Array<{ externalKey: string; ok: boolean; message?: string }>>;
  /**
   * The tasks that exist in the CRM for these keys (key -> CRM task id): what became of a task whose creation was
   * sent but never confirmed (the process died mid-call) once its alert no longer needs it.
   */
  findTasks(keys: readonly string[]): Promise<Map<string, string>>;
}

/** What the write side needs from the host: the connection's write-back settings and the fiscal calendar. */
export interface WritePortContext {
  log: Logger;
  writeback: {
    /** `off` (HubSpot): scores are not written anywhere; the run stops before it asks for a port. */
    target: 'user_fields' | 'custom_object' | 'off';
    object?: string | undefined;
    fields: Partial<Record<WritebackFieldKey | 'alertKey', string | undefined>>;
  };
  /** Start and end of a fiscal period by id (a scorecard record names its period). */
  periodBounds: (periodId: string) => { start: string; end: string } | undefined;
  /** The connection's reps' names by external id, as the warehouse has them (a scorecard record names its rep). */
  repNames?: (externalIds: readonly string[]) => Promise<ReadonlyMap<string, string>>;
}

/** A CRM account's daily API allocation as reported: calls used today and the day's limit. */
export interface ApiUsage {
  used: number;
  limit: number;
}

export interface Connector {
  readonly kind: 'salesforce' | 'hubspot';
  streams(): readonly StreamSpec[];
  /** Logs in (if needed) and says which CRM org this connection reaches. */
  identify(): Promise<OrgIdentity>;
  /**
   * The pages of one stream after `from`, the cursor the last committed page carried (null when there is none or
   * `ctx.full` is set). An unreadable cursor means reading the stream from its start.
   */
  read(stream: string, from: StreamCursor | null, ctx: ReadContext): AsyncGenerator<Page>;
  /** API calls spent so far by this connector instance. */
  apiCalls(): number;
  /**
   * The CRM account's daily API allocation as the CRM last reported it (Sforce-Limit-Info; HubSpot's usage endpoint
   * and daily headers, the portal's count whatever the token), null before any report: the operator's budget left.
   */
  apiUsage?(): Promise<ApiUsage | null>;
  /** The write-back sink; absent when write-back to this CRM is not built. */
  writePort?(ctx: WritePortContext): WritePort;
  /** Alert tasks for managers; absent when they are not built for this CRM. */
  taskSink?(ctx: WritePortContext): TaskSink;
}

// ---------------------------------------------------------------------------------------------------------------
// What the registry (registry.ts) holds per CRM

/** What the host program gives a connector it creates: logging, defaults, and state shared across workers. */
export interface ConnectorHost {
  log: Logger;
  /** Time zone to assume when the CRM does not say (the configured calendar's). */
  defaultTimeZone: string;
  /** Currency to assume when the CRM names none (the configured base currency). */
  defaultCurrency: string;
  /** The exchange rates come from a file (`fx: { source: file }`): a CRM's own rates are not read. */
  fxFromFile?: boolean;
  /** Encrypted store for credentials the CRM rotates; absent without QUOTA_TRACKER_SECRET_KEY. */
  credentials?: CredentialStore;
  /** Serializes credential refreshes across workers (keyed by `lockKeys.credentials`). */
  refreshLock?: RefreshLock;
  /** The CRM account's rate limits, shared by every worker (src/sync/rate-budget.ts); absent: this process only. */
  rateBudget?: RateBudget;
  signal?: AbortSignal;
  /** Told each time the CRM rotates the refresh token, and whether it could be kept (a store to save it in). */
  onRotated?: (kept: boolean) => Promise<void>;
  /**
   * The org file's rows (`org.file`), for `config check --online` to hold its teams' managers against the CRM's
   * users; null when no org file is configured. Absent outside that check.
   */
  orgRows?: readonly OrgRow[] | null;
}

/** One line of `config check --online`: ok, failed, or (null) could not be determined. */
export interface OnlineCheckLine {
  ok: boolean | null;
  text: string;
}

export interface OnlineCheckResult {
  orgId?: string;
  instanceUrl?: string;
  lines: OnlineCheckLine[];
  ok: boolean;
}

/** What the CRM's hierarchy looks like now, as `config check --online` derives its tree from it. */
export interface LiveHierarchy {
  roles: Array<{ id: string; name: string; parentId: string | null }>;
  users: Array<{ id: string; name: string; email: string; roleId: string | null; managerId: string | null }>;
  /** Owners of a quota starting in the quarter; null when the CRM keeps no quotas. */
  quotaOwners: Set<string> | null;
}

/** A CRM user as `config check --online` routes alert tasks to it (emails lower-cased). */
export interface OnlineUser {
  id: string;
  email: string;
  active: boolean;
  /** The user the CRM names as its manager (Salesforce `ManagerId`); null where the CRM has none. */
  managerId: string | null;
}

/** A logged-in look at a connection for `config check --online`; it touches no database and writes nothing. */
export interface OnlineProbe {
  check(): Promise<OnlineCheckResult>;
  liveHierarchy(quarter: { start: string; end: string }): Promise<LiveHierarchy>;
  /** Every user, active or not: who can own an alert task. */
  users?(): Promise<OnlineUser[]>;
  apiCalls(): number;
}

/**
 * Everything the rest of the program needs from one CRM, looked up by connection type. A new CRM is a folder under
 * src/connectors/ plus one line in registry.ts.
 */
/** What a request to a webhook route is, as the receiver checks it. */
export interface WebhookRequest {
  method: string;
  /** The URLs the CRM may have signed: the public one it posts to, and the one this server saw. */
  uris: readonly string[];
  /** The exact body as received. */
  body: string;
  header(name: string): string | null;
  nowMs: number;
}

/** Why a webhook request is refused, or `ok`. */
export type WebhookCheck = 'ok' | 'missing' | 'bad-signature' | 'stale' | 'no-secret';

/** Change notifications a CRM pushes: `POST /webhooks/<path>`. They only make syncs run sooner; polling stays. */
export interface WebhookReceiver {
  readonly path: string;
  /** The request checked against one connection's secret (no secret configured: `no-secret`). */
  verify(conn: ConnectionConfig, req: WebhookRequest): WebhookCheck;
  /**
   * The events of a verified body, each with the key a redelivery repeats, the account it is about (the CRM's org
   * or portal id, where the event says) and the connection's streams it touches; null if malformed.
   */
  events(conn: ConnectionConfig, body: string): { id: string; account?: string; streams: string[] }[] | null;
}

export interface ConnectorKind {
  /** The CRM's name in messages (`Salesforce`). */
  readonly label: string;
  /** The streams a connection reads, in the order a full sync runs them (people before what points at them). */
  streams(conn: ConnectionConfig): readonly StreamSpec[];
  /** CRM-neutral stream names users may type (`deals`, `activities`), each standing for one or more streams. */
  readonly streamAliases: Readonly<Record<string, readonly string[]>>;
  create(conn: ConnectionConfig, host: ConnectorHost): Connector;
  /** How the connection is reached, for headings (`https://login.salesforce.com, API 62.0`). */
  describe(conn: ConnectionConfig): string;
  online(conn: ConnectionConfig, host: ConnectorHost): OnlineProbe;
  /** Whether its connectors have a write port and a task sink (write-back and alert tasks are built). */
  readonly writes: boolean;
  /** The CRM's error codes the retry policy reads (rate limit, invalid field, expired session). */
  readonly retryCodes: RetryCodes;
  /** Advisory-lock keys of what the CRM shares across workers: one credential refresh per connection. */
  readonly lockKeys: {
    credentials(connectionId: string): string;
  };
  /** One sentence for logs, /readyz and start's refusal when a rotated credential cannot be kept (no secret key). */
  rotationNeedsKey(connectionId: string): string;
  /** Where the CRM pushes changes; absent for a CRM whose pushes are not received. */
  readonly webhooks?: WebhookReceiver;
  /**
   * `quota-tracker setup <crm>`: makes what write-back needs in the CRM account (objects, properties), idempotent;
   * absent where there is nothing to make (Salesforce ships metadata to deploy instead).
   */
  setup?(conn: ConnectionConfig, host: ConnectorHost): Promise<{ made: string[]; notes: string[]; apiCalls: number }>;
}
