/**
 * The sandbox's OAuth 2.0 authorization server: the token endpoint's four grants (refresh_token,
 * client_credentials, JWT bearer, password), revocation, and the sessions the data API checks.
 *
 * Bodies follow Salesforce's: `{ access_token, signature, scope, instance_url, id, token_type, issued_at }` with `id`
 * the identity URL `<login>/id/<orgId>/<userId>` that jsforce parses (the JWT bearer grant, as documented, answers
 * without signature and issued_at; see test/fixtures/salesforce/oauth-token-response.json); failures are 400
 * `{ error, error_description }`. Simplifications: one connected app and one integration user; every grant logs in
 * as that user; sessions expire after a fixed lifetime measured on the real clock (not the sandbox clock, so a
 * sandbox anchored in the past still issues usable tokens).
 */
import { createHmac, createVerify, generateKeyPairSync, randomBytes } from 'node:crypto';

export interface AuthCredentials {
  clientId: string;
  clientSecret: string;
  username: string;
  password: string;
  /** The refresh token issued at start-up (as if the admin had run the web-server flow once). */
  refreshToken: string;
  /** PEM private key whose public half the connected app trusts for JWT bearer; for clients and tests. */
  privateKeyPem: string;
  publicKeyPem: string;
}

export interface AuthOptions {
  orgId: string;
  userId: string;
  username: string;
  /** Deterministic credentials from the seed (the RSA key is always fresh). */
  seed: number;
  /** Issue a new refresh token on every refresh and invalidate the old one. */
  rotateRefreshTokens?: boolean;
  /** Session lifetime in ms (default two hours, Salesforce's default session timeout). */
  sessionTtlMs?: number;
}

export interface TokenResult {
  status: number;
  body: Record<string, string>;
}

interface Session {
  userId: string;
  expiresAt: number;
  revoked: boolean;
}

function seeded(seed: number, label: string, len: number): string {
  return createHmac('sha256', `sandbox-${seed}`).update(label).digest('base64url').slice(0, len);
}

function fail(error: string, description: string): TokenResult {
  return { status: 400, body: { error, error_description: description } };
}

/** Decodes one base64url JWT segment as JSON, or undefined. */
function segment(s: string | undefined): Record<string, unknown> | undefined {
  if (!s) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export class SandboxAuth {
  readonly credentials: AuthCredentials;
  private readonly sessions = new Map<string, Session>();
  private readonly refreshTokens = new Set<string>();
  private readonly ttl: number;
  rotateRefreshTokens: boolean;
  /** Every refresh token issued, newest last (tests read it to follow rotation). */
  readonly issuedRefreshTokens: string[] = [];

  constructor(private readonly options: AuthOptions) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.credentials = {
      clientId: `3MVG9sandbox${seeded(options.seed, 'client', 40)}`,
      clientSecret: seeded(options.seed, 'secret', 32),
      username: options.username,
      password: `sandbox-${seeded(options.seed, 'password', 12)}`,
      refreshToken: `5Aep861${seeded(options.seed, 'refresh', 60)}`,
      privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    };
    this.refreshTokens.add(this.credentials.refreshToken);
    this.issuedRefreshTokens.push(this.credentials.refreshToken);
    this.ttl = options.sessionTtlMs ?? 2 * 3600_000;
    this.rotateRefreshTokens = options.rotateRefreshTokens ?? false;
  }

  /**
   * Handles POST /services/oauth2/token. `params` is the form body; `basic` the decoded
   * `Authorization: Basic` client credentials if sent; `baseUrl` the sandbox's URL (instance and identity URLs).
   */
  token(params: URLSearchParams, baseUrl: string, basic?: { id: string; secret: string }): TokenResult {
    const grant = params.get('grant_type');
    const clientId = params.get('client_id') ?? basic?.id ?? null;
    const clientSecret = params.get('client_secret') ?? basic?.secret ?? null;
    const appOk = () => clientId === this.credentials.clientId;
    const secretOk = () => clientSecret === this.credentials.clientSecret;
    switch (grant) {
      case 'refresh_token': {
        if (!appOk()) return fail('invalid_client_id', 'client identifier invalid');
        // The secret is optional on refresh (a connected app may not require it) but must be right if sent.
        if (clientSecret !== null && !secretOk()) return fail('invalid_client', 'invalid client credentials');
        const rt = params.get('refresh_token') ?? '';
        if (!this.refreshTokens.has(rt)) return fail('invalid_grant', 'expired access/refresh token');
        let rotated: string | undefined;
        if (this.rotateRefreshTokens) {
          this.refreshTokens.delete(rt);
          rotated = `5Aep861${randomBytes(40).toString('base64url')}`;
          this.refreshTokens.add(rotated);
          this.issuedRefreshTokens.push(rotated);
        }
        return this.issue(baseUrl, 'api refresh_token', rotated);
      }
      case 'client_credentials':
        if (!appOk()) return fail('invalid_client_id', 'client identifier invalid');
        if (!secretOk()) return fail('invalid_client', 'invalid client credentials');
        return this.issue(baseUrl, 'api');
      case 'password': {
        if (!appOk()) return fail('invalid_client_id', 'client identifier invalid');
        if (!secretOk()) return fail('invalid_client', 'invalid client credentials');
        // Salesforce accepts the password with the user's security token appended; the sandbox has none.
        if (
          params.get('username') !== this.credentials.username ||
          params.get('password') !== this.credentials.password
        ) {
          return fail('invalid_grant', 'authentication failure');
        }
        return this.issue(baseUrl, 'api');
      }
      case 'urn:ietf:params:oauth:grant-type:jwt-bearer':
        return this.jwtBearer(params.get('assertion') ?? '', baseUrl);
      default:
        return fail('unsupported_grant_type', 'grant type not supported');
    }
  }

  /** Verifies an RS256 assertion: signature with the app's public key, iss = client id, sub = user, aud, exp. */
  private jwtBearer(assertion: string, baseUrl: string): TokenResult {
    const [h, p, s] = assertion.split('.');
    const header = segment(h);
    const claims = segment(p);
    if (!header || !claims || !s) return fail('invalid_grant', 'invalid assertion');
    if (header.alg !== 'RS256') return fail('invalid_grant', 'invalid assertion: alg must be RS256');
    const ok = createVerify('RSA-SHA256')
      .update(`${h}.${p}`)
      .verify(this.credentials.publicKeyPem, Buffer.from(s, 'base64url'));
    if (!ok) return fail('invalid_grant', 'invalid assertion signature');
    if (claims.iss !== this.credentials.clientId) return fail('invalid_client_id', 'client identifier invalid');
    if (claims.sub !== this.credentials.username) return fail('invalid_grant', "user hasn't approved this consumer");
    // Salesforce wants the login host; the sandbox also accepts its own URL, since that is the client's loginUrl.
    const audiences = ['https://login.salesforce.com', 'https://test.salesforce.com', baseUrl];
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.some((a) => typeof a === 'string' && audiences.includes(a.replace(/\/$/, '')))) {
      return fail('invalid_grant', 'audience is invalid');
    }
    // wall-clock: Salesforce checks an assertion's expiry against real time
    if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) {
      return fail('invalid_grant', 'expired authorization code');
    }
    // The documented JWT bearer response has no signature and no issued_at.
    return this.issue(baseUrl, 'api', undefined, false);
  }

  private issue(baseUrl: string, scope: string, refreshToken?: string, signed = true): TokenResult {
    const accessToken = `${this.options.orgId.slice(0, 15)}!${randomBytes(48).toString('base64url')}`;
    this.sessions.set(accessToken, { userId: this.options.userId, expiresAt: Date.now() + this.ttl, revoked: false }); // wall-clock: a session lifetime
    const id = `${baseUrl}/id/${this.options.orgId}/${this.options.userId}`;
    const issuedAt = String(Date.now()); // wall-clock: the token's issue time, as Salesforce stamps it
    const body: Record<string, string> = {
      access_token: accessToken,
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
      // Salesforce signs id + issued_at with the consumer secret (HMAC-SHA256, base64).
      ...(signed
        ? {
            signature: createHmac('sha256', this.credentials.clientSecret)
              .update(id + issuedAt)
              .digest('base64'),
          }
        : {}),
      scope,
      instance_url: baseUrl,
      id,
      token_type: 'Bearer',
      ...(signed ? { issued_at: issuedAt } : {}),
    };
    return { status: 200, body };
  }

  /** The user id of a live session, or null for an unknown, expired or revoked token. */
  check(accessToken: string | undefined): string | null {
    if (!accessToken) return null;
    const s = this.sessions.get(accessToken);
    if (!s || s.revoked || s.expiresAt <= Date.now()) return null; // wall-clock: a session lifetime
    return s.userId;
  }

  /** POST /services/oauth2/revoke: an access token ends that session; a refresh token stops refreshing. */
  revoke(token: string): boolean {
    const s = this.sessions.get(token);
    if (s) {
      s.revoked = true;
      return true;
    }
    return this.refreshTokens.delete(token);
  }

  /** Ends one session, or every session, as if it had timed out (the expired-session fault). */
  expire(accessToken?: string): void {
    for (const [token, s] of this.sessions) {
      if (accessToken === undefined || token === accessToken) s.expiresAt = 0;
    }
  }
}
