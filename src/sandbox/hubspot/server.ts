/**
 * The HubSpot sandbox's HTTP server (node:http): HubSpot's API paths under one base URL (the client's `basePath`),
 * OAuth's token endpoint, and a test API under `/__sandbox/` guarded by an admin token, shaped like the Salesforce
 * sandbox's (info, log, faults, clock, life, oracle) plus webhooks and tokens. Every API request goes through the
 * fault injector, authentication, the rate limiter and into the request log (with request and response bodies).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dateInZone } from '../../util/date.ts';
import { type ActiveFault, FaultInjector, type FaultRule } from '../salesforce/faults.ts';
import type { RequestLog, RequestLogEntry } from '../salesforce/request-log.ts';
import { sharedTestRoute } from '../test-api.ts';
import type { HubSpotAuth } from './auth.ts';
import {
  ApiError,
  accountDetails,
  associationsV4,
  type CrmContext,
  currencies,
  customObjectLimits,
  hsError,
  notFound,
  objectAssociationsV4,
  objects,
  owners,
  pipelines,
  properties,
  type Reply,
  schemas,
  settingsUsers,
} from './crm.ts';
import type { RateLimiter } from './limits.ts';
import { limitReply } from './limits.ts';
import { zonedMidnight } from './populate.ts';
import { missingScopes, requiredScopes } from './scopes.ts';
import type { HubSpotStore } from './store.ts';

export type HubSpotFaultKind =
  | 'unauthorized_401'
  | 'rate_limit_429'
  | 'daily_limit_429'
  | 'secondly_429'
  | 'error_500'
  | 'bad_gateway_502'
  | 'unavailable_503'
  | 'timeout_504'
  | 'slow'
  | 'drop'
  | 'reset'
  /** A batch call answers 207: its first input fails (VALIDATION_ERROR), the others are applied. */
  | 'input_error_207'
  /**
   * One input HubSpot will not take (the first input of the first batch the rule meets) makes every batch that holds
   * it answer 400 VALIDATION_ERROR as a whole, applying nothing, as HubSpot refuses a batch for one bad value; a batch
   * without it goes through.
   */
  | 'poison_input_400'
  /**
   * A batch update holding an id the portal does not have (a record a user deleted) is refused as a whole, 404
   * OBJECT_NOT_FOUND, nothing applied; without such an id it goes through. The sandbox's default answers a 207 naming
   * the missing ids; HubSpot's reference documents neither for `batch/update`, so both are served and a connector
   * must take both.
   */
  | 'missing_refuses_batch_404'
  /** A 404 for the call itself (a proxy in front, a path the portal does not serve): about no record. */
  | 'not_found_404';

export type HubSpotFaultRule = FaultRule<HubSpotFaultKind>;

export interface HubSpotHooks {
  oracle?: (what: string) => unknown;
  change?: (change: Record<string, unknown>) => unknown;
  webhooks?: (method: string, body: unknown) => unknown;
}

export interface HubSpotServerOptions {
  store: HubSpotStore;
  auth: HubSpotAuth;
  faults: FaultInjector<HubSpotFaultKind>;
  log: RequestLog;
  limiter: RateLimiter;
  adminToken: string;
  customObjects: boolean;
  hooks?: HubSpotHooks;
}

const JSON_TYPE = 'application/json;charset=utf-8';

export class HubSpotSandboxServer {
  readonly server: Server;
  private baseUrl = '';
  /** The input `poison_input_400` refuses, once it has met one. */
  private poison: string | null = null;

  constructor(private readonly o: HubSpotServerOptions) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': JSON_TYPE });
          res.end(JSON.stringify({ status: 'error', message: String(e), category: 'INTERNAL_ERROR' }));
        }
      });
    });
  }

  get url(): string {
    return this.baseUrl;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    const addr = this.server.address() as AddressInfo;
    this.baseUrl = `http://${host}:${addr.port}`;
    return this.baseUrl;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private get ctx(): CrmContext {
    return { store: this.o.store, baseUrl: this.baseUrl, customObjects: this.o.customObjects };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const method = (req.method ?? 'GET').toUpperCase();
    const raw = await readBody(req);
    if (url.pathname.startsWith('/__sandbox/')) {
      send(res, await this.admin(req, method, url, raw));
      return;
    }
    const entry = this.o.log.start(method, url.pathname, Object.fromEntries(url.searchParams));
    if (raw !== '') entry.requestBody = parseOr(raw);
    const fault = this.o.faults.pick(method, url.pathname);
    if (fault?.kind === 'slow') await new Promise((r) => setTimeout(r, fault.delayMs ?? 2000));
    if (fault?.kind === 'reset') {
      this.o.log.finish(entry, 0, { fault: 'reset' });
      req.socket.destroy();
      return;
    }
    let reply =
      fault && fault.kind !== 'poison_input_400' && fault.kind !== 'missing_refuses_batch_404'
        ? faultReply(fault)
        : null;
    if (fault?.kind === 'missing_refuses_batch_404') reply = this.missingRefusal(url.pathname, raw);
    if (fault?.kind === 'poison_input_400') {
      const inputs = (parseOr(raw) as { inputs?: Array<{ id?: unknown }> } | null)?.inputs ?? [];
      this.poison ??= inputs[0] ? JSON.stringify(inputs[0].id ?? inputs[0]) : null;
      if (this.poison !== null && inputs.some((i) => JSON.stringify(i.id ?? i) === this.poison))
        reply = {
          status: 400,
          body: {
            status: 'error',
            category: 'VALIDATION_ERROR',
            message: `Property values were not valid for input ${this.poison}`,
            correlationId: 'sandbox-poison',
          },
        };
    }
    let failedInput: Record<string, unknown> | undefined;
    let routed = raw;
    if (fault?.kind === 'input_error_207') {
      const b = parseOr(raw) as { inputs?: unknown } | null;
      if (b && Array.isArray(b.inputs) && b.inputs.length > 0) {
        failedInput = b.inputs[0] as Record<string, unknown>;
        routed = JSON.stringify({ ...b, inputs: b.inputs.slice(1) });
      }
    }
    if (!reply) {
      try {
        reply = this.route(req, method, url, routed);
        if (failedInput) reply = withFailedInput(reply, failedInput);
      } catch (e) {
        if (e instanceof ApiError) reply = e.reply;
        else throw e;
      }
    }
    this.finishLog(entry, reply, fault);
    if (fault?.kind === 'drop') {
      const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? '');
      res.writeHead(reply.status, {
        'content-type': JSON_TYPE,
        'content-length': String(Buffer.byteLength(body)),
        ...reply.headers,
      });
      res.write(body.slice(0, Math.floor(body.length / 2)));
      setImmediate(() => res.socket?.destroy());
      return;
    }
    send(res, reply);
  }

  private finishLog(entry: RequestLogEntry, reply: Reply, fault: ActiveFault<HubSpotFaultKind> | null): void {
    const b = reply.body as { category?: unknown; policyName?: unknown; status?: unknown } | undefined;
    const code =
      reply.status >= 400 && b && typeof b === 'object'
        ? String(b.policyName ?? b.category ?? b.status ?? '')
        : reply.status >= 400 && typeof reply.body === 'string'
          ? 'HTML'
          : '';
    this.o.log.finish(entry, reply.status, {
      ...(reply.records !== undefined ? { recordsReturned: reply.records } : {}),
      ...(reply.headers?.['Retry-After'] !== undefined
        ? { retryAfterSeconds: Number(reply.headers['Retry-After']) }
        : {}),
      ...(fault ? { fault: fault.kind } : {}),
      ...(code ? { errorCode: code } : {}),
      ...(reply.body !== undefined ? { responseBody: reply.body } : {}),
    });
  }

  /** `missing_refuses_batch_404`: the whole batch update refused when one of its ids is not in the portal. */
  private missingRefusal(path: string, raw: string): Reply | null {
    const m = /^\/crm\/v3\/objects\/([^/]+)\/batch\/update$/.exec(path);
    const type = m ? this.o.store.typeName(m[1] as string) : undefined;
    if (type === undefined) return null;
    const inputs = (parseOr(raw) as { inputs?: Array<{ id?: unknown }> } | null)?.inputs ?? [];
    const missing = inputs.map((i) => String(i.id)).filter((id) => !this.o.store.get(type, id));
    return missing.length === 0
      ? null
      : hsError(404, 'OBJECT_NOT_FOUND', `Could not find objects with ids: ${missing.join(', ')}`, {
          context: { ids: missing },
        });
  }

  private route(req: IncomingMessage, method: string, url: URL, raw: string): Reply {
    const path = url.pathname.replace(/\/+$/, '');
    const { auth, store, limiter } = this.o;
    if (path === '/oauth/v1/token' && method === 'POST') {
      const r = auth.token(new URLSearchParams(raw));
      return { status: r.status, body: r.body };
    }
    const tokenInfo = /^\/oauth\/v1\/(access|refresh)-tokens\/(.+)$/.exec(path);
    if (tokenInfo) {
      const token = decodeURIComponent(tokenInfo[2] as string);
      if (tokenInfo[1] === 'refresh' && method === 'DELETE') return auth.revoke(token) ? { status: 204 } : notFound();
      const info = auth.info(token, store.portalId);
      return info ? { status: 200, body: info } : hsError(404, 'OBJECT_NOT_FOUND', 'Token not found');
    }
    const who = auth.check(bearer(req));
    if ('status' in who) return hsError(401, who.category, who.message);
    // A token granted only some scopes (the scope profile) is refused on exactly the objects it lacks.
    if (who.scopes) {
      const granted = who.scopes;
      const missing = requiredScopes(store, method, path).filter((x) => !granted.has(x));
      if (missing.length > 0) return missingScopes(missing);
    }
    const isSearch = /\/search$/.test(path) && method === 'POST';
    const taken = limiter.take(who.kind, isSearch, store.now(), who.app);
    if ('reply' in taken) return taken.reply;
    const reply = this.api(method, path, url, raw);
    return { ...reply, headers: { ...taken.headers, ...reply.headers } };
  }

  private api(method: string, path: string, url: URL, raw: string): Reply {
    const ctx = this.ctx;
    const body = () => parseJson(raw);
    const after = (prefix: string): string[] | null =>
      path === prefix || path.startsWith(`${prefix}/`)
        ? path
            .slice(prefix.length)
            .split('/')
            .filter((s) => s !== '')
        : null;
    const routes: [string, (p: string[]) => Reply][] = [
      ['/crm/v3/objects', (p) => objects(ctx, method, p, url, body)],
      ['/crm/v4/associations', (p) => associationsV4(ctx, method, p, body, url)],
      ['/crm/v4/objects', (p) => objectAssociationsV4(ctx, method, p, url, body)],
      ['/crm/v3/properties', (p) => properties(ctx, method, p, body, url)],
      ['/crm-object-schemas/v3/schemas', (p) => schemas(ctx, method, p, body)],
      ['/crm/v3/schemas', (p) => schemas(ctx, method, p, body)],
      ['/crm/v3/owners', (p) => owners(ctx, method, p, url)],
      ['/crm/v3/pipelines', (p) => pipelines(ctx, method, p)],
      ['/settings/v3/users', (p) => settingsUsers(ctx, method, p, url)],
      ['/settings/v3/currencies', (p) => currencies(ctx, method, p, url)],
    ];
    for (const [prefix, handle] of routes) {
      const p = after(prefix);
      if (p) return handle(p);
    }
    if (path === '/account-info/v3/details' && method === 'GET') return accountDetails(ctx);
    if (path === '/crm/v3/limits/custom-object-types' && method === 'GET') return customObjectLimits(ctx);
    if (path === '/account-info/v3/api-usage/daily/private-apps' && method === 'GET') {
      const { store, limiter } = this.o;
      const tomorrow = zonedMidnight(nextDay(dateInZone(store.now(), store.timezone)), store.timezone);
      return { status: 200, body: limiter.usage(store.now(), new Date(tomorrow)) };
    }
    return notFound();
  }

  // ---- test API ----

  private async admin(req: IncomingMessage, method: string, url: URL, raw: string): Promise<Reply> {
    const token = header(req, 'x-sandbox-admin-token') ?? bearer(req);
    if (token !== this.o.adminToken)
      return { status: 401, body: { error: 'the sandbox admin token is missing or wrong' } };
    const what = url.pathname.slice('/__sandbox/'.length).replace(/\/+$/, '');
    const { store, faults, log, auth, hooks, limiter } = this.o;
    try {
      const shared = sharedTestRoute(`${method} ${what}`, raw, { log, faults, store, parseJson });
      if (shared) return shared;
      switch (`${method} ${what}`) {
        case 'GET info':
          return {
            status: 200,
            body: {
              portalId: store.portalId,
              now: store.now().toISOString(),
              apiUsage: { used: limiter.dailyUsed, max: limiter.daily },
            },
          };
        case 'POST tokens/expire':
          auth.expire();
          return { status: 204 };
        case 'POST tokens/rotate':
          return { status: 200, body: { accessToken: auth.rotatePrivateToken() } };
        case 'POST life':
          if (!hooks?.change) return { status: 501, body: { error: 'no life hooks in this sandbox' } };
          return { status: 200, body: (await hooks.change(parseJson(raw) as Record<string, unknown>)) ?? null };
        case 'GET oracle':
          if (!hooks?.oracle) return { status: 501, body: { error: 'no oracle in this sandbox' } };
          return { status: 200, body: hooks.oracle(url.searchParams.get('asOf') ?? '') ?? null };
        case 'GET webhooks':
        case 'POST webhooks':
        case 'DELETE webhooks':
          if (!hooks?.webhooks) return { status: 501, body: { error: 'no webhooks in this sandbox' } };
          return { status: 200, body: (await hooks.webhooks(method, raw ? parseJson(raw) : null)) ?? null };
        default:
          return { status: 404, body: { error: `no test API route ${method} /__sandbox/${what}` } };
      }
    } catch (e) {
      return { status: 400, body: { error: e instanceof Error ? e.message : String(e) } };
    }
  }
}

function nextDay(d: string): string {
  const t = Date.parse(`${d}T00:00:00.000Z`) + 86_400_000;
  return new Date(t).toISOString().slice(0, 10);
}

const HTML_PAGE = (code: number, title: string) =>
  `<!DOCTYPE html>\n<html><head><title>${code} ${title}</title></head><body><h1>${code} ${title}</h1><p>The server encountered a temporary error and could not complete your request.</p></body></html>\n`;

/** The response an injected fault gives: HubSpot's JSON for 401 and 429, an HTML page for 5xx (as a proxy sends). */
function faultReply(f: ActiveFault<HubSpotFaultKind>): Reply | null {
  const html = (status: number, title: string): Reply => ({
    status,
    body: HTML_PAGE(status, title),
    headers: {
      'content-type': 'text/html; charset=utf-8',
      ...(f.retryAfterSeconds !== undefined ? { 'Retry-After': String(f.retryAfterSeconds) } : {}),
    },
  });
  switch (f.kind) {
    case 'unauthorized_401':
      return hsError(
        401,
        'INVALID_AUTHENTICATION',
        'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
      );
    case 'not_found_404':
      return hsError(404, 'OBJECT_NOT_FOUND', 'resource not found');
    case 'rate_limit_429':
      return limitReply('TEN_SECONDLY_ROLLING', 'You have reached your ten_secondly_rolling limit.', 190);
    case 'daily_limit_429':
      return limitReply('DAILY', 'You have reached your daily limit.');
    case 'secondly_429':
      return limitReply('SECONDLY', 'You have reached your secondly limit.');
    case 'error_500':
      return html(500, 'Internal Server Error');
    case 'bad_gateway_502':
      return html(502, 'Bad Gateway');
    case 'unavailable_503':
      return html(503, 'Service Unavailable');
    case 'timeout_504':
      return html(504, 'Gateway Timeout');
    default:
      return null;
  }
}

/**
 * The answer of a batch call one of whose inputs failed: a 207 with the others' results and that input's error
 * (https://developers.hubspot.com/docs/api-reference/latest/error-handling, "Multi-status errors").
 */
function withFailedInput(reply: Reply, input: Record<string, unknown>): Reply {
  if (reply.status >= 300 || !reply.body || typeof reply.body !== 'object') return reply;
  const body = reply.body as { results?: unknown[]; errors?: unknown[]; numErrors?: number };
  const errors = [
    ...(body.errors ?? []),
    {
      status: 'error',
      category: 'VALIDATION_ERROR',
      message: 'Property values were not valid (injected fault)',
      context: { id: [String(input.id ?? '')] },
    },
  ];
  return { ...reply, status: 207, body: { ...body, numErrors: errors.length, errors } };
}

function send(res: ServerResponse, reply: Reply): void {
  const isText = typeof reply.body === 'string';
  const body =
    reply.body === undefined || reply.status === 204
      ? undefined
      : isText
        ? (reply.body as string)
        : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    ...(body !== undefined ? { 'content-type': isText ? 'text/html; charset=utf-8' : JSON_TYPE } : {}),
    ...reply.headers,
  });
  res.end(body);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function bearer(req: IncomingMessage): string | undefined {
  const h = header(req, 'authorization');
  const m = h ? /^Bearer\s+(.+)$/i.exec(h) : null;
  return m?.[1];
}

function parseJson(raw: string): unknown {
  if (raw === '') return {};
  try {
    return JSON.parse(raw);
  } catch {
    throw new ApiError(
      hsError(400, 'VALIDATION_ERROR', 'Invalid input JSON on line 1: the request body is not valid JSON'),
    );
  }
}

function parseOr(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export { FaultInjector };
