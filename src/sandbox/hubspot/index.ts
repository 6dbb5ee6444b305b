/**
 * `startHubSpotSandbox`: a generated sales org behind a local HubSpot API, for the connector's tests, the demo and
 * benchmarks. Composes the CRM-neutral generator (`../org`), the HubSpot rendering (`populate.ts`), the APIs
 * (`crm.ts`, `server.ts`), limits (`limits.ts`), webhooks (`webhooks.ts`), the life clock (`life.ts`) and the oracle
 * (`oracle.ts`). Point `@hubspot/api-client` at it with `new Client({ accessToken, basePath: sb.url })`.
 */
import { randomBytes } from 'node:crypto';
import { now } from '../../clock.ts';
import { AppError } from '../../errors.ts';
import { generateOrg, type OrgModel } from '../org/index.ts';
import { FaultInjector } from '../salesforce/faults.ts';
import { RequestLog } from '../salesforce/request-log.ts';
import { HubSpotAuth, type HubSpotCredentials } from './auth.ts';
import { applyHubSpotLifeChange, createHubSpotLifeClock, type HubSpotLifeClock } from './life.ts';
import { type HubSpotProfile, type LimitOptions, PROFILES, RateLimiter } from './limits.ts';
import { hubspotFigures } from './oracle.ts';
import { populateHubSpot } from './populate.ts';
import { type HubSpotFaultKind, type HubSpotHooks, HubSpotSandboxServer } from './server.ts';
import { HubSpotStore } from './store.ts';
import { type SubscriptionInput, WebhookDispatcher } from './webhooks.ts';

export interface HubSpotSandboxOptions {
  seed: number;
  size: 'small' | 'medium';
  port?: number;
  host?: string;
  /** The org's "today" (YYYY-MM-DD); the clock starts at 12:00 UTC that day. Default: today by the program's clock. */
  anchorDate?: string;
  /** The org to serve (a part of one, for `--crm both`); default: generated from seed, size and anchorDate. */
  org?: OrgModel;
  /** Generate and populate the org (default true); false gives an empty portal. */
  populate?: boolean;
  life?: { tickMs: number };
  /** Subscription tier: limits and custom objects (default `enterprise`). */
  profile?: HubSpotProfile;
  rateLimits?: LimitOptions;
  /**
   * The scopes the private app's token is granted (default all): a token lacking some is refused with HubSpot's 403
   * MISSING_SCOPES on exactly those objects (scopes.ts).
   */
  scopes?: readonly string[];
  webhooks?: { batchMs?: number; timeScale?: number; timeoutMs?: number };
  oauthTtlMs?: number;
}

export interface HubSpotSandbox {
  /** The API's base URL: `basePath` for @hubspot/api-client. */
  url: string;
  portalId: number;
  profile: HubSpotProfile;
  credentials: HubSpotCredentials & { adminToken: string };
  org: OrgModel | undefined;
  store: HubSpotStore;
  auth: HubSpotAuth;
  faults: FaultInjector<HubSpotFaultKind>;
  log: RequestLog;
  limiter: RateLimiter;
  webhooks: WebhookDispatcher;
  life?: HubSpotLifeClock;
  server: HubSpotSandboxServer;
  close(): Promise<void>;
}

export function isHubSpotProfile(p: string): p is HubSpotProfile {
  return Object.hasOwn(PROFILES, p);
}

/** Generates (or takes) the org and builds the populated store, without a server: what the bench measures. */
export function buildHubSpotStore(opts: {
  seed: number;
  anchorDate: string;
  org?: OrgModel;
  size: 'small' | 'medium';
  /** The portal has the leads object (default true; the `starter` profile has not). */
  leadsObject?: boolean;
}): {
  store: HubSpotStore;
  org: OrgModel;
} {
  const org = opts.org ?? generateOrg({ seed: opts.seed, size: opts.size, anchorDate: opts.anchorDate });
  const store = new HubSpotStore({
    seed: opts.seed,
    now: new Date(`${opts.anchorDate}T12:00:00.000Z`),
    timezone: org.timezone,
    homeCurrency: org.corporateCurrency,
  });
  populateHubSpot(store, org, { leadsObject: opts.leadsObject ?? true });
  return { store, org };
}

export async function startHubSpotSandbox(options: HubSpotSandboxOptions): Promise<HubSpotSandbox> {
  if (!Number.isSafeInteger(options.seed))
    throw new AppError('USAGE', `sandbox seed must be an integer, got ${String(options.seed)}`, { where: 'seed' });
  if (options.size !== 'small' && options.size !== 'medium')
    throw new AppError('USAGE', `sandbox size must be small or medium, got "${String(options.size)}"`, {
      where: 'size',
    });
  const profile = options.profile ?? 'enterprise';
  if (!isHubSpotProfile(profile))
    throw new AppError(
      'USAGE',
      `HubSpot profile must be one of ${Object.keys(PROFILES).join(', ')}, got "${String(profile)}"`,
      { where: 'profile' },
    );
  const anchorDate = options.anchorDate ?? options.org?.anchorDate ?? now().toISOString().slice(0, 10);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(anchorDate))
    throw new AppError('USAGE', `anchorDate must be YYYY-MM-DD, got "${anchorDate}"`, { where: 'anchorDate' });

  let store: HubSpotStore;
  let org: OrgModel | undefined;
  if (options.populate === false) {
    store = new HubSpotStore({ seed: options.seed, now: new Date(`${anchorDate}T12:00:00.000Z`) });
    store.leadsObject = PROFILES[profile].leadsObject;
  } else {
    ({ store, org } = buildHubSpotStore({
      seed: options.seed,
      anchorDate,
      size: options.size,
      leadsObject: PROFILES[profile].leadsObject,
      ...(options.org ? { org: options.org } : {}),
    }));
  }
  const auth = new HubSpotAuth({
    seed: options.seed,
    portalId: store.portalId,
    ...(options.oauthTtlMs !== undefined ? { oauthTtlMs: options.oauthTtlMs } : {}),
    ...(options.scopes ? { scopes: options.scopes } : {}),
  });
  const faults = new FaultInjector<HubSpotFaultKind>(options.seed);
  const log = new RequestLog();
  const limiter = new RateLimiter(profile, store.timezone, options.rateLimits);
  const webhooks = new WebhookDispatcher(store, {
    appId: auth.credentials.appId,
    clientSecret: auth.credentials.clientSecret,
    seed: options.seed,
    ...options.webhooks,
  });
  const adminToken = randomBytes(24).toString('base64url');
  const hooks: HubSpotHooks = {
    oracle: (asOf) => {
      if (!org) throw new Error('this sandbox serves no generated org: no figures to compute');
      return hubspotFigures(store, org, asOf ? { asOf } : {});
    },
    change: (change) => applyHubSpotLifeChange(store, change),
    webhooks: (method, body) => {
      if (method === 'POST') return webhooks.subscribe(body as SubscriptionInput);
      if (method === 'DELETE') {
        webhooks.clear();
        return { ok: true };
      }
      return { subscriptions: webhooks.subscriptions(), deliveries: webhooks.deliveries };
    },
  };
  const server = new HubSpotSandboxServer({
    store,
    auth,
    faults,
    log,
    limiter,
    adminToken,
    customObjects: PROFILES[profile].customObjects,
    hooks,
  });
  const url = await server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  const life = options.life
    ? createHubSpotLifeClock(store, { seed: options.seed, tickMs: options.life.tickMs })
    : undefined;
  return {
    url,
    portalId: store.portalId,
    profile,
    credentials: { ...auth.credentials, adminToken },
    org,
    store,
    auth,
    faults,
    log,
    limiter,
    webhooks,
    ...(life ? { life } : {}),
    server,
    async close() {
      life?.stop();
      webhooks.close();
      await server.close();
    },
  };
}
