/**
 * Bulk API 2.0 query jobs (`/services/data/vNN.N/jobs/query`) and the Record Count resource
 * (`/limits/recordCount`), as the Salesforce docs describe them; the pages each rule comes from are listed in this
 * folder's README.
 *
 * A job's result is the query run when the job was created: the matching rows are held by reference (the served API
 * replaces a row on every write rather than changing it, so the held rows keep their values) and each CSV page is
 * written only when asked for, so a job over millions of rows costs one array of references, not its CSV.
 *
 * What a job does over time is driven by the client's polls, not by real time, so tests are deterministic: the first
 * poll of a new job answers `InProgress`, the `pollsToComplete`-th answers `JobComplete` (or `Failed` when the test
 * API scheduled a failure). Jobs older than seven days by the sandbox clock are gone (404), as Salesforce deletes
 * them.
 */
import { createHash } from 'node:crypto';
import { errorReply, type Reply } from './rest.ts';
import { type FieldValue, SOBJECTS } from './schema.ts';
import { type RowSelection, selectRows } from './soql/evaluate.ts';
import { SoqlError } from './soql/lexer.ts';
import { formatSfDateTime, idChecksum, type SalesforceStore } from './store.ts';

export type QueryJobState = 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted';

const DELIMITERS: Record<string, string> = {
  COMMA: ',',
  TAB: '\t',
  PIPE: '|',
  SEMICOLON: ';',
  CARET: '^',
  BACKQUOTE: '`',
};
const LINE_ENDINGS: Record<string, string> = { LF: '\n', CRLF: '\r\n' };

/** Salesforce deletes jobs older than seven days, whatever their state. */
export const JOB_LIFESPAN_MS = 7 * 86_400_000;
/** The sandbox's page size when the client sends no maxRecords ("a default value based on the service"). */
export const DEFAULT_MAX_RECORDS = 50_000;

interface QueryJob {
  id: string;
  operation: 'query' | 'queryAll';
  object: string;
  createdAt: number;
  apiVersion: string;
  columnDelimiter: string;
  lineEnding: string;
  state: QueryJobState;
  polls: number;
  /** Set at creation when the test API scheduled this job to fail. */
  failWith?: string;
  errorMessage?: string;
  selection: RowSelection;
}

export interface BulkSettings {
  /** The poll (job info GET) that first answers JobComplete; earlier polls answer InProgress. Default 2. */
  pollsToComplete: number;
  /** Page size without maxRecords. */
  defaultMaxRecords: number;
  /** How long, by the sandbox clock, the Record Count resource's cached counts last. Default one hour. */
  recordCountTtlMs: number;
}

export class BulkQueryApi {
  private readonly jobs = new Map<string, QueryJob>();
  private jobCount = 0;
  private failures: string[] = [];
  /** Query jobs created, for DailyBulkV2QueryJobs. */
  created = 0;
  readonly settings: BulkSettings = {
    pollsToComplete: 2,
    defaultMaxRecords: DEFAULT_MAX_RECORDS,
    recordCountTtlMs: 3_600_000,
  };
  private counts: { at: number; byObject: Map<string, number> } | null = null;

  constructor(
    private readonly store: SalesforceStore,
    private readonly userId: () => string,
  ) {}

  /** Test API: change settings, schedule the next jobs to fail, expire jobs as if seven days had passed. */
  configure(body: {
    pollsToComplete?: number;
    defaultMaxRecords?: number;
    recordCountTtlMs?: number;
    failNext?: number;
    errorMessage?: string;
    expire?: string;
  }): unknown {
    if (body.pollsToComplete !== undefined)
      this.settings.pollsToComplete = positive(body.pollsToComplete, 'pollsToComplete');
    if (body.defaultMaxRecords !== undefined) {
      this.settings.defaultMaxRecords = positive(body.defaultMaxRecords, 'defaultMaxRecords');
    }
    if (body.recordCountTtlMs !== undefined) this.settings.recordCountTtlMs = Math.max(0, body.recordCountTtlMs);
    for (let i = 0; i < (body.failNext ?? 0); i++) {
      this.failures.push(body.errorMessage ?? 'Query job failed: the query took too long to run (QUERY_TIMEOUT).');
    }
    let expired = 0;
    if (body.expire !== undefined) {
      for (const id of [...this.jobs.keys()]) {
        if (body.expire === 'all' || id === body.expire) {
          this.jobs.delete(id);
          expired++;
        }
      }
    }
    return { ...this.settings, pendingFailures: this.failures.length, expired, jobs: this.jobs.size };
  }

  /** POST jobs/query. */
  create(body: unknown, version: string): Reply {
    const b = (body ?? {}) as Record<string, unknown>;
    const operation = b.operation;
    if (operation !== 'query' && operation !== 'queryAll') {
      return errorReply(
        400,
        'INVALIDJOB',
        `InvalidJob : operation must be query or queryAll, got ${String(operation)}`,
      );
    }
    if (typeof b.query !== 'string' || b.query.trim() === '') {
      return errorReply(400, 'INVALIDJOB', 'InvalidJob : the query is required');
    }
    if (b.contentType !== undefined && b.contentType !== 'CSV') {
      return errorReply(400, 'INVALIDJOB', `InvalidJob : contentType must be CSV, got ${String(b.contentType)}`);
    }
    const delimiter = b.columnDelimiter ?? 'COMMA';
    if (typeof delimiter !== 'string' || !(delimiter in DELIMITERS)) {
      return errorReply(400, 'INVALIDJOB', `InvalidJob : unknown columnDelimiter ${String(delimiter)}`);
    }
    const lineEnding = b.lineEnding ?? 'LF';
    if (typeof lineEnding !== 'string' || !(lineEnding in LINE_ENDINGS)) {
      return errorReply(400, 'INVALIDJOB', `InvalidJob : unknown lineEnding ${String(lineEnding)}`);
    }
    let selection: RowSelection;
    try {
      selection = selectRows(this.store, b.query, { includeDeleted: operation === 'queryAll' });
    } catch (e) {
      if (e instanceof SoqlError) return errorReply(400, e.errorCode, e.message);
      throw e;
    }
    // What the Bulk API refuses that REST accepts: aggregates and OFFSET (GROUP BY and TYPEOF the sandbox's SOQL
    // does not parse at all).
    if (selection.columns.length === 0) {
      return errorReply(
        400,
        'INVALIDJOB',
        'InvalidJob : Aggregate functions such as COUNT() are not supported in Bulk API 2.0 query jobs',
      );
    }
    if (selection.query.offset !== null) {
      return errorReply(400, 'INVALIDJOB', 'InvalidJob : OFFSET is not supported in Bulk API 2.0 query jobs');
    }
    this.expireOld();
    const failWith = this.failures.shift();
    const job: QueryJob = {
      id: this.newJobId(),
      operation,
      object: selection.object,
      createdAt: this.store.now().getTime(),
      apiVersion: version,
      columnDelimiter: delimiter,
      lineEnding,
      state: 'UploadComplete',
      polls: 0,
      ...(failWith !== undefined ? { failWith } : {}),
      selection,
    };
    this.jobs.set(job.id, job);
    this.created++;
    return { status: 200, body: this.info(job, false) };
  }

  /** GET jobs/query/<id>: also how a job moves on (see the module comment). */
  get(id: string): Reply {
    const job = this.find(id);
    if (!job) return notFound();
    if (job.state === 'UploadComplete' || job.state === 'InProgress') {
      job.polls++;
      if (job.polls >= this.settings.pollsToComplete) {
        if (job.failWith !== undefined) {
          job.state = 'Failed';
          job.errorMessage = job.failWith;
          // A failed job's results are gone; only its info remains.
          job.selection = { ...job.selection, size: 0 };
        } else {
          job.state = 'JobComplete';
        }
      } else {
        job.state = 'InProgress';
      }
    }
    return { status: 200, body: this.info(job, true) };
  }

  /** GET jobs/query: every job, as one page. */
  list(): Reply {
    this.expireOld();
    return {
      status: 200,
      body: { done: true, records: [...this.jobs.values()].map((j) => this.info(j, false)), nextRecordsUrl: null },
    };
  }

  /** PATCH jobs/query/<id> `{ state: 'Aborted' }`. */
  abort(id: string, body: unknown): Reply {
    const job = this.find(id);
    if (!job) return notFound();
    if ((body as { state?: unknown } | null)?.state !== 'Aborted') {
      return errorReply(400, 'INVALIDJOBSTATE', 'A query job can only be changed to the state Aborted');
    }
    if (job.state !== 'UploadComplete' && job.state !== 'InProgress') {
      return errorReply(400, 'INVALIDJOBSTATE', `Job ${job.id} is ${job.state} and can no longer be aborted`);
    }
    job.state = 'Aborted';
    job.selection = { ...job.selection, size: 0 };
    return { status: 200, body: this.info(job, false) };
  }

  /** DELETE jobs/query/<id>: only a job in a final state. */
  remove(id: string): Reply {
    const job = this.find(id);
    if (!job) return notFound();
    if (job.state !== 'JobComplete' && job.state !== 'Aborted' && job.state !== 'Failed') {
      return errorReply(400, 'API_ERROR', 'Error encountered when deleting the job because the job is not terminated');
    }
    this.jobs.delete(job.id);
    return { status: 204 };
  }

  /** GET jobs/query/<id>/results?locator=&maxRecords=: one CSV result set with its header row. */
  results(id: string, version: string, locator: string | null, maxRecords: string | null): Reply {
    const job = this.find(id);
    if (!job) return notFound();
    if (job.apiVersion !== version) {
      return errorReply(
        409,
        'API_ERROR',
        `Results of job ${job.id} must be read with the API version that created it (v${job.apiVersion})`,
      );
    }
    if (job.state !== 'JobComplete') {
      return errorReply(400, 'API_ERROR', `Job ${job.id} has no results: its state is ${job.state}, not JobComplete`);
    }
    let offset = 0;
    if (locator !== null && locator !== '') {
      const n = decodeLocator(locator);
      if (n === null || n > job.selection.size) {
        return errorReply(400, 'INVALIDLOCATOR', `Invalid locator ${locator} for job ${job.id}`);
      }
      offset = n;
    }
    let size = this.settings.defaultMaxRecords;
    if (maxRecords !== null) {
      const n = Number(maxRecords);
      if (!Number.isSafeInteger(n) || n < 1) {
        return errorReply(400, 'INVALIDMAXRECORDS', `maxRecords must be a positive integer, got ${maxRecords}`);
      }
      size = n;
    }
    const count = Math.max(0, Math.min(size, job.selection.size - offset));
    const next = offset + count;
    const delimiter = DELIMITERS[job.columnDelimiter]!;
    const eol = LINE_ENDINGS[job.lineEnding]!;
    const lines = [job.selection.columns.map((c) => quote(c)).join(delimiter)];
    for (let k = offset; k < next; k++) {
      // Each row's own array of values takes its cells in place: no second array a row.
      const cells = job.selection.values(job.selection.rowAt(k)) as Array<FieldValue | string>;
      for (let c = 0; c < cells.length; c++) cells[c] = csvValue(cells[c] as FieldValue);
      lines.push(cells.join(delimiter));
    }
    return {
      status: 200,
      text: lines.join(eol) + eol,
      headers: {
        'content-type': 'text/csv',
        'Sforce-NumberOfRecords': String(count),
        'Sforce-Locator': next < job.selection.size ? encodeLocator(next) : 'null',
      },
      records: count,
      locator: `${job.id}-${offset}`,
    };
  }

  /**
   * GET limits/recordCount?sObjects=: approximate counts from a cache refreshed when older than recordCountTtlMs
   * by the sandbox clock; rows in the recycle bin are not counted and history objects are never listed. Unknown
   * names are left out, as are objects the API hides.
   */
  recordCount(sObjects: string | null): Reply {
    const now = this.store.now().getTime();
    if (!this.counts || now - this.counts.at >= this.settings.recordCountTtlMs) {
      const byObject = new Map<string, number>();
      for (const def of Object.values(SOBJECTS)) {
        if (!def.queryable || def.name.endsWith('History') || !this.store.apiHasObject(def.name)) continue;
        byObject.set(def.name, this.store.count(def.name));
      }
      this.counts = { at: now, byObject };
    }
    const wanted = sObjects === null ? null : new Set(sObjects.split(',').map((s) => s.trim().toLowerCase()));
    const out: Array<{ count: number; name: string }> = [];
    for (const [name, count] of this.counts.byObject) {
      if (!wanted || wanted.has(name.toLowerCase())) out.push({ count, name });
    }
    return { status: 200, body: { sObjects: out } };
  }

  private info(job: QueryJob, detail: boolean): Record<string, unknown> {
    const stamp = formatSfDateTime(new Date(job.createdAt));
    return {
      id: job.id,
      operation: job.operation,
      object: job.object,
      createdById: this.userId(),
      createdDate: stamp,
      systemModstamp: stamp,
      state: job.state,
      concurrencyMode: 'Parallel',
      contentType: 'CSV',
      apiVersion: Number(job.apiVersion),
      ...(detail
        ? {
            jobType: 'V2Query',
            lineEnding: job.lineEnding,
            columnDelimiter: job.columnDelimiter,
            numberRecordsProcessed: job.state === 'JobComplete' ? job.selection.size : 0,
            retries: 0,
            totalProcessingTime: job.state === 'JobComplete' ? 1000 : 0,
            isPkChunkingSupported: true,
            ...(job.errorMessage !== undefined ? { errorMessage: job.errorMessage } : {}),
          }
        : { lineEnding: job.lineEnding, columnDelimiter: job.columnDelimiter }),
    };
  }

  private find(id: string): QueryJob | undefined {
    this.expireOld();
    return this.jobs.get(id) ?? [...this.jobs.values()].find((j) => j.id.slice(0, 15) === id.slice(0, 15));
  }

  private expireOld(): void {
    const now = this.store.now().getTime();
    for (const [id, job] of this.jobs) if (now - job.createdAt >= JOB_LIFESPAN_MS) this.jobs.delete(id);
  }

  private newJobId(): string {
    this.jobCount += 1;
    const body = createHash('sha256').update(`${this.store.orgId}:job:${this.jobCount}`).digest('hex');
    const id15 = `7508d0${body.slice(0, 9).toUpperCase()}`;
    return id15 + idChecksum(id15);
  }
}

function notFound(): Reply {
  return errorReply(404, 'NOT_FOUND', 'The requested resource does not exist');
}

function positive(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${what} must be a positive integer, got ${String(n)}`);
  return n;
}

/** The documented locator example `MTAwMDA` is base64 of "10000": the offset of the next set, unpadded. */
export function encodeLocator(offset: number): string {
  return Buffer.from(String(offset)).toString('base64').replace(/=+$/, '');
}

function decodeLocator(locator: string): number | null {
  if (!/^[A-Za-z0-9+/]+$/.test(locator)) return null;
  const text = Buffer.from(locator, 'base64').toString('utf8');
  return /^\d+$/.test(text) ? Number(text) : null;
}

function quote(s: string): string {
  // Most cells hold no quote: a search is cheaper than a replace that finds nothing.
  return s.includes('"') ? `"${s.replaceAll('"', '""')}"` : `"${s}"`;
}

const REST_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$/;

/**
 * One CSV cell: null is an empty unquoted cell, everything else is quoted; datetimes are written as
 * `2024-01-31T12:00:00.000Z` (the REST API's `+0000` form is not what the Bulk API's CSV carries).
 */
function csvValue(v: FieldValue): string {
  if (v === null) return '';
  if (typeof v !== 'string') return quote(String(v));
  // Only a string of the datetime's length with its `+` in place is tried against the pattern.
  if (v.length === 28 && v.charCodeAt(23) === 43 /* + */ && REST_DATETIME.test(v)) return `"${v.slice(0, -5)}Z"`;
  return quote(v);
}
