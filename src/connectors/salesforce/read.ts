/**
 * Reading one Salesforce stream as pages, loss-free:
 *
 * - ascending by (SystemModstamp, Id) with keyset paging, so records sharing a stamp are never skipped and a
 *   crash resumes after the last committed record;
 * - an inclusive lower bound minus a lookback on each incremental run, for transactions that committed late;
 * - queryAll where the object has IsDeleted, so soft deletes arrive as rows with is_deleted;
 * - the `deleted()` feed for hard deletes inside its 15-day window, and a full-scan sweep (ids not seen are
 *   deleted) when the gap is longer or after `--full`;
 * - the high-water mark is the newest stamp read, never past the run's start;
 * - formula fields (which change without moving the stamp) re-read on their own slower schedule.
 */
import { AppError, isAppError } from '../../errors.ts';
import type { Logger } from '../../util/log.ts';
import { abortableSleep } from '../../util/sleep.ts';
import type { NormalizedRecord, Page, QuarantinedRecord, RecordPatch } from '../types.ts';
import { approximateRowCount, type BulkPosition, bulkQuery } from './bulk-query.ts';
import type { SalesforceClient, SalesforceRecord } from './client.ts';
import type { BulkRead, Keyset, StreamMeta, SyncCursor } from './cursor.ts';

/** A page whose cursor is this folder's own (the engine stores it as opaque JSON). */
export type SalesforcePage = Page & { cursor: SyncCursor };

import {
  date,
  decimal,
  instant,
  type NormalizeContext,
  type RawRecord,
  str,
  Unnormalizable,
} from './normalize/fields.ts';
import type { ObjectRead, SalesforceFieldMapping, SalesforceStream } from './streams.ts';

/** The delete feed keeps 15 days; ask for less so a slow run never falls off its edge. */
export const DELETED_FEED_WINDOW_MS = 15 * 86_400_000 - 3_600_000;

export interface OrgFacts {
  timeZone: string;
  corporateCurrency: string;
  multiCurrency: boolean;
}

export interface StreamReadOptions {
  client: SalesforceClient;
  stream: SalesforceStream;
  mapping: SalesforceFieldMapping;
  orgFacts: () => Promise<OrgFacts>;
  /** Says once, by name, that optional fields are missing (the connector remembers what it said). */
  reportMissing?: (sobject: string, fields: readonly string[], consequence: string) => void;
  lookbackMinutes: number;
  batchSize: number;
  formulaRefreshEverySeconds: number;
  log: Logger;
  now: () => Date;
  refreshFormulas?: boolean;
  signal?: AbortSignal;
  /**
   * Initial and full reads of an object with more rows than this (Record Count API) go through a Bulk API 2.0
   * query job; undefined: never.
   */
  bulkThreshold?: number;
  /** Rows per bulk result set (`maxRecords`); each set is applied in pages of `batchSize`. */
  bulkMaxRecords?: number;
  /** Wait between polls of a bulk job. */
  bulkPollMs?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * Rows per bulk result set. Each set is held whole while its pages are applied (its CSV text, then its records):
 * at 50,000 rows the sync process peaked about 120 MB higher than at 10,000 (80,000 tasks, measured in one
 * process), while 10,000 still reads a million rows in about 100 calls, a fifth of REST's 500.
 */
export const BULK_MAX_RECORDS = 10_000;

/** A SOQL datetime literal; whole seconds when the stamp has no milliseconds (as Salesforce's always do). */
export function soqlDateTime(iso: string): string {
  const d = new Date(iso);
  const s = d.toISOString();
  return s.endsWith('.000Z') ? `${s.slice(0, 19)}Z` : s;
}

function soqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The WHERE clause that resumes after a keyset position, or starts at an inclusive lower bound. */
export function keysetWhere(field: string, after: Keyset | undefined, lowerBound: string | undefined): string {
  if (after) {
    const t = soqlDateTime(after.stamp);
    return `WHERE (${field} > ${t} OR (${field} = ${t} AND Id > ${soqlString(after.id)}))`;
  }
  if (lowerBound) return `WHERE ${field} >= ${soqlDateTime(lowerBound)}`;
  return '';
}

/**
 * A query's pages. `restart` gives the query that continues after the last record yielded: when Salesforce no
 * longer knows a locator (closed after its last page was sent, on a connection that then dropped; idle 15 minutes;
 * an 11th open cursor), the scan goes on from there instead of failing the run.
 */
async function* queryPages(
  opts: StreamReadOptions,
  soql: string,
  all: boolean,
  restart?: () => string,
): AsyncGenerator<{ records: SalesforceRecord[]; apiCalls: number; total: number }> {
  const { client, batchSize } = opts;
  let before = client.apiCalls();
  let res = await client.query<SalesforceRecord>(soql, { all, batchSize });
  yield { records: res.records, apiCalls: client.apiCalls() - before, total: res.totalSize };
  while (!res.done && res.nextRecordsUrl) {
    opts.signal?.throwIfAborted();
    before = client.apiCalls();
    try {
      res = await client.queryMore<SalesforceRecord>(res.nextRecordsUrl, batchSize);
    } catch (e) {
      if (!restart || !(isAppError(e) && e.details?.crmCode === 'INVALID_QUERY_LOCATOR')) throw e;
      opts.log.warn({ stream: opts.stream.name }, 'salesforce: query locator gone; continuing after the last record');
      res = await client.query<SalesforceRecord>(restart().replace(/\s+/g, ' '), { all, batchSize });
    }
    yield { records: res.records, apiCalls: client.apiCalls() - before, total: res.totalSize };
  }
}

/** Learns the fields the org has for each object of the stream (one describe per object, once per stream). */
async function discover(opts: StreamReadOptions): Promise<StreamMeta> {
  const facts = await opts.orgFacts();
  const fields: Record<string, string[]> = {};
  const formulaFields: Record<string, string[]> = {};
  const exclude: Record<string, string> = {};
  for (const obj of opts.stream.objects) {
    let described: Awaited<ReturnType<SalesforceClient['describe']>>;
    try {
      described = await opts.client.describe(obj.sobject);
    } catch (e) {
      if (opts.stream.optional && isAppError(e) && (e.code === 'CRM_REQUEST_INVALID' || e.code === 'CRM_PERMISSION')) {
        opts.log.info({ stream: opts.stream.name }, `salesforce: the org has no ${obj.sobject}; stream skipped`);
        return { fields: {}, ...facts, unavailable: true };
      }
      throw e;
    }
    const byName = new Map(described.fields.map((f) => [f.name.toLowerCase(), f]));
    for (const f of obj.fields) {
      if (f.includes('.')) continue; // relationship paths are checked by the query itself
      if (!byName.has(f.toLowerCase())) {
        throw new AppError('CRM_FIELD_MISSING', `${obj.sobject}.${f} is missing or hidden from the integration user`, {
          where: `${obj.sobject}.${f}`,
        });
      }
    }
    const optional = (obj.optionalFields ?? []).filter((f) => byName.has(f.toLowerCase()));
    const absent = (obj.optionalFields ?? []).filter((f) => !byName.has(f.toLowerCase()));
    if (absent.length > 0) opts.reportMissing?.(obj.sobject, absent, 'synced without it');
    fields[obj.sobject] = [...obj.fields, ...optional];
    if (obj.excludeWhen && byName.has(obj.excludeWhen.field.toLowerCase()))
      exclude[obj.sobject] = obj.excludeWhen.condition;
    formulaFields[obj.sobject] = fields[obj.sobject]!.filter((f) => byName.get(f.toLowerCase())?.calculated === true);
  }
  return { fields, formulaFields, exclude, ...facts };
}

function normalizeContext(
  meta: StreamMeta,
  mapping: SalesforceFieldMapping,
  user: string[] | undefined,
): NormalizeContext {
  const has = (f: string) => user?.includes(f) ?? false;
  return {
    timeZone: meta.timeZone,
    corporateCurrency: meta.corporateCurrency,
    multiCurrency: meta.multiCurrency,
    fields: {
      ...mapping,
      startDate: mapping.startDate ?? (has('Start_Date__c') ? 'Start_Date__c' : undefined),
      territory: mapping.territory ?? (has('Territory__c') ? 'Territory__c' : undefined),
      segment: mapping.segment ?? (meta.fields.Opportunity?.includes('Segment__c') ? 'Segment__c' : undefined),
    },
  };
}

interface Normalized {
  records: NormalizedRecord[];
  quarantined: QuarantinedRecord[];
  /** Soft-deleted records that could not be normalized still delete their row. */
  deletedIds: string[];
}

function stripAttributes(raw: SalesforceRecord): unknown {
  return JSON.parse(JSON.stringify(raw, (k, v: unknown) => (k === 'attributes' ? undefined : v)));
}

export function normalizeRecords(
  raws: readonly SalesforceRecord[],
  obj: ObjectRead,
  ctx: NormalizeContext,
  cursorField: string,
): Normalized {
  const out: Normalized = { records: [], quarantined: [], deletedIds: [] };
  for (const raw of raws) {
    const id = typeof raw.Id === 'string' ? raw.Id : '';
    try {
      if (!id) throw new Unnormalizable('MISSING_ID', 'Id is missing');
      const row = obj.normalize(raw as RawRecord, ctx);
      out.records.push({
        externalId: id,
        sourceModifiedAt: instant(raw as RawRecord, cursorField),
        isDeleted: raw.IsDeleted === true,
        row,
      });
    } catch (e) {
      if (!(e instanceof Unnormalizable)) throw e;
      out.quarantined.push({
        externalId: id,
        reasonCode: e.reasonCode,
        reason: `${obj.sobject} ${id || '(no Id)'}: ${e.message}`,
        payload: stripAttributes(raw),
      });
      if (id && raw.IsDeleted === true) out.deletedIds.push(id);
    }
  }
  return out;
}

function keysetOf(raw: SalesforceRecord, cursorField: string): Keyset | undefined {
  const stamp = raw[cursorField];
  if (typeof raw.Id !== 'string' || typeof stamp !== 'string') return undefined;
  const t = Date.parse(stamp);
  return Number.isNaN(t) ? undefined : { stamp: new Date(t).toISOString(), id: raw.Id };
}

const emptyPage = (cursor: SyncCursor, apiCalls = 0): SalesforcePage => ({
  records: [],
  deletedIds: [],
  quarantined: [],
  cursor,
  apiCalls,
});

/** Reads one stream from `from` (null: from the beginning). Each page's cursor is safe to store with its rows. */
export async function* readSalesforceStream(
  opts: StreamReadOptions,
  from: SyncCursor | null,
): AsyncGenerator<SalesforcePage> {
  const { stream, client } = opts;
  const runStart = opts.now();
  const runStartIso = runStart.toISOString();
  let cursor: SyncCursor = from ?? { v: 1, phase: 'initial', deletesCheckedTo: runStartIso };
  // Calls spent on discovery are reported with the first page.
  let carried = 0;
  // A cursor stored before exclusions existed learns them again (else our own alert tasks would keep coming back).
  const staleMeta = cursor.meta?.exclude === undefined && stream.objects.some((o) => o.excludeWhen);
  if (!cursor.meta || staleMeta) {
    const before = client.apiCalls();
    cursor = { ...cursor, meta: await discover(opts) };
    carried = client.apiCalls() - before;
    if (cursor.meta?.unavailable) {
      yield emptyPage({ v: 1, phase: 'incremental', since: runStartIso, meta: cursor.meta }, carried);
      return;
    }
  }
  const meta = cursor.meta!;
  if (meta.unavailable) {
    yield emptyPage(cursor);
    return;
  }
  const nctx = normalizeContext(meta, opts.mapping, meta.fields.User);

  if (stream.mode === 'full_refresh') {
    yield* readFullRefresh(opts, cursor, meta, nctx, runStartIso, carried);
    return;
  }

  const obj = stream.objects[0]!;
  const cursorField = stream.cursorField ?? 'SystemModstamp';

  // Hard deletes first, from the feed: its answer also tells the CRM's own clock at the start of the scan (the
  // minute it covered up to), which becomes the high-water mark. Deleting before scanning also lets a record that
  // was deleted and then restored come back alive from the scan.
  let serverScanStart: string | undefined;
  let sweep = cursor.sweepPending === true;
  if (stream.supportsDeletedFeed && !sweep) {
    const checkedTo = cursor.deletesCheckedTo ?? runStartIso;
    const fromT = new Date(Date.parse(checkedTo) - opts.lookbackMinutes * 60_000);
    if (runStart.getTime() - fromT.getTime() > DELETED_FEED_WINDOW_MS) sweep = true;
    else {
      const before = client.apiCalls();
      try {
        const res = await client.deleted(
          obj.sobject,
          fromT,
          runStart > fromT ? runStart : new Date(fromT.getTime() + 60_000),
        );
        if (Date.parse(res.earliestDateAvailable) > fromT.getTime()) {
          // The org purged its delete log past our last check: only a full scan can tell what went.
          sweep = true;
        } else {
          const covered = new Date(Date.parse(res.latestDateCovered)).toISOString();
          serverScanStart = covered;
          // The next check starts where this one covered (minus the lookback), never later.
          cursor = { ...cursor, deletesCheckedTo: covered };
          yield {
            ...emptyPage(cursor, client.apiCalls() - before + carried),
            deletedIds: res.deletedRecords.map((r) => r.id),
          };
          carried = 0;
        }
      } catch (e) {
        if (!(isAppError(e) && e.details?.crmCode === 'INVALID_REPLICATION_DATE')) throw e;
        sweep = true;
      }
    }
  }

  const select = meta.fields[obj.sobject] ?? [...obj.fields];
  const lower =
    cursor.phase === 'incremental'
      ? new Date(Date.parse(cursor.since) - opts.lookbackMinutes * 60_000).toISOString()
      : undefined;
  const exclusion = meta.exclude?.[obj.sobject];
  const where = (after: Keyset | undefined) => {
    const w = keysetWhere(cursorField, after, lower);
    if (!exclusion) return w;
    return w === '' ? `WHERE ${exclusion}` : `${w} AND ${exclusion}`;
  };
  const soqlAfter = (after: Keyset | undefined) =>
    `SELECT ${select.join(', ')} FROM ${obj.sobject} ${where(after)} ORDER BY ${cursorField} ASC, Id ASC`;
  // Initial and full reads of a large object go through a Bulk API 2.0 query job (one call per result set of
  // BULK_MAX_RECORDS rows instead of one per 2,000); incremental runs stay on REST. A read already under way goes on the way it started.
  let useBulk = cursor.phase === 'initial' && cursor.bulk !== undefined;
  if (!useBulk && cursor.phase === 'initial' && !cursor.after && opts.bulkThreshold !== undefined) {
    const before = client.apiCalls();
    const count = await approximateRowCount(client, obj.sobject);
    carried += client.apiCalls() - before;
    useBulk = count > opts.bulkThreshold;
    if (useBulk) opts.log.info({ stream: stream.name, count }, 'salesforce: reading the stream through Bulk API 2.0');
  }

  let last = cursor.after;
  let bulkSince: string | undefined;
  if (useBulk) {
    const bulkSoql = `SELECT ${select.join(', ')} FROM ${obj.sobject}${exclusion ? ` WHERE ${exclusion}` : ''}`;
    const state = { cursor, carried };
    bulkSince = yield* readBulk(opts, state, {
      obj,
      select,
      soql: bulkSoql,
      nctx,
      cursorField,
      snapshotNoOlderThan: serverScanStart,
      runStartIso,
      sweep,
    });
    cursor = state.cursor;
    carried = state.carried;
  } else {
    const soql = soqlAfter(cursor.after);
    for await (const batch of queryPages(opts, soql.replace(/\s+/g, ' '), obj.hasIsDeleted, () => soqlAfter(last))) {
      const n = normalizeRecords(batch.records, obj, nctx, cursorField);
      const lastRaw = batch.records[batch.records.length - 1];
      const k = lastRaw ? keysetOf(lastRaw, cursorField) : undefined;
      if (k) last = k;
      cursor = { ...cursor, ...(last ? { after: last } : {}) };
      yield { ...n, cursor, apiCalls: batch.apiCalls + carried, totalEstimate: batch.total };
      carried = 0;
    }
  }

  // The scan is complete. The high-water mark is the CRM's time when the scan began, else the newest stamp read
  // (or the previous mark); never past this run's start. A bulk job's rows are as they were when the job was
  // created, so its mark is that moment (no later than the delete check before it), and the next delete check
  // starts there too: a record deleted after the job's snapshot may have been written back alive from it.
  const previous = cursor.phase === 'incremental' ? cursor.since : undefined;
  let since = bulkSince ?? serverScanStart ?? last?.stamp ?? previous ?? runStartIso;
  if (!bulkSince && !serverScanStart && previous && previous > since) since = previous;
  if (since > runStartIso) since = runStartIso;
  const { after: _after, ...rest } = cursor;
  const { bulk: _bulk, ...restNoBulk } = rest as typeof rest & { bulk?: BulkRead };
  let done: SyncCursor = { ...restNoBulk, v: 1, phase: 'incremental', since };
  if (bulkSince && done.deletesCheckedTo && done.deletesCheckedTo > bulkSince)
    done = { ...done, deletesCheckedTo: bulkSince };

  if (sweep && useBulk) {
    // The bulk read staged every id it saw: what it did not see is gone.
    done = { ...done, deletesCheckedTo: since, sweepPending: false };
    yield { ...emptyPage(done, carried), sweep: { seenIds: [], end: true } };
    carried = 0;
  } else if (sweep) {
    // Records the read leaves out are not seen either: a row of ours synced before the exclusion is swept away.
    // The ids go to the warehouse page by page (never one list of the whole stream); a run killed meanwhile owes
    // the sweep again and starts it over.
    const sweepSoql = `SELECT Id FROM ${obj.sobject}${exclusion ? ` WHERE ${exclusion}` : ''}`;
    const owing: SyncCursor = { ...done, sweepPending: true };
    let begin = true;
    for await (const batch of queryPages(opts, sweepSoql, false)) {
      const seenIds: string[] = [];
      for (const r of batch.records) if (typeof r.Id === 'string') seenIds.push(r.Id);
      yield { ...emptyPage(owing, batch.apiCalls + carried), sweep: { begin, seenIds } };
      carried = 0;
      begin = false;
    }
    done = { ...done, deletesCheckedTo: serverScanStart ?? since, sweepPending: false };
    yield { ...emptyPage(done, carried), sweep: { begin, seenIds: [], end: true } };
    carried = 0;
  }

  // Formula fields, on their slower schedule.
  const formulas = (meta.formulaFields?.[obj.sobject] ?? []).filter((f) => f in stream.mappedColumns);
  const dueAt = done.formulasRefreshedAt
    ? Date.parse(done.formulasRefreshedAt) + opts.formulaRefreshEverySeconds * 1000
    : Number.NEGATIVE_INFINITY;
  if (formulas.length > 0 && (opts.refreshFormulas || runStart.getTime() >= dueAt) && from !== null) {
    const soqlF = `SELECT Id, ${formulas.join(', ')} FROM ${obj.sobject}`;
    for await (const batch of queryPages(opts, soqlF, false)) {
      const patches: RecordPatch[] = [];
      for (const r of batch.records) {
        if (typeof r.Id !== 'string') continue;
        const columns: RecordPatch['columns'] = {};
        for (const f of formulas) {
          const col = stream.mappedColumns[f]!;
          try {
            columns[col] =
              col === 'amount'
                ? decimal(r as RawRecord, f)
                : col === 'start_date'
                  ? date(r as RawRecord, f, nctx.timeZone)
                  : str(r as RawRecord, f);
          } catch {
            // a bad formula value leaves the column as the last full read had it
          }
        }
        patches.push({ externalId: r.Id, columns });
      }
      yield { ...emptyPage(done, batch.apiCalls), patches };
    }
    done = { ...done, formulasRefreshedAt: runStartIso };
  }
  yield emptyPage(done);
}

interface BulkReadSpec {
  obj: ObjectRead;
  select: readonly string[];
  soql: string;
  nctx: NormalizeContext;
  cursorField: string;
  /** The CRM's time when the delete check before this read covered up to (the job is created after it). */
  snapshotNoOlderThan: string | undefined;
  runStartIso: string;
  /** Stage every id seen, for the sweep a `--full` re-read of a synced stream owes. */
  sweep: boolean;
}

/**
 * The field types a bulk result set needs to type its CSV cells, by column: the object's own fields, and each
 * child-to-parent column (`SplitType.IsTotalValidated`) from the describe of the object its lookup points at.
 */
async function bulkTypes(client: SalesforceClient, sobject: string, select: readonly string[]) {
  const d = await client.describe(sobject);
  const types = new Map(d.fields.map((f) => [f.name, f.type]));
  const byRelationship = new Map<string, string[]>();
  for (const col of select) {
    const parts = col.split('.');
    if (parts.length !== 2) continue;
    const list = byRelationship.get(parts[0]!) ?? [];
    list.push(parts[1]!);
    byRelationship.set(parts[0]!, list);
  }
  for (const [rel, cols] of byRelationship) {
    const lookup = d.fields.find((f) => f.relationshipName === rel);
    const target = lookup?.referenceTo?.[0];
    if (!target) continue;
    const parent = await client.describe(target);
    for (const c of cols) {
      const f = parent.fields.find((x) => x.name.toLowerCase() === c.toLowerCase());
      if (f) types.set(`${rel}.${c}`, f.type);
    }
  }
  return types;
}

/**
 * A full read through a Bulk API 2.0 query job. Each result set (up to `bulkMaxRecords` rows, the only one in
 * memory) is applied in pages of `batchSize`; every page's cursor names the job, the set's locator and how many of
 * its rows are committed, so a killed sync resumes there. Returns the read's high-water mark.
 */
async function* readBulk(
  opts: StreamReadOptions,
  state: { cursor: SyncCursor; carried: number },
  spec: BulkReadSpec,
): AsyncGenerator<SalesforcePage, string> {
  const { client } = opts;
  const start = state.cursor.phase === 'initial' ? state.cursor.bulk : undefined;
  const before = client.apiCalls();
  const types = await bulkTypes(client, spec.obj.sobject, spec.select);
  let bulk: BulkRead | undefined = start;
  let skip = start?.skip ?? 0;
  let setPosition: BulkPosition | null = start ? { jobId: start.jobId, locator: start.locator } : null;
  // Stopped early (a page that failed to write, a stop), the set being fetched ahead is abandoned, not waited for: it
  // may be a restarted job's first set, polled for up to an hour.
  const ahead = new AbortController();
  const stopAhead = () => ahead.abort();
  opts.signal?.addEventListener('abort', stopAhead, { once: true });
  const pages = bulkQuery({
    client,
    soql: spec.soql,
    all: spec.obj.hasIsDeleted,
    maxRecords: opts.bulkMaxRecords ?? BULK_MAX_RECORDS,
    types,
    ...(start ? { resume: { jobId: start.jobId, locator: start.locator } } : {}),
    pollIntervalMs: opts.bulkPollMs ?? 1000,
    log: opts.log,
    sleep: opts.sleep ?? abortableSleep,
    signal: ahead.signal,
  });
  // The next result set is fetched (and parsed) while this one's pages are written: one set of maxRecords rows
  // more in memory, and the CRM, this process and PostgreSQL busy at once instead of in turn (without it, the sync's
  // wall time was the sum of the three). Only applied pages' cursors are stored, so a set fetched ahead and never
  // applied is read again by the next run.
  const sets = pages[Symbol.asyncIterator]();
  // A set's calls are those made while it was fetched (the client's count over that window), not over the time its
  // pages were written, when the streams beside this one make theirs.
  const fetchSet = () => {
    const from = client.apiCalls();
    const p = sets.next().then((got) => ({ got, calls: client.apiCalls() - from }));
    p.catch(() => undefined);
    return p;
  };
  // The type describe before the first set.
  let extra = client.apiCalls() - before;
  let next = fetchSet();
  try {
    for (;;) {
      const { got, calls: fetched } = await next;
      if (got.done) {
        state.carried += fetched;
        break;
      }
      const set = got.value;
      let calls = fetched + extra + state.carried;
      extra = 0;
      state.carried = 0;
      next = fetchSet();
      let begin = false;
      if (set.restarted || !bulk) {
        // A new job: its snapshot is no older than the delete check before it, else than its creation.
        const created = set.jobCreatedDate ? new Date(Date.parse(set.jobCreatedDate)).toISOString() : undefined;
        const since = bulk?.since ?? spec.snapshotNoOlderThan ?? created ?? spec.runStartIso;
        bulk = { jobId: set.jobId, locator: null, skip: 0, since, ...(spec.sweep ? { sweep: true } : {}) };
        setPosition = { jobId: set.jobId, locator: null };
        skip = 0;
        begin = spec.sweep;
        if (set.restarted)
          opts.log.warn({ stream: opts.stream.name }, 'salesforce: bulk job started again; re-reading');
      }
      const here = setPosition ?? { jobId: set.jobId, locator: null };
      const rows = set.records;
      // A set with nothing left to apply still moves the cursor to the next set.
      let offset = Math.min(skip, rows.length);
      do {
        opts.signal?.throwIfAborted();
        const end = Math.min(rows.length, offset + opts.batchSize);
        const chunk = rows.slice(offset, end);
        offset = end;
        const finished = offset >= rows.length;
        bulk =
          finished && set.next
            ? { ...bulk, jobId: set.next.jobId, locator: set.next.locator, skip: 0 }
            : { ...bulk, jobId: here.jobId, locator: here.locator, skip: offset };
        state.cursor = { ...state.cursor, phase: 'initial', bulk } as SyncCursor;
        const n = normalizeRecords(chunk, spec.obj, spec.nctx, spec.cursorField);
        const page: SalesforcePage = { ...n, cursor: state.cursor, apiCalls: calls };
        if (spec.sweep) {
          const seenIds: string[] = [];
          for (const r of chunk) if (typeof r.Id === 'string' && r.IsDeleted !== true) seenIds.push(r.Id);
          page.sweep = { begin, seenIds };
          begin = false;
        }
        yield page;
        calls = 0;
      } while (offset < rows.length);
      skip = 0;
      setPosition = set.next;
    }
  } finally {
    // Ended or stopped early (an error, a stop, the budget): the fetch ahead is aborted and settles, then the job
    // reader closes.
    ahead.abort();
    opts.signal?.removeEventListener('abort', stopAhead);
    await next.catch(() => undefined);
    await sets.return?.(undefined);
  }
  return bulk?.since ?? spec.runStartIso;
}

async function* readFullRefresh(
  opts: StreamReadOptions,
  start: SyncCursor,
  meta: StreamMeta,
  nctx: NormalizeContext,
  runStartIso: string,
  carried: number,
): AsyncGenerator<SalesforcePage> {
  const seen: string[] = [];
  for (const obj of opts.stream.objects) {
    const select = meta.fields[obj.sobject] ?? [...obj.fields];
    const soql = `SELECT ${select.join(', ')} FROM ${obj.sobject} ORDER BY Id ASC`;
    let lastId: string | undefined;
    const restart = () =>
      `SELECT ${select.join(', ')} FROM ${obj.sobject} ${lastId ? `WHERE Id > ${soqlString(lastId)} ` : ''}ORDER BY Id ASC`;
    for await (const batch of queryPages(opts, soql, obj.hasIsDeleted, restart)) {
      const n = normalizeRecords(batch.records, obj, nctx, opts.stream.cursorField ?? 'SystemModstamp');
      for (const r of batch.records) if (typeof r.Id === 'string' && r.IsDeleted !== true) seen.push(r.Id);
      const lastRaw = batch.records[batch.records.length - 1];
      if (typeof lastRaw?.Id === 'string') lastId = lastRaw.Id;
      // Mid-scan pages keep the starting cursor: a crash re-reads the whole (small) stream.
      yield { ...n, cursor: start, apiCalls: batch.apiCalls + carried };
      carried = 0;
    }
  }
  const { after: _after, ...rest } = start;
  yield { ...emptyPage({ ...rest, v: 1, phase: 'incremental', since: runStartIso }), sweepSeenIds: seen };
}
