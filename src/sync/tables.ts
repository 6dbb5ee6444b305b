/**
 * How a page's rows reach each warehouse table a stream fills: one strategy per table, so that the page writer
 * (apply-page.ts) names no table. Every synced table but `fx_rates` keeps a content hash, a deleted flag and the
 * CRM's stamp (`hashedTable`); what only one table needs is an option of its strategy: reps link to persons, the
 * CRM's quotas live beside the quota file's rows, a table's own derived columns stay out of a patched row's hash.
 * `fx_rates` keeps dated ranges keyed by currency and start, with no hash or deleted flag (`fxRatesTable`).
 */
import { type Kysely, sql, type Transaction } from 'kysely';
import type {
  ColumnValue,
  Derivation,
  FxRateRow,
  NormalizedRecord,
  RecordPatch,
  StreamSpec,
  WarehouseTable,
} from '../connectors/types.ts';
import type { Database, SyncedColumns } from '../db/schema.ts';
import { raiseRatesChanged } from '../dirty/queue.ts';
import { contentHash } from '../util/hash.ts';
import { byKey, lockedRows } from './by-key.ts';
import type { Change } from './change-feed.ts';

/** What a table's strategy needs of the page's context. */
export interface TableContext {
  connectionId: string;
  runId: number;
  stream: StreamSpec & { scope?: { column: string; value: string } };
  /** The run's date (YYYY-MM-DD): the current quarter a rep-wide change marks dirty. */
  today: string;
}

/** A stored row, as far as deciding whether a record changed and whose figures it moves. */
export interface StoredRow {
  external_id: string;
  content_hash: string | null;
  is_deleted: boolean;
  stamp?: string | null;
  owner: string | null;
  day: string | null;
}

/**
 * Which of the stream's rows to flag deleted: these ids, every row but these (a full-refresh sweep), or every row
 * a paged sweep did not stage in sync_sweep_seen.
 */
export interface DeleteFilter {
  ids?: readonly string[];
  notIn?: readonly string[];
  notSwept?: boolean;
}

/** The rows of `table` a paged sweep of the stream did not see (an anti-join against sync_sweep_seen). */
function unswept(table: WarehouseTable, ctx: TableContext) {
  return sql<boolean>`NOT EXISTS (SELECT 1 FROM sync_sweep_seen s WHERE s.connection_id = ${ctx.connectionId}
    AND s.stream = ${ctx.stream.name} AND s.external_id = ${sql.ref(`${table}.external_id`)})`;
}

/** Which sanity rules (sanity.ts) look at a table's rows beyond the bounds every row keeps. */
export interface SanityChecks {
  /** Its rows carry money in `currency`: a code that is no currency would make them unconvertible. */
  readonly currency: boolean;
  /** Its `owner_external_id` must name a user the connection has synced. */
  readonly owner: boolean;
}

export interface TableStrategy {
  readonly checks: SanityChecks;
  /** The stored rows of these ids. */
  load(trx: Transaction<Database>, ctx: TableContext, ids: readonly string[]): Promise<Map<string, StoredRow>>;
  /** Writes the records whose content changed. */
  write(
    trx: Transaction<Database>,
    ctx: TableContext,
    items: ReadonlyArray<{ rec: NormalizedRecord; hash: string }>,
  ): Promise<void>;
  /** Whether an unchanged record's newer CRM stamp is kept (tables that store one). */
  readonly keepsStamp: boolean;
  /** Keeps the CRM's stamp current on rows whose content did not change. */
  restamp(trx: Transaction<Database>, ctx: TableContext, recs: readonly NormalizedRecord[]): Promise<void>;
  /** Merges formula-field patches into stored rows, rewriting a row only when its hash moves. */
  patch(trx: Transaction<Database>, ctx: TableContext, patches: readonly RecordPatch[]): Promise<Change[]>;
  /** Flags the stream's rows deleted (or removes them, where the table keeps no flag). */
  markDeleted(trx: Transaction<Database>, ctx: TableContext, filter: DeleteFilter): Promise<Change[]>;
  /** What the table alone does once the page's changes are known. */
  afterChanges(trx: Transaction<Database>, changes: readonly Change[]): Promise<void>;
}

/** The hash of a normalized row: its own columns only, so a stamp bump with no real change writes nothing. */
export function rowHash(row: object): string {
  return contentHash(row);
}

/** The tables that keep a content hash and a deleted flag: every synced table but fx_rates. */
type HashedTable = Exclude<WarehouseTable, 'fx_rates'>;

/**
 * A hashed table as the page writer addresses it: the synced columns every one has, and its own columns by name
 * (the normalizers' row types in connectors/types.ts say which). One view for all of them, so that the table can
 * be chosen at run time without giving up the types of the columns the writer itself sets.
 */
type PageRow = SyncedColumns & { [column: string]: unknown };
type PageDb = { [T in HashedTable]: PageRow };

function pageDb(trx: Transaction<Database>): Kysely<PageDb> {
  return trx as unknown as Kysely<PageDb>;
}

function columnText(row: object, column: string | undefined): string | null {
  if (!column) return null;
  const v = (row as Record<string, ColumnValue>)[column];
  return v === null || v === undefined ? null : String(v);
}

/** Who and when a new or changed record touches: its owner and day before (stored) and after (the record). */
export function changeOf(ctx: TableContext, rec: NormalizedRecord, old: StoredRow | undefined): Change {
  const d = ctx.stream.dirty;
  return {
    externalId: rec.externalId,
    change: !old ? 'added' : rec.isDeleted && !old.is_deleted ? 'deleted' : 'changed',
    owners: [
      old?.owner ?? null,
      d?.ownerColumn === 'external_id' ? rec.externalId : columnText(rec.row, d?.ownerColumn),
    ],
    days: d && !d.dateColumn ? [ctx.today] : [old?.day ?? null, columnText(rec.row, d?.dateColumn)],
  };
}

/**
 * Columns that are not part of a connector's normalized row (bookkeeping, links made here, and the columns only
 * another CRM fills: `pipeline` is HubSpot's, `org_unit_id` the quota file's), left out of a patched row's hash.
 */
const SYSTEM_COLUMNS = new Set([
  'pipeline',
  'org_unit_id',
  'id',
  'connection_id',
  'external_id',
  'source_modified_at',
  'content_hash',
  'is_deleted',
  'deleted_at',
  'last_seen_run_id',
  'synced_at',
  'person_id',
  'source',
]);

const NO_CHECKS: SanityChecks = { currency: false, owner: false };
/** Money owned by a rep: deals and quotas. */
const MONEY_OF_A_REP: SanityChecks = { currency: true, owner: true };

/**
 * Rows per upsert statement. Each statement sends one array per column (unnest), so its size costs no parse or
 * bind time; the chunk only bounds one statement's memory on both sides.
 */
const UPSERT_CHUNK = 2_000;

/**
 * A table's column types, read from the catalog once per page written (a fraction of a millisecond, and never stale
 * after a migration in a long-running worker). Only types an array of text literals carries exactly are taken: an
 * array column would be flattened by unnest, and a length or precision limit would cut silently where a VALUES
 * insert raises an error.
 */
async function typesOf(trx: Transaction<Database>, table: HashedTable): Promise<Map<string, string>> {
  const r = await sql<{ name: string; type: string }>`SELECT attname AS name, format_type(atttypid, atttypmod) AS type
    FROM pg_attribute WHERE attrelid = ${table}::regclass AND attnum > 0 AND NOT attisdropped`.execute(trx);
  return new Map(r.rows.map((c) => [c.name, c.type]));
}

/**
 * One PostgreSQL array literal (`{"a","b",NULL}`) of a column's values, sent as one text parameter and cast to the
 * column's array type. Written here rather than by the driver, which escapes each element with two regular
 * expressions and looks every value's type up again: on a 468,000-record sync that was 2 of the client's 26 CPU
 * seconds. Strings are quoted with `"` and `\` escaped; Dates go as ISO instants (timestamptz columns); other
 * objects as JSON.
 */
export function arrayLiteral(values: readonly unknown[]): string {
  return columnLiteral(values, (v) => v);
}

/**
 * The array literal of one column of `rows` (`pick` reads it from a row), without an array of its values first.
 * A Date repeated down the column (a page's audit stamp) is written out once. Whether any value needs escaping is
 * asked of the column's text once, not of each value: most columns have no quote or backslash anywhere.
 */
function columnLiteral<R>(rows: readonly R[], pick: (row: R) => unknown): string {
  if (rows.length === 0) return '{}';
  const texts = new Array<string | null>(rows.length);
  let nulls = 0;
  let lastDate: Date | undefined;
  let lastDateText = '';
  for (let i = 0; i < rows.length; i++) {
    const v = pick(rows[i] as R);
    if (v === null || v === undefined) {
      texts[i] = null;
      nulls++;
    } else if (typeof v === 'string') texts[i] = v;
    else if (typeof v === 'number' || typeof v === 'bigint') texts[i] = String(v);
    else if (typeof v === 'boolean') texts[i] = v ? 'true' : 'false';
    else if (v instanceof Date) {
      if (v !== lastDate) {
        lastDate = v;
        lastDateText = v.toISOString();
      }
      texts[i] = lastDateText;
    } else texts[i] = JSON.stringify(v);
  }
  // (join writes a null as nothing.)
  const clean = !NEEDS_ESCAPE.test(texts.join(''));
  if (clean && nulls === 0) return `{"${texts.join('","')}"}`;
  const parts = texts as string[];
  for (let i = 0; i < texts.length; i++) {
    const text = texts[i] as string | null;
    if (text === null) parts[i] = 'NULL';
    else if (clean || !NEEDS_ESCAPE.test(text)) parts[i] = `"${text}"`;
    else parts[i] = `"${text.replace(ESCAPED, '\\$&')}"`;
  }
  return `{${parts.join(',')}}`;
}
const NEEDS_ESCAPE = /["\\]/;
const ESCAPED = /["\\]/g;

/**
 * One insert of rows that share their columns, as one array per column (`unnest`), instead of a multi-row VALUES
 * with a bind parameter per cell: a 2,000-row page of 20 columns is 20 parameters, not 40,000, which PostgreSQL
 * parses, binds and plans in a fraction of the time. On conflict every written column takes the new value.
 */
async function upsertRows(
  trx: Transaction<Database>,
  table: HashedTable,
  types: ReadonlyMap<string, string>,
  group: RowGroup,
  items: RowGroup['items'],
  opts: HashedOptions,
): Promise<void> {
  if (items.length === 0) return;
  const { columns } = group;
  const arrays = columns.map((c, i) => {
    const type = types.get(c);
    if (!type) throw new Error(`${table} has no column ${c}`);
    if (type.endsWith(']') || type.includes('('))
      throw new Error(`${table}.${c} is ${type}: the page upsert carries only unbounded scalar columns`);
    return sql`${columnLiteral(items, group.values[i] as (item: RowItem) => unknown)}::${sql.raw(type)}[]`;
  });
  const names = sql.join(columns.map((c) => sql.ref(c)));
  const updates = columns
    .filter((c) => c !== 'connection_id' && c !== 'external_id')
    .map((c) => sql`${sql.ref(c)} = excluded.${sql.ref(c)}`);
  await sql`INSERT INTO ${sql.table(table)} (${names})
    SELECT * FROM unnest(${sql.join(arrays)}) AS v(${names})
    ON CONFLICT (connection_id, external_id) ${opts.partialKey ? sql`WHERE external_id IS NOT NULL` : sql``}
    DO UPDATE SET ${sql.join(updates)}`.execute(trx);
}

/** A changed record as the writer has it. */
type RowItem = { rec: NormalizedRecord; hash: string };

/**
 * Records whose rows set the same columns, in the order the first of them set them; `values[i]` reads column i's
 * value of a record.
 */
export interface RowGroup {
  columns: string[];
  values: Array<(item: RowItem) => unknown>;
  items: RowItem[];
}

/** The columns the writer sets before a record's own (its row may set them again) and after them. */
const LEADING_COLUMNS = ['connection_id', 'external_id', 'source_modified_at', 'synced_at'] as const;
const TRAILING_COLUMNS = ['content_hash', 'is_deleted', 'deleted_at', 'last_seen_run_id'] as const;
const TRAILING = new Set<string>(TRAILING_COLUMNS);

/**
 * A page's changed records as the rows written, grouped by the columns they set (a normalizer gives every row the
 * same ones). A row is the spread of, in this order: the leading columns, the record's own row, the trailing columns
 * and the strategy's `extra` ones; a later part setting a column again gives its value (undefined included) and
 * keeps the column's first place. A column whose value is undefined keeps its default, as in a multi-row VALUES: it
 * is not written as null. No row object is built: each column's value is read from the record where the spread would
 * have taken it (a copy of every row was 0.5 of the client's 8 CPU seconds on the bench org, and garbage to collect).
 * A record whose row has the previous one's keys, undefined in the same places, joins its group without more ado.
 */
export function rowGroups(
  ctx: TableContext,
  items: readonly RowItem[],
  stamp: Date,
  extra: Readonly<Record<string, ColumnValue>> | undefined,
): RowGroup[] {
  const groups = new Map<string, RowGroup>();
  let last: RowGroup | undefined;
  let lastKeys: string[] = [];
  let lastUnset: boolean[] = [];
  let lastStampUnset = false;
  const keys: string[] = [];
  const unset: boolean[] = [];
  for (const item of items) {
    const row = item.rec.row as unknown as Record<string, unknown>;
    const stampUnset = item.rec.sourceModifiedAt === undefined;
    keys.length = 0;
    unset.length = 0;
    let same = last !== undefined && stampUnset === lastStampUnset;
    for (const k in row) {
      const u = row[k] === undefined;
      if (same && (lastKeys[keys.length] !== k || lastUnset[keys.length] !== u)) same = false;
      keys.push(k);
      unset.push(u);
    }
    if (same && keys.length === lastKeys.length && last) {
      last.items.push(item);
      continue;
    }
    const group = groupOf(groups, ctx, row, stampUnset, stamp, extra);
    group.items.push(item);
    last = group;
    lastKeys = [...keys];
    lastUnset = [...unset];
    lastStampUnset = stampUnset;
  }
  return [...groups.values()];
}

/** The group of rows shaped as this one: its columns and where each one's value comes from. */
function groupOf(
  groups: Map<string, RowGroup>,
  ctx: TableContext,
  row: Record<string, unknown>,
  stampUnset: boolean,
  stamp: Date,
  extra: Readonly<Record<string, ColumnValue>> | undefined,
): RowGroup {
  const order: string[] = [...LEADING_COLUMNS];
  const placed = new Set<string>(order);
  const add = (k: string) => {
    if (placed.has(k)) return;
    placed.add(k);
    order.push(k);
  };
  const rowKeys = new Set<string>();
  for (const k in row) {
    rowKeys.add(k);
    add(k);
  }
  for (const k of TRAILING_COLUMNS) add(k);
  const extraKeys = new Set<string>();
  if (extra)
    for (const k in extra) {
      extraKeys.add(k);
      add(k);
    }
  const columns: string[] = [];
  const values: RowGroup['values'] = [];
  // Which part each column's value comes from: rows of the same columns taken from other parts are another group.
  let from = '';
  for (const c of order) {
    let value: (item: RowItem) => unknown;
    let set: boolean;
    if (extraKeys.has(c)) {
      const v = (extra as Record<string, unknown>)[c];
      value = () => v;
      set = v !== undefined;
    } else if (TRAILING.has(c)) {
      value =
        c === 'content_hash'
          ? (i) => i.hash
          : c === 'is_deleted'
            ? (i) => i.rec.isDeleted
            : c === 'deleted_at'
              ? (i) => (i.rec.isDeleted ? stamp : null)
              : () => ctx.runId;
      set = true;
    } else if (rowKeys.has(c)) {
      value = (i) => (i.rec.row as unknown as Record<string, unknown>)[c];
      set = row[c] !== undefined;
    } else {
      value =
        c === 'connection_id'
          ? () => ctx.connectionId
          : c === 'external_id'
            ? (i) => i.rec.externalId
            : c === 'source_modified_at'
              ? (i) => i.rec.sourceModifiedAt
              : () => stamp;
      set = c !== 'source_modified_at' || !stampUnset;
    }
    if (!set) continue;
    columns.push(c);
    values.push(value);
    from += extraKeys.has(c) ? 'x' : TRAILING.has(c) ? 't' : rowKeys.has(c) ? 'r' : 'l';
  }
  const key = `${columns.join(',')}|${from}`;
  let group = groups.get(key);
  if (!group) {
    group = { columns, values, items: [] };
    groups.set(key, group);
  }
  return group;
}

interface HashedOptions {
  checks?: SanityChecks;
  /** Columns the writer sets on every row it writes (the CRM's quotas are `source: 'crm'`). */
  extra?: Readonly<Record<string, ColumnValue>>;
  /**
   * The unique index an upsert lands on is partial (quotas: the file's rows have no external id), so the
   * conflict target repeats its predicate.
   */
  partialKey?: boolean;
  /** Columns of this table that a derivation fills in the warehouse: not part of a patched row's hash. */
  derived?: Partial<Record<Derivation, string>>;
  /** After the changed rows are written (reps: link each to its person). */
  afterWrite?: (trx: Transaction<Database>, ctx: TableContext, written: readonly NormalizedRecord[]) => Promise<void>;
}

function hashedTable(table: HashedTable, opts: HashedOptions = {}): TableStrategy {
  const derivedOf = (stream: StreamSpec): Set<string> =>
    new Set((stream.derives ?? []).flatMap((d) => (opts.derived?.[d] ? [opts.derived[d]] : [])));
  return {
    checks: opts.checks ?? NO_CHECKS,
    keepsStamp: true,

    async load(trx, ctx, ids) {
      if (ids.length === 0) return new Map();
      const d = ctx.stream.dirty;
      const { rows } = await sql<StoredRow>`SELECT t.external_id, t.content_hash, t.is_deleted,
          to_char(t.source_modified_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS stamp,
          ${d ? sql.ref(`t.${d.ownerColumn}`) : sql`null`} AS owner,
          ${d?.dateColumn ? sql`${sql.ref(`t.${d.dateColumn}`)}::text` : sql`null`} AS day
        FROM ${byKey(table, ctx.connectionId, ids)}`.execute(trx);
      return new Map(rows.map((r) => [r.external_id, r]));
    },

    async write(trx, ctx, items) {
      const stamp = new Date(); // wall-clock: an audit stamp
      const groups = rowGroups(ctx, items, stamp, opts.extra);
      const types = groups.length > 0 ? await typesOf(trx, table) : new Map<string, string>();
      for (const group of groups) {
        for (let i = 0; i < group.items.length; i += UPSERT_CHUNK)
          await upsertRows(trx, table, types, group, group.items.slice(i, i + UPSERT_CHUNK), opts);
      }
      if (opts.afterWrite && items.length > 0)
        await opts.afterWrite(
          trx,
          ctx,
          items.map((i) => i.rec),
        );
    },

    async restamp(trx, ctx, recs) {
      if (recs.length === 0) return;
      const stamps = new Map(recs.map((r) => [r.externalId, r.sourceModifiedAt]));
      const found = await lockedRows(trx, table, ctx.connectionId, [...stamps.keys()]);
      if (found.length === 0) return;
      await sql`UPDATE ${sql.table(table)} AS t SET source_modified_at = v.stamp::timestamptz
        FROM unnest(${found.map((f) => f.row)}::tid[], ${found.map((f) => stamps.get(f.id) ?? null)}::text[])
          AS v(row, stamp)
        WHERE t.ctid = ANY(${found.map((f) => f.row)}::tid[]) AND t.ctid = v.row`.execute(trx);
    },

    async patch(trx, ctx, patches) {
      const changes: Change[] = [];
      for (const patch of patches) {
        const row = (await pageDb(trx)
          .selectFrom(table)
          .selectAll()
          .where('connection_id', '=', ctx.connectionId)
          .where('external_id', '=', patch.externalId)
          .executeTakeFirst()) as Record<string, unknown> | undefined;
        if (!row || row.content_hash === undefined) continue;
        const merged = { ...row, ...patch.columns };
        const derived = derivedOf(ctx.stream);
        const pick = Object.fromEntries(
          Object.keys(row)
            .filter((k) => !SYSTEM_COLUMNS.has(k) && !derived.has(k))
            .map((k) => [k, merged[k] instanceof Date ? (merged[k] as Date).toISOString() : merged[k]]),
        );
        const hash = rowHash(pick);
        if (hash === row.content_hash) continue;
        await pageDb(trx)
          .updateTable(table)
          .set({ ...patch.columns, content_hash: hash, synced_at: new Date() }) // wall-clock: an audit stamp
          .where('connection_id', '=', ctx.connectionId)
          .where('external_id', '=', patch.externalId)
          .execute();
        changes.push({ externalId: patch.externalId, change: 'changed', owners: [], days: [] });
      }
      return changes;
    },

    async markDeleted(trx, ctx, filter) {
      const d = ctx.stream.dirty;
      let q = pageDb(trx)
        .updateTable(table)
        .set({ is_deleted: true, deleted_at: new Date(), last_seen_run_id: ctx.runId, synced_at: new Date() }) // wall-clock: audit stamps
        .where('connection_id', '=', ctx.connectionId)
        .where('is_deleted', '=', false);
      if (ctx.stream.scope) q = q.where(ctx.stream.scope.column, '=', ctx.stream.scope.value);
      if (filter.ids) {
        const found = await lockedRows(trx, table, ctx.connectionId, filter.ids);
        if (found.length === 0) return [];
        q = q.where(sql<boolean>`ctid = ANY(${found.map((f) => f.row)}::tid[])`);
      }
      if (filter.notIn) q = q.where(sql<boolean>`NOT (external_id = ANY(${[...filter.notIn]}::text[]))`);
      if (filter.notSwept) q = q.where(unswept(table, ctx));
      const rows = (await q
        .returning([
          'external_id',
          d ? sql.ref(d.ownerColumn).as('owner') : sql<null>`null`.as('owner'),
          d?.dateColumn ? sql`${sql.ref(d.dateColumn)}::text`.as('day') : sql<null>`null`.as('day'),
        ])
        .execute()) as Array<{ external_id: string; owner: string | null; day: string | null }>;
      return rows.map((r) => ({
        externalId: r.external_id,
        change: 'deleted',
        owners: [r.owner],
        days: d && !d.dateColumn ? [ctx.today] : [r.day],
      }));
    },

    async afterChanges() {},
  };
}

/**
 * Links reps to persons by email (one human across CRMs), and keeps the person following the CRM: a renamed user
 * renames the person (unless the org file named them: the file wins where it says), and a user whose email changed
 * takes their person along to the new address (same human, same history), unless another CRM user still has the
 * old one or a person already has the new one. A user org.csv binds by id (`salesforce_user_id`,
 * `hubspot_owner_id`: person_bindings) is the bound person whatever its email says.
 *
 * Record by record, that is three statements a user (on the bench org, the users stream ran alone for 0.45-0.75 s of
 * an initial sync, most of it these). When no email of the page is there twice and no rep of it has a person under
 * another email, the records do not meet: no person follows anyone, each record's insert lands on its own person
 * and its rep links to that one, so the page's inserts and links are one statement each, with the same outcome as
 * in turn. Otherwise (an email moved, two users sharing one) the records go in turn as before.
 */
/**
 * A person already there under the email takes the CRM user's name, unless the org file named them (the file wins
 * where it says): the conflict rule of both ways of linking below.
 */
const PERSON_FOLLOWS_NAME = sql`ON CONFLICT ((lower(email))) DO UPDATE SET name = excluded.name, updated_at = now() -- wall-clock: an audit stamp
  WHERE excluded.name IS NOT NULL AND persons.name IS DISTINCT FROM excluded.name
    AND (persons.source = 'crm' OR coalesce(persons.name, '') = '')`;

async function linkPersons(
  trx: Transaction<Database>,
  ctx: TableContext,
  records: readonly NormalizedRecord[],
): Promise<void> {
  const bindings = await sql<{ external_id: string; email: string; crm: string }>`select b.external_id, b.email, b.crm
    from person_bindings b join connections c on c.kind = b.crm where c.id = ${ctx.connectionId}`.execute(trx);
  const bound = new Map(bindings.rows.map((b) => [b.external_id, b.email] as const));
  // A Salesforce binding holds the id's first 15 characters (the 18-character id adds a checksum).
  const bindingOf = (id: string) => bound.get(bindings.rows[0]?.crm === 'salesforce' ? id.slice(0, 15) : id);
  const links: Array<{ id: string; email: string; name: string | null; bound: boolean }> = [];
  for (const rec of records) {
    const row = rec.row as { email?: string | null; name?: string };
    const boundEmail = bindingOf(rec.externalId);
    const email = boundEmail ?? row.email;
    if (!email) continue;
    links.push({ id: rec.externalId, email, name: row.name ?? null, bound: boundEmail !== undefined });
  }
  if (links.length === 0) return;
  const ids = arrayLiteral(links.map((l) => l.id));
  const emails = arrayLiteral(links.map((l) => l.email));
  const apart = await sql<{ apart: boolean }>`SELECT
      (SELECT count(DISTINCT lower(e)) = count(*) FROM unnest(${emails}::text[]) AS v(e))
      AND NOT EXISTS (SELECT 1 FROM unnest(${ids}::text[], ${emails}::text[], ${arrayLiteral(links.map((l) => l.bound))}::boolean[]) AS v(id, e, bound)
        JOIN reps r ON r.connection_id = ${ctx.connectionId} AND r.external_id = v.id
        JOIN persons p ON p.id = r.person_id
        WHERE NOT v.bound AND lower(p.email) <> lower(v.e)) AS apart`.execute(trx);
  if (apart.rows[0]?.apart === true) {
    // In the records' order, as the statements in turn would have numbered new persons.
    await sql`INSERT INTO persons (email, name)
      SELECT v.e, v.n FROM unnest(${emails}::text[], ${arrayLiteral(links.map((l) => l.name))}::text[]) WITH ORDINALITY AS v(e, n, i)
      ORDER BY v.i
      ${PERSON_FOLLOWS_NAME}`.execute(trx);
    await sql`UPDATE reps r SET person_id = p.id
      FROM unnest(${ids}::text[], ${emails}::text[]) AS v(id, e) JOIN persons p ON lower(p.email) = lower(v.e)
      WHERE r.connection_id = ${ctx.connectionId} AND r.external_id = v.id`.execute(trx);
    return;
  }
  for (const { id, email, name, bound: isBound } of links) {
    if (!isBound) {
      await sql`UPDATE persons p SET email = ${email}, updated_at = now() -- wall-clock: an audit stamp
      FROM reps r
      WHERE r.connection_id = ${ctx.connectionId} AND r.external_id = ${id} AND p.id = r.person_id
        AND lower(p.email) <> lower(${email})
        AND NOT EXISTS (SELECT 1 FROM persons o WHERE lower(o.email) = lower(${email}))
        AND NOT EXISTS (SELECT 1 FROM reps s WHERE s.person_id = p.id AND NOT s.is_deleted
          AND NOT (s.connection_id = r.connection_id AND s.external_id = r.external_id)
          AND lower(s.email) = lower(p.email))`.execute(trx);
    }
    await sql`INSERT INTO persons (email, name) VALUES (${email}, ${name})
      ${PERSON_FOLLOWS_NAME}`.execute(trx);
    await sql`UPDATE reps SET person_id = (SELECT id FROM persons WHERE lower(email) = lower(${email}))
      WHERE connection_id = ${ctx.connectionId} AND external_id = ${id}`.execute(trx);
  }
}

/**
 * fx_rates: dated ranges keyed by (connection, source, currency, valid_from), with no hash or deleted flag. A
 * stored range's hash is worked out from its columns as the normalizer's row has them; a deleted range is removed;
 * any change raises the rates-changed flag, since a rate moves every converted figure.
 */
const fxRatesTable: TableStrategy = {
  checks: NO_CHECKS,
  keepsStamp: false,

  async load(trx, ctx, ids) {
    if (ids.length === 0) return new Map();
    const rates = await trx
      .selectFrom('fx_rates')
      .select([
        'external_id',
        'currency',
        'rate',
        sql<string>`valid_from::text`.as('valid_from'),
        sql<string | null>`valid_to::text`.as('valid_to'),
        'source',
      ])
      .where('connection_id', '=', ctx.connectionId)
      .where('external_id', 'in', [...ids])
      .execute();
    return new Map(
      rates.map((r) => {
        const { external_id, ...row } = r;
        return [external_id, { external_id, content_hash: rowHash(row), is_deleted: false, owner: null, day: null }];
      }),
    );
  },

  async write(trx, ctx, items) {
    for (const { rec } of items) {
      const row = rec.row as FxRateRow;
      await trx
        .insertInto('fx_rates')
        .values({
          connection_id: ctx.connectionId,
          external_id: rec.externalId,
          source_modified_at: rec.sourceModifiedAt,
          ...row,
        })
        .onConflict((oc) =>
          oc.columns(['connection_id', 'source', 'currency', 'valid_from']).doUpdateSet({
            external_id: rec.externalId,
            rate: row.rate,
            valid_to: row.valid_to,
            source_modified_at: rec.sourceModifiedAt,
            synced_at: new Date(), // wall-clock: an audit stamp
          }),
        )
        .execute();
    }
  },

  async restamp() {},

  // No formula fields feed a rate.
  async patch() {
    return [];
  },

  async markDeleted(trx, ctx, filter) {
    let q = trx.deleteFrom('fx_rates').where('connection_id', '=', ctx.connectionId);
    if (ctx.stream.scope) q = q.where(sql.ref(ctx.stream.scope.column), '=', ctx.stream.scope.value);
    if (filter.ids) q = q.where(sql<boolean>`external_id = ANY(${[...filter.ids]}::text[])`);
    if (filter.notIn) q = q.where(sql<boolean>`NOT (external_id = ANY(${[...filter.notIn]}::text[]))`);
    if (filter.notSwept) q = q.where(unswept('fx_rates', ctx));
    const rows = await q.returning('external_id').execute();
    // A synced range has its external id (only a rate file's rows have none, and they are not this stream's).
    return rows.map((r) => ({ externalId: r.external_id as string, change: 'deleted', owners: [], days: [] }));
  },

  async afterChanges(trx, changes) {
    if (changes.length > 0) await raiseRatesChanged(trx);
  },
};

const STRATEGIES: Readonly<Record<WarehouseTable, TableStrategy>> = {
  reps: hashedTable('reps', { derived: { rep_quota_carrying: 'quota_carrying' }, afterWrite: linkPersons }),
  crm_roles: hashedTable('crm_roles'),
  deals: hashedTable('deals', { derived: { deal_product_line: 'product_line' }, checks: MONEY_OF_A_REP }),
  deal_stage_history: hashedTable('deal_stage_history'),
  deal_line_items: hashedTable('deal_line_items'),
  deal_splits: hashedTable('deal_splits'),
  activities: hashedTable('activities'),
  leads: hashedTable('leads'),
  quotas: hashedTable('quotas', { extra: { source: 'crm' }, partialKey: true, checks: MONEY_OF_A_REP }),
  crm_fiscal_periods: hashedTable('crm_fiscal_periods'),
  fx_rates: fxRatesTable,
};

/** The strategy of the table a stream fills. */
export function tableStrategy(table: WarehouseTable): TableStrategy {
  return STRATEGIES[table];
}

/** The sanity checks of a table by name (none for a name that is no synced table). */
export function sanityChecksOf(table: string): SanityChecks {
  return Object.hasOwn(STRATEGIES, table) ? STRATEGIES[table as WarehouseTable].checks : NO_CHECKS;
}
