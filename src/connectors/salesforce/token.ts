/**
 * One request to Salesforce's OAuth token endpoint over Node's fetch, bounded in time. jsforce's OAuth2 has no
 * timeout (a connection reset while the answer arrived left a sync waiting for ever, holding the refresh lock) and
 * its errors lose what the endpoint said when the body is not the OAuth shape (a 500 read "failed: :"). Here every
 * outcome becomes either the token response or a TokenCallError carrying what the retry policy reads (status, error
 * code, socket code) and the CRM's own words.
 *
 * What the endpoint answers on failure varies
 * (https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_flow_errors.htm): the OAuth shape
 * `{"error":"invalid_grant","error_description":"expired access/refresh token"}` for refused grants, and, from the
 * infrastructure in front of it, a REST-style `[{"errorCode","message"}]` list or an HTML page on 5xx.
 */
import type { CallFailure } from '../retry-policy.ts';

/** Default for `timeoutMs`: token calls are small; past this the attempt is a network failure and is retried. */
export const DEFAULT_TOKEN_TIMEOUT_MS = 30_000;

export interface TokenResponse {
  access_token: string;
  instance_url: string;
  id?: string;
  refresh_token?: string;
}

/** A failed token call as the retry policy sees it; `message` is the CRM's own words when it sent any. */
export class TokenCallError extends Error {
  readonly failure: CallFailure;
  constructor(failure: CallFailure, cause?: unknown) {
    super(failure.message ?? failure.code ?? `HTTP ${failure.status}`, cause === undefined ? undefined : { cause });
    this.name = 'TokenCallError';
    this.failure = failure;
  }
}

const MAX_WORDS = 300;

/** The readable text of an HTML error page: its title and body text, tags and scripts dropped. */
function htmlText(html: string): string {
  const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(html)?.[1]?.trim();
  const body = html
    .replace(/<(script|style|head)[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const text = title && !body.startsWith(title) ? `${title}: ${body}` : body;
  return text.length > MAX_WORDS ? `${text.slice(0, MAX_WORDS)}...` : text;
}

/** Status, error code and words out of a non-2xx token answer, whatever its shape. */
export function readTokenFailure(status: number, body: string, headers: Headers): CallFailure {
  const h: Record<string, string> = {};
  headers.forEach((v, k) => {
    h[k] = v;
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const o = parsed as { error?: unknown; error_description?: unknown } | undefined;
  if (o && typeof o === 'object' && typeof o.error === 'string') {
    const words = typeof o.error_description === 'string' && o.error_description ? o.error_description : o.error;
    return { status, code: o.error, message: words, headers: h };
  }
  const first = Array.isArray(parsed) ? (parsed[0] as { errorCode?: unknown; message?: unknown } | undefined) : null;
  if (first && typeof first.errorCode === 'string') {
    const words = typeof first.message === 'string' && first.message ? first.message : first.errorCode;
    return { status, code: first.errorCode, message: words, headers: h };
  }
  const text = /<[a-z!][\s\S]*>/i.test(body) ? htmlText(body) : body.trim().slice(0, MAX_WORDS);
  return { status, message: text || `HTTP ${status} with an empty body`, headers: h };
}

/** The socket-level code under fetch's "fetch failed" TypeError (ECONNRESET, UND_ERR_SOCKET, ...). */
function networkCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let depth = 0; cur && depth < 4; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

function networkWords(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; cur && depth < 4; depth++) {
    const m = (cur as { message?: unknown }).message;
    if (typeof m === 'string' && m && !parts.includes(m)) parts.push(m);
    cur = (cur as { cause?: unknown }).cause;
  }
  return parts.join(': ') || String(e);
}

/**
 * POSTs the form to `tokenUrl` and returns the parsed token response. Throws TokenCallError for anything the
 * endpoint or the network did (timeouts as ETIMEDOUT, so the retry policy treats them as network failures), and the
 * signal's reason, untouched, when the caller aborted.
 */
export async function requestToken(
  tokenUrl: string,
  form: Record<string, string>,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<TokenResponse> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TOKEN_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let status: number;
  let text: string;
  let headers: Headers;
  try {
    // The body is read under the same signal: a reset half-way through the answer is caught here too.
    const res = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(form).toString(),
      signal,
      redirect: 'error',
    });
    status = res.status;
    headers = res.headers;
    text = await res.text();
  } catch (e) {
    if (options.signal?.aborted) throw options.signal.reason;
    if (timeout.aborted) {
      throw new TokenCallError(
        { code: 'ETIMEDOUT', message: `the token endpoint gave no complete answer within ${timeoutMs / 1000} s` },
        e,
      );
    }
    const code = networkCode(e);
    throw new TokenCallError({ ...(code ? { code } : {}), message: networkWords(e) }, e);
  }
  if (status < 200 || status >= 300) throw new TokenCallError(readTokenFailure(status, text, headers));
  try {
    return JSON.parse(text) as TokenResponse;
  } catch {
    throw new TokenCallError({
      status: 502,
      message: `the token endpoint answered ${status} with a body that is not JSON: ${htmlText(text) || '(empty)'}`,
    });
  }
}
