/**
 * The data API's read resources: query / queryAll / query-more, describe (one object and global), getDeleted,
 * getUpdated, one record by Id, and limits. Each handler returns a Reply; `server.ts` does HTTP, auth, faults,
 * headers and the request log.
 *
 * Cursors hold a snapshot of the whole result taken at the first page, as Salesforce's do; as on Salesforce, at most
 * 10 are open at once (opening another drops the oldest) and one idle for 15 minutes of real time is dropped, after
 * which its locator answers INVALID_QUERY_LOCATOR. Simplification: getDeleted ignores the 600,000-id limit.
 */
import { createHash } from 'node:crypto';
import { type FieldDef, findSObject, SOBJECTS, type SObjectDef } from './schema.ts';
import { runQuery, type ShapedRecord } from './soql/evaluate.ts';
import { SoqlError } from './soql/lexer.ts';
import { formatSfDateTime, idChecksum, parseSfDateTime, type SalesforceStore } from './store.ts';

export interface Reply {
  status: number;
  body?: unknown;
  /** A body sent as it is (the Bulk API's CSV) instead of `body` as JSON; its content-type goes in `headers`. */
  text?: string;
  headers?: Record<string, string>;
  /** For the request log: how many records the body carries. */
  records?: number;
  locator?: string;
}

export function errorReply(status: number, errorCode: string, message: string, fields?: string[]): Reply {
  return { status, body: [{ message, errorCode, ...(fields ? { fields } : {}) }] };
}

const DEFAULT_BATCH = 2000;
const DAY = 86_400_000;

interface Cursor {
  records: ShapedRecord[];
  soql: string;
  /** The batch size asked for when the cursor opened; query-more calls without the header keep it. */
  batch: number;
  /** Real time of the last page served, for the idle timeout. */
  usedAt: number;
}

/** Open cursors per sandbox (Salesforce: per user; the sandbox has one API user). */
export const MAX_OPEN_CURSORS = 10;
const CURSOR_IDLE_MS = 15 * 60_000;

/** Per-server state for the read endpoints: open query cursors. */
export class ReadApi {
  private readonly cursors = new Map<string, Cursor>();
  private locatorCount = 0;

  constructor(private readonly store: SalesforceStore) {}

  /** GET query / queryAll?q=. */
  query(soql: string | null, version: string, includeDeleted: boolean, queryOptions: string | undefined): Reply {
    if (!soql) return errorReply(400, 'MALFORMED_QUERY', 'A query string has to be specified');
    let result: ReturnType<typeof runQuery>;
    try {
      result = runQuery(this.store, soql, { includeDeleted, apiVersion: version });
    } catch (e) {
      if (e instanceof SoqlError) return errorReply(400, e.errorCode, e.message);
      throw e;
    }
    if (result.countOnly)
      return { status: 200, body: { totalSize: result.totalSize, done: true, records: [] }, records: 0 };
    const batch = batchSize(queryOptions);
    if (result.records.length <= batch) {
      return {
        status: 200,
        body: { totalSize: result.totalSize, done: true, records: result.records },
        records: result.records.length,
      };
    }
    const locator = this.newLocator();
    this.evictCursors(true);
    this.cursors.set(locator, { records: result.records, soql, batch, usedAt: Date.now() }); // wall-clock: idle locators expire in real time
    return this.page(locator, 0, batch, version);
  }

  /** GET query/<locator>-<offset>. */
  queryMore(locatorAndOffset: string, version: string, queryOptions: string | undefined): Reply {
    const m = /^([0-9A-Za-z]{15,18})-(\d+)$/.exec(locatorAndOffset);
    this.evictCursors(false);
    const cursor = m ? this.cursors.get(m[1]!) : undefined;
    if (!m || !cursor) return errorReply(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
    cursor.usedAt = Date.now(); // wall-clock: idle locators expire in real time
    return this.page(m[1]!, Number(m[2]), queryOptions ? batchSize(queryOptions) : cursor.batch, version);
  }

  private page(locator: string, offset: number, batch: number, version: string): Reply {
    const cursor = this.cursors.get(locator)!;
    const records = cursor.records.slice(offset, offset + batch);
    const next = offset + batch;
    const done = next >= cursor.records.length;
    if (done) this.cursors.delete(locator);
    return {
      status: 200,
      body: {
        totalSize: cursor.records.length,
        done,
        ...(done ? {} : { nextRecordsUrl: `/services/data/v${version}/query/${locator}-${next}` }),
        records,
      },
      records: records.length,
      locator: `${locator}-${offset}`,
    };
  }

  /** Drops idle cursors and, when about to open one, the oldest ones while the open count is at the limit. */
  private evictCursors(makeRoom: boolean): void {
    const now = Date.now(); // wall-clock: idle locators expire in real time
    for (const [k, c] of this.cursors) if (now - c.usedAt > CURSOR_IDLE_MS) this.cursors.delete(k);
    while (makeRoom && this.cursors.size >= MAX_OPEN_CURSORS) {
      const oldest = this.cursors.keys().next().value;
      if (oldest === undefined) break;
      this.cursors.delete(oldest);
    }
  }

  private newLocator(): string {
    this.locatorCount += 1;
    const body = createHash('sha256').update(`${this.store.orgId}:${this.locatorCount}`).digest('hex');
    const id15 = `01g8d0${body.slice(0, 9).toUpperCase()}`;
    return id15 + idChecksum(id15);
  }

  /** GET sobjects. */
  globalDescribe(version: string): Reply {
    return {
      status: 200,
      body: {
        encoding: 'UTF-8',
        maxBatchSize: 200,
        sobjects: Object.values(SOBJECTS)
          .filter((o) => this.store.apiHasObject(o.name))
          .map((o) => ({ ...objectSummary(o), urls: objectUrls(o, version) })),
      },
    };
  }

  /** GET sobjects/<type>/describe; `instanceUrl` makes the absolute ui* URL templates. */
  describe(typeName: string, version: string, instanceUrl = ''): Reply {
    const def = findSObject(typeName);
    if (!def || !this.store.apiHasObject(def.name))
      return errorReply(404, 'NOT_FOUND', 'The requested resource does not exist');
    return {
      status: 200,
      body: {
        ...objectSummary(def),
        urls: {
          ...objectUrls(def, version),
          uiEditTemplate: `${instanceUrl}/{ID}/e`,
          uiDetailTemplate: `${instanceUrl}/{ID}`,
        },
        // Field-level security: a field the integration user cannot see is not in describe at all.
        fields: def.fields.filter((f) => this.store.apiHasField(def.name, f.name)).map(describeField),
        childRelationships: childRelationships(def),
        recordTypeInfos: [],
        supportedScopes: [{ label: 'All', name: 'everything' }],
      },
    };
  }

  /** GET sobjects/<type>/<id>. */
  record(typeName: string, id: string, version: string, fieldList: string | null): Reply {
    const def = findSObject(typeName);
    if (!def || !this.store.apiHasObject(def.name))
      return errorReply(404, 'NOT_FOUND', 'The requested resource does not exist');
    const row = this.store.get(def.name, id);
    if (!row) return errorReply(404, 'NOT_FOUND', 'The requested resource does not exist');
    const names = fieldList
      ? fieldList.split(',').map((s) => s.trim())
      : def.fields.filter((f) => this.store.apiHasField(def.name, f.name)).map((f) => f.name);
    const body: Record<string, unknown> = {
      attributes: { type: def.name, url: `/services/data/v${version}/sobjects/${def.name}/${row.Id}` },
    };
    for (const n of names) {
      const found = def.fields.find((x) => x.name.toLowerCase() === n.toLowerCase());
      const f = found && this.store.apiHasField(def.name, found.name) ? found : undefined;
      if (!f) return errorReply(400, 'INVALID_FIELD', `No such column '${n}' on sobject of type ${def.name}`);
      body[f.name] = row[f.name] ?? null;
    }
    return { status: 200, body, records: 1 };
  }

  /**
   * GET sobjects/<type>/deleted/?start=&end= (15-day window) and .../updated/ (30 days). Seconds are ignored as on
   * Salesforce: both ends are truncated to the minute, and latestDateCovered is min(end, now) to the minute.
   */
  replication(kind: 'deleted' | 'updated', typeName: string, start: string | null, end: string | null): Reply {
    const def = findSObject(typeName);
    if (!def) return errorReply(404, 'NOT_FOUND', 'The requested resource does not exist');
    if (!def.replicateable) return errorReply(400, 'CANNOT_REPLICATE', `${def.name} is not replicateable`);
    if (!start || !end) return errorReply(400, 'MISSING_ARGUMENT', 'start and end are required');
    const s = parseDate(start);
    const e = parseDate(end);
    if (s === null || e === null) {
      return errorReply(
        400,
        'INVALID_REPLICATION_DATE',
        `start and end must be ISO-8601 datetimes, got ${start} and ${end}`,
      );
    }
    const minute = (ms: number) => Math.floor(ms / 60_000) * 60_000;
    const now = this.store.now().getTime();
    const windowDays = kind === 'deleted' ? 15 : 30;
    const earliest = minute(now - windowDays * DAY);
    if (minute(e) <= minute(s)) {
      return errorReply(400, 'INVALID_REPLICATION_DATE', 'endDate must chronologically follow startDate');
    }
    if (minute(s) < earliest) {
      return errorReply(
        400,
        'INVALID_REPLICATION_DATE',
        `startDate cannot be more than ${windowDays} days ago (earliest ${formatSfDateTime(new Date(earliest))})`,
      );
    }
    const from = minute(s);
    const covered = Math.min(minute(e), minute(now));
    if (kind === 'deleted') {
      const deletedRecords = this.store
        .deletedLog(def.name)
        .filter((d) => d.deletedDate.getTime() >= from && d.deletedDate.getTime() < covered)
        .map((d) => ({ id: d.id, deletedDate: formatSfDateTime(d.deletedDate) }));
      return {
        status: 200,
        body: {
          deletedRecords,
          earliestDateAvailable: formatSfDateTime(new Date(earliest)),
          latestDateCovered: formatSfDateTime(new Date(covered)),
        },
        records: deletedRecords.length,
      };
    }
    const ids: string[] = [];
    const seen = new Set<string>();
    for (const u of this.store.updatedLog(def.name)) {
      const t = u.at.getTime();
      if (t < from || t >= covered || seen.has(u.id)) continue;
      // Rows deleted since are reported by getDeleted, not getUpdated.
      if (!this.store.get(def.name, u.id)) continue;
      seen.add(u.id);
      ids.push(u.id);
    }
    return { status: 200, body: { ids, latestDateCovered: formatSfDateTime(new Date(covered)) }, records: ids.length };
  }
}

function parseDate(s: string): number | null {
  const d = parseSfDateTime(s);
  if (!Number.isNaN(d.getTime())) return d.getTime();
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : t;
}

/** `Sforce-Query-Options: batchSize=N`: default 2,000, at least 200, at most 2,000. */
export function batchSize(header: string | undefined): number {
  const m = header ? /batchSize\s*=\s*(\d+)/i.exec(header) : null;
  if (!m) return DEFAULT_BATCH;
  return Math.min(2000, Math.max(200, Number(m[1])));
}

function objectSummary(o: SObjectDef) {
  return {
    name: o.name,
    label: o.label,
    labelPlural: o.labelPlural,
    keyPrefix: o.keyPrefix,
    custom: o.custom ?? false,
    customSetting: false,
    createable: o.createable,
    updateable: o.updateable,
    deletable: o.deletable,
    queryable: o.queryable,
    replicateable: o.replicateable,
    retrieveable: true,
    searchable: o.queryable,
    undeletable: o.hasIsDeleted,
    triggerable: true,
    layoutable: true,
  };
}

function objectUrls(o: SObjectDef, version: string) {
  const base = `/services/data/v${version}/sobjects/${o.name}`;
  return { sobject: base, describe: `${base}/describe`, rowTemplate: `${base}/{ID}` };
}

const SOAP_TYPES: Record<string, string> = {
  id: 'tns:ID',
  reference: 'tns:ID',
  boolean: 'xsd:boolean',
  int: 'xsd:int',
  double: 'xsd:double',
  currency: 'xsd:double',
  percent: 'xsd:double',
  date: 'xsd:date',
  datetime: 'xsd:dateTime',
};

function describeField(f: FieldDef) {
  const numeric = ['double', 'currency', 'percent', 'int'].includes(f.type);
  const textual = !numeric && !['boolean', 'date', 'datetime'].includes(f.type);
  return {
    name: f.name,
    label: f.label,
    // describe calls a datetime field "datetime", like the schema.
    type: f.type,
    soapType: SOAP_TYPES[f.type] ?? 'xsd:string',
    length: textual ? (f.length ?? (f.type === 'id' || f.type === 'reference' ? 18 : 255)) : 0,
    precision: numeric ? (f.precision ?? 18) : 0,
    scale: numeric ? (f.scale ?? (f.type === 'int' ? 0 : 2)) : 0,
    digits: f.type === 'int' ? 9 : 0,
    nillable: f.nillable,
    createable: f.createable,
    updateable: f.updateable,
    calculated: f.calculated ?? false,
    calculatedFormula: f.formula ?? null,
    // Simplification: no field has a default. The documented describe example shows this key as `{ value: null }`;
    // the sandbox answers the bare value, which is what jsforce's Field type (`defaultValue: Optional<string>`) reads.
    defaultValue: null,
    custom: f.name.endsWith('__c'),
    externalId: f.externalId ?? false,
    unique: f.unique ?? false,
    idLookup: f.type === 'id' || (f.externalId ?? false),
    filterable: true,
    sortable: f.type !== 'textarea',
    groupable: !numeric && f.type !== 'textarea',
    defaultedOnCreate: !f.nillable && !f.required,
    referenceTo: f.referenceTo ?? [],
    relationshipName: f.relationshipName ?? null,
    polymorphicForeignKey: (f.referenceTo?.length ?? 0) > 1,
    picklistValues: (f.picklistValues ?? []).map((v, i) => ({
      active: true,
      defaultValue: i === 0 && f.type === 'picklist' && !f.nillable,
      label: v,
      value: v,
      validFor: null,
    })),
    restrictedPicklist: false,
  };
}

function childRelationships(def: SObjectDef) {
  const out: Array<Record<string, unknown>> = [];
  for (const o of Object.values(SOBJECTS)) {
    for (const f of o.fields) {
      if (
        f.type === 'reference' &&
        f.referenceTo?.includes(def.name) &&
        !['CreatedById', 'LastModifiedById'].includes(f.name)
      ) {
        out.push({
          childSObject: o.name,
          field: f.name,
          cascadeDelete: false,
          deprecatedAndHidden: false,
          relationshipName: null,
        });
      }
    }
  }
  return out;
}
