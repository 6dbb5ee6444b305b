/**
 * The Salesforce REST client every read goes through: a jsforce `Connection` with jsforce's own retry switched
 * off, our retry policy around every call, one session refresh on a 401, an API-call counter, and a daily-budget
 * guard fed by `Sforce-Limit-Info` on every response. Queries are paged by hand through `nextRecordsUrl` (what
 * jsforce's `queryMore` does) because `autoFetch` stops silently at `maxFetch` (10,000 by default).
 */
import { PassThrough } from 'node:stream';
import { Connection } from 'jsforce';
import { AppError } from '../../errors.ts';
import type { Logger } from '../../util/log.ts';
import { abortableSleep } from '../../util/sleep.ts';
import { countCall } from '../call-count.ts';
import { type CallFailure, decideRetry, type RetryOptions } from '../retry-policy.ts';
import { SALESFORCE_RETRY_CODES } from './retry-codes.ts';

/** The session a client uses: a bearer token on an instance. */
export interface SalesforceSession {
  accessToken: string;
  instanceUrl: string;
  /** 18-character org id from the token response's identity URL, when known. */
  orgId?: string;
  /** The integration user's id, from the same URL. */
  userId?: string;
}

/** Hands out sessions and replaces one the server refused (see auth.ts). */
export interface SessionProvider {
  current(): Promise<SalesforceSession>;
  /** Called with the token the server refused; returns a fresh session (or a newer one another worker got). */
  refresh(refusedAccessToken: string): Promise<SalesforceSession>;
}

export interface SalesforceClientOptions {
  apiVersion: string;
  session: SessionProvider;
  log: Logger;
  /** Stop before the org's daily API usage reaches this share of its allocation (0..1). */
  budgetShare?: number;
  retry?: Partial<RetryOptions>;
  /** Injected in tests; resolves after ms unless the signal aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
  /**
   * Longest wait for one complete answer (default 3 minutes, past Salesforce's own 120 s query limit). A
   * connection dropped mid-response can leave jsforce waiting for the rest of the body forever; past this the
   * attempt counts as a network failure and goes through the retry policy.
   */
  requestTimeoutMs?: number;
}

/** Default for `requestTimeoutMs`. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 180_000;

/**
 * Rejects with an ETIMEDOUT network failure when `p` has not settled within `ms`, and with the signal's reason as
 * soon as it aborts (jsforce's request takes no signal: a stop must not wait for the answer).
 */
function withTimeout<T>(p: Promise<T>, ms: number, what: string, signal?: AbortSignal): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error(`${what}: no complete answer within ${ms} ms`), { code: 'ETIMEDOUT' })),
      ms,
    );
    if (signal) {
      onAbort = () => reject(signal.reason);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    }
  });
  return Promise.race([p, timeout]).finally(() => {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  });
}

/** What jsforce hands a transport: the request with its absolute URL and the session's headers. */
interface JsforceRequest {
  method?: string;
  url?: string;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * One HTTP exchange for jsforce, the body read whole before it answers. jsforce's own transport pipes node-fetch's
 * body into its stream with `pipe()`, which does not pass the body's error on: a connection reset after the
 * headers (a proxy or load balancer cutting it, the sandbox's `drop` fault) left the request waiting for the rest
 * until our request timeout, 180 s. In the 10-minute soak under faults that one stall kept a one-minute stream
 * from succeeding for 3 minutes, and /readyz said sync_overdue 4 times. Here the reset fails the attempt at once,
 * as a network error the retry policy retries.
 */
async function wholeExchange(req: JsforceRequest, signal: AbortSignal): Promise<CapturedResponse & { body: string }> {
  try {
    const res = await fetch(req.url ?? '', {
      method: req.method ?? 'GET',
      headers: req.headers ?? {},
      ...(req.body !== undefined && req.method !== 'GET' ? { body: req.body } : {}),
      redirect: 'manual',
      signal,
    });
    const body = await res.text();
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      headers[k.toLowerCase()] = v;
    });
    return { statusCode: res.status, headers, body };
  } catch (e) {
    if (signal.aborted) throw e;
    // undici says "fetch failed" or "terminated" and keeps the socket's code on the cause.
    const cause = (e as { cause?: { code?: unknown; message?: unknown } }).cause;
    const code = typeof cause?.code === 'string' ? cause.code : 'ECONNRESET';
    const why = typeof cause?.message === 'string' ? cause.message : (e as Error).message;
    throw Object.assign(new Error(`the connection failed before the answer was complete: ${why} (${code})`), {
      code,
      cause: e,
    });
  }
}

export interface QueryResult<T> {
  totalSize: number;
  done: boolean;
  records: T[];
  nextRecordsUrl?: string;
}

export interface DeletedResult {
  deletedRecords: Array<{ id: string; deletedDate: string }>;
  earliestDateAvailable: string;
  latestDateCovered: string;
}

/** Minimal view of a describe result: what the connector checks. */
export interface DescribeResult {
  name: string;
  fields: Array<{
    name: string;
    type: string;
    calculated?: boolean;
    updateable?: boolean;
    externalId?: boolean;
    /** For a lookup: the objects it may point at and the name of its child-to-parent path (`Owner`). */
    referenceTo?: string[];
    relationshipName?: string | null;
  }>;
}

export type SalesforceRecord = { Id?: string; [field: string]: unknown };

type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

interface CapturedResponse {
  statusCode: number;
  headers: Record<string, string>;
  body?: string;
}

/** Reads status, CRM error code and headers out of whatever jsforce threw for one attempt. */
function describeFailure(err: unknown, response: CapturedResponse | undefined): CallFailure {
  const e = err as { errorCode?: unknown; name?: unknown; code?: unknown; message?: unknown };
  let code: string | undefined;
  if (typeof e?.errorCode === 'string') code = e.errorCode;
  else if (typeof e?.code === 'string') code = e.code;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  // node-fetch wraps socket errors: "request to ... failed, reason: socket hang up" with code ECONNRESET.
  if (!response) return { code, message };
  return { status: response.statusCode, code, message, headers: response.headers };
}

export class SalesforceClient {
  readonly conn: Connection;
  readonly apiVersion: string;
  private readonly opts: SalesforceClientOptions;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private session: SalesforceSession | undefined;
  private calls = 0;
  /** Latest `Sforce-Limit-Info` reading. */
  usage: { used: number; limit: number } | undefined;
  /** Server clock from the latest response's Date header: cursors are bounded by the CRM's time, not ours. */
  serverTime: Date | undefined;

  /** Longest wait for one complete answer (`requestTimeoutMs`). */
  get requestTimeoutMs(): number {
    return this.opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  constructor(opts: SalesforceClientOptions) {
    this.opts = opts;
    this.apiVersion = opts.apiVersion;
    this.sleep = opts.sleep ?? abortableSleep;
    // jsforce defaults to API 50.0; always pin the configured version. No refresh token or refreshFn is given, so
    // jsforce's own session-refresh delegate stays off and a 401 reaches our retry policy.
    this.conn = new Connection({ version: opts.apiVersion });
  }

  /** HTTP requests sent by this client (each attempt counts: Salesforce counts them against the allocation). */
  apiCalls(): number {
    return this.calls;
  }

  async currentSession(): Promise<SalesforceSession> {
    this.session ??= await this.opts.session.current();
    return this.session;
  }

  private assertBudget(where: string): void {
    const share = this.opts.budgetShare ?? 0.5;
    if (!this.usage || this.usage.limit <= 0) return;
    if (this.usage.used >= share * this.usage.limit) {
      throw new AppError(
        'CRM_BUDGET_EXHAUSTED',
        `the org has used ${this.usage.used} of its ${this.usage.limit} daily API calls, at or past the configured ` +
          `share of ${Math.round(share * 100)}%; the sync stops here and resumes from its cursor on the next run`,
        { where, details: { ...this.usage, share } },
      );
    }
  }

  /**
   * Sends one REST request under the retry policy. `path` is relative to `/services/data/vXX.X` (e.g. `/query?q=`)
   * or absolute from the instance root (`/services/data/...`, as in `nextRecordsUrl`).
   */
  async request<T>(
    method: HttpMethod,
    path: string,
    options: {
      body?: unknown;
      headers?: Record<string, string>;
      /** Parse the answer as this content type instead of its own (`text/plain` keeps a CSV body as text). */
      responseType?: string;
      /** Called with the successful attempt's status, headers and raw body. */
      onResponse?: (res: { statusCode: number; headers: Record<string, string>; body: string }) => void;
      /**
       * Awaited right before each attempt goes out (after any backoff pause and session refresh); what it throws
       * ends the request unsent. A write's lease check (WriteCallGuard.beforeCall).
       */
      beforeAttempt?: () => Promise<void>;
      /** Told how each attempt ended: the HTTP status answered, or null for no answer (timeout, reset, cut body). */
      afterAttempt?: (status: number | null) => void;
    } = {},
  ): Promise<T> {
    let attempt = 0;
    let refreshed = false;
    for (;;) {
      this.opts.signal?.throwIfAborted();
      this.assertBudget(path);
      attempt++;
      const session = await this.currentSession();
      this.conn.accessToken = session.accessToken;
      this.conn.instanceUrl = session.instanceUrl;
      let captured: CapturedResponse | undefined;
      // Our own transport for this attempt: it keeps the raw status and headers (jsforce's errors carry neither, and
      // the retry policy needs Retry-After; the Date header gives the server's clock), and it reads the body whole
      // with its errors (see wholeExchange). Ended when the attempt is (a timeout, a stop).
      const exchange = new AbortController();
      const transport = {
        httpRequest: (req: unknown) => {
          const p = wholeExchange(req as JsforceRequest, exchange.signal).then((res) => {
            captured = res;
            return res;
          });
          return Object.assign(p, { stream: () => new PassThrough() });
        },
      };
      const headers: Record<string, string> = { ...(options.headers ?? {}) };
      if (options.body !== undefined) headers['content-type'] = 'application/json';
      await options.beforeAttempt?.();
      this.calls++;
      countCall();
      try {
        const result = await withTimeout(
          this.conn.request<T>(
            {
              method,
              url: path,
              headers,
              ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
            },
            {
              transport,
              retry: { maxRetries: 0 },
              ...(options.responseType ? { responseType: options.responseType } : {}),
            },
          ) as Promise<T>,
          this.opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
          `Salesforce ${method} ${path.split('?')[0]}`,
          this.opts.signal,
        ).finally(() => exchange.abort());
        this.observe(captured);
        options.afterAttempt?.(captured?.statusCode ?? 200);
        if (options.onResponse && captured) {
          options.onResponse({ statusCode: captured.statusCode, headers: captured.headers, body: captured.body ?? '' });
        }
        return result;
      } catch (err) {
        // A timed-out answer may have sent its status line already: it is still a network failure, not a 200.
        const timedOut = (err as { code?: unknown }).code === 'ETIMEDOUT';
        const aborted = this.opts.signal?.aborted === true;
        options.afterAttempt?.(timedOut || aborted ? null : (captured?.statusCode ?? null));
        if (aborted) throw this.opts.signal?.reason;
        this.observe(captured);
        const failure = describeFailure(err, timedOut ? undefined : captured);
        const decision = decideRetry(
          failure,
          { attempt, refreshed },
          { codes: SALESFORCE_RETRY_CODES, ...this.opts.retry },
        );
        if (decision.action === 'retry') {
          this.opts.log.warn({ path, attempt, delayMs: decision.delayMs }, `salesforce: ${decision.reason}; retrying`);
          await this.sleep(decision.delayMs, this.opts.signal);
          continue;
        }
        if (decision.action === 'refresh') {
          refreshed = true;
          this.opts.log.info({ path }, 'salesforce: session refused; refreshing once');
          this.session = await this.opts.session.refresh(session.accessToken);
          continue;
        }
        throw new AppError(decision.code, `Salesforce ${method} failed: ${decision.reason}: ${failure.message ?? ''}`, {
          where: `${method} ${path.split('?')[0]}`,
          retryable: decision.retryable,
          cause: err,
          ...(decision.retryAfterSeconds !== undefined ? { retryAfterSeconds: decision.retryAfterSeconds } : {}),
          details: { status: failure.status, crmCode: failure.code },
        });
      }
    }
  }

  private observe(res: CapturedResponse | undefined): void {
    const api = this.conn.limitInfo?.apiUsage;
    if (api) this.usage = { used: api.used, limit: api.limit };
    const date = res?.headers.date;
    if (date) {
      const t = new Date(date);
      if (!Number.isNaN(t.getTime())) this.serverTime = t;
    }
  }

  /** First page of a SOQL query; `all` reads through queryAll so soft-deleted rows arrive too. */
  query<T = SalesforceRecord>(
    soql: string,
    options: { all?: boolean; batchSize?: number } = {},
  ): Promise<QueryResult<T>> {
    const endpoint = options.all ? 'queryAll' : 'query';
    return this.request<QueryResult<T>>('GET', `/${endpoint}?q=${encodeURIComponent(soql)}`, {
      headers: options.batchSize ? { 'Sforce-Query-Options': `batchSize=${options.batchSize}` } : {},
    });
  }

  /** The next page of a query, from the previous page's `nextRecordsUrl`. */
  queryMore<T = SalesforceRecord>(nextRecordsUrl: string, batchSize?: number): Promise<QueryResult<T>> {
    return this.request<QueryResult<T>>('GET', nextRecordsUrl, {
      headers: batchSize ? { 'Sforce-Query-Options': `batchSize=${batchSize}` } : {},
    });
  }

  /**
   * A GET whose answer is text (a Bulk API result set in CSV), with its headers; the body is not parsed (jsforce
   * would turn CSV into records, and lose the difference the caller needs).
   */
  async text(path: string): Promise<{ text: string; headers: Record<string, string> }> {
    let got: { text: string; headers: Record<string, string> } = { text: '', headers: {} };
    await this.request<unknown>('GET', path, {
      headers: { Accept: 'text/csv' },
      responseType: 'text/plain',
      onResponse: (res) => {
        got = { text: res.body, headers: res.headers };
      },
    });
    return got;
  }

  /** Hard deletes between two instants (the feed covers the last 15 days only). */
  deleted(sobject: string, start: Date, end: Date): Promise<DeletedResult> {
    const fmt = (d: Date) => encodeURIComponent(`${d.toISOString().slice(0, 19)}Z`);
    return this.request<DeletedResult>('GET', `/sobjects/${sobject}/deleted/?start=${fmt(start)}&end=${fmt(end)}`);
  }

  describe(sobject: string): Promise<DescribeResult> {
    return this.request<DescribeResult>('GET', `/sobjects/${sobject}/describe`);
  }

  limits(): Promise<Record<string, { Max: number; Remaining: number }>> {
    return this.request('GET', '/limits');
  }
}
