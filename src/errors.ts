/**
 * The one catalogue of error codes. Every failure a user can see carries one of these codes, says in one sentence
 * what is wrong and where (key path, record id, endpoint), and tells callers whether trying again can help.
 *
 * Add a code here rather than throwing a bare Error from a module boundary.
 *
 * `http` is the status the web API answers with: 4xx for what the caller sent, 502 when the CRM refused or failed
 * us, 503 for what passes (a database or CRM away, a rate limit, a used-up budget), 409 for a state conflict,
 * 501 for what is not built, 500 for a fault of this server's own setup or code.
 */

/** The HTTP statuses the catalogue uses. */
export type HttpStatus = 400 | 401 | 403 | 404 | 409 | 422 | 429 | 500 | 501 | 502 | 503;

export const ERROR_CODES = {
  // usage and configuration (exit code 2)
  USAGE: { exit: 2, http: 400, retryable: false, summary: 'bad command-line usage' },
  CONFIG_INVALID: { exit: 2, http: 400, retryable: false, summary: 'a configuration value is invalid' },
  CONFIG_ENV_MISSING: {
    exit: 2,
    http: 500,
    retryable: false,
    summary: 'the configuration names an environment variable that is not set',
  },
  CONFIG_FILE: { exit: 2, http: 500, retryable: false, summary: 'the configuration file cannot be read or parsed' },
  ORG_FILE_INVALID: { exit: 2, http: 500, retryable: false, summary: 'the org file has an invalid row' },
  QUOTA_FILE_INVALID: { exit: 2, http: 500, retryable: false, summary: 'the quota file has an invalid row' },
  CALENDAR_INVALID: { exit: 2, http: 400, retryable: false, summary: 'a fiscal calendar or period id is invalid' },
  PERIOD_NOT_STARTED: {
    exit: 2,
    http: 400,
    retryable: false,
    summary: 'the period asked for has not started yet, so it has nothing to report',
  },
  // not built yet (exit code 1)
  NOT_BUILT: { exit: 1, http: 501, retryable: false, summary: 'this command is not built yet' },
  // database and migrations
  DB_UNAVAILABLE: { exit: 1, http: 503, retryable: true, summary: 'the database cannot be reached' },
  DB_EMBEDDED_FAILED: {
    exit: 1,
    http: 503,
    retryable: false,
    summary: 'the embedded PostgreSQL server failed to start',
  },
  DB_EMBEDDED_UNREACHABLE: {
    exit: 1,
    http: 503,
    retryable: false,
    summary: 'the postgres user (the embedded server runs as it under root) cannot enter a folder it needs',
  },
  MIGRATION_FAILED: { exit: 1, http: 503, retryable: false, summary: 'a database migration failed' },
  SCHEMA_UNKNOWN: {
    exit: 1,
    http: 503,
    retryable: false,
    summary: 'the database schema is newer than this program knows',
  },
  SECRET_KEY_MISSING: {
    exit: 2,
    http: 500,
    retryable: false,
    summary: 'QUOTA_TRACKER_SECRET_KEY is needed to store credentials',
  },
  SECRET_DECRYPT_FAILED: { exit: 1, http: 500, retryable: false, summary: 'a stored credential cannot be decrypted' },
  // web and auth
  AUTH_REQUIRED: { exit: 1, http: 401, retryable: false, summary: 'an API token is required' },
  AUTH_FORBIDDEN: { exit: 1, http: 403, retryable: false, summary: 'the token is not allowed to do this' },
  AUTH_RATE_LIMITED: {
    exit: 1,
    http: 429,
    retryable: true,
    summary: 'too many failed sign-ins or bad tokens from this address; wait and try again',
  },
  CSRF_INVALID: {
    exit: 1,
    http: 403,
    retryable: false,
    summary: 'a form or unsafe request lacks the CSRF token of its session',
  },
  ROUTE_WITHOUT_POLICY: {
    exit: 1,
    http: 500,
    retryable: false,
    summary: 'a web route was registered without an access policy',
  },
  TOKEN_NOT_FOUND: { exit: 1, http: 404, retryable: false, summary: 'no such API token' },
  // CRM access
  CRM_AUTH_FAILED: { exit: 1, http: 502, retryable: false, summary: 'the CRM refused the credentials' },
  CRM_SESSION_EXPIRED: { exit: 1, http: 502, retryable: true, summary: 'the CRM session expired' },
  CRM_ORG_MISMATCH: {
    exit: 1,
    http: 409,
    retryable: false,
    summary: 'the connection points at a different CRM org than the one it is bound to',
  },
  CRM_RATE_LIMITED: { exit: 1, http: 503, retryable: true, summary: 'the CRM asked us to slow down' },
  CRM_BUDGET_EXHAUSTED: {
    exit: 1,
    http: 503,
    retryable: true,
    summary: 'the configured share of the CRM daily API allocation is used',
  },
  CRM_UNAVAILABLE: {
    exit: 1,
    http: 502,
    retryable: true,
    summary: 'the CRM is unreachable or answered with a server error',
  },
  CRM_REQUEST_INVALID: { exit: 1, http: 502, retryable: false, summary: 'the CRM rejected a request as invalid' },
  CRM_FIELD_MISSING: {
    exit: 1,
    http: 502,
    retryable: false,
    summary: 'a configured CRM field is missing or not accessible',
  },
  CRM_PERMISSION: { exit: 1, http: 502, retryable: false, summary: 'the integration user lacks a permission' },
  CRM_OBJECT_GONE: {
    exit: 1,
    http: 502,
    retryable: false,
    summary: 'a CRM object a stream read before is gone from the account (a plan change); a full read switches over',
  },
  CRM_BULK_JOB_FAILED: {
    exit: 1,
    http: 502,
    retryable: true,
    summary: 'a CRM bulk query job failed, was aborted or did not complete in time',
  },
  // data
  RECORD_INVALID: { exit: 1, http: 422, retryable: false, summary: 'a CRM record cannot be normalized' },
  SNAPSHOT_INVALID: { exit: 1, http: 500, retryable: false, summary: 'a stored metric snapshot cannot be read' },
  CURSOR_INVALID: { exit: 1, http: 500, retryable: false, summary: 'a stored sync cursor is unreadable' },
  SYNC_IN_PROGRESS: {
    exit: 1,
    http: 409,
    retryable: true,
    summary: 'another worker is already syncing this connection and stream',
  },
  SYNC_ABANDONED: {
    exit: 1,
    http: 500,
    retryable: true,
    summary: 'a sync run ended with its process (killed or cut off from the database) before it finished',
  },
  WRITEBACK_ABANDONED: {
    exit: 1,
    http: 500,
    retryable: true,
    summary: 'a write-back run lost its lock (its process killed or cut off from the database); a newer run took over',
  },
  WRITEBACK_DEFERRED: {
    exit: 1,
    http: 503,
    retryable: true,
    summary:
      'an earlier write-back call may still land on the fields this run would change; the run comes back after its deadline',
  },
  NOT_FOUND: { exit: 1, http: 404, retryable: false, summary: 'the requested subject or period does not exist' },
  WEBHOOK_NOT_RECEIVED: {
    exit: 1,
    http: 503,
    retryable: true,
    summary:
      'a signed webhook could not be acted on now (no job queue here, or the queue refused); the CRM redelivers it',
  },
  // report deliveries
  DELIVERY_UNKNOWN: { exit: 2, http: 404, retryable: false, summary: 'no report delivery has this id' },
  DELIVERY_WEBHOOK_FAILED: {
    exit: 1,
    http: 502,
    retryable: false,
    summary: 'a report delivery webhook refused the message or did not answer',
  },
  // jobs
  JOB_HANDLER_MISSING: { exit: 1, http: 500, retryable: false, summary: 'a job name has no handler' },
  JOB_PAYLOAD_INVALID: { exit: 1, http: 400, retryable: false, summary: 'a job payload is invalid' },
  INTERNAL: { exit: 1, http: 500, retryable: false, summary: 'an internal error' },
} as const satisfies Record<string, { exit: 0 | 1 | 2; http: HttpStatus; retryable: boolean; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface AppErrorOptions {
  /** Overrides the catalogue's default, e.g. a 5xx that we know is permanent. */
  retryable?: boolean;
  cause?: unknown;
  /** Where the fault is: a config key path, a record id, an endpoint. Shown with the message. */
  where?: string;
  /** Seconds the remote side asked us to wait (Retry-After). */
  retryAfterSeconds?: number;
  details?: Record<string, unknown>;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly where: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
    this.where = options.where;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.details = options.details;
  }

  get exitCode(): 0 | 1 | 2 {
    return ERROR_CODES[this.code].exit;
  }

  /** The status the web API answers this error with. */
  get httpStatus(): HttpStatus {
    return ERROR_CODES[this.code].http;
  }

  /** One sentence for stderr: the message plus where, never a stack. */
  toUserString(): string {
    // A sentence that already says where (`invalid configuration at web.port: ...`) is not told twice.
    return this.where && !this.message.includes(`at ${this.where}`)
      ? `${this.message} (at ${this.where})`
      : this.message;
  }
}

export function isAppError(e: unknown, code?: ErrorCode): e is AppError {
  return e instanceof AppError && (code === undefined || e.code === code);
}
