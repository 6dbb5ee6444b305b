/**
 * The sandbox portal's credentials: a private app's access token (a bearer token that does not expire until it is
 * rotated or revoked), and a public app's OAuth client with a refresh token, exchanged at `/oauth/v1/token` for
 * 30-minute access tokens. Credentials are derived from the seed, so a pasted config survives restarts. A missing,
 * unknown, revoked or expired token is a 401 with HubSpot's body (`INVALID_AUTHENTICATION` or
 * `EXPIRED_AUTHENTICATION`).
 */
import { createHash, randomUUID } from 'node:crypto';

export type TokenKind = 'private_app' | 'oauth';

export interface HubSpotCredentials {
  /** The private app's access token (`pat-na1-...`). */
  accessToken: string;
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  /** The app id webhooks are sent for. */
  appId: number;
}

interface Issued {
  kind: TokenKind;
  /** Wall-clock expiry (OAuth access tokens), or null. */
  expiresAt: number | null;
  refreshToken?: string;
  /** The app the token belongs to: HubSpot's burst window is per app (a rotated token keeps its app). */
  app: string;
  /** The scopes granted to the app (null: every scope the sandbox knows). */
  scopes: ReadonlySet<string> | null;
}

/** Who a valid token is: its kind, its app, the scopes it was granted (null: all). */
export interface Caller {
  kind: TokenKind;
  app: string;
  scopes: ReadonlySet<string> | null;
}

/** OAuth access tokens last 30 minutes (`expires_in: 1800`). */
export const OAUTH_TTL_SECONDS = 1800;

function derive(seed: number, what: string): string {
  return createHash('sha256').update(`hubspot-sandbox:${seed}:${what}`).digest('hex');
}

function uuidFrom(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export class HubSpotAuth {
  readonly credentials: HubSpotCredentials;
  private readonly tokens = new Map<string, Issued>();
  private readonly refreshTokens = new Set<string>();
  private readonly ttlMs: number;
  private apps = 1;
  private readonly privateScopes: ReadonlySet<string> | null;

  /** `scopes`: what the private app's token is granted (default every scope: a token lacking some is a profile). */
  constructor(opts: { seed: number; portalId: number; oauthTtlMs?: number; scopes?: readonly string[] }) {
    const s = opts.seed;
    this.credentials = {
      accessToken: `pat-na1-${uuidFrom(derive(s, 'private-app'))}`,
      clientId: uuidFrom(derive(s, 'client-id')),
      clientSecret: uuidFrom(derive(s, 'client-secret')),
      refreshToken: `na1-${derive(s, 'refresh').slice(0, 4)}-${uuidFrom(derive(s, 'refresh-uuid'))}`,
      appId: 1_000_000 + (Math.abs(s) % 900_000),
    };
    this.ttlMs = opts.oauthTtlMs ?? OAUTH_TTL_SECONDS * 1000;
    this.privateScopes = opts.scopes ? new Set(opts.scopes) : null;
    this.tokens.set(this.credentials.accessToken, {
      kind: 'private_app',
      expiresAt: null,
      app: 'private-app-1',
      scopes: this.privateScopes,
    });
    this.refreshTokens.add(this.credentials.refreshToken);
    void opts.portalId;
  }

  /** The kind of a valid token, or the 401 to answer. */
  check(token: string | undefined): Caller | { status: 401; category: string; message: string } {
    if (!token) {
      return {
        status: 401,
        category: 'INVALID_AUTHENTICATION',
        message:
          'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
      };
    }
    const t = this.tokens.get(token);
    if (!t) {
      return {
        status: 401,
        category: 'INVALID_AUTHENTICATION',
        message:
          'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
      };
    }
    // wall-clock: OAuth access tokens expire 30 minutes of real time after they were issued
    const now = Date.now();
    if (t.expiresAt !== null && now >= t.expiresAt) {
      const minutes = Math.max(1, Math.round((now - t.expiresAt) / 60_000));
      return {
        status: 401,
        category: 'EXPIRED_AUTHENTICATION',
        message: `The OAuth token used to make this call expired ${minutes} minute(s) ago.`,
      };
    }
    return { kind: t.kind, app: t.app, scopes: t.scopes };
  }

  /**
   * Another private app of the same portal (a second integration, or a second connection's app), with its own token
   * and burst window, granted `scopes` (default all); the portal's daily allocation is shared with every other.
   */
  addPrivateApp(opts: { scopes?: readonly string[] } = {}): string {
    const token = `pat-na1-${randomUUID()}`;
    this.tokens.set(token, {
      kind: 'private_app',
      expiresAt: null,
      app: `private-app-${++this.apps}`,
      scopes: opts.scopes ? new Set(opts.scopes) : null,
    });
    return token;
  }

  /** `POST /oauth/v1/token` with `grant_type=refresh_token`. */
  token(params: URLSearchParams): { status: number; body: unknown } {
    const err = (status: string, message: string) => ({
      status: 400,
      body: { status, message, correlationId: randomUUID() },
    });
    if (params.get('grant_type') !== 'refresh_token')
      return err('BAD_GRANT_TYPE', 'grant_type must be refresh_token here');
    if (params.get('client_id') !== this.credentials.clientId)
      return err('BAD_CLIENT_ID', 'missing or unknown client id');
    if (params.get('client_secret') !== this.credentials.clientSecret)
      return err('BAD_CLIENT_SECRET', 'missing or invalid client secret');
    const refresh = params.get('refresh_token') ?? '';
    if (!this.refreshTokens.has(refresh)) return err('BAD_REFRESH_TOKEN', 'missing or unknown refresh token');
    const access = `CKX${createHash('sha256').update(randomUUID()).digest('base64url')}`;
    this.tokens.set(access, {
      kind: 'oauth',
      expiresAt: Date.now() + this.ttlMs, // wall-clock: the token's 30-minute lifetime runs in real time
      refreshToken: refresh,
      app: 'oauth-app',
      scopes: null,
    });
    return {
      status: 200,
      body: {
        token_type: 'bearer',
        refresh_token: refresh,
        access_token: access,
        expires_in: Math.round(this.ttlMs / 1000),
      },
    };
  }

  /** `GET /oauth/v1/access-tokens/{token}`: what a token is, or null. */
  info(token: string, portalId: number): Record<string, unknown> | null {
    const t = this.tokens.get(token);
    if (t?.kind !== 'oauth' || t.expiresAt === null) return null;
    return {
      token,
      hub_id: portalId,
      app_id: this.credentials.appId,
      // wall-clock: seconds of real time the token has left
      expires_in: Math.max(0, Math.round((t.expiresAt - Date.now()) / 1000)),
      token_type: 'access',
      scopes: [
        'crm.objects.deals.read',
        'crm.objects.owners.read',
        'crm.objects.goals.read',
        'crm.schemas.custom.read',
      ],
    };
  }

  /** Revokes a token (access or refresh); a revoked refresh token also kills the access tokens it issued. */
  revoke(token: string): boolean {
    if (this.refreshTokens.delete(token)) {
      for (const [k, v] of this.tokens) if (v.refreshToken === token) this.tokens.delete(k);
      return true;
    }
    return this.tokens.delete(token);
  }

  /** Expires every OAuth access token now (or one), for tests of a token running out mid-sync. */
  expire(token?: string): void {
    for (const [k, v] of this.tokens) {
      if (v.kind !== 'oauth' || (token && k !== token)) continue;
      // wall-clock: backdates the expiry against real time, which is what `check` compares with
      v.expiresAt = Date.now() - 1;
    }
  }

  /** A new private app token (the old one stops working), as rotating it in HubSpot's settings does. */
  rotatePrivateToken(): string {
    const old = this.tokens.get(this.credentials.accessToken);
    this.tokens.delete(this.credentials.accessToken);
    const next = `pat-na1-${randomUUID()}`;
    this.credentials.accessToken = next;
    this.tokens.set(next, {
      kind: 'private_app',
      expiresAt: null,
      app: old?.app ?? 'private-app-1',
      scopes: old?.scopes ?? this.privateScopes,
    });
    return next;
  }
}
