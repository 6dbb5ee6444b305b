/**
 * The CRM-neutral connector contract. A connector turns one CRM stream into an async generator of pages of
 * normalized warehouse rows, ascending by the stream's cursor, each page carrying the cursor to resume after it.
 * The sync runner (src/sync/) commits a page's rows and its cursor in one transaction, so a crash resumes where it
 * stopped. Connectors never touch the warehouse.
 */
import { z } from 'zod';
import type { Logger } from '../util/log.ts';

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
  /** Keyset on (cursorField, Id), inclusive lower bound minus a lookback. */
  | 'incremental'
  /** Small reference tables without a usable cursor: read whole every run; rows not seen are deleted. */
  | 'full_refresh';

export interface StreamSpec {
  /** Stream name as users type it (`--stream deals`). */
  readonly name: string;
  /** The warehouse table its rows go to. */
  readonly table: WarehouseTable;
  readonly mode: StreamMode;
  /** The CRM's modification stamp used as cursor (SystemModstamp, else LastModifiedDate); null for full_refresh. */
  readonly cursorField: string | null;
  /** Whether the CRM has a hard-delete feed for it (Salesforce `deleted()`). */
  readonly supportsDeletedFeed: boolean;
  /** CRM fields computed by formulas: their changes do not move the cursor, so they are re-read on a slower pass. */
  readonly formulaFields: readonly string[];
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

const stamp = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})$/);
const keyset = z.object({ stamp, id: z.string().min(1) });

/** What a stream learned about the org on its first read, kept so that incremental runs spend no call on it. */
const streamMeta = z.object({
  /** Fields selected per object (defaults plus the optional ones the org has). */
  fields: z.record(z.string(), z.array(z.string())),
  /** Formula fields among them, per object. */
  formulaFields: z.record(z.string(), z.array(z.string())).optional(),
  timeZone: z.string(),
  corporateCurrency: z.string(),
  multiCurrency: z.boolean(),
  /** The org lacks the feature (no splits, no dated rates): the stream reads nothing. */
  unavailable: z.boolean().optional(),
  /** Per object, a SOQL condition that leaves out records that are not the org's own (our own alert tasks). */
  exclude: z.record(z.string(), z.string()).optional(),
});

/** Bookkeeping shared by both phases: when the slower passes last completed. */
const passes = {
  /** Upper bound of the last hard-delete check (deleted() feed or full-scan sweep). */
  deletesCheckedTo: stamp.optional(),
  /** When formula fields were last re-read in full. */
  formulasRefreshedAt: stamp.optional(),
  /** A full-scan sweep is owed (after `--full`, or when the delete feed's window was missed). */
  sweepPending: z.boolean().optional(),
  meta: streamMeta.optional(),
};

export const syncCursorSchema = z.discriminatedUnion('phase', [
  z.object({
    v: z.literal(1),
    phase: z.literal('initial'),
    /** Keyset position of the last committed record of the full read. */
    after: keyset.optional(),
    ...passes,
  }),
  z.object({
    v: z.literal(1),
    phase: z.literal('incremental'),
    /** Records stamped up to here were read; the next run starts here minus the lookback. */
    since: stamp,
    /** Keyset position of the last committed record while a run is in progress; cleared when it completes. */
    after: keyset.optional(),
    ...passes,
  }),
]);

/** A versioned, validated position in a stream. */
export type SyncCursor = z.infer<typeof syncCursorSchema>;
export type Keyset = z.infer<typeof keyset>;
export type StreamMeta = z.infer<typeof streamMeta>;

/**
 * Reads a stored cursor. Anything unreadable (older version, hand-edited, truncated) means a full re-read: the
 * stream then starts over from the initial phase, which is slow but never loses a record.
 */
export function parseCursor(raw: unknown, log?: Logger): SyncCursor | null {
  if (raw == null) return null;
  const parsed = syncCursorSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  log?.warn({ issues: parsed.error.issues.slice(0, 3) }, 'stored sync cursor is unreadable; re-reading the stream');
  return null;
}

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
  /** The cursor to store with this page's rows. */
  cursor: SyncCursor;
  /** CRM API calls spent producing this page. */
  apiCalls: number;
  /** How many records the current scan will return in all, when the CRM says (for progress bars). */
  totalEstimate?: number;
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
}

/** Write side, declared for the write-back issue. */
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

export interface AlertTask {
  externalKey: string;
  ownerExternalId: string;
  subject: string;
  description: string;
  dueDate: string;
  relatedToExternalId?: string;
}

/** What a connection learned about its CRM account when it logged in. */
export interface OrgIdentity {
  orgId: string;
  instanceUrl: string;
}

export interface Connector {
  readonly kind: 'salesforce' | 'hubspot';
  streams(): readonly StreamSpec[];
  /** Logs in (if needed) and says which CRM org this connection reaches. */
  identify(): Promise<OrgIdentity>;
  read(stream: string, from: SyncCursor | null, ctx: ReadContext): AsyncGenerator<Page>;
  /** API calls spent so far by this connector instance. */
  apiCalls(): number;
  /** Write-back (a later issue). */
  write?(intents: readonly WriteIntent[], ctx: ReadContext): Promise<WriteResult[]>;
  /** Alert tasks for managers (a later issue). */
  createTasks?(tasks: readonly AlertTask[], ctx: ReadContext): Promise<WriteResult[]>;
}
