/**
 * The sandbox org's in-memory record store: rows per object, a settable clock, and the delete and update logs that
 * the replication endpoints (`deleted/`, `updated/`) read.
 *
 * What the store maintains by itself, as Salesforce does:
 * - Id (a valid 18-character Id with the object's key prefix), CreatedDate, CreatedById, LastModifiedDate,
 *   LastModifiedById, SystemModstamp, IsDeleted (on objects that have it).
 * - Derived and formula fields (User.Name, Opportunity.IsClosed/IsWon, Expected_Revenue_Formula__c ...), computed
 *   on read, so a formula never moves SystemModstamp.
 * - OpportunityHistory: inserting an Opportunity, or changing its StageName, Amount, CloseDate, Probability or
 *   ForecastCategoryName, adds a history row stamped with the same time (turn off with `opportunityHistory: false`).
 * - The Organization row (Id = `orgId`), an admin user (`adminUserId`, the default author of writes) and the
 *   integration user (`integrationUserId`, the author of writes made through the API).
 *
 * Simplification: deletes do not cascade (deleting an Opportunity leaves its line items, splits and history).
 */
import { now } from '../../clock.ts';
import { AppError } from '../../errors.ts';
import { type FieldDef, type FieldValue, findField, SOBJECTS, type SObjectDef, type SRecord } from './schema.ts';

export interface WriteOptions {
  /**
   * The modification time to record instead of the clock's now; a time in the past models a transaction that
   * committed late (its SystemModstamp is older than records already visible).
   */
  stamp?: Date;
  /** The User Id written into CreatedById/LastModifiedById; defaults to the admin user. */
  by?: string;
}

/** One write's time (as the logs keep it and as rows store it) and author. */
interface Write {
  at: Date;
  stamp: string;
  by: string;
}

export interface DeletedEntry {
  id: string;
  deletedDate: Date;
}

export interface UpdatedEntry {
  id: string;
  at: Date;
}

export interface StoreOptions {
  /** Seeds the org id and the Id counter's starting point, so two stores with the same seed issue the same Ids. */
  seed?: number;
  /** The initial clock; defaults to the real time. */
  now?: Date;
  orgName?: string;
  defaultCurrency?: string;
  fiscalYearStartMonth?: number;
  /** Write OpportunityHistory rows on Opportunity changes (default true). */
  opportunityHistory?: boolean;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const CHECKSUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
const HISTORY_FIELDS = ['StageName', 'Amount', 'CloseDate', 'Probability', 'ForecastCategoryName'] as const;

/** The 3-character suffix that turns a 15-character Id into its case-insensitive 18-character form. */
export function idChecksum(id15: string): string {
  let out = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const c = id15.charAt(chunk * 5 + i);
      if (c >= 'A' && c <= 'Z') bits |= 1 << i;
    }
    out += CHECKSUM.charAt(bits);
  }
  return out;
}

/** Whether `s` looks like a Salesforce Id (15 or 18 alphanumerics, with a correct checksum when 18). */
export function isSalesforceId(s: string): boolean {
  if (/^[0-9A-Za-z]{15}$/.test(s)) return true;
  return /^[0-9A-Za-z]{18}$/.test(s) && idChecksum(s.slice(0, 15)) === s.slice(15);
}

/** `2026-01-01T00:00:00.000+0000`, the form Salesforce's REST API returns datetimes in. */
export function formatSfDateTime(d: Date): string {
  const ms = d.getTime();
  // Consecutive writes often share a stamp (an opportunity, its line items and its first history row; a task and
  // its completion time), so the last one formatted is kept.
  if (ms === lastFormatted.ms) return lastFormatted.text;
  // Outside 1970..9999 (and for an invalid date, which throws) toISOString's own form is the reference.
  if (!(ms >= 0 && ms < YEAR_10000_MS)) return [d.toISOString().slice(0, -1), '+0000'].join('');
  // toISOString is most of the cost of a stamp, and a load writes a million stamps over a few hundred days: the
  // day's `YYYY-MM-DDT` is kept, the time of day written from tables.
  const day = Math.floor(ms / DAY_MS);
  let prefix = dayPrefixes.get(day);
  if (prefix === undefined) {
    prefix = d.toISOString().slice(0, 11);
    if (dayPrefixes.size < 100_000) dayPrefixes.set(day, prefix);
  }
  const inDay = ms - day * DAY_MS;
  const seconds = Math.floor(inDay / 1000);
  // Joined rather than concatenated: a join gives one flat string, where + keeps a rope of the parts alive
  // (several heap objects instead of one, for every stamp of every row).
  const text = [
    prefix,
    TWO_DIGITS[Math.floor(seconds / 3600)],
    ':',
    TWO_DIGITS[Math.floor(seconds / 60) % 60],
    ':',
    TWO_DIGITS[seconds % 60],
    '.',
    THREE_DIGITS[inDay % 1000],
    '+0000',
  ].join('');
  lastFormatted.ms = ms;
  lastFormatted.text = text;
  return text;
}

const lastFormatted = { ms: Number.NaN, text: '' };
const DAY_MS = 86_400_000;
const YEAR_10000_MS = Date.UTC(10000, 0, 1);
/** `YYYY-MM-DDT` by days since 1970-01-01 (stamps cluster on the days a process writes; capped for odd queries). */
const dayPrefixes = new Map<number, string>();
const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
const THREE_DIGITS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/** Parses a datetime in any ISO-8601 form Salesforce accepts (`Z`, `+0000`, `+00:00`); NaN date when invalid. */
export function parseSfDateTime(s: string): Date {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?)(Z|[+-]\d{2}:?\d{2})$/.exec(s);
  if (!m) return new Date(Number.NaN);
  const zone = m[2] === 'Z' ? 'Z' : `${m[2]!.slice(0, 3)}:${m[2]!.slice(-2)}`;
  return new Date(`${m[1]}${zone}`);
}

function toBase62(n: number, width: number): string {
  let s = '';
  let v = n;
  while (v > 0) {
    s = BASE62.charAt(v % 62) + s;
    v = Math.floor(v / 62);
  }
  return s.padStart(width, '0');
}

function invalid(message: string, where: string, statusCode: string, fields: string[] = []): AppError {
  return new AppError('RECORD_INVALID', message, { where, details: { statusCode, fields } });
}

function badValue(obj: SObjectDef, f: FieldDef, value: unknown, where: string, what: string): AppError {
  return invalid(
    `${obj.name}.${f.name}: ${what}, got ${JSON.stringify(value)}`,
    where,
    'INVALID_TYPE_ON_FIELD_IN_RECORD',
    [f.name],
  );
}

/**
 * Checks and normalizes one value for `f`: numbers for numeric types, `YYYY-MM-DD` for dates, datetimes rewritten
 * to Salesforce's form. Throws RECORD_INVALID with `details.statusCode` set as Salesforce would name the problem.
 */
export function normalizeValue(obj: SObjectDef, f: FieldDef, value: unknown, where: string): FieldValue {
  if (value === null || value === undefined) return null;
  // No closure per call for the error: this runs for every field of every row a populate writes, and the names
  // tsx keeps on closures cost a defineProperty each.
  switch (f.type) {
    case 'boolean':
      if (typeof value !== 'boolean') throw badValue(obj, f, value, where, 'expected a boolean');
      return value;
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value))
        throw badValue(obj, f, value, where, 'expected an integer');
      return value;
    case 'double':
    case 'currency':
    case 'percent':
      if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
      if (typeof value !== 'number' || !Number.isFinite(value))
        throw badValue(obj, f, value, where, 'expected a number');
      return value;
    case 'date':
      if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(value)))
        throw badValue(obj, f, value, where, 'expected a date as YYYY-MM-DD');
      return value;
    case 'datetime': {
      const d = value instanceof Date ? value : typeof value === 'string' ? parseSfDateTime(value) : null;
      if (!d || Number.isNaN(d.getTime())) throw badValue(obj, f, value, where, 'expected an ISO-8601 datetime');
      return formatSfDateTime(d);
    }
    case 'id':
    case 'reference':
      if (typeof value !== 'string' || !isSalesforceId(value))
        throw badValue(obj, f, value, where, 'expected a Salesforce Id');
      return value.length === 15 ? value + idChecksum(value) : value;
    default:
      if (typeof value !== 'string') throw badValue(obj, f, value, where, 'expected a string');
      if (f.type === 'picklist' || f.length === undefined) return value;
      if (value.length > f.length)
        throw invalid(
          `${obj.name}.${f.name}: value is ${value.length} characters, the limit is ${f.length}`,
          where,
          'STRING_TOO_LONG',
          [f.name],
        );
      return value;
  }
}

interface DefMeta {
  lastModified: boolean;
  unique: FieldDef[];
  /** Field by the exact spelling a write used (the case-insensitive lookup lowercases every key of every write). */
  byKey: Map<string, FieldDef | undefined>;
}

const metaCache = new WeakMap<SObjectDef, DefMeta>();

function meta(def: SObjectDef): DefMeta {
  let m = metaCache.get(def);
  if (!m) {
    m = {
      lastModified: findField(def, 'LastModifiedDate') !== undefined,
      unique: def.fields.filter((f) => f.unique),
      byKey: new Map(),
    };
    metaCache.set(def, m);
  }
  return m;
}

/**
 * `findField`, remembered per spelling (an API client's mistyped keys are few). Takes the object's `byKey` map
 * rather than looking it up, and tries `get` before `has`: both run once per field of every row a populate writes.
 */
function fieldForKey(def: SObjectDef, byKey: DefMeta['byKey'], key: string): FieldDef | undefined {
  const known = byKey.get(key);
  if (known !== undefined || byKey.has(key)) return known;
  const f = findField(def, key);
  if (byKey.size < 1000) byKey.set(key, f);
  return f;
}

/** Whether the object has LastModifiedDate/LastModifiedById (OpportunityHistory does not). */
const hasLastModified = (def: SObjectDef): boolean => meta(def).lastModified;
const uniqueFields = (def: SObjectDef): FieldDef[] => meta(def).unique;

/** A field's value in a stored row: computed for derived and formula fields, null when absent. */
export function fieldValue(f: FieldDef, row: SRecord): FieldValue {
  return f.compute ? f.compute(row) : (row[f.name] ?? null);
}

/** The in-memory org. One instance per sandbox; all methods are synchronous. */
/** A table whose rows can be referred to by index (the large org's lazy tables). */
export interface IndexedTable {
  /** Every row with its reference: an index for a made row, the row itself for one the API wrote. */
  refEntries(): IterableIterator<[SRecord, number | SRecord]>;
  /** The row made for index `i`, whatever the API wrote since. */
  rowAt(i: number): SRecord | undefined;
  /** The references of `refEntries` (of the rows not in the recycle bin unless `includeDeleted`) alone. */
  refs(includeDeleted: boolean): IterableIterator<number | SRecord>;
  /** How many rows `values()` yields (those not in the recycle bin unless `includeDeleted`). */
  liveCount(includeDeleted: boolean): number;
  /**
   * The references of the rows `test` keeps, when the table can tell without making its rows: `test` reads only
   * the fields `reads`, and no made row carries one of them. Null when it cannot.
   */
  refsBlindTo(
    includeDeleted: boolean,
    reads: readonly string[],
    test: (row: SRecord) => boolean,
  ): Array<number | SRecord> | null;
}

export class SalesforceStore {
  readonly orgId: string;
  readonly adminUserId: string;
  readonly integrationUserId: string;
  private clock: number;
  private counter: number;
  private readonly rows = new Map<string, Map<string, SRecord>>();
  private readonly deleted = new Map<string, DeletedEntry[]>();
  /**
   * Every insert and update per type: Ids and times (epoch ms) in parallel arrays rather than an entry object and
   * a Date each, since a medium org logs close to a million writes and the objects would outlive every scavenge.
   */
  private readonly updated = new Map<string, { ids: string[]; at: number[] }>();
  /** Last values of hard-deleted rows (by Id), for oracles: the API no longer serves them. */
  private readonly graveyard = new Map<string, SRecord>();
  private readonly trackHistory: boolean;
  /** type -> unique field -> value -> Id of the live row holding it (recycle-bin rows release their values). */
  private readonly uniques = new Map<string, Map<string, Map<FieldValue, string>>>();
  /**
   * What the API does not show of this org (see profiles.ts): objects of a feature the org lacks and fields that
   * field-level security hides from the integration user. The rows stay in the store (tests and the oracle can see
   * them); describe, SOQL and record reads answer as if they did not exist.
   */
  private readonly hiddenObjects = new Set<string>();
  private readonly hiddenFields = new Map<string, Set<string>>();

  constructor(options: StoreOptions = {}) {
    const seed = options.seed ?? 1;
    this.clock = (options.now ?? now()).getTime();
    this.trackHistory = options.opportunityHistory ?? true;
    // Start the counter somewhere seed-dependent so Ids of different seeds differ, yet stay deterministic.
    this.counter = ((seed * 7919) % 100_000) * 1000;
    for (const name of Object.keys(SOBJECTS)) {
      this.rows.set(name, new Map());
      this.deleted.set(name, []);
      this.updated.set(name, { ids: [], at: [] });
    }
    this.orgId = this.newId('00D');
    this.adminUserId = this.newId('005');
    this.integrationUserId = this.newId('005');
    const stamp = formatSfDateTime(this.now());
    this.rows.get('Organization')!.set(this.orgId, {
      Id: this.orgId,
      Name: options.orgName ?? 'Sandbox Sales Org',
      IsSandbox: true,
      DefaultCurrencyIsoCode: options.defaultCurrency ?? 'USD',
      FiscalYearStartMonth: options.fiscalYearStartMonth ?? 1,
      OrganizationType: 'Enterprise Edition',
      InstanceName: 'SANDBOX1',
      TimeZoneSidKey: 'America/New_York',
      CreatedDate: stamp,
      CreatedById: this.adminUserId,
      LastModifiedDate: stamp,
      LastModifiedById: this.adminUserId,
      SystemModstamp: stamp,
    });
    const users: Array<[string, string, string]> = [
      [this.adminUserId, 'Admin', 'admin'],
      [this.integrationUserId, 'Integration', 'integration'],
    ];
    for (const [id, last, alias] of users) {
      this.rows.get('User')!.set(id, {
        Id: id,
        Username: `${alias}@sandbox-${this.orgId.toLowerCase()}.example.com`,
        Email: `${alias}@sandbox.example.com`,
        FirstName: 'Sandbox',
        LastName: last,
        Alias: alias.slice(0, 8),
        IsActive: true,
        UserType: 'Standard',
        TimeZoneSidKey: 'America/New_York',
        DefaultCurrencyIsoCode: options.defaultCurrency ?? 'USD',
        CurrencyIsoCode: options.defaultCurrency ?? 'USD',
        CreatedDate: stamp,
        CreatedById: this.adminUserId,
        LastModifiedDate: stamp,
        LastModifiedById: this.adminUserId,
        SystemModstamp: stamp,
      });
    }
  }

  // ---- clock ----

  now(): Date {
    return new Date(this.clock);
  }

  setNow(d: Date): void {
    this.clock = d.getTime();
  }

  advance(ms: number): void {
    this.clock += ms;
  }

  // ---- metadata ----

  /** Makes an object invisible to the API (a feature this org does not have). */
  hideObject(type: string): void {
    this.hiddenObjects.add(this.describe(type).name);
  }

  /** Makes a field invisible to the API (field-level security, or a field this org's edition lacks). */
  hideField(type: string, field: string): void {
    const def = this.describe(type);
    const f = findField(def, field);
    if (!f) throw new AppError('INTERNAL', `sandbox store: ${type} has no field ${field}`, { where: field });
    const set = this.hiddenFields.get(def.name) ?? new Set<string>();
    set.add(f.name.toLowerCase());
    this.hiddenFields.set(def.name, set);
  }

  /** Whether the API shows `type` at all. */
  apiHasObject(type: string): boolean {
    return !this.hiddenObjects.has(type);
  }

  /** Whether the API shows `field` of `type` (both as the schema spells them, any case for the field). */
  apiHasField(type: string, field: string): boolean {
    return !this.hiddenObjects.has(type) && !(this.hiddenFields.get(type)?.has(field.toLowerCase()) ?? false);
  }

  /** A row as the API would serve it: without the fields it hides (the row itself when it hides none). */
  apiView(type: string, row: SRecord): SRecord {
    const hidden = this.hiddenFields.get(type);
    if (!hidden || hidden.size === 0) return row;
    const out: SRecord = {};
    for (const [k, v] of Object.entries(row)) if (!hidden.has(k.toLowerCase())) out[k] = v;
    return out;
  }

  /** The object definition for `type` (exact API name); throws for an unknown object. */
  describe(type: string): SObjectDef {
    const def = SOBJECTS[type];
    if (!def) throw new AppError('INTERNAL', `sandbox store: no object named "${type}"`, { where: type });
    return def;
  }

  /** A fresh 18-character Id with the given key prefix. */
  newId(keyPrefix: string): string {
    this.counter += 1;
    const id15 = `${keyPrefix}8d0${toBase62(this.counter, 9)}`;
    // One flat string (see formatSfDateTime): an Id lives as long as its row and is referenced from many others.
    return [id15, idChecksum(id15)].join('');
  }

  // ---- writes ----

  /**
   * Inserts a row and returns it as read back (with Id, audit fields and computed fields). Unlike the API, the store
   * accepts read-only fields other than Id, audit fields and computed fields, so the generator can build history.
   */
  insert(type: string, fields: Record<string, unknown>, options: WriteOptions = {}): SRecord {
    const def = this.describe(type);
    return this.materialize(def, this.insertRow(def, fields, this.writeOf(options)));
  }

  /** Changes fields of a live row, bumping LastModifiedDate and SystemModstamp; returns the row as read back. */
  update(type: string, id: string, fields: Record<string, unknown>, options: WriteOptions = {}): SRecord {
    const def = this.describe(type);
    return this.materialize(def, this.updateRow(def, id, fields, this.writeOf(options), false));
  }

  /**
   * Bulk load, for filling the store before it serves anyone (the populate step): `insert` without reading the
   * row back. Returns the new Id. Stamps, logs and OpportunityHistory rows are exactly those `insert` writes.
   */
  load(type: string, fields: Record<string, unknown>, options: WriteOptions = {}): string {
    return String(this.insertRow(this.describe(type), fields, this.writeOf(options)).Id);
  }

  /**
   * Bulk load: `update` without reading the row back, and changing the stored row in place rather than replacing
   * it with a changed copy (a row handed out earlier by `scan` or `peek` changes with it, which is why the
   * served API does not use it). Stamps, logs and OpportunityHistory rows are exactly those `update` writes.
   */
  loadUpdate(type: string, id: string, fields: Record<string, unknown>, options: WriteOptions = {}): void {
    this.updateRow(this.describe(type), id, fields, this.writeOf(options), true);
  }

  /** Moves a row to the recycle bin: IsDeleted true, still returned by queryAll, listed by `deleted/`. */
  softDelete(type: string, id: string, options: WriteOptions = {}): void {
    const def = this.describe(type);
    if (!def.hasIsDeleted) {
      throw invalid(`${type} records cannot be deleted`, id, 'DELETE_FAILED');
    }
    const row = this.rows.get(type)!.get(id);
    if (!row || row.IsDeleted === true) throw invalid(`${type} ${id} does not exist`, id, 'ENTITY_IS_DELETED');
    const at = options.stamp ?? this.now();
    const stamp = formatSfDateTime(at);
    this.rows.get(type)!.set(id, {
      ...row,
      IsDeleted: true,
      SystemModstamp: stamp,
      ...(hasLastModified(def) ? { LastModifiedDate: stamp, LastModifiedById: options.by ?? this.adminUserId } : {}),
    });
    this.index(def, row, null);
    this.deleted.get(type)!.push({ id, deletedDate: at });
  }

  /**
   * Removes a row for good (a delete with the recycle bin emptied, or an object without a recycle bin): gone from
   * queryAll, still listed by `deleted/` with its deletion time.
   */
  hardDelete(type: string, id: string, options: WriteOptions = {}): void {
    this.describe(type);
    const table = this.rows.get(type)!;
    const row = table.get(id);
    if (!row) throw invalid(`${type} ${id} does not exist`, id, 'ENTITY_IS_DELETED');
    table.delete(id);
    this.graveyard.set(id, row);
    if (row.IsDeleted !== true) this.index(this.describe(type), row, null);
    // A row already in the recycle bin was logged when it was soft-deleted.
    if (row.IsDeleted !== true) this.deleted.get(type)!.push({ id, deletedDate: options.stamp ?? this.now() });
  }

  /**
   * Replaces the (empty) table of `type` with one that makes its rows on read (the large org's lazy tables): the
   * store reads and writes a table only through Map's get, set, delete and iteration.
   */
  attachTable(type: string, table: Map<string, SRecord>): void {
    const name = this.describe(type).name;
    if (this.rows.get(name)!.size > 0) {
      throw new AppError('INTERNAL', `cannot attach a table to ${name}: it already has rows`, { where: name });
    }
    this.rows.set(name, table);
  }

  // ---- reads ----

  /** One row as the API would read it, or undefined; deleted rows only with `includeDeleted`. */
  get(type: string, id: string, options: { includeDeleted?: boolean } = {}): SRecord | undefined {
    const def = this.describe(type);
    const row = this.rows.get(type)!.get(id);
    if (!row || (row.IsDeleted === true && !options.includeDeleted)) return undefined;
    return this.materialize(def, row);
  }

  /** Every row of `type` in insertion order; recycle-bin rows only with `includeDeleted`. */
  all(type: string, options: { includeDeleted?: boolean } = {}): SRecord[] {
    const def = this.describe(type);
    const out: SRecord[] = [];
    for (const row of this.rows.get(type)!.values()) {
      if (row.IsDeleted === true && !options.includeDeleted) continue;
      out.push(this.materialize(def, row));
    }
    return out;
  }

  /**
   * The stored rows of `type` without copying or computing derived fields, for the SOQL evaluator's scans. Callers
   * must not modify them; read computed fields with `fieldValue`.
   */
  *scan(type: string, options: { includeDeleted?: boolean } = {}): IterableIterator<SRecord> {
    for (const row of this.rows.get(this.describe(type).name)!.values()) {
      if (row.IsDeleted === true && !options.includeDeleted) continue;
      yield row;
    }
  }

  /**
   * `scan` with a reference to each row that `deref` turns back into the row as it is now: the row itself, or
   * for a lazy table's untouched row its index (so holding millions of matches costs numbers, not rows).
   */
  *scanRefs(type: string, options: { includeDeleted?: boolean } = {}): IterableIterator<[SRecord, number | SRecord]> {
    const table = this.rows.get(this.describe(type).name)! as Map<string, SRecord> & Partial<IndexedTable>;
    if (table.refEntries) {
      for (const [row, ref] of table.refEntries()) {
        if (row.IsDeleted === true && !options.includeDeleted) continue;
        yield [row, ref];
      }
      return;
    }
    for (const row of table.values()) {
      if (row.IsDeleted === true && !options.includeDeleted) continue;
      yield [row, row];
    }
  }

  /**
   * The references `scanRefs` gives, without the rows: for a query without a condition, a lazy table's untouched
   * rows are not made.
   */
  *refs(type: string, options: { includeDeleted?: boolean } = {}): IterableIterator<number | SRecord> {
    const table = this.rows.get(this.describe(type).name)! as Map<string, SRecord> & Partial<IndexedTable>;
    if (table.refs) {
      yield* table.refs(options.includeDeleted === true);
      return;
    }
    for (const [, ref] of this.scanRefs(type, options)) yield ref;
  }

  /** `IndexedTable.refsBlindTo` of a lazy table; null for any other table, or when it cannot tell. */
  refsBlindTo(
    type: string,
    options: { includeDeleted?: boolean },
    reads: readonly string[],
    test: (row: SRecord) => boolean,
  ): Array<number | SRecord> | null {
    const table = this.rows.get(this.describe(type).name)! as Map<string, SRecord> & Partial<IndexedTable>;
    return table.refsBlindTo ? table.refsBlindTo(options.includeDeleted === true, reads, test) : null;
  }

  /** The row a `scanRefs` reference stands for. */
  deref(type: string, ref: number | SRecord): SRecord {
    if (typeof ref !== 'number') return ref;
    const table = this.rows.get(this.describe(type).name)! as Map<string, SRecord> & Partial<IndexedTable>;
    const row = table.rowAt?.(ref);
    if (!row) throw new AppError('INTERNAL', `${type} has no row ${ref}`, { where: type });
    return row;
  }

  /** One stored row without copying (see `scan`), or undefined. */
  peek(type: string, id: string, options: { includeDeleted?: boolean } = {}): SRecord | undefined {
    const row = this.rows.get(this.describe(type).name)!.get(id);
    return !row || (row.IsDeleted === true && !options.includeDeleted) ? undefined : row;
  }

  /** Finds the live row whose field `fieldName` equals `value` (for upserts on an external id). */
  findBy(type: string, fieldName: string, value: FieldValue): SRecord | undefined {
    const def = this.describe(type);
    const f = findField(def, fieldName);
    if (!f) return undefined;
    const indexed = this.uniques.get(def.name)?.get(f.name);
    if (f.unique) {
      const id = indexed?.get(value);
      return id === undefined ? undefined : this.get(type, id);
    }
    for (const row of this.rows.get(type)!.values()) {
      if (row.IsDeleted !== true && row[f.name] === value) return this.materialize(def, row);
    }
    return undefined;
  }

  count(type: string, options: { includeDeleted?: boolean } = {}): number {
    const table = this.rows.get(this.describe(type).name)! as Map<string, SRecord> & Partial<IndexedTable>;
    // A lazy table counts without making its rows.
    if (table.liveCount) return table.liveCount(options.includeDeleted === true);
    let n = 0;
    for (const row of table.values()) {
      if (row.IsDeleted !== true || options.includeDeleted) n++;
    }
    return n;
  }

  /** The last values of a hard-deleted row, as the API read it before it went (for oracles), or undefined. */
  hardDeletedRow(type: string, id: string): SRecord | undefined {
    const row = this.graveyard.get(id);
    return row ? this.materialize(this.describe(type), row) : undefined;
  }

  /** Every deletion of `type`, oldest first. */
  deletedLog(type: string): DeletedEntry[] {
    this.describe(type);
    return [...this.deleted.get(type)!];
  }

  /** Every insert and update of `type` with its modification time, in write order. */
  updatedLog(type: string): UpdatedEntry[] {
    this.describe(type);
    const log = this.updated.get(type)!;
    return log.ids.map((id, i) => ({ id, at: new Date(log.at[i]!) }));
  }

  // ---- internals ----

  private logUpdate(type: string, id: string, at: Date): void {
    const log = this.updated.get(type)!;
    log.ids.push(id);
    log.at.push(at.getTime());
  }

  private writeOf(options: WriteOptions): Write {
    const at = options.stamp ?? this.now();
    return { at, stamp: formatSfDateTime(at), by: options.by ?? this.adminUserId };
  }

  /** Writes a new row from API-shaped fields and returns the stored row (not a copy). */
  private insertRow(def: SObjectDef, fields: Record<string, unknown>, w: Write): SRecord {
    const id = this.newId(def.keyPrefix);
    return this.storeNew(def, id, this.normalize(def, fields, id), w);
  }

  /** Stores `row` (normalized, and owned by the store from now on) as a new row with Id `id`. */
  private storeNew(def: SObjectDef, id: string, row: SRecord, w: Write): SRecord {
    row.Id = id;
    row.CreatedDate = w.stamp;
    row.CreatedById = w.by;
    row.SystemModstamp = w.stamp;
    if (hasLastModified(def)) {
      row.LastModifiedDate = w.stamp;
      row.LastModifiedById = w.by;
    }
    if (def.hasIsDeleted) row.IsDeleted = false;
    this.checkUnique(def, row, id);
    this.rows.get(def.name)!.set(id, row);
    this.index(def, null, row);
    this.logUpdate(def.name, id, w.at);
    if (def.name === 'Opportunity' && this.trackHistory) this.addHistory(row, null, w);
    return row;
  }

  /**
   * Changes a live row and returns the stored row (not a copy). In place, the row object itself changes; otherwise
   * it is replaced by a changed copy, so rows handed out before keep their values. Objects with unique fields
   * always get a copy: the unique index needs the old values.
   */
  private updateRow(def: SObjectDef, id: string, fields: Record<string, unknown>, w: Write, inPlace: boolean): SRecord {
    const table = this.rows.get(def.name)!;
    const row = table.get(id);
    if (!row || row.IsDeleted === true) {
      throw invalid(`${def.name} ${id} does not exist or is deleted`, id, 'ENTITY_IS_DELETED');
    }
    const clean = this.normalize(def, fields, id);
    const history = def.name === 'Opportunity' && this.trackHistory;
    const copy = !inPlace || uniqueFields(def).length > 0;
    // What addHistory compares with: the row itself when it is about to be replaced, else its tracked fields.
    const before: SRecord | null = copy ? row : history ? historySnapshot(row) : null;
    const next: SRecord = copy ? { ...row, ...clean } : Object.assign(row, clean);
    if (copy) this.checkUnique(def, next, id);
    next.SystemModstamp = w.stamp;
    if (hasLastModified(def)) {
      next.LastModifiedDate = w.stamp;
      next.LastModifiedById = w.by;
    }
    if (copy) {
      table.set(id, next);
      this.index(def, row, next);
    }
    this.logUpdate(def.name, id, w.at);
    if (history) this.addHistory(next, before, w);
    return next;
  }

  private normalize(def: SObjectDef, fields: Record<string, unknown>, where: string): SRecord {
    const out: SRecord = {};
    const byKey = meta(def).byKey;
    // for-in rather than Object.entries: no [key, value] array per field of every row a populate writes.
    for (const key in fields) {
      if (key === 'attributes' || !Object.hasOwn(fields, key)) continue;
      const value = fields[key];
      const f = fieldForKey(def, byKey, key);
      if (!f) {
        throw invalid(`No such column '${key}' on sobject of type ${def.name}`, where, 'INVALID_FIELD', [key]);
      }
      if (f.type === 'id' || f.compute || SYSTEM_FIELDS.has(f.name)) {
        throw invalid(
          `Unable to create/update fields: ${f.name}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
          where,
          'INVALID_FIELD_FOR_INSERT_UPDATE',
          [f.name],
        );
      }
      out[f.name] = normalizeValue(def, f, value, where);
    }
    return out;
  }

  private checkUnique(def: SObjectDef, row: SRecord, id: string): void {
    const byField = this.uniques.get(def.name);
    if (!byField) return;
    for (const [name, values] of byField) {
      const v = row[name];
      if (v === null || v === undefined) continue;
      const holder = values.get(v);
      if (holder !== undefined && holder !== id) {
        throw invalid(
          `duplicate value found: ${name} duplicates value on record with id: ${holder}`,
          id,
          'DUPLICATE_VALUE',
          [name],
        );
      }
    }
  }

  /** Moves a row's unique values in the index from `before` to `after` (either may be null). */
  private index(def: SObjectDef, before: SRecord | null, after: SRecord | null): void {
    for (const f of uniqueFields(def)) {
      let byField = this.uniques.get(def.name);
      if (!byField) {
        byField = new Map();
        this.uniques.set(def.name, byField);
      }
      let values = byField.get(f.name);
      if (!values) {
        values = new Map();
        byField.set(f.name, values);
      }
      const old = before?.[f.name];
      if (old !== null && old !== undefined && values.get(old) === before?.Id) values.delete(old);
      const now = after?.[f.name];
      if (now !== null && now !== undefined) values.set(now, String(after!.Id));
    }
  }

  private materialize(def: SObjectDef, row: SRecord): SRecord {
    const out: SRecord = {};
    for (const f of def.fields) out[f.name] = fieldValue(f, row);
    return out;
  }

  private addHistory(now: SRecord, before: SRecord | null, w: Write): void {
    if (before && HISTORY_FIELDS.every((k) => now[k] === before[k])) return;
    const amount = typeof now.Amount === 'number' ? now.Amount : null;
    const probability = typeof now.Probability === 'number' ? now.Probability : null;
    const def = SOBJECTS.OpportunityHistory as SObjectDef;
    // Every value comes from the stored, already normalized Opportunity, so the row is stored as built.
    this.storeNew(
      def,
      this.newId(def.keyPrefix),
      {
        OpportunityId: now.Id ?? null,
        StageName: now.StageName ?? null,
        Amount: amount,
        ExpectedRevenue: amount === null || probability === null ? null : Math.round(amount * probability) / 100,
        CloseDate: now.CloseDate ?? null,
        Probability: probability,
        ForecastCategory: now.ForecastCategoryName ?? null,
        PrevAmount: before ? (before.Amount ?? null) : null,
        PrevCloseDate: before ? (before.CloseDate ?? null) : null,
        CurrencyIsoCode: now.CurrencyIsoCode ?? null,
      },
      w,
    );
  }
}

/** The Opportunity fields addHistory compares, as they stand before a change (absent ones stay absent). */
function historySnapshot(row: SRecord): SRecord {
  const out: SRecord = {};
  for (const k of HISTORY_FIELDS) if (k in row) out[k] = row[k] as FieldValue;
  return out;
}

const SYSTEM_FIELDS = new Set([
  'Id',
  'CreatedDate',
  'CreatedById',
  'LastModifiedDate',
  'LastModifiedById',
  'SystemModstamp',
  'IsDeleted',
]);
