/**
 * The web application: Hono, with every route registered through one registrar that enforces its access policy.
 * Errors leave as `{ error: { code, message } }` with the status their code implies; internal faults never show
 * their message to the client.
 */
import type { Queue } from 'bullmq';
import { Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import type { Kysely } from 'kysely';
import type { Config } from '../config/schema.ts';
import type { Database } from '../db/schema.ts';
import { AppError, isAppError } from '../errors.ts';
import type { Enqueue } from '../jobs/runtime.ts';
import type { MetricsEngine } from '../metrics/engine/engine.ts';
import { ReportReader } from '../reports/read-model.ts';
import type { Logger } from '../util/log.ts';
import { silentLogger } from '../util/log.ts';
import { openApiDocument } from './openapi.ts';
import {
  type AccessPolicy,
  assertRoutePolicy,
  checkAccess,
  databaseSubtree,
  type ReadinessCheck,
  type RouteDef,
  type RouteDoc,
  type RouteModule,
  type SubtreeResolver,
  type WebContext,
  type WebEnv,
} from './policy.ts';
import { FailureLimiter } from './rate-limit.ts';
import { apiV1Routes } from './routes/api-v1.ts';
import { deliveryRoutes } from './routes/deliveries.ts';
import { healthRoutes } from './routes/health.ts';
import { mcpRoutes } from './routes/mcp.ts';
import { operatorRoutes } from './routes/operator.ts';
import { pageRoutes } from './routes/pages.ts';
import { reportRoutes } from './routes/reports.ts';
import { signInRoutes } from './routes/sign-in.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { clientAddressResolver, securityHeaders } from './security.ts';
import { readSession, SESSION_COOKIE, sameSecret } from './sessions.ts';
import { authenticate, type Principal } from './tokens.ts';

export interface WebAppOptions {
  db: Kysely<Database>;
  logger?: Logger;
  /** Route groups added after the built-in health and API v1 routes (dashboard, reports, webhooks, ...). */
  modules?: readonly RouteModule[];
  /** Who is in whose subtree; defaults to the warehouse org tree. */
  subtree?: SubtreeResolver;
  /** The config the reports are computed with; without it the report routes answer 503. */
  config?: Config;
  /** The report read model; by default one is made from `config`. */
  reports?: ReportReader;
  /** Added to /readyz's checks (the job queue and its schedules, in `start`). */
  readiness?: ReadinessCheck;
  /** Counts failed sign-ins and bad tokens per address (10 a minute by default). */
  limiter?: FailureLimiter;
  /** What the operator views read besides the warehouse: the job queues (Bull Board, queue depths) and the engine. */
  operator?: { queue?: Queue; shardQueue?: Queue | undefined; engine?: MetricsEngine };
  /** Queues jobs (the running service's): webhooks turn into syncs through it. */
  enqueue?: Enqueue;
}

export interface WebApp {
  app: Hono<WebEnv>;
  /** Every route and its policy, e.g. for a start-up log line or an audit. */
  routes: readonly RegisteredRoute[];
  reports: ReportReader | null;
}

export interface RegisteredRoute {
  method: string;
  path: string;
  policy: AccessPolicy;
  doc?: RouteDoc;
}

/** Builds the app. Throws ROUTE_WITHOUT_POLICY when any route lacks a valid access policy. */
export function createWebApp(options: WebAppOptions): WebApp {
  const { db } = options;
  const logger = options.logger ?? silentLogger;
  const subtree = options.subtree ?? databaseSubtree(db);
  const reports = options.reports ?? (options.config ? new ReportReader({ db, config: options.config, logger }) : null);
  const limiter = options.limiter ?? new FailureLimiter();
  const app = new Hono<WebEnv>();
  const routes: RegisteredRoute[] = [];

  const clientAddress = clientAddressResolver(options.config?.web.trustProxy ?? []);
  app.use('*', securityHeaders);
  app.use('*', async (c, next) => {
    c.set('clientAddress', clientAddress(c));
    c.set('db', db);
    c.set('logger', logger);
    c.set('principal', null);
    c.set('reports', reports);
    c.set('readiness', options.readiness);
    c.set('publicUrl', options.config?.web.publicUrl);
    await next();
  });

  const registrar = {
    route(def: RouteDef) {
      assertRoutePolicy(def);
      routes.push({ method: def.method, path: def.path, policy: def.policy, ...(def.doc ? { doc: def.doc } : {}) });
      app.on(def.method, def.path, async (c) => {
        await enforce(c, def, subtree, limiter);
        const res = await def.handler(c);
        // Anything behind a token is about someone or holds a secret: no shared or browser cache may keep it.
        if (def.policy !== 'public') res.headers.set('Cache-Control', 'no-store');
        return res;
      });
    },
  };
  const openApi: RouteModule = (r) =>
    r.route({
      method: 'GET',
      path: '/api/v1/openapi.json',
      policy: 'public',
      doc: { summary: 'This document: every route of the server, its access policy and its parameters.' },
      handler: (c) => c.json(openApiDocument(routes)),
    });
  for (const module of [
    healthRoutes,
    signInRoutes(limiter),
    apiV1Routes,
    reportRoutes,
    deliveryRoutes,
    webhookRoutes({ config: options.config, enqueue: options.enqueue }),
    mcpRoutes,
    operatorRoutes({ db, config: options.config, reports, ...options.operator }),
    pageRoutes({ db, config: options.config, reports, ...options.operator }),
    openApi,
    ...(options.modules ?? []),
  ])
    module(registrar);

  app.notFound((c) =>
    c.json({ error: { code: 'NOT_FOUND', message: `no route ${c.req.method} ${new URL(c.req.url).pathname}` } }, 404),
  );
  app.onError((err, c) => {
    if (isAppError(err)) {
      const status = err.httpStatus;
      if (status >= 500) logger.error({ err, code: err.code, path: c.req.path }, 'request failed');
      const message = status >= 500 && err.code === 'INTERNAL' ? 'internal error' : err.toUserString();
      // A browser opening a page without a session (no token sent) is shown the sign-in form, then the page.
      if (err.code === 'AUTH_REQUIRED' && !c.req.header('authorization')) {
        const url = new URL(c.req.url);
        const login = `/login?next=${encodeURIComponent(url.pathname + url.search)}`;
        // htmx asking for a fragment (a leaderboard page, the filter bar) after the session ended: a redirect would
        // be followed inside the request and the sign-in form swapped into the page, and a bare 401 is ignored, so
        // the board would just stop moving. HX-Redirect sends the whole browser to the sign-in form instead.
        if (c.req.header('hx-request') === 'true') {
          c.header('Cache-Control', 'no-store');
          // Every 401 names its scheme (RFC 9110 section 15.5.2), this one too.
          c.header('WWW-Authenticate', 'Bearer');
          c.header('HX-Redirect', c.req.method === 'GET' ? login : `/login?next=${encodeURIComponent(pageOf(c))}`);
          return c.json({ error: { code: err.code, message } }, 401);
        }
        if (c.req.method === 'GET' && (c.req.header('accept') ?? '').includes('text/html')) {
          c.header('Cache-Control', 'no-store');
          return c.redirect(login, 303);
        }
      }
      if (err.code === 'AUTH_REQUIRED') c.header('WWW-Authenticate', 'Bearer');
      c.header('Cache-Control', 'no-store');
      if (err.retryAfterSeconds !== undefined) c.header('Retry-After', String(Math.ceil(err.retryAfterSeconds)));
      return c.json({ error: { code: err.code, message } }, status);
    }
    logger.error({ err, path: c.req.path }, 'unexpected error in a request');
    return c.json({ error: { code: 'INTERNAL', message: 'internal error' } }, 500);
  });

  return { app, routes, reports };
}

/** The page an htmx request was made from (`HX-Current-URL`, this origin's only), else the overview. */
function pageOf(c: WebContext): string {
  const own = new URL(c.req.url);
  try {
    const current = new URL(c.req.header('hx-current-url') ?? '/', own);
    return current.origin === own.origin ? current.pathname + current.search : '/';
  } catch {
    return '/';
  }
}

/** Who is asking: a bearer token (scripts), else the session cookie (browsers, with CSRF on unsafe methods). */
async function identify(c: WebContext, limiter: FailureLimiter): Promise<Principal> {
  const header = c.req.header('authorization');
  if (header) {
    const address = c.var.clientAddress;
    const wait = limiter.retryAfter(address);
    if (wait > 0)
      throw new AppError('AUTH_RATE_LIMITED', `too many bad tokens from this address; try again in ${wait} s`, {
        retryAfterSeconds: wait,
      });
    const principal = await authenticate(c.var.db, header);
    if (!principal) {
      limiter.fail(address);
      throw new AppError('AUTH_REQUIRED', 'the API token is unknown, malformed or revoked');
    }
    return principal;
  }
  const cookie = getCookie(c, SESSION_COOKIE);
  if (!cookie)
    throw new AppError('AUTH_REQUIRED', 'send an API token as "Authorization: Bearer qt_..." or sign in at /login');
  const session = await readSession(c.var.db, cookie);
  if (!session) throw new AppError('AUTH_REQUIRED', 'the session has expired or its token was revoked: sign in again');
  if (!SAFE_METHODS.has(c.req.method)) {
    let presented = c.req.header('x-csrf-token');
    if (
      presented === undefined &&
      /^(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(c.req.header('content-type') ?? '')
    ) {
      const form = await c.req.parseBody();
      presented = typeof form._csrf === 'string' ? form._csrf : undefined;
    }
    if (!sameSecret(presented, session.csrf))
      throw new AppError(
        'CSRF_INVALID',
        'this request needs the CSRF token of its session (form field _csrf or header X-CSRF-Token)',
      );
  }
  return session.principal;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

async function enforce(c: WebContext, def: RouteDef, subtree: SubtreeResolver, limiter: FailureLimiter): Promise<void> {
  if (def.policy === 'public') return;
  if (def.policy === 'signed-webhook') {
    const raw = await c.req.text();
    const ok = def.verify ? await def.verify(c.req.raw, raw) : false;
    if (!ok) throw new AppError('AUTH_REQUIRED', 'the webhook signature is missing or does not match');
    return;
  }
  const principal = await identify(c, limiter);
  await checkAccess(def.policy, principal, def.subject?.(c), subtree);
  c.set('principal', principal);
}
