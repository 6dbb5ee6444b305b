/**
 * `startSalesforceSandbox`: a generated sales org behind a local Salesforce REST API, for the demo, end-to-end tests,
 * fault tests and benchmarks. Composes the org generator (`../org`), the Salesforce population step
 * (`populate.ts`), the life clock (`life.ts`) and the oracle (`oracle.ts`). With `populate: false` the sandbox
 * starts with an empty org (the Organization row, the admin and integration users and the integration user's
 * permission sets), which tests fill through `store`.
 */

import { randomBytes } from 'node:crypto';
import { now } from '../../clock.ts';
import { AppError } from '../../errors.ts';
import { generateOrg, type LargeCounts, type OrgModel } from '../org/index.ts';
import { type AuthCredentials, SandboxAuth } from './auth.ts';
import { FaultInjector } from './faults.ts';
import { type LargePopulation, populateLarge } from './large.ts';
import { applyLifeChange, createLifeClock } from './life.ts';
import { salesforceOracle } from './oracle.ts';
import { grantIntegrationPermissions } from './permissions.ts';
import { populateSalesforce } from './populate.ts';
import { DEFAULT_POPULATE_SHAPE, PROFILE_NAMES, type SalesforceProfile, salesforceProfile } from './profiles.ts';
import { RequestLog } from './request-log.ts';
import { SalesforceSandboxServer, type SandboxHooks } from './server.ts';
import { SalesforceStore } from './store.ts';

export interface SalesforceSandboxOptions {
  seed: number;
  size: 'small' | 'medium' | 'large';
  /** `large` only: smaller counts for tests (the same lazy tables at a size that takes seconds). */
  largeCounts?: Partial<LargeCounts>;
  /** 0 or absent: any free port. */
  port?: number;
  host?: string;
  /**
   * The org's "today" (YYYY-MM-DD); the sandbox clock starts at 12:00 UTC that day. Default: today by the program's
   * clock (`QUOTA_TRACKER_NOW`, else the real date).
   */
  anchorDate?: string;
  /** Keep changing the org every `tickMs` of real time (needs life.ts). */
  life?: { tickMs: number };
  /** Generate and populate the org (default true); false gives an empty org for focused tests. */
  populate?: boolean;
  /** The org to serve instead of generating one (a part of one, for `sandbox --crm both`). */
  org?: OrgModel;
  /** Rotate the refresh token on every refresh. */
  rotateRefreshTokens?: boolean;
  /** DailyApiRequests Max. */
  apiLimit?: number;
  sessionTtlMs?: number;
  /** An org profile (profiles.ts): how this org differs from the default one. Absent: the default org. */
  profile?: string;
}

export interface SalesforceSandboxCredentials extends AuthCredentials {
  /** The `/__sandbox/*` test API token. */
  adminToken: string;
}

export interface SalesforceSandbox {
  /** Base URL: the loginUrl and instance URL for jsforce. */
  url: string;
  orgId: string;
  /** The API user that writes through the sandbox are attributed to (LastModifiedById). */
  integrationUserId: string;
  credentials: SalesforceSandboxCredentials;
  store: SalesforceStore;
  auth: SandboxAuth;
  faults: FaultInjector;
  log: RequestLog;
  server: SalesforceSandboxServer;
  /** The generated org model as written (after the profile reshaped it); absent for an empty org. */
  model?: OrgModel;
  /** The profile the org was built with, if any. */
  profile?: SalesforceProfile;
  /** A large org's lazy deals and activities and its users' Ids. */
  large?: LargePopulation;
  /** Present when life.ts is: the running life clock's stop. */
  stopLife?: () => void;
  close(): Promise<void>;
}

export async function startSalesforceSandbox(options: SalesforceSandboxOptions): Promise<SalesforceSandbox> {
  if (!Number.isSafeInteger(options.seed)) {
    throw new AppError('USAGE', `sandbox seed must be an integer, got ${String(options.seed)}`, { where: 'seed' });
  }
  if (options.size !== 'small' && options.size !== 'medium' && options.size !== 'large') {
    throw new AppError('USAGE', `sandbox size must be small, medium or large, got "${String(options.size)}"`, {
      where: 'size',
    });
  }
  if (options.size === 'large' && options.life) {
    throw new AppError('USAGE', 'the large sandbox has no life clock (it changes a generated org held in memory)', {
      where: 'life',
    });
  }
  const anchorDate = options.anchorDate ?? options.org?.anchorDate ?? now().toISOString().slice(0, 10);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(anchorDate)) {
    throw new AppError('USAGE', `anchorDate must be YYYY-MM-DD, got "${anchorDate}"`, { where: 'anchorDate' });
  }
  const profile = options.profile === undefined ? undefined : salesforceProfile(options.profile);
  if (options.profile !== undefined && !profile) {
    throw new AppError('USAGE', `unknown sandbox profile "${options.profile}"; known: ${PROFILE_NAMES.join(', ')}`, {
      where: 'profile',
    });
  }
  const store = new SalesforceStore({ seed: options.seed, now: new Date(`${anchorDate}T12:00:00.000Z`) });
  // populate: false gives an empty org (the Organization row and the admin and integration users) for tests that
  // insert their own records.
  const generated: OrgModel | undefined =
    options.populate !== false
      ? (options.org ??
        generateOrg({
          seed: options.seed,
          size: options.size,
          anchorDate,
          ...(options.largeCounts ? { largeCounts: options.largeCounts } : {}),
        }))
      : undefined;
  const org = generated && profile?.model ? profile.model(generated) : generated;
  const shape = { ...DEFAULT_POPULATE_SHAPE, ...profile?.populate };
  let large: LargePopulation | undefined;
  if (org?.lazy) large = populateLarge(store, org, shape);
  else if (org) populateSalesforce(store, org, shape);
  profile?.hide?.(store);
  grantIntegrationPermissions(store);
  const rotate = options.rotateRefreshTokens ?? profile?.options?.rotateRefreshTokens;
  const sessionTtlMs = options.sessionTtlMs ?? profile?.options?.sessionTtlMs;
  const integration = store.get('User', store.integrationUserId)!;
  const auth = new SandboxAuth({
    orgId: store.orgId,
    userId: store.integrationUserId,
    username: String(integration.Username),
    seed: options.seed,
    ...(rotate !== undefined ? { rotateRefreshTokens: rotate } : {}),
    ...(sessionTtlMs !== undefined ? { sessionTtlMs } : {}),
  });
  const faults = new FaultInjector(options.seed);
  const log = new RequestLog();
  const adminToken = randomBytes(24).toString('base64url');
  const hooks: SandboxHooks = {};
  hooks.oracle = (stream) => salesforceOracle(store, stream);
  hooks.change = (change) => applyLifeChange(store, change);
  const server = new SalesforceSandboxServer({
    store,
    auth,
    faults,
    log,
    adminToken,
    hooks,
    ...(options.apiLimit !== undefined ? { apiLimit: options.apiLimit } : {}),
  });
  const url = await server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  let stopLife: (() => void) | undefined;
  if (options.life) {
    const clock = org
      ? createLifeClock(store, org, { seed: options.seed, tickMs: options.life.tickMs })
      : createLifeClock(store, { seed: options.seed, tickMs: options.life.tickMs });
    stopLife = () => clock.stop();
  }
  return {
    url,
    orgId: store.orgId,
    integrationUserId: store.integrationUserId,
    credentials: { ...auth.credentials, adminToken },
    store,
    auth,
    faults,
    log,
    server,
    ...(org ? { model: org } : {}),
    ...(profile ? { profile } : {}),
    ...(large ? { large } : {}),
    ...(stopLife ? { stopLife } : {}),
    async close() {
      stopLife?.();
      await server.close();
    },
  };
}
