/**
 * Salesforce sessions for one connection: refresh-token, client-credentials, JWT-bearer and (deprecated but
 * common) username-password flows, each token request bounded in time (token.ts) and under the one retry policy. A refresh token Salesforce rotates is saved encrypted,
 * and the latest session is shared through the credential store so that a worker that got a 401 picks up the
 * session another worker just obtained instead of refreshing again. Refreshes are serialized across processes by a
 * lock keyed by connection (a PostgreSQL advisory lock in production).
 */
import { createSign } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { AppError } from '../../errors.ts';
import type { Logger } from '../../util/log.ts';
import { abortableSleep } from '../../util/sleep.ts';
import { type CallFailure, decideRetry, type RetryOptions } from '../retry-policy.ts';
import type { CredentialStore, RefreshLock } from '../types.ts';
import type { SalesforceSession, SessionProvider } from './client.ts';
import { SALESFORCE_RETRY_CODES } from './retry-codes.ts';
import { requestToken, TokenCallError, type TokenResponse } from './token.ts';

export type SalesforceAuthConfig =
  | { kind: 'refresh_token'; clientId: string; clientSecret: string; refreshToken: string }
  | { kind: 'client_credentials'; clientId: string; clientSecret: string }
  | { kind: 'jwt'; clientId: string; username: string; privateKeyPath: string }
  | { kind: 'password'; clientId: string; clientSecret: string; username: string; password: string };

/** The neutral contract (src/db/secrets.ts and an advisory lock in production, a Map and a queue in tests). */
export type { CredentialStore, RefreshLock } from '../types.ts';

export interface SalesforceAuthOptions {
  connectionId: string;
  loginUrl: string;
  auth: SalesforceAuthConfig;
  log: Logger;
  store?: CredentialStore;
  lock?: RefreshLock;
  retry?: Partial<RetryOptions>;
  sleep?: (ms: number) => Promise<void>;
  now?: () => Date;
  /** Reads the JWT private key; defaults to the file system. */
  readKey?: (path: string) => Promise<string>;
  /** Longest wait for one token answer (default 30 s); past it the attempt is retried like a dropped connection. */
  tokenTimeoutMs?: number;
  /** Aborts a token request, the wait between attempts and the wait for the refresh lock. */
  signal?: AbortSignal;
  /** Told each time the CRM rotates the refresh token, and whether it could be kept (a store to save it in). */
  onRotated?: (kept: boolean) => Promise<void>;
}

/** What to do when a rotated refresh token cannot be kept: one sentence for logs, /readyz and start's refusal. */
export function rotationNeedsKeyMessage(connectionId: string): string {
  return `Salesforce rotates the refresh token of connection "${connectionId}" and QUOTA_TRACKER_SECRET_KEY is not set, so the new token cannot be kept and logins will fail after a restart; make a key with \`node -e "console.log(require('crypto').randomBytes(32).toString('base64'))"\`, set it as QUOTA_TRACKER_SECRET_KEY and restart`;
}

const SESSION_KIND = 'access_token';
const REFRESH_KIND = 'refresh_token';

function b64url(s: string | Buffer): string {
  return Buffer.from(s).toString('base64url');
}

/** The RS256-signed assertion of the JWT-bearer flow (jsforce has no signer). */
export function signJwtAssertion(
  claims: { clientId: string; username: string; audience: string; now: Date; lifetimeSeconds?: number },
  privateKeyPem: string,
): string {
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const body = b64url(
    JSON.stringify({
      iss: claims.clientId,
      sub: claims.username,
      aud: claims.audience,
      exp: Math.floor(claims.now.getTime() / 1000) + (claims.lifetimeSeconds ?? 180),
    }),
  );
  const signer = createSign('RSA-SHA256');
  signer.update(`${header}.${body}`);
  return `${header}.${body}.${signer.sign(privateKeyPem).toString('base64url')}`;
}

/** The org id from a token response's identity URL (`.../id/<orgId>/<userId>`). */
export function orgIdFromIdentityUrl(id: string | undefined): string | undefined {
  if (!id) return undefined;
  const parts = id.split('/').filter(Boolean);
  const org = parts[parts.length - 2];
  return org && /^00D[0-9A-Za-z]{12,15}$/.test(org) ? org : undefined;
}

/** A process-local lock, for a single process and for tests. */
export function localRefreshLock(): RefreshLock {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    run<T>(fn: () => Promise<T>): Promise<T> {
      const next = tail.then(fn, fn);
      tail = next.catch(() => {});
      return next;
    },
  };
}

export class SalesforceAuth implements SessionProvider {
  private readonly opts: SalesforceAuthOptions;
  private readonly tokenUrl: string;
  private readonly lock: RefreshLock;
  private session: SalesforceSession | undefined;

  constructor(opts: SalesforceAuthOptions) {
    this.opts = opts;
    this.tokenUrl = `${opts.loginUrl.replace(/\/+$/, '')}/services/oauth2/token`;
    this.lock = opts.lock ?? localRefreshLock();
  }

  /** The client id and, when the flow has one, the secret: every grant sends them. */
  private client(): Record<string, string> {
    const a = this.opts.auth;
    return {
      client_id: a.clientId,
      ...('clientSecret' in a && a.clientSecret ? { client_secret: a.clientSecret } : {}),
    };
  }

  private post(form: Record<string, string>): Promise<TokenResponse> {
    return requestToken(
      this.tokenUrl,
      { ...form, ...this.client() },
      {
        ...(this.opts.tokenTimeoutMs !== undefined ? { timeoutMs: this.opts.tokenTimeoutMs } : {}),
        ...(this.opts.signal ? { signal: this.opts.signal } : {}),
      },
    );
  }

  async current(): Promise<SalesforceSession> {
    if (this.session) return this.session;
    return this.lock.run(async () => {
      if (this.session) return this.session;
      const shared = await this.loadShared();
      this.session = shared ?? (await this.login());
      return this.session;
    });
  }

  async refresh(refusedAccessToken: string): Promise<SalesforceSession> {
    return this.lock.run(async () => {
      // Another caller (this process or, through the store, another worker) may have refreshed already.
      if (this.session && this.session.accessToken !== refusedAccessToken) return this.session;
      const shared = await this.loadShared();
      if (shared && shared.accessToken !== refusedAccessToken) {
        this.session = shared;
        return shared;
      }
      this.session = await this.login();
      return this.session;
    });
  }

  private async loadShared(): Promise<SalesforceSession | undefined> {
    if (!this.opts.store) return undefined;
    try {
      const raw = await this.opts.store.load(SESSION_KIND);
      if (!raw) return undefined;
      const s = JSON.parse(raw) as SalesforceSession & { loginUrl?: string };
      // A session stored for another login URL (the connection was re-pointed) is not ours.
      if (s.loginUrl !== this.opts.loginUrl || !s.accessToken || !s.instanceUrl) return undefined;
      return {
        accessToken: s.accessToken,
        instanceUrl: s.instanceUrl,
        ...(s.orgId ? { orgId: s.orgId } : {}),
        ...(s.userId ? { userId: s.userId } : {}),
      };
    } catch (e) {
      this.opts.log.warn({ err: (e as Error).message }, 'salesforce: stored session unreadable; logging in again');
      return undefined;
    }
  }

  private async saveQuietly(kind: string, value: string): Promise<void> {
    if (!this.opts.store) return;
    try {
      await this.opts.store.save(kind, value);
    } catch (e) {
      // The session in hand still works; only a later login with the old refresh token may fail, so say it loudly.
      this.opts.log[kind === REFRESH_KIND ? 'error' : 'warn'](
        { connection: this.opts.connectionId, kind, err: (e as Error).message },
        'salesforce: could not store a credential',
      );
    }
  }

  /** Obtains a new session with the configured flow. */
  private async login(): Promise<SalesforceSession> {
    const a = this.opts.auth;
    let res: TokenResponse;
    if (a.kind === 'refresh_token') {
      const stored = this.opts.store ? await this.opts.store.load(REFRESH_KIND).catch(() => null) : null;
      const token = stored ?? a.refreshToken;
      try {
        res = await this.token(() => this.post({ grant_type: 'refresh_token', refresh_token: token }));
      } catch (e) {
        // A stored rotated token that no longer works: the configured one may have been replaced on purpose.
        if (stored && stored !== a.refreshToken)
          res = await this.token(() => this.post({ grant_type: 'refresh_token', refresh_token: a.refreshToken }));
        else throw e;
      }
      if (res.refresh_token && res.refresh_token !== token) {
        if (this.opts.store) {
          this.opts.log.info({ connection: this.opts.connectionId }, 'salesforce: refresh token rotated; saving it');
          await this.saveQuietly(REFRESH_KIND, res.refresh_token);
        } else {
          this.opts.log.error({ connection: this.opts.connectionId }, rotationNeedsKeyMessage(this.opts.connectionId));
        }
        await this.opts
          .onRotated?.(this.opts.store !== undefined)
          .catch((e: unknown) =>
            this.opts.log.warn({ err: (e as Error).message }, 'salesforce: could not record the token rotation'),
          );
      }
    } else if (a.kind === 'client_credentials') {
      res = await this.token(() => this.post({ grant_type: 'client_credentials' }));
    } else if (a.kind === 'jwt') {
      const pem = await (this.opts.readKey ?? ((p) => readFile(p, 'utf8')))(a.privateKeyPath).catch((e: unknown) => {
        throw new AppError('CONFIG_INVALID', `cannot read the JWT private key: ${(e as Error).message}`, {
          where: `connections.${this.opts.connectionId}.auth.privateKeyPath`,
        });
      });
      const assertion = signJwtAssertion(
        {
          clientId: a.clientId,
          username: a.username,
          audience: this.opts.loginUrl.replace(/\/$/, ''),
          // wall-clock: the CRM checks the assertion's expiry against real time, whatever day the program replays
          now: (this.opts.now ?? (() => new Date()))(),
        },
        pem,
      );
      res = await this.token(() => this.post({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }));
    } else {
      res = await this.token(() => this.post({ grant_type: 'password', username: a.username, password: a.password }));
    }
    const orgId = orgIdFromIdentityUrl(res.id);
    const userId = res.id?.split('/').filter(Boolean).pop();
    const session: SalesforceSession = {
      accessToken: res.access_token,
      instanceUrl: res.instance_url,
      ...(orgId ? { orgId } : {}),
      ...(orgId && userId?.startsWith('005') ? { userId } : {}),
    };
    await this.saveQuietly(SESSION_KIND, JSON.stringify({ ...session, loginUrl: this.opts.loginUrl }));
    return session;
  }

  /**
   * One token request under the retry policy: network failures, timeouts and 5xx are tried again with backoff;
   * OAuth refusals (invalid_grant, invalid_client, ...) and other 4xx are auth failures, sent once. Whatever ends
   * it, the message carries what the CRM said.
   */
  private async token(call: () => Promise<TokenResponse>): Promise<TokenResponse> {
    const sleep = this.opts.sleep ?? ((ms: number) => abortableSleep(ms, this.opts.signal));
    const where = `connections.${this.opts.connectionId}.auth`;
    const what = `Salesforce ${this.opts.auth.kind} login for connection "${this.opts.connectionId}"`;
    for (let attempt = 1; ; attempt++) {
      this.opts.signal?.throwIfAborted();
      let failure: CallFailure;
      let cause: unknown;
      try {
        const res = await call();
        if (!res?.access_token || !res.instance_url) {
          throw new AppError('CRM_AUTH_FAILED', `${what} failed: the token endpoint answered without an access token`, {
            where,
          });
        }
        return res;
      } catch (e) {
        if (!(e instanceof TokenCallError)) throw e;
        failure = e.failure;
        cause = e;
      }
      const d = decideRetry(
        failure,
        { attempt, refreshed: true },
        { codes: SALESFORCE_RETRY_CODES, ...this.opts.retry },
      );
      const words = failure.message ?? '';
      if (d.action === 'retry') {
        this.opts.log.warn(
          { connection: this.opts.connectionId, attempt, delayMs: d.delayMs },
          `salesforce: token request: ${d.reason}; retrying: ${words}`,
        );
        await sleep(d.delayMs);
        continue;
      }
      const status = failure.status;
      const refused = status !== undefined && status >= 400 && status < 500 && status !== 429;
      const code = refused ? 'CRM_AUTH_FAILED' : d.action === 'fail' ? d.code : 'CRM_AUTH_FAILED';
      // No HTTP answer at all: the address is at fault (a typo, a host that does not resolve, a closed port), not
      // the credentials, so the sentence names loginUrl.
      const unreached = status === undefined;
      const reason = refused
        ? `the token endpoint refused it (${status}${failure.code ? ` ${failure.code}` : ''})`
        : unreached
          ? `loginUrl ${this.opts.loginUrl} cannot be reached: ${d.reason}`
          : d.reason;
      // The retry policy's reason may already end with the CRM's words; say them once.
      const tail = words && !reason.includes(words) ? `: ${words}` : '';
      throw new AppError(code, `${what} failed: ${reason}${tail}`, {
        where: unreached ? `connections.${this.opts.connectionId}.loginUrl` : where,
        cause,
        retryable: d.action === 'fail' ? d.retryable && !refused : false,
        ...(d.action === 'fail' && d.retryAfterSeconds !== undefined ? { retryAfterSeconds: d.retryAfterSeconds } : {}),
        details: { status, crmCode: failure.code },
      });
    }
  }
}
