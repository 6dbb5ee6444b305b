/**
 * Reading one SOQL query through a Bulk API 2.0 query job, page by page, resumably:
 *
 * - a job is created (`POST /jobs/query`), polled until `JobComplete`, and its results read in CSV result sets of at
 *   most `maxRecords` rows, following `Sforce-Locator` until it says `null`;
 * - every page hands back the position to resume from (job id and the locator of the next set, which stays valid as
 *   long as the job exists), so a caller that saves it with the page's rows resumes a killed read where it stopped;
 * - a job Salesforce deleted meanwhile (jobs live seven days; 404 on its info or results) or that ended `Failed` is
 *   started again from the beginning, and the page says so (`restarted`), since rows already read come again;
 * - only one result set is held at a time, parsed into REST-shaped records: child-to-parent columns (`Owner.Email`)
 *   become nested objects, empty cells null, and numbers and booleans typed by the object's describe.
 *
 * The documented behaviour each step relies on is listed in src/sandbox/salesforce/README.md (Bulk API 2.0).
 */
import { AppError, isAppError } from '../../errors.ts';
import type { Logger } from '../../util/log.ts';
import type { SalesforceClient, SalesforceRecord } from './client.ts';

/** Where a bulk read stands: the job and the locator of the next result set (null: the first). */
export interface BulkPosition {
  jobId: string;
  locator: string | null;
}

export interface BulkPage {
  records: SalesforceRecord[];
  /** Where the next page starts; null after the last page. */
  next: BulkPosition | null;
  /** The job was started again (the saved one was gone or failed): rows read before come again. */
  restarted: boolean;
  jobId: string;
  /** When the job was created by the CRM's clock; set on the first page of a job this read created. */
  jobCreatedDate?: string;
}

export interface BulkQueryOptions {
  client: SalesforceClient;
  soql: string;
  /** queryAll: recycle-bin rows too. */
  all: boolean;
  /** Rows per result set (the `maxRecords` parameter). */
  maxRecords: number;
  /** Field types by column (`Amount` -> `currency`) from describe, to type numbers and booleans. */
  types: ReadonlyMap<string, string>;
  /** A saved position to resume from. */
  resume?: BulkPosition;
  /** Wait between polls of a running job. */
  pollIntervalMs: number;
  /** Give up on a job that has not completed after this long (default one hour). */
  maxWaitMs?: number;
  /** Jobs started again after Failed before giving up (default 2). */
  maxRestarts?: number;
  log: Logger;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
}

interface JobInfo {
  id: string;
  createdDate?: string;
  state: 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted' | string;
  errorMessage?: string;
  numberRecordsProcessed?: number;
}

const isGone = (e: unknown) => isAppError(e) && (e.details as { status?: unknown } | undefined)?.status === 404;

export async function* bulkQuery(o: BulkQueryOptions): AsyncGenerator<BulkPage> {
  const base = `/jobs/query`;
  let restarts = 0;
  let restarted = false;
  let position: BulkPosition | null = o.resume ?? null;

  // Creation stamps of the jobs this read created, handed out with each job's first page.
  const createdDates = new Map<string, string>();
  const create = async (): Promise<BulkPosition> => {
    const job = await o.client.request<JobInfo>('POST', base, {
      body: { operation: o.all ? 'queryAll' : 'query', query: o.soql },
    });
    o.log.info({ jobId: job.id }, 'salesforce: bulk query job created');
    if (job.createdDate) createdDates.set(job.id, job.createdDate);
    return { jobId: job.id, locator: null };
  };

  /** Polls until the job completed; null when it is gone or failed (the caller starts another). */
  const awaitJob = async (jobId: string): Promise<boolean> => {
    const started = Date.now(); // wall-clock: how long a job has been polled, against maxWaitMs
    for (;;) {
      let info: JobInfo;
      try {
        info = await o.client.request<JobInfo>('GET', `${base}/${jobId}`);
      } catch (e) {
        if (isGone(e)) {
          o.log.warn({ jobId }, 'salesforce: the bulk query job is gone (expired or deleted); starting a new one');
          return false;
        }
        throw e;
      }
      if (info.state === 'JobComplete') return true;
      if (info.state === 'Failed') {
        o.log.warn({ jobId, error: info.errorMessage }, 'salesforce: the bulk query job failed');
        if (restarts >= (o.maxRestarts ?? 2)) {
          throw new AppError(
            'CRM_BULK_JOB_FAILED',
            `Salesforce bulk query job ${jobId} failed ${restarts + 1} times: ${info.errorMessage ?? 'no reason given'}`,
            { where: o.soql.split(' FROM ')[1]?.split(' ')[0] ?? 'bulk query' },
          );
        }
        restarts++;
        return false;
      }
      if (info.state === 'Aborted') {
        throw new AppError('CRM_BULK_JOB_FAILED', `Salesforce bulk query job ${jobId} was aborted in the org`, {
          where: o.soql.split(' FROM ')[1]?.split(' ')[0] ?? 'bulk query',
        });
      }
      const waited = Date.now() - started; // wall-clock: the poll deadline
      if (waited > (o.maxWaitMs ?? 3_600_000)) {
        throw new AppError(
          'CRM_BULK_JOB_FAILED',
          `Salesforce bulk query job ${jobId} did not complete within the wait`,
          {
            where: jobId,
            retryable: true,
          },
        );
      }
      await o.sleep(o.pollIntervalMs, o.signal);
    }
  };

  for (;;) {
    o.signal?.throwIfAborted();
    if (!position) {
      position = await create();
    }
    if (position.locator === null || restarted) {
      // A fresh job (or one resumed before its first set) has to be complete before results are read.
      if (!(await awaitJob(position.jobId))) {
        position = null;
        restarted = true;
        continue;
      }
    }
    const query = `maxRecords=${o.maxRecords}${position.locator ? `&locator=${encodeURIComponent(position.locator)}` : ''}`;
    let page: { text: string; headers: Record<string, string> };
    try {
      page = await o.client.text(`${base}/${position.jobId}/results?${query}`);
    } catch (e) {
      if (isGone(e)) {
        o.log.warn(
          { jobId: position.jobId },
          'salesforce: the bulk query job is gone (expired or deleted); starting over',
        );
        position = null;
        restarted = true;
        continue;
      }
      // Results of a job still running (a resumed position taken before completion): wait for it, then read.
      if (isAppError(e) && (e.details as { status?: unknown } | undefined)?.status === 400) {
        if (!(await awaitJob(position.jobId))) {
          position = null;
          restarted = true;
          continue;
        }
        page = await o.client.text(`${base}/${position.jobId}/results?${query}`);
      } else {
        throw e;
      }
    }
    const nextLocator = page.headers['sforce-locator'];
    const records = parseResultSet(page.text, o.types);
    const jobId = position.jobId;
    const next = nextLocator && nextLocator !== 'null' ? { jobId, locator: nextLocator } : null;
    const created = createdDates.get(jobId);
    createdDates.delete(jobId);
    yield { records, next, restarted, jobId, ...(created ? { jobCreatedDate: created } : {}) };
    restarted = false;
    if (!next) return;
    position = next;
  }
}

const NUMBER_TYPES = new Set(['int', 'double', 'currency', 'percent', 'long']);

/**
 * One CSV result set (header row first; comma-delimited, LF or CRLF lines, RFC 4180 quoting) as REST-shaped
 * records. An empty cell is null (Salesforce keeps no empty strings).
 */
export function parseResultSet(text: string, types: ReadonlyMap<string, string>): SalesforceRecord[] {
  const rows = parseCsv(text);
  const header = rows.shift();
  if (!header) return [];
  const paths = header.map((h) => h.split('.'));
  // Per column, once: how its cells are typed (0 text, 1 boolean, 2 number) and whether it is a lookup's.
  const kinds = header.map((h) => {
    const type = types.get(h) ?? types.get(h.split('.').at(-1) ?? h);
    return type === 'boolean' ? 1 : type && NUMBER_TYPES.has(type) ? 2 : 0;
  });
  // The record keys that hold a lookup's object (only they can be an empty lookup).
  const lookups = [...new Set(paths.filter((p) => p.length > 1).map((p) => p[0]!))];
  const out: SalesforceRecord[] = [];
  for (const cells of rows) {
    if (cells.length === 1 && cells[0] === '' && header.length > 1) continue;
    const rec: Record<string, unknown> = {};
    for (let c = 0; c < paths.length; c++) {
      const raw = cells[c] ?? '';
      const value = raw === '' ? null : typed(raw, kinds[c]!);
      const path = paths[c]!;
      if (path.length === 1) {
        rec[path[0]!] = value;
        continue;
      }
      let target = rec;
      for (let k = 0; k < path.length - 1; k++) {
        const key = path[k]!;
        const existing = target[key];
        if (existing === null) break;
        if (existing === undefined) target[key] = {};
        target = target[key] as Record<string, unknown>;
      }
      target[path[path.length - 1]!] = value;
    }
    // A lookup whose every column is empty is null, as REST answers an empty lookup.
    for (const key of lookups) {
      const v = rec[key];
      if (v && typeof v === 'object' && Object.values(v).every((x) => x === null)) rec[key] = null;
    }
    out.push(rec as SalesforceRecord);
  }
  return out;
}

function typed(raw: string, kind: number): unknown {
  if (kind === 1) return raw === 'true';
  if (kind === 2) {
    const n = Number(raw);
    return Number.isFinite(n) ? n : raw;
  }
  return raw;
}

/**
 * RFC 4180: quoted fields may hold commas, quotes (doubled) and line breaks. An unquoted field is one slice of the
 * text and a quoted one without doubled quotes another: a 10,000-row result set was built a character at a time
 * before, and the strings it left behind were a tenth of the sync process's garbage collection.
 */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  const n = text.length;
  // After a delimiter a field always follows, even at the end of the text (`a,` is two fields).
  let fieldDue = false;
  while (i < n || fieldDue) {
    fieldDue = false;
    let field: string;
    if (text.charCodeAt(i) === 34 /* " */) {
      let from = i + 1;
      field = '';
      for (;;) {
        const q = text.indexOf('"', from);
        if (q < 0) {
          // An unterminated quote runs to the end, as before.
          field += text.slice(from);
          i = n;
          break;
        }
        field += text.slice(from, q);
        if (text.charCodeAt(q + 1) === 34) {
          field += '"';
          from = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      // Characters after the closing quote up to the delimiter belong to the field (lenient, as before).
      let j = i;
      while (j < n) {
        const c = text.charCodeAt(j);
        if (c === 44 || c === 10 || c === 13) break;
        j++;
      }
      if (j > i) field += text.slice(i, j);
      i = j;
    } else {
      let j = i;
      while (j < n) {
        const c = text.charCodeAt(j);
        if (c === 44 || c === 10 || c === 13) break;
        j++;
      }
      field = text.slice(i, j);
      i = j;
    }
    row.push(field);
    if (i >= n) {
      rows.push(row);
      row = [];
      break;
    }
    const c = text.charCodeAt(i);
    if (c === 44) {
      i++;
      fieldDue = true;
    } else {
      rows.push(row);
      row = [];
      i += c === 13 && text.charCodeAt(i + 1) === 10 ? 2 : 1;
    }
  }
  return rows;
}

/**
 * About how many rows `sobject` has, to choose between REST and a bulk job: the Record Count resource's figure
 * (a cached snapshot, one call for the object), or `SELECT COUNT()` where the resource lists nothing for it (it
 * leaves out History objects) or is refused (it needs "View Setup and Configuration").
 */
export async function approximateRowCount(client: SalesforceClient, sobject: string): Promise<number> {
  try {
    const res = await client.request<{ sObjects?: Array<{ name: string; count: number }> }>(
      'GET',
      `/limits/recordCount?sObjects=${encodeURIComponent(sobject)}`,
    );
    const hit = res.sObjects?.find((o) => o.name.toLowerCase() === sobject.toLowerCase());
    if (hit && Number.isFinite(hit.count)) return hit.count;
  } catch (e) {
    if (!isAppError(e)) throw e;
    const status = (e.details as { status?: unknown } | undefined)?.status;
    if (status !== 403 && status !== 404) throw e;
  }
  const counted = await client.query(`SELECT COUNT() FROM ${sobject}`);
  return counted.totalSize;
}
