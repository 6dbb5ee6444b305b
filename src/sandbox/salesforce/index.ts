/**
 * `startSalesforceSandbox`: a generated sales org behind a local Salesforce REST API, for the demo, end-to-end tests,
 * fault tests and benchmarks. Composes the org generator (`../org`), the Salesforce population step
 * (`populate.ts`), the life clock (`life.ts`) and the oracle (`oracle.ts`) when those modules are present; without
 * them the sandbox starts with an empty org (the Organization row and the admin and integration users), which
 * tests fill through `store`.
 */
import { randomBytes } from 'node:crypto';
import { AppError } from '../../errors.ts';
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

/** What the optional generator-side modules are expected to export (looked up at run time). */
interface GeneratorParts {
  populate?: (store: SalesforceStore, opts: { seed: number; size: 'small' | 'medium'; anchorDate: string }) => unknown;
  startLife?: (store: SalesforceStore, opts: { seed: number; tickMs: number }) => { stop(): void } | (() => void);
  hooks: SandboxHooks;
}

async function optionalModule(name: string): Promise<Record<string, unknown> | null> {
  try {
    return (await import(new URL(name, import.meta.url).href)) as Record<string, unknown>;
  } catch (e) {
    // Only "not there yet" is tolerated; a module that exists but fails to load is a real error.
    if ((e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && String(e).includes(name.slice(2))) return null;
    throw e;
  }
}

/**
 * Adapts the generator's modules by their documented names (`populateSalesforce`, `createLifeClock`,
 * `salesforceOracle`/`oracle`, `applyLifeChange`). Returns empty parts when they are absent.
 */
async function generatorParts(): Promise<GeneratorParts> {
  const parts: GeneratorParts = { hooks: {} };
  const populate = await optionalModule('./populate.ts');
  const life = await optionalModule('./life.ts');
  const oracle = await optionalModule('./oracle.ts');
  const fn = (m: Record<string, unknown> | null, ...names: string[]) => {
    for (const n of names) if (m && typeof m[n] === 'function') return m[n] as (...args: unknown[]) => unknown;
    return undefined;
  };
  const populateFn = fn(populate, 'populateSalesforce');
  if (populateFn) parts.populate = (store, opts) => populateFn(store, opts);
  const lifeFn = fn(life, 'createLifeClock');
  if (lifeFn) parts.startLife = (store, opts) => lifeFn(store, opts) as { stop(): void };
  const changeFn = fn(life, 'applyLifeChange', 'applyChange');
  if (changeFn) parts.hooks.change = (change) => changeFn(parts.hooks, change);
  const oracleFn = fn(oracle, 'salesforceOracle', 'oracle', 'expectedWarehouse');
  return { ...parts, oracleFn } as GeneratorParts & { oracleFn?: (...a: unknown[]) => unknown };
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
  const parts = (await generatorParts()) as GeneratorParts & { oracleFn?: (...a: unknown[]) => unknown };
  if (options.populate !== false && parts.populate) {
    parts.populate(store, { seed: options.seed, size: options.size, anchorDate });
  }
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
  const hooks: SandboxHooks = { ...parts.hooks };
  const oracleFn = parts.oracleFn;
  if (oracleFn) hooks.oracle = (stream) => oracleFn(store, stream);
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
  if (options.life && parts.startLife) {
    const h = parts.startLife(store, { seed: options.seed, tickMs: options.life.tickMs });
    stopLife = typeof h === 'function' ? h : () => h.stop();
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
