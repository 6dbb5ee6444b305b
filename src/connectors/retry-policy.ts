/**
 * The one place that decides whether a failed CRM call is tried again, and when. Pure: the caller passes what it
 * saw (status, error code, headers, attempt) and a random source; the answer is retry after N ms, refresh the
 * session first, or give up with an error code from the catalogue. The SDKs' own retries are switched off so that
 * nothing else makes this decision (jsforce retries only GETs and ignores Retry-After).
 */
import type { ErrorCode } from '../errors.ts';

/** What a failed call looked like, extracted from whatever the HTTP layer threw. */
export interface CallFailure {
  /** HTTP status when there was a response. */
  status?: number;
  /** CRM error code (`REQUEST_LIMIT_EXCEEDED`, `INVALID_SESSION_ID`, ...) or Node socket code (`ECONNRESET`). */
  code?: string;
  message?: string;
  /** Response headers, names lower-cased. */
  headers?: Readonly<Record<string, string | undefined>>;
}

export interface RetryState {
  /** 1 for the first attempt that failed, 2 for the first retry that failed, ... */
  attempt: number;
  /** Whether this call already refreshed the session once. */
  refreshed: boolean;
}

export interface RetryOptions {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Backoff base: attempt n waits up to base * 2^(n-1), before jitter. */
  baseDelayMs: number;
  /** Backoff ceiling before jitter. */
  maxDelayMs: number;
  /** A Retry-After longer than this is not slept through: the run stops and says when to come back. */
  maxRetryAfterMs: number;
  /** [0, 1) source for full jitter. */
  random: () => number;
  /** Wall clock in ms, for Retry-After given as an HTTP date. */
  now: () => number;
  /** The CRM's error codes (the connector's registry entry). */
  codes: RetryCodes;
}

/** A CRM's own error codes, as its connector extracts them into `CallFailure.code` (registry `retryCodes`). */
export interface RetryCodes {
  /** Rate or request limits: backed off like a 429 whatever the status. */
  rate: ReadonlySet<string>;
  /** "The request itself is wrong" about a field: sending it again gives the same answer. */
  field: ReadonlySet<string>;
  /** An expired session on a 401: refreshed once, then retried. */
  session: ReadonlySet<string>;
}

/** For a CRM without codes of its own: statuses decide alone. */
export const NO_RETRY_CODES: RetryCodes = { rate: new Set(), field: new Set(), session: new Set() };

export const DEFAULT_RETRY_OPTIONS: RetryOptions = {
  maxAttempts: 6,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 5 * 60_000,
  random: Math.random,
  now: Date.now,
  codes: NO_RETRY_CODES,
};

export type RetryDecision =
  | { action: 'retry'; delayMs: number; reason: string }
  | { action: 'refresh'; reason: string }
  | { action: 'fail'; code: ErrorCode; retryable: boolean; reason: string; retryAfterSeconds?: number };

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'ECONNABORTED',
]);

/** Seconds from a Retry-After header (delta-seconds or HTTP date); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, (at - nowMs) / 1000);
}

function isNetworkFailure(f: CallFailure): boolean {
  if (f.status !== undefined) return false;
  if (f.code && NETWORK_CODES.has(f.code)) return true;
  return /socket hang up|network socket disconnected|ECONNRESET|ETIMEDOUT|other side closed/i.test(f.message ?? '');
}

/** Exponential backoff with full jitter, never under the server's Retry-After. */
function backoff(state: RetryState, opts: RetryOptions, retryAfterSeconds: number | undefined): RetryDecision | null {
  const retryAfterMs = retryAfterSeconds === undefined ? 0 : Math.ceil(retryAfterSeconds * 1000);
  if (retryAfterMs > opts.maxRetryAfterMs) return null;
  const ceiling = Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** (state.attempt - 1));
  const jittered = Math.floor(opts.random() * ceiling);
  return { action: 'retry', delayMs: Math.max(jittered, retryAfterMs), reason: '' };
}

/**
 * Decides what to do after a failed call.
 *
 * - network errors, 5xx, 429 and `REQUEST_LIMIT_EXCEEDED`: back off (full jitter, at least Retry-After) until
 *   `maxAttempts`, then fail retryable so a scheduler can come back later;
 * - 401 `INVALID_SESSION_ID`: refresh the session once, then retry; a second 401 is an auth failure;
 * - 400-class validation errors (`INVALID_FIELD`, `MALFORMED_QUERY`, any other 4xx): never retried.
 */
export function decideRetry(
  failure: CallFailure,
  state: RetryState,
  options: Partial<RetryOptions> = {},
): RetryDecision {
  const opts = { ...DEFAULT_RETRY_OPTIONS, ...options };
  const { status, code } = failure;
  const retryAfter = parseRetryAfter(failure.headers?.['retry-after'], opts.now());
  const exhausted = state.attempt >= opts.maxAttempts;
  const what = `${status ?? code ?? 'error'}${code && status !== undefined ? ` ${code}` : ''}`;

  const transient = (failCode: ErrorCode, label: string): RetryDecision => {
    const b = exhausted ? null : backoff(state, opts, retryAfter);
    if (b && b.action === 'retry') return { ...b, reason: `${label} (${what}), attempt ${state.attempt}` };
    return {
      action: 'fail',
      code: failCode,
      retryable: true,
      reason: exhausted
        ? `${label} (${what}) after ${state.attempt} attempts`
        : `${label} (${what}); the CRM asked us to wait ${Math.ceil(retryAfter ?? 0)} s`,
      ...(retryAfter !== undefined ? { retryAfterSeconds: Math.ceil(retryAfter) } : {}),
    };
  };

  if (isNetworkFailure(failure)) return transient('CRM_UNAVAILABLE', 'network error');
  if (status === undefined) {
    return {
      action: 'fail',
      code: 'INTERNAL',
      retryable: false,
      reason: `unexpected failure: ${failure.message ?? code}`,
    };
  }
  if (status === 429 || (code !== undefined && opts.codes.rate.has(code)))
    return transient('CRM_RATE_LIMITED', 'rate limited');
  if (status >= 500) return transient('CRM_UNAVAILABLE', 'server error');
  if (status === 401) {
    if (!state.refreshed && (code === undefined || opts.codes.session.has(code) || code.startsWith('ERROR_HTTP'))) {
      return { action: 'refresh', reason: `session expired (${what})` };
    }
    return {
      action: 'fail',
      code: 'CRM_AUTH_FAILED',
      retryable: false,
      reason: `the CRM refused the session${state.refreshed ? ' even after a refresh' : ''} (${what})`,
    };
  }
  if (status === 403) {
    return { action: 'fail', code: 'CRM_PERMISSION', retryable: false, reason: `forbidden (${what})` };
  }
  if (code !== undefined && opts.codes.field.has(code)) {
    return { action: 'fail', code: 'CRM_FIELD_MISSING', retryable: false, reason: `invalid field (${what})` };
  }
  return { action: 'fail', code: 'CRM_REQUEST_INVALID', retryable: false, reason: `request rejected (${what})` };
}
