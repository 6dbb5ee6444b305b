/**
 * HubSpot over HTTP through the real `@hubspot/api-client` (`Client.apiRequest`, so every path comes from
 * paths.ts), its own retry off (`numberOfApiCallRetries: 0`): the project's one retry policy decides. Each attempt
 * counts as an API call, as HubSpot counts it against the portal's limits.
 */
import { Client } from '@hubspot/api-client';
import { AppError } from '../../errors.ts';
import type { Logger } from '../../util/log.ts';
import { abortableSleep } from '../../util/sleep.ts';
import { countCall } from '../call-count.ts';
import { type CallFailure, decideRetry, type RetryDecision, type RetryOptions } from '../retry-policy.ts';
import type { HubSpotLimits, UsageAnswer } from './limits.ts';
import { HUBSPOT_PATHS } from './paths.ts';
import { HUBSPOT_RETRY_CODES } from './retry-codes.ts';

export interface HubSpotClientOptions {
  accessToken: string;
  basePath: string;
  log: Logger;
  retry?: Partial<RetryOptions>;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
  /** Longest wait for one complete answer, body included (default 60 s); past it the call counts as a timeout. */
  requestTimeoutMs?: number;
  /** The portal's rate budget (limits.ts): every attempt waits for a slot and counts against the day's share. */
  limits?: HubSpotLimits;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

/** `apiRequest` takes no abort signal: a stalled answer is abandoned after `ms` and retried as a timeout. */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(Object.assign(new Error(`${what}: no complete answer within ${ms} ms`), { code: 'ETIMEDOUT' }));
    }, ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

interface RequestOptions {
  qs?: Record<string, string>;
  body?: unknown;
  /** Awaited right before each attempt goes out (a write's fence: it may throw to send nothing more). */
  beforeAttempt?: () => Promise<void>;
  /** How each attempt ended: the HTTP status answered, or null when no whole answer came. */
  afterAttempt?: (status: number | null) => void;
  /**
   * false for a call HubSpot may have applied without our hearing it and that is not safe to send twice (a batch
   * create): an attempt with no whole answer, or a 5xx, is not sent again here; the caller finds out what landed.
   * A refusal that applied nothing (429) is still retried.
   */
  retryUnanswered?: boolean;
}

/** HubSpot's error body: `{ status, message, correlationId, category }`, a 429's `errorType` and `policyName`. */
interface HubSpotErrorBody {
  message?: string;
  category?: string;
  errorType?: string;
  policyName?: string;
  /** A 403 MISSING_SCOPES names the scopes: `errors[].context.requiredGranularScopes`. */
  errors?: Array<{ context?: { requiredGranularScopes?: unknown } }>;
}

/** The scopes a MISSING_SCOPES refusal names (empty when it names none). */
export function requiredScopesOf(body: HubSpotErrorBody | null): string[] {
  const out = new Set<string>();
  for (const e of body?.errors ?? []) {
    const s = e.context?.requiredGranularScopes;
    if (Array.isArray(s)) for (const x of s) if (typeof x === 'string') out.add(x);
  }
  return [...out];
}

function parseErrorBody(text: string): HubSpotErrorBody | null {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' ? (v as HubSpotErrorBody) : null;
  } catch {
    return null;
  }
}

export class HubSpotClient {
  private readonly sdk: Client;
  private readonly opts: HubSpotClientOptions;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private calls = 0;

  constructor(opts: HubSpotClientOptions) {
    this.opts = opts;
    this.sleep = opts.sleep ?? abortableSleep;
    this.sdk = new Client({ accessToken: opts.accessToken, basePath: opts.basePath, numberOfApiCallRetries: 0 });
  }

  apiCalls(): number {
    return this.calls;
  }

  /** Longest wait for one answer: a write sent by a process that then died may land until then. */
  get requestTimeoutMs(): number {
    return this.opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  get limits(): HubSpotLimits | undefined {
    return this.opts.limits;
  }

  get<T>(path: string, qs?: Record<string, string>): Promise<T> {
    return this.request<T>('GET', path, qs ? { qs } : {});
  }

  /** Every page of a list that pages by `after` (`paging.next.after`), its results in order. */
  async getAll<T>(path: string, qs: Record<string, string>): Promise<T[]> {
    const out: T[] = [];
    let after: string | undefined;
    do {
      const res = await this.get<{ results: T[]; paging?: { next?: { after?: string } } }>(
        path,
        after ? { ...qs, after } : qs,
      );
      out.push(...res.results);
      after = res.paging?.next?.after;
    } while (after);
    return out;
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, { body });
  }

  /**
   * Checks the day's usage with HubSpot when it is due (limits.ts `needsUsage`: first, after the day's reset, or a
   * while after a failed ask), before the call that counts against the share (`where` null: only record it; the
   * share then stops the first call that counts, inside a stream).
   */
  async checkUsage(limits: HubSpotLimits | undefined = this.opts.limits, where: string | null = null): Promise<void> {
    if (!limits?.needsUsage()) return;
    let answer: UsageAnswer;
    try {
      // Which portal's day this is (the day is the portal's, whatever the token): known before it is recorded.
      await limits.resolveDailyKey();
      answer = await this.request<UsageAnswer>('GET', HUBSPOT_PATHS.dailyUsage);
    } catch (e) {
      if (this.opts.signal?.aborted) throw e;
      // An OAuth token or a token without the scope cannot read it; the call it precedes still says what is wrong
      // with the token. A spent allocation or an auth failure is the stream's answer.
      if (e instanceof AppError && ['CRM_AUTH_FAILED', 'CRM_RATE_LIMITED', 'CRM_BUDGET_EXHAUSTED'].includes(e.code))
        throw e;
      // A 5xx or a timeout (retryable, its retries spent) may pass: asked again a minute on, not never again.
      const transient = !(e instanceof AppError) || e.retryable;
      limits.usageUnavailable(e instanceof Error ? e.message : String(e), transient);
      return;
    }
    await limits.reportUsage(answer, where);
  }

  private unlearned(where: string, e: unknown): void {
    this.opts.log.warn(
      { where, err: e instanceof Error ? e.message : String(e) },
      'hubspot: the rate-limit headers of an answer could not be recorded in the rate budget; the answer is kept',
    );
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const limits = this.opts.limits;
    const where = `${method} ${path}`;
    // Which portal the token reaches is asked before any stream runs (outside its status): it waits for a window
    // slot like any call but is not stopped by the daily share, which stops the stream that reads next.
    const shared = path !== HUBSPOT_PATHS.dailyUsage && path !== HUBSPOT_PATHS.accountDetails;
    if (shared) await this.checkUsage(limits, where);
    for (let attempt = 1; ; attempt++) {
      if (this.opts.signal?.aborted) throw this.opts.signal.reason;
      const release = limits
        ? await limits.acquire(method === 'POST' && path.endsWith('/search'), shared ? where : null)
        : null;
      if (options.beforeAttempt) {
        try {
          await options.beforeAttempt();
        } catch (e) {
          if (release) await release();
          throw e;
        }
      }
      this.calls++;
      countCall();
      let failure: CallFailure;
      let attemptStatus: number | null = null;
      let cause: unknown;
      let answered: Record<string, string> | null = null;
      let missingScopes: string[] | undefined;
      try {
        const { res, text } = await withTimeout(
          (async () => {
            const r = await this.sdk.apiRequest({
              method,
              path,
              ...(options.qs ? { qs: options.qs } : {}),
              ...(options.body !== undefined ? { body: options.body } : {}),
            });
            const text = await r.text();
            attemptStatus = r.status;
            return { res: r, text };
          })(),
          this.opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
          `HubSpot ${method} ${path}`,
        );
        const seen: Record<string, string> = {};
        res.headers.forEach((v, k) => {
          seen[k.toLowerCase()] = v;
        });
        answered = seen;
        if (res.status >= 200 && res.status < 300) {
          return (text ? JSON.parse(text) : null) as T;
        }
        const body = parseErrorBody(text);
        const headers = answered;
        if (res.status === 429 && body?.policyName === 'DAILY') {
          // The daily allocation is spent: nothing retried today helps; the stream stops until the reset, and the
          // budget keeps every other worker from calling before it.
          if (limits) throw await limits.dailyRefused(`${method} ${path}`);
          throw new AppError(
            'CRM_BUDGET_EXHAUSTED',
            `HubSpot refused the call: the portal's daily API allocation is used up (429 DAILY); the stream stops here and resumes from its cursor after HubSpot resets the count at midnight in the portal's time zone`,
            { where: `${method} ${path}`, retryable: true, details: { status: 429, crmCode: 'DAILY' } },
          );
        }
        const code = body?.category ?? body?.errorType;
        const scopes = code === 'MISSING_SCOPES' ? requiredScopesOf(body) : [];
        failure = {
          status: res.status,
          ...(code ? { code } : {}),
          // A missing scope is said as what to grant: the token's private app lacks it.
          message: scopes.length
            ? `the private app's token lacks the scope${scopes.length > 1 ? 's' : ''} ${scopes.join(', ')}; grant ${scopes.length > 1 ? 'them' : 'it'} to the app in HubSpot (${body?.message ?? ''})`
            : (body?.message ?? text.slice(0, 200).replace(/\s+/g, ' ')),
          headers,
        };
        if (scopes.length) missingScopes = scopes;
      } catch (err) {
        if (err instanceof AppError) throw err;
        if (this.opts.signal?.aborted) throw this.opts.signal.reason;
        cause = err;
        const e = err as { code?: unknown; message?: unknown };
        failure = {
          ...(typeof e.code === 'string' ? { code: e.code } : {}),
          message: typeof e.message === 'string' ? e.message : String(err),
        };
      } finally {
        options.afterAttempt?.(attemptStatus);
        try {
          // The answer's headers first: they may say the window's length, which the slot is then held for. Failing
          // to record them (the budget's database) loses no answer: the call's outcome stands, and it is said.
          if (limits && answered) await limits.learn(answered).catch((e: unknown) => this.unlearned(where, e));
        } finally {
          if (release) await release();
        }
      }
      const unanswered = failure.status === undefined || failure.status >= 500;
      const decision: RetryDecision =
        options.retryUnanswered === false && unanswered
          ? {
              action: 'fail',
              code: 'CRM_UNAVAILABLE',
              retryable: true,
              reason: 'no whole answer to a call that may have been applied: not sent again',
            }
          : decideRetry(failure, { attempt, refreshed: true }, { codes: HUBSPOT_RETRY_CODES, ...this.opts.retry });
      if (decision.action === 'retry') {
        this.opts.log.warn({ path, attempt, delayMs: decision.delayMs }, `hubspot: ${decision.reason}; retrying`);
        await this.sleep(decision.delayMs, this.opts.signal);
        continue;
      }
      // A private app's token does not expire: there is no session to refresh, so 'refresh' cannot happen here
      // (refreshed is passed as true) and a 401 is an auth failure.
      const reason = decision.action === 'fail' ? decision.reason : 'unexpected retry decision';
      throw new AppError(
        decision.action === 'fail' ? decision.code : 'INTERNAL',
        `HubSpot ${method} ${path} failed: ${reason}: ${failure.message ?? ''}`,
        {
          where: `${method} ${path}`,
          retryable: decision.action === 'fail' ? decision.retryable : false,
          ...(cause !== undefined ? { cause } : {}),
          ...(decision.action === 'fail' && decision.retryAfterSeconds !== undefined
            ? { retryAfterSeconds: decision.retryAfterSeconds }
            : {}),
          details: {
            status: failure.status,
            crmCode: failure.code,
            ...(missingScopes ? { missingScopes } : {}),
          },
        },
      );
    }
  }
}
