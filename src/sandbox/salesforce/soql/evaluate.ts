/**
 * Runs a parsed SOQL query against the sandbox store and shapes rows as the REST API returns them: each record has
 * `attributes: { type, url }`, fields in SELECT order with the schema's casing, and relationship fields nested
 * (`Owner: { attributes, Email }`, or `Owner: null` when the lookup is empty).
 *
 * Semantics kept from Salesforce: two-valued logic (`Field != 'x'` and `NOT IN` match rows where Field is null;
 * `<`/`>` never match null), case-insensitive `=`/`LIKE`/`IN` and sorting on text, nulls first unless `NULLS LAST`,
 * 15- and 18-character Ids compare equal. Simplifications: date literals are whole UTC days of the sandbox clock
 * (Salesforce uses the user's time zone); ties in ORDER BY keep insertion order (Salesforce promises no order).
 */
import {
  type FieldDef,
  type FieldValue,
  findField,
  findRelationship,
  findSObject,
  type SObjectDef,
  type SRecord,
  sobjectByKeyPrefix,
} from '../schema.ts';
import type { SalesforceStore } from '../store.ts';
import { fieldValue, formatSfDateTime, parseSfDateTime } from '../store.ts';
import { rowColumn, SoqlError } from './lexer.ts';
import { type Condition, type FieldPath, type Literal, parseSoql, type SoqlQuery } from './parser.ts';

export interface QueryOptions {
  /** queryAll: include rows in the recycle bin (IsDeleted = true). */
  includeDeleted: boolean;
  /** For each record's `attributes.url`, e.g. '62.0'. */
  apiVersion: string;
}

export interface QueryAttributes {
  type: string;
  url: string;
}

/** A record as the REST API serialises it. */
export interface ShapedRecord {
  attributes: QueryAttributes;
  [field: string]: unknown;
}

export interface QueryResult {
  object: string;
  /** True for `SELECT COUNT()`: no records, the count is totalSize. */
  countOnly: boolean;
  totalSize: number;
  records: ShapedRecord[];
}

/** A validated field path: the lookups to follow, then the leaf field. */
interface ResolvedPath {
  hops: Array<{ ref: FieldDef; target: SObjectDef }>;
  leaf: FieldDef;
  /** Output key names with schema casing: relationship names, then the leaf field name. */
  keys: string[];
}

/** Parses, validates against the schema and runs `soql`. Throws SoqlError for what Salesforce answers 400 to. */
export function runQuery(store: SalesforceStore, soql: string, options: QueryOptions): QueryResult {
  // The query is validated and run synchronously, so the store whose hidden objects and fields the path checks
  // consult can be held here for its duration instead of threading it through every compile step.
  apiStore = store;
  try {
    return runQueryOn(store, soql, options);
  } finally {
    apiStore = null;
  }
}

let apiStore: SalesforceStore | null = null;

/** An object the schema has and this org's API shows. */
function visibleSObject(name: string): SObjectDef | undefined {
  const obj = findSObject(name);
  return obj && (apiStore?.apiHasObject(obj.name) ?? true) ? obj : undefined;
}

function runQueryOn(store: SalesforceStore, soql: string, options: QueryOptions): QueryResult {
  const { obj, select, rows, count, ctx } = matchRows(store, soql, options.includeDeleted);
  if (!select) return { object: obj.name, countOnly: true, totalSize: count, records: [] };
  const records = rows.map((r) => shape(ctx, obj, r, select, options.apiVersion));
  return { object: obj.name, countOnly: false, totalSize: records.length, records };
}

/** A query's matching rows, unshaped, with how to read each selected column of a row (the Bulk API's CSV). */
export interface RowSelection {
  object: string;
  /** The parsed query, for what the Bulk API refuses (COUNT(), OFFSET). */
  query: SoqlQuery;
  /** Column headers: the field paths with schema casing (`Owner.Email`); empty for `SELECT COUNT()`. */
  columns: string[];
  /** How many rows matched. */
  size: number;
  /**
   * Matching row `k` as it was when the query ran: the store's own row object (which the served API replaces
   * rather than changes), or for a lazy table's untouched row the row made again from its index.
   */
  rowAt(k: number): SRecord;
  /** The selected values of one row, in column order; null where a lookup on the path is empty. */
  values(row: SRecord): FieldValue[];
}

/**
 * Parses, validates and runs `soql` like `runQuery`, returning the matching rows instead of shaped records. Without
 * ORDER BY, rows of a lazy table are held by index, so a query over millions of them holds numbers, not rows.
 */
export function selectRows(store: SalesforceStore, soql: string, options: { includeDeleted: boolean }): RowSelection {
  apiStore = store;
  try {
    const { q, obj, select, rows, refs, ctx } = matchRows(store, soql, options.includeDeleted, true);
    const paths = select ?? [];
    const type = obj.name;
    return {
      object: type,
      query: q,
      columns: paths.map((p) => p.keys.join('.')),
      size: refs ? refs.length : rows.length,
      rowAt: refs ? (k) => store.deref(type, refs[k] as number | SRecord) : (k) => rows[k] as SRecord,
      values: (row) => paths.map((p) => valueAt(ctx, row, p)),
    };
  } finally {
    apiStore = null;
  }
}

function matchRows(
  store: SalesforceStore,
  soql: string,
  includeDeleted: boolean,
  byRef = false,
): {
  q: SoqlQuery;
  obj: SObjectDef;
  select: ResolvedPath[] | null;
  rows: SRecord[];
  refs: Array<number | SRecord> | null;
  /** How many rows matched (within OFFSET and LIMIT). */
  count: number;
  ctx: Ctx;
} {
  const q = parseSoql(soql);
  const obj = visibleSObject(q.object.name);
  if (!obj?.queryable) {
    throw new SoqlError(
      'INVALID_TYPE',
      `${echo(soql, q.object.pos)}sObject type '${q.object.name}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`,
    );
  }
  const select = q.fields?.map((p) => resolvePath(soql, obj, p)) ?? null;
  if (select) {
    const seen = new Set<string>();
    for (const [i, r] of select.entries()) {
      const k = r.keys.join('.').toLowerCase();
      if (seen.has(k)) {
        throw new SoqlError(
          'MALFORMED_QUERY',
          `${echo(soql, q.fields![i]!.pos)}duplicate field selected: ${r.keys.join('.')}`,
        );
      }
      seen.add(k);
    }
  }
  const now = store.now();
  const where = q.where ? compileCondition(soql, obj, q.where, now) : null;
  const order = q.orderBy.map((o) => ({ path: resolvePath(soql, obj, o.field), desc: o.desc, nullsLast: o.nullsLast }));

  const ctx: Ctx = { store, includeDeleted };
  const offset = q.offset ?? 0;
  const end = q.limit === null ? undefined : offset + q.limit;
  if (!select && !where && !byRef) {
    // `SELECT COUNT()` with no condition: the store's count (a lazy table makes no row for it); the order changes
    // no count.
    const n = store.count(obj.name, { includeDeleted });
    const count = Math.max(0, Math.min(n, end ?? n) - offset);
    return { q, obj, select, rows: [], refs: null, count, ctx };
  }
  if (byRef && order.length === 0) {
    let refs: Array<number | SRecord> = [];
    // A condition on fields a lazy table's made rows never carry (the sync's `Quota_Alert_Key__c = null` on Task)
    // answers the same for every untouched made row: the table asks it once instead of making every row.
    const reads = q.where ? ownFieldsRead(soql, obj, q.where) : null;
    const blind = where && reads ? store.refsBlindTo(obj.name, { includeDeleted }, reads, (r) => where(ctx, r)) : null;
    if (blind) {
      refs = blind;
    } else if (where) {
      for (const [r, ref] of store.scanRefs(obj.name, { includeDeleted })) if (where(ctx, r)) refs.push(ref);
    } else {
      // Every row matches: a lazy table's untouched rows are listed by index without being made.
      for (const ref of store.refs(obj.name, { includeDeleted })) refs.push(ref);
    }
    if (offset > 0 || end !== undefined) refs = refs.slice(offset, end);
    return { q, obj, select, rows: [], refs, count: refs.length, ctx };
  }
  // Rows are the store's own (not copies); only the selected fields of the returned page are copied out.
  let rows: SRecord[] = [];
  for (const r of store.scan(obj.name, { includeDeleted })) {
    if (!where || where(ctx, r)) rows.push(r);
  }
  if (order.length > 0) {
    const keyed = rows.map((r) => ({ r, k: order.map((o) => sortKey(valueAt(ctx, r, o.path), o.path.leaf)) }));
    keyed.sort((a, b) => {
      for (const [i, o] of order.entries()) {
        const c = compareForSort(a.k[i] ?? null, b.k[i] ?? null, o.desc, o.nullsLast);
        if (c !== 0) return c;
      }
      return 0;
    });
    rows = keyed.map((x) => x.r);
  }
  if (offset > 0 || end !== undefined) rows = rows.slice(offset, end);
  return { q, obj, select, rows, refs: null, count: rows.length, ctx };
}

interface Ctx {
  store: SalesforceStore;
  includeDeleted: boolean;
}

function echo(soql: string, pos: number): string {
  return `\n${soql}\n${' '.repeat(Math.min(pos, soql.length))}^\nERROR at ${rowColumn(soql, pos)}\n`;
}

function resolvePath(soql: string, root: SObjectDef, path: FieldPath): ResolvedPath {
  let obj = root;
  const hops: ResolvedPath['hops'] = [];
  const keys: string[] = [];
  // `Opportunity.Amount` from Opportunity is allowed: a leading object name is dropped.
  const parts =
    path.parts.length > 1 && path.parts[0]!.toLowerCase() === root.name.toLowerCase()
      ? path.parts.slice(1)
      : path.parts;
  for (const [i, part] of parts.entries()) {
    if (i === parts.length - 1) {
      const found = findField(obj, part);
      const leaf = found && (apiStore?.apiHasField(obj.name, found.name) ?? true) ? found : undefined;
      if (!leaf) {
        throw new SoqlError(
          'INVALID_FIELD',
          `${echo(soql, path.pos)}No such column '${part}' on entity '${obj.name}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`,
        );
      }
      keys.push(leaf.name);
      return { hops, leaf, keys };
    }
    const ref = findRelationship(obj, part);
    const target = ref?.referenceTo?.[0] ? visibleSObject(ref.referenceTo[0]) : undefined;
    if (!ref || !target || !(apiStore?.apiHasField(obj.name, ref.name) ?? true)) {
      throw new SoqlError(
        'INVALID_FIELD',
        `${echo(soql, path.pos)}Didn't understand relationship '${part}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.`,
      );
    }
    hops.push({ ref, target });
    keys.push(ref.relationshipName!);
    obj = target;
  }
  throw new SoqlError('MALFORMED_QUERY', `${echo(soql, path.pos)}empty field path`);
}

/** The parent row a lookup points at, typed by the Id's key prefix (so polymorphic lookups work). */
function follow(ctx: Ctx, row: SRecord, ref: FieldDef): { row: SRecord; type: string } | null {
  const id = row[ref.name];
  if (typeof id !== 'string') return null;
  const type = sobjectByKeyPrefix(id.slice(0, 3))?.name;
  if (!type || !ref.referenceTo?.includes(type)) return null;
  const parent = ctx.store.peek(type, id, { includeDeleted: ctx.includeDeleted });
  return parent ? { row: parent, type } : null;
}

function valueAt(ctx: Ctx, row: SRecord, path: ResolvedPath): FieldValue {
  let cur: SRecord | null = row;
  for (const hop of path.hops) {
    cur = cur ? (follow(ctx, cur, hop.ref)?.row ?? null) : null;
  }
  return cur ? fieldValue(path.leaf, cur) : null;
}

function attributes(type: string, id: FieldValue, apiVersion: string): QueryAttributes {
  return { type, url: `/services/data/v${apiVersion}/sobjects/${type}/${String(id)}` };
}

function shape(ctx: Ctx, obj: SObjectDef, row: SRecord, select: ResolvedPath[], apiVersion: string): ShapedRecord {
  const out: ShapedRecord = { attributes: attributes(obj.name, row.Id ?? null, apiVersion) };
  for (const path of select) {
    let target: Record<string, unknown> = out;
    let cur: SRecord | null = row;
    let dead = false;
    for (const hop of path.hops) {
      const key = hop.ref.relationshipName!;
      const parent: { row: SRecord; type: string } | null = cur ? follow(ctx, cur, hop.ref) : null;
      if (!parent) {
        if (!(key in target)) target[key] = null;
        dead = true;
        break;
      }
      let nested = target[key] as Record<string, unknown> | null | undefined;
      if (!nested) {
        nested = { attributes: attributes(parent.type, parent.row.Id ?? null, apiVersion) };
        target[key] = nested;
      }
      target = nested;
      cur = parent.row;
    }
    if (!dead && cur) target[path.leaf.name] = fieldValue(path.leaf, cur);
  }
  return out;
}

// ---- WHERE ----

type Predicate = (ctx: Ctx, row: SRecord) => boolean;

/**
 * The fields a condition reads, when it reads only the row's own stored fields (no lookup, no computed field, no
 * semi-join): then its answer for a row depends on those fields' values alone. Null otherwise.
 */
function ownFieldsRead(soql: string, obj: SObjectDef, c: Condition): string[] | null {
  switch (c.kind) {
    case 'and':
    case 'or': {
      const out: string[] = [];
      for (const item of c.items) {
        const fields = ownFieldsRead(soql, obj, item);
        if (!fields) return null;
        out.push(...fields);
      }
      return out;
    }
    case 'not':
      return ownFieldsRead(soql, obj, c.item);
    case 'like':
    case 'in':
    case 'cmp': {
      const path = resolvePath(soql, obj, c.field);
      return path.hops.length === 0 && !path.leaf.compute ? [path.leaf.name] : null;
    }
    case 'semiJoin':
      return null;
  }
}

const TEXT_TYPES = new Set(['string', 'textarea', 'picklist', 'email', 'phone', 'url', 'id', 'reference']);
const NUMBER_TYPES = new Set(['int', 'double', 'currency', 'percent']);

function compileCondition(soql: string, obj: SObjectDef, c: Condition, now: Date): Predicate {
  switch (c.kind) {
    case 'and': {
      const items = c.items.map((i) => compileCondition(soql, obj, i, now));
      return (ctx, r) => items.every((p) => p(ctx, r));
    }
    case 'or': {
      const items = c.items.map((i) => compileCondition(soql, obj, i, now));
      return (ctx, r) => items.some((p) => p(ctx, r));
    }
    case 'not': {
      const inner = compileCondition(soql, obj, c.item, now);
      return (ctx, r) => !inner(ctx, r);
    }
    case 'like': {
      const path = resolvePath(soql, obj, c.field);
      if (!TEXT_TYPES.has(path.leaf.type)) {
        throw new SoqlError(
          'INVALID_QUERY_FILTER_OPERATOR',
          `${echo(soql, c.field.pos)}invalid operator on ${path.leaf.type} field: LIKE`,
        );
      }
      const re = likeToRegExp(c.pattern);
      return (ctx, r) => {
        const v = valueAt(ctx, r, path);
        return typeof v === 'string' && re.test(v);
      };
    }
    case 'in': {
      const path = resolvePath(soql, obj, c.field);
      const tests = c.values.map((v) => comparator(soql, c.field, path.leaf, '=', v, now));
      return (ctx, r) => {
        const v = valueAt(ctx, r, path);
        const hit = tests.some((t) => t(v));
        return c.negate ? !hit : hit;
      };
    }
    case 'cmp': {
      const path = resolvePath(soql, obj, c.field);
      const test = comparator(soql, c.field, path.leaf, c.op, c.value, now);
      return (ctx, r) => test(valueAt(ctx, r, path));
    }
    case 'semiJoin':
      return compileSemiJoin(soql, obj, c, now);
  }
}

const ID_TYPES = new Set(['id', 'reference']);

/** `Field [NOT] IN (SELECT RefId FROM Obj WHERE ...)`: the inner Ids are collected once per query, on first use. */
function compileSemiJoin(
  soql: string,
  obj: SObjectDef,
  c: Extract<Condition, { kind: 'semiJoin' }>,
  now: Date,
): Predicate {
  const outer = resolvePath(soql, obj, c.field);
  if (!ID_TYPES.has(outer.leaf.type)) {
    throw new SoqlError(
      'MALFORMED_QUERY',
      `${echo(soql, c.field.pos)}Invalid semi join: the field '${outer.leaf.name}' must be an Id or a reference`,
    );
  }
  const innerObj = visibleSObject(c.query.object.name);
  if (!innerObj?.queryable) {
    throw new SoqlError(
      'INVALID_TYPE',
      `${echo(soql, c.query.object.pos)}sObject type '${c.query.object.name}' is not supported.`,
    );
  }
  const selected = c.query.fields![0]!;
  const inner = resolvePath(soql, innerObj, selected);
  if (!ID_TYPES.has(inner.leaf.type)) {
    throw new SoqlError(
      'MALFORMED_QUERY',
      `${echo(soql, selected.pos)}Invalid semi join: the selected field '${inner.leaf.name}' must be an Id or a reference`,
    );
  }
  const where = c.query.where ? compileCondition(soql, innerObj, c.query.where, now) : null;
  let ids: Set<string> | undefined;
  return (ctx, r) => {
    if (!ids) {
      ids = new Set();
      for (const row of ctx.store.scan(innerObj.name, { includeDeleted: false })) {
        if (where && !where(ctx, row)) continue;
        const v = valueAt(ctx, row, inner);
        // 15- and 18-character forms of one Id are equal.
        if (typeof v === 'string') ids.add(v.slice(0, 15));
      }
    }
    const v = valueAt(ctx, r, outer);
    const hit = typeof v === 'string' && ids.has(v.slice(0, 15));
    return c.negate ? !hit : hit;
  };
}

/** `%` any run, `_` one character, `\%` and `\_` literal; case-insensitive like Salesforce. */
export function likeToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern.charAt(i);
    if (ch === '\\' && (pattern.charAt(i + 1) === '%' || pattern.charAt(i + 1) === '_')) {
      re += pattern.charAt(i + 1);
      i++;
    } else if (ch === '%') re += '.*';
    else if (ch === '_') re += '.';
    else re += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'is');
}

const DAY = 86_400_000;

/** [start, end) in ms of a date literal, in whole UTC days of the sandbox clock. */
function dateLiteralRange(lit: { name: string; n: number | null }, now: Date): [number, number] {
  const today = Math.floor(now.getTime() / DAY) * DAY;
  const n = lit.n ?? 0;
  switch (lit.name) {
    case 'today':
      return [today, today + DAY];
    case 'yesterday':
      return [today - DAY, today];
    case 'tomorrow':
      return [today + DAY, today + 2 * DAY];
    case 'last_n_days':
      // Salesforce: starts n days before today at 00:00 and runs through the end of today.
      return [today - n * DAY, today + DAY];
    case 'next_n_days':
      return [today + DAY, today + (n + 1) * DAY];
    default: // n_days_ago: that one day
      return [today - n * DAY, today - (n - 1) * DAY];
  }
}

function typeMismatch(soql: string, field: FieldPath, leaf: FieldDef, expected: string): SoqlError {
  return new SoqlError(
    'INVALID_FIELD',
    `${echo(soql, field.pos)}value of filter criterion for field '${leaf.name}' must be of type ${expected} and should not be enclosed in quotes`,
  );
}

/** A test on one field value for `field op literal`, with the literal checked against the field's type. */
function comparator(
  soql: string,
  field: FieldPath,
  leaf: FieldDef,
  op: '=' | '!=' | '<' | '<=' | '>' | '>=',
  lit: Literal,
  now: Date,
): (v: FieldValue) => boolean {
  if (lit.type === 'null') {
    if (op === '=') return (v) => v === null;
    if (op === '!=') return (v) => v !== null;
    return () => false;
  }
  const t = leaf.type;
  let cmp: (v: FieldValue) => number | null; // <0, 0, >0, or null when v is null
  if (t === 'datetime' || t === 'date') {
    if (lit.type === 'dateLiteral') {
      const [startMs, endMs] = dateLiteralRange(lit, now);
      // Bounds in the stored form, so rows compare as strings (see below).
      const form = (ms: number) =>
        t === 'date' ? new Date(ms).toISOString().slice(0, 10) : formatSfDateTime(new Date(ms));
      const start = form(startMs);
      const end = form(endMs);
      // A date literal is a range: = means inside it, < before its start, > at or after its end.
      const inRange = (x: string) => x >= start && x < end;
      const tests: Record<typeof op, (x: string) => boolean> = {
        '=': inRange,
        '!=': (x) => !inRange(x),
        '<': (x) => x < start,
        '<=': (x) => x < end,
        '>': (x) => x >= end,
        '>=': (x) => x >= start,
      };
      return (v) => (typeof v === 'string' ? tests[op](v) : op === '!=');
    }
    if (t === 'datetime' && lit.type !== 'datetime') throw typeMismatch(soql, field, leaf, 'dateTime');
    if (t === 'date' && lit.type !== 'date') throw typeMismatch(soql, field, leaf, 'date');
    // Stored dates and datetimes share one fixed-width UTC form, so comparing strings compares instants.
    const target = t === 'date' ? String(lit.value) : formatSfDateTime(parseSfDateTime(String(lit.value)));
    cmp = (v) => (typeof v === 'string' ? compareText(v, target) : null);
  } else if (NUMBER_TYPES.has(t)) {
    if (lit.type !== 'number') throw typeMismatch(soql, field, leaf, 'number');
    cmp = (v) => (typeof v === 'number' ? v - lit.value : null);
  } else if (t === 'boolean') {
    if (lit.type !== 'boolean') throw typeMismatch(soql, field, leaf, 'boolean');
    cmp = (v) => (typeof v === 'boolean' ? Number(v) - Number(lit.value) : null);
  } else {
    if (lit.type !== 'string') throw typeMismatch(soql, field, leaf, 'string');
    if (t === 'id' || t === 'reference') {
      // 15- and 18-character forms of one Id are equal; Ids are otherwise case-sensitive.
      const want = lit.value.slice(0, 15);
      cmp = (v) => (typeof v === 'string' ? compareText(v.slice(0, 15), want) : null);
    } else {
      const want = lit.value.toLowerCase();
      cmp = (v) => (typeof v === 'string' ? compareText(v.toLowerCase(), want) : null);
    }
  }
  return (v) => {
    const c = cmp(v);
    if (c === null) return op === '!=';
    switch (op) {
      case '=':
        return c === 0;
      case '!=':
        return c !== 0;
      case '<':
        return c < 0;
      case '<=':
        return c <= 0;
      case '>':
        return c > 0;
      default:
        return c >= 0;
    }
  };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A value prepared once for sorting: text lower-cased (sorting is case-insensitive) except Ids and datetimes. */
function sortKey(v: FieldValue, leaf: FieldDef): FieldValue {
  if (typeof v !== 'string') return v;
  return leaf.type === 'id' || leaf.type === 'reference' || leaf.type === 'datetime' || leaf.type === 'date'
    ? v
    : v.toLowerCase();
}

function compareForSort(a: FieldValue, b: FieldValue, desc: boolean, nullsLast: boolean): number {
  if (a === null || b === null) {
    if (a === b) return 0;
    // Where nulls go does not flip with DESC.
    return (a === null ? -1 : 1) * (nullsLast ? -1 : 1);
  }
  let c: number;
  if (typeof a === 'number' && typeof b === 'number') c = a - b;
  else if (typeof a === 'boolean' && typeof b === 'boolean') c = Number(a) - Number(b);
  else c = compareText(String(a), String(b));
  return desc ? -c : c;
}
