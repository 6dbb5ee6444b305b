/**
 * Every request the sandbox served, for tests to assert on: "every retry came at least Retry-After after its 429",
 * "a 400 was never retried", "an incremental sync made k calls".
 */

export interface RequestLogEntry {
  /** 1, 2, 3 ... in arrival order. */
  seq: number;
  method: string;
  /** The path without the query string, e.g. `/services/data/v62.0/query`. */
  path: string;
  /** Query-string parameters (the SOQL of a query is also in `soql`). */
  query: Record<string, string>;
  soql?: string;
  /** For query-more calls: the locator followed. */
  locator?: string;
  status: number;
  /** Real wall-clock time the request arrived, ms since the epoch. */
  startedAt: number;
  durationMs: number;
  /** Records in the response body (query pages, composite results, deleted/updated ids). */
  recordsReturned?: number;
  /** Seconds sent in Retry-After, if any. */
  retryAfterSeconds?: number;
  /** The injected fault, if any. */
  fault?: string;
  /** The first errorCode (data API) or `error` (OAuth) of an error response. */
  errorCode?: string;
  /** The request body as sent (JSON parsed when it is JSON), where the sandbox records it (HubSpot). */
  requestBody?: unknown;
  /** The response body, where the sandbox records it (HubSpot). */
  responseBody?: unknown;
}

export class RequestLog {
  private list: RequestLogEntry[] = [];
  private seq = 0;

  /** Opens an entry at arrival; the server completes it with `finish`. */
  start(method: string, path: string, query: Record<string, string>): RequestLogEntry {
    const entry: RequestLogEntry = {
      seq: ++this.seq,
      method,
      path,
      query,
      ...(query.q !== undefined ? { soql: query.q } : {}),
      status: 0,
      startedAt: Date.now(), // wall-clock: a duration
      durationMs: 0,
    };
    this.list.push(entry);
    return entry;
  }

  finish(entry: RequestLogEntry, status: number, extra: Partial<RequestLogEntry> = {}): void {
    Object.assign(entry, extra);
    entry.status = status;
    entry.durationMs = Date.now() - entry.startedAt; // wall-clock: a duration
  }

  /** A copy of every entry so far, oldest first. */
  entries(): RequestLogEntry[] {
    return this.list.map((e) => ({ ...e, query: { ...e.query } }));
  }

  /** Entries whose path contains `pathPart` (and with `method` if given). */
  find(pathPart: string, method?: string): RequestLogEntry[] {
    return this.entries().filter((e) => e.path.includes(pathPart) && (!method || e.method === method));
  }

  clear(): void {
    this.list = [];
  }
}
