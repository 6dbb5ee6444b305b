/**
 * `startSalesforceSandbox`: a generated sales org behind a local Salesforce REST API, for the demo, end-to-end tests,
 * fault tests and benchmarks. Composes the org generator (`../org`), the Salesforce population step
 * (`populate.ts`), the life clock (`life.ts`) and the oracle (`oracle.ts`) when those modules are present; without
 * them the sandbox starts with an empty org (the Organization row and the admin and integration users), which
 * tests fill through `store`.
 */
import { randomBytes } from 'node:crypto';
import { AppError } from '../../errors.ts';
import { generateOrg, type OrgModel } from '../org/index.ts';
import { type AuthCredentials, SandboxAuth } from './auth.ts';
import { FaultInjector } from './faults.ts';
import { RequestLog } from './request-log.ts';
import { SalesforceSandboxServer, type SandboxHooks } from './server.ts';
import { SalesforceStore } from './store.ts';

export interface SalesforceSandboxOptions {
  seed: number;
  size: 'small' | 'medium';
  /** 0 or absent: any free port. */
  port?: number;
  host?: string;
  /** The org's "today" (YYYY-MM-DD); the sandbox clock starts at 12:00 UTC that day. Default: the real today. */
  anchorDate?: string;
  /** Keep changing the org every `tickMs` of real time (needs life.ts). */
  life?: { tickMs: number };
  /** Generate and populate the org (default true); false gives an empty org for focused tests. */
  populate?: boolean;
  /** Rotate the refresh token on every refresh. */
  rotateRefreshTokens?: boolean;
  /** DailyApiRequests Max. */
  apiLimit?: number;
  sessionTtlMs?: number;
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
  /** Present when life.ts is: the running life clock's stop. */
  stopLife?: () => void;
  close(): Promise<void>;
}

/**
 * The generator-side modules (Engineer A's), looked up at run time so the server works before they land. Expected
 * exports, called exactly like this:
 * - `populate.ts`: `populateSalesforce(store, org)` writes the org model into the store.
 * - `life.ts`: `createLifeClock(store, org, { seed, tickMs })` returns `{ stop() }`; optional
 *   `applyLifeChange(store, org, change)` applies one named change for `POST /__sandbox/life`.
 * - `oracle.ts`: `salesforceOracle(store, stream)` returns the expected warehouse rows of one stream.
 */
interface GeneratorParts {
  populate?: (store: SalesforceStore, org: OrgModel) => unknown;
  createLifeClock?: (store: SalesforceStore, org: OrgModel, opts: { seed: number; tickMs: number }) => { stop(): void };
  applyLifeChange?: (store: SalesforceStore, org: OrgModel, change: Record<string, unknown>) => unknown;
  oracle?: (store: SalesforceStore, stream: string) => unknown;
}

type AnyFn = (...args: never[]) => unknown;

async function optionalExport<T extends AnyFn>(file: string, name: string): Promise<T | undefined> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(new URL(file, import.meta.url).href)) as Record<string, unknown>;
  } catch (e) {
    // Only "not written yet" is tolerated; a module that exists but fails to load is a real error.
    if ((e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && String(e).includes(file.slice(2))) return undefined;
    throw e;
  }
  return typeof mod[name] === 'function' ? (mod[name] as T) : undefined;
}

async function generatorParts(): Promise<GeneratorParts> {
  const [populate, createLifeClock, applyLifeChange, oracle] = await Promise.all([
    optionalExport<NonNullable<GeneratorParts['populate']>>('./populate.ts', 'populateSalesforce'),
    optionalExport<NonNullable<GeneratorParts['createLifeClock']>>('./life.ts', 'createLifeClock'),
    optionalExport<NonNullable<GeneratorParts['applyLifeChange']>>('./life.ts', 'applyLifeChange'),
    optionalExport<NonNullable<GeneratorParts['oracle']>>('./oracle.ts', 'salesforceOracle'),
  ]);
  return {
    ...(populate ? { populate } : {}),
    ...(createLifeClock ? { createLifeClock } : {}),
    ...(applyLifeChange ? { applyLifeChange } : {}),
    ...(oracle ? { oracle } : {}),
  };
}

export async function startSalesforceSandbox(options: SalesforceSandboxOptions): Promise<SalesforceSandbox> {
  if (!Number.isSafeInteger(options.seed)) {
    throw new AppError('USAGE', `sandbox seed must be an integer, got ${String(options.seed)}`, { where: 'seed' });
  }
  if (options.size !== 'small' && options.size !== 'medium') {
    throw new AppError('USAGE', `sandbox size must be small or medium, got "${String(options.size)}"`, {
      where: 'size',
    });
  }
  const anchorDate = options.anchorDate ?? new Date().toISOString().slice(0, 10);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(anchorDate)) {
    throw new AppError('USAGE', `anchorDate must be YYYY-MM-DD, got "${anchorDate}"`, { where: 'anchorDate' });
  }
  const store = new SalesforceStore({ seed: options.seed, now: new Date(`${anchorDate}T12:00:00.000Z`) });
  const parts = await generatorParts();
  // The org model is generated only when something consumes it.
  const org =
    options.populate !== false && (parts.populate || parts.createLifeClock || parts.applyLifeChange)
      ? generateOrg({ seed: options.seed, size: options.size, anchorDate })
      : undefined;
  if (org && parts.populate) parts.populate(store, org);
  const integration = store.get('User', store.integrationUserId)!;
  const auth = new SandboxAuth({
    orgId: store.orgId,
    userId: store.integrationUserId,
    username: String(integration.Username),
    seed: options.seed,
    ...(options.rotateRefreshTokens !== undefined ? { rotateRefreshTokens: options.rotateRefreshTokens } : {}),
    ...(options.sessionTtlMs !== undefined ? { sessionTtlMs: options.sessionTtlMs } : {}),
  });
  const faults = new FaultInjector(options.seed);
  const log = new RequestLog();
  const adminToken = randomBytes(24).toString('base64url');
  const hooks: SandboxHooks = {};
  const { oracle, applyLifeChange, createLifeClock } = parts;
  if (oracle) hooks.oracle = (stream) => oracle(store, stream);
  if (org && applyLifeChange) hooks.change = (change) => applyLifeChange(store, org, change);
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
  if (options.life && org && createLifeClock) {
    const clock = createLifeClock(store, org, { seed: options.seed, tickMs: options.life.tickMs });
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
    ...(stopLife ? { stopLife } : {}),
    async close() {
      stopLife?.();
      await server.close();
    },
  };
}
