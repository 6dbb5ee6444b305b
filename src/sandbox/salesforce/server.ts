/**
 * The sandbox's HTTP server (node:http): OAuth endpoints, the data API under `/services/data/vNN.N/`, the identity
 * URL, and a test API under `/__sandbox/` guarded by an admin token. Every request except the test API's goes
 * through the fault injector and into the request log; every data-API response carries `Sforce-Limit-Info`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isAppError } from '../../errors.ts';
import { sharedTestRoute } from '../test-api.ts';
import type { SandboxAuth } from './auth.ts';
import { BulkQueryApi } from './bulk.ts';
import type { ActiveFault, FaultInjector } from './faults.ts';
import type { RequestLog, RequestLogEntry } from './request-log.ts';
import { errorReply, ReadApi, type Reply } from './rest.ts';
import { findSObject } from './schema.ts';
import type { SalesforceStore } from './store.ts';
import {
  collectionCreate,
  collectionDelete,
  collectionUpdate,
  collectionUpsert,
  RequestError,
  updateOne,
  upsertOne,
} from './writes.ts';

/** Hooks into the generator's parts (A's oracle and one-off life changes), exposed through the test API. */
export interface SandboxHooks {
  oracle?: (stream: string) => unknown;
  change?: (change: Record<string, unknown>) => unknown;
}

export interface SandboxServerOptions {
  store: SalesforceStore;
  auth: SandboxAuth;
  faults: FaultInjector;
  log: RequestLog;
  /** Token for `/__sandbox/*`, sent as `Authorization: Bearer <token>` or `X-Sandbox-Admin-Token`. */
  adminToken: string;
  /** DailyApiRequests Max (default 100,000). */
  apiLimit?: number;
  hooks?: SandboxHooks;
}

const JSON_TYPE = 'application/json;charset=UTF-8';

export class SalesforceSandboxServer {
  readonly server: Server;
  readonly read: ReadApi;
  readonly bulk: BulkQueryApi;
  apiUsed = 0;
  apiLimit: number;
  private baseUrl = '';

  constructor(private readonly o: SandboxServerOptions) {
    this.read = new ReadApi(o.store);
    this.bulk = new BulkQueryApi(o.store, () => o.store.integrationUserId);
    this.apiLimit = o.apiLimit ?? 100_000;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': JSON_TYPE });
          res.end(JSON.stringify([{ message: String(e), errorCode: 'UNKNOWN_EXCEPTION' }]));
        }
      });
    });
  }

  get url(): string {
    return this.baseUrl;
  }

  /** Listens on `port` (0 = any free port) on 127.0.0.1 and returns the base URL. */
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

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const method = (req.method ?? 'GET').toUpperCase();
    const raw = await readBody(req);
    if (url.pathname.startsWith('/__sandbox/')) {
      send(res, await this.admin(req, method, url, raw));
      return;
    }
    const entry = this.o.log.start(method, url.pathname, Object.fromEntries(url.searchParams));
    const fault = this.o.faults.pick(method, url.pathname);
    let reply: Reply;
    if (fault?.kind === 'slow') await new Promise((r) => setTimeout(r, fault.delayMs ?? 2000));
    const injected = fault ? faultReply(fault) : null;
    if (injected) {
      reply = injected;
    } else {
      if (fault?.kind === 'expire_session') this.o.auth.expire(bearer(req));
      try {
        reply = this.route(req, method, url, raw);
      } catch (e) {
        reply = failure(e);
      }
    }
    // Documented as returned by every REST API request except the Versions URI (/services/data), which doesn't
    // count towards the org's limit.
    const isData = url.pathname.startsWith('/services/data/') && url.pathname.replace(/\/+$/, '') !== '/services/data';
    if (isData) {
      reply.headers = { ...reply.headers, 'Sforce-Limit-Info': `api-usage=${this.apiUsed}/${this.apiLimit}` };
    }
    this.finishLog(entry, reply, fault);
    if (fault?.kind === 'drop') {
      // Headers and half the body, then the socket goes away: the client sees a reset mid-response.
      const body = reply.text ?? (reply.body === undefined ? '' : JSON.stringify(reply.body));
      res.writeHead(reply.status, {
        ...(reply.text === undefined ? { 'content-type': JSON_TYPE } : {}),
        'content-length': String(Buffer.byteLength(body)),
        ...reply.headers,
      });
      res.write(body.slice(0, Math.floor(body.length / 2)));
      setImmediate(() => res.socket?.destroy());
      return;
    }
    send(res, reply);
  }

  private finishLog(entry: RequestLogEntry, reply: Reply, fault: ActiveFault | null): void {
    const retry = reply.headers?.['Retry-After'];
    const first = Array.isArray(reply.body) ? (reply.body[0] as { errorCode?: unknown } | undefined) : undefined;
    const oauthError = (reply.body as { error?: unknown } | undefined)?.error;
    const errorCode =
      reply.status >= 400
        ? typeof first?.errorCode === 'string'
          ? first.errorCode
          : typeof oauthError === 'string'
            ? oauthError
            : undefined
        : undefined;
    this.o.log.finish(entry, reply.status, {
      ...(reply.records !== undefined ? { recordsReturned: reply.records } : {}),
      ...(retry !== undefined ? { retryAfterSeconds: Number(retry) } : {}),
      ...(fault ? { fault: fault.kind } : {}),
      ...(errorCode ? { errorCode } : {}),
      ...(reply.locator ? { locator: reply.locator } : {}),
    });
  }

  private route(req: IncomingMessage, method: string, url: URL, raw: string): Reply {
    const path = url.pathname.replace(/\/+$/, '');
    if (path === '/services/oauth2/token' && method === 'POST') {
      const params = new URLSearchParams(raw);
      const r = this.o.auth.token(params, this.baseUrl, basicAuth(req));
      return { status: r.status, body: r.body };
    }
    if (path === '/services/oauth2/revoke' && (method === 'POST' || method === 'GET')) {
      const token = new URLSearchParams(raw).get('token') ?? url.searchParams.get('token') ?? '';
      if (!this.o.auth.revoke(token)) {
        return {
          status: 400,
          body: { error: 'unsupported_token_type', error_description: 'this token type is not supported' },
        };
      }
      return { status: 200 };
    }
    if (path === '/services/data' && method === 'GET') {
      return { status: 200, body: [{ label: "Winter '25", url: '/services/data/v62.0', version: '62.0' }] };
    }
    const userId = this.o.auth.check(bearer(req));
    if (path.startsWith('/id/') || path.startsWith('/services/data/')) {
      if (!userId) return errorReply(401, 'INVALID_SESSION_ID', 'Session expired or invalid');
    }
    if (path.startsWith('/id/')) return this.identity(userId!);
    const m = /^\/services\/data\/v(\d+\.\d)(?:\/(.*))?$/.exec(path);
    if (!m) return errorReply(404, 'NOT_FOUND', 'The requested resource does not exist');
    const version = m[1]!;
    const rest = m[2] ?? '';
    this.apiUsed += 1;
    if (this.apiUsed > this.apiLimit) {
      return errorReply(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.');
    }
    return this.data(req, method, rest, url, raw, version, userId!);
  }

  private data(
    req: IncomingMessage,
    method: string,
    rest: string,
    url: URL,
    raw: string,
    version: string,
    userId: string,
  ): Reply {
    const parts = rest.split('/').map(decodeURIComponent);
    const queryOptions = header(req, 'sforce-query-options');
    const [head, a, b, c] = parts;
    const json = () => parseJson(raw);
    if (method === 'GET' && (head === 'query' || head === 'queryAll')) {
      if (a) return this.read.queryMore(a, version, queryOptions);
      return this.read.query(url.searchParams.get('q'), version, head === 'queryAll', queryOptions);
    }
    if (head === 'limits' && a === 'recordCount' && !b && method === 'GET') {
      return this.bulk.recordCount(url.searchParams.get('sObjects'));
    }
    if (head === 'limits' && !a && method === 'GET') {
      return {
        status: 200,
        body: {
          DailyApiRequests: { Max: this.apiLimit, Remaining: Math.max(0, this.apiLimit - this.apiUsed) },
          DailyBulkApiBatches: { Max: 15000, Remaining: 15000 },
          DailyBulkV2QueryJobs: { Max: 10000, Remaining: Math.max(0, 10000 - this.bulk.created) },
        },
      };
    }
    if (head === 'jobs' && a === 'query') {
      if (!b && method === 'POST') return this.bulk.create(json(), version);
      if (!b && method === 'GET') return this.bulk.list();
      if (b && !c && method === 'GET') return this.bulk.get(b);
      if (b && !c && method === 'PATCH') return this.bulk.abort(b, json());
      if (b && !c && method === 'DELETE') return this.bulk.remove(b);
      if (b && c === 'results' && !parts[4] && method === 'GET') {
        return this.bulk.results(b, version, url.searchParams.get('locator'), url.searchParams.get('maxRecords'));
      }
    }
    if (head === 'sobjects') {
      if (!a && method === 'GET') return this.read.globalDescribe(version);
      if (a && b === 'describe' && !c && method === 'GET') return this.read.describe(a, version, this.baseUrl);
      if (a && (b === 'deleted' || b === 'updated') && !c && method === 'GET') {
        return this.read.replication(b, a, url.searchParams.get('start'), url.searchParams.get('end'));
      }
      if (a && b && !c) {
        if (method === 'GET') return this.read.record(a, b, version, url.searchParams.get('fields'));
        if (method === 'PATCH') {
          updateOne(this.o.store, a, b, json(), userId);
          return { status: 204 };
        }
        if (method === 'DELETE') return this.deleteOne(a, b);
      }
      if (a && b && c && method === 'PATCH') {
        const { status, result } = upsertOne(this.o.store, a, b, c, json(), userId);
        return { status, body: result, records: 1 };
      }
    }
    if (head === 'composite' && a === 'sobjects') {
      if (!b && method === 'POST') return results(collectionCreate(this.o.store, json(), userId));
      if (!b && method === 'PATCH') return results(collectionUpdate(this.o.store, json(), userId));
      if (b && c && method === 'PATCH') return results(collectionUpsert(this.o.store, b, c, json(), userId));
      if (!b && method === 'DELETE') {
        const ids = (url.searchParams.get('ids') ?? '').split(',').filter((x) => x !== '');
        return results(collectionDelete(this.o.store, ids, url.searchParams.get('allOrNone') === 'true'));
      }
    }
    return errorReply(404, 'NOT_FOUND', 'The requested resource does not exist');
  }

  private deleteOne(typeName: string, id: string): Reply {
    const def = findSObject(typeName);
    if (!def || !this.o.store.get(def.name, id))
      return errorReply(404, 'NOT_FOUND', 'The requested resource does not exist');
    if (!def.deletable || !def.hasIsDeleted)
      return errorReply(400, 'INVALID_TYPE', `entity type ${def.name} does not support delete`);
    this.o.store.softDelete(def.name, id);
    return { status: 204 };
  }

  private identity(userId: string): Reply {
    const u = this.o.store.get('User', userId);
    return {
      status: 200,
      body: {
        id: `${this.baseUrl}/id/${this.o.store.orgId}/${userId}`,
        asserted_user: true,
        user_id: userId,
        organization_id: this.o.store.orgId,
        username: u?.Username ?? null,
        display_name: u?.Name ?? null,
        email: u?.Email ?? null,
        active: u?.IsActive ?? true,
        user_type: 'STANDARD',
        urls: {
          rest: `${this.baseUrl}/services/data/v{version}/`,
          sobjects: `${this.baseUrl}/services/data/v{version}/sobjects/`,
        },
      },
    };
  }

  // ---- test API ----

  private async admin(req: IncomingMessage, method: string, url: URL, raw: string): Promise<Reply> {
    const token = header(req, 'x-sandbox-admin-token') ?? bearer(req);
    if (token !== this.o.adminToken)
      return { status: 401, body: { error: 'the sandbox admin token is missing or wrong' } };
    const what = url.pathname.slice('/__sandbox/'.length).replace(/\/+$/, '');
    const { store, faults, log, auth, hooks } = this.o;
    try {
      const shared = sharedTestRoute(`${method} ${what}`, raw, { log, faults, store, parseJson });
      if (shared) return shared;
      switch (`${method} ${what}`) {
        case 'GET info':
          return {
            status: 200,
            body: {
              orgId: store.orgId,
              now: store.now().toISOString(),
              apiUsage: { used: this.apiUsed, max: this.apiLimit },
            },
          };
        case 'POST bulk':
          return { status: 200, body: this.bulk.configure(parseJson(raw) as Parameters<BulkQueryApi['configure']>[0]) };
        case 'POST sessions/expire':
          auth.expire();
          return { status: 204 };
        case 'POST change':
          return { status: 200, body: applyChange(store, parseJson(raw)) };
        case 'POST life':
          if (!hooks?.change) return { status: 501, body: { error: 'no life hooks in this sandbox' } };
          return { status: 200, body: (await hooks.change(parseJson(raw) as Record<string, unknown>)) ?? null };
        case 'GET oracle':
          if (!hooks?.oracle) return { status: 501, body: { error: 'no oracle in this sandbox' } };
          return { status: 200, body: hooks.oracle(url.searchParams.get('stream') ?? '') ?? null };
        default:
          return { status: 404, body: { error: `no test API route ${method} /__sandbox/${what}` } };
      }
    } catch (e) {
      return { status: 400, body: { error: e instanceof Error ? e.message : String(e) } };
    }
  }
}

/**
 * One specific change through the test API: `{ op: 'insert'|'update'|'softDelete'|'hardDelete', type, id?, fields?,
 * stamp? }`; a `stamp` in the past makes a late commit.
 */
function applyChange(store: SalesforceStore, body: unknown): unknown {
  const b = body as { op?: string; type?: string; id?: string; fields?: Record<string, unknown>; stamp?: string };
  if (!b.type || !findSObject(b.type)) throw new Error(`change: unknown type ${String(b.type)}`);
  const type = findSObject(b.type)!.name;
  const opts = b.stamp ? { stamp: new Date(b.stamp) } : {};
  switch (b.op) {
    case 'insert':
      return store.insert(type, b.fields ?? {}, opts);
    case 'update':
      return store.update(type, String(b.id), b.fields ?? {}, opts);
    case 'softDelete':
      store.softDelete(type, String(b.id), opts);
      return { ok: true };
    case 'hardDelete':
      store.hardDelete(type, String(b.id), opts);
      return { ok: true };
    default:
      throw new Error(`change: op must be insert, update, softDelete or hardDelete, got ${String(b.op)}`);
  }
}

function faultReply(f: ActiveFault): Reply | null {
  const retry = f.retryAfterSeconds;
  const withRetry = (r: Reply, dflt?: number): Reply => {
    const s = retry ?? dflt;
    return s === undefined ? r : { ...r, headers: { ...r.headers, 'Retry-After': String(s) } };
  };
  switch (f.kind) {
    case 'rate_limit_429':
      return withRetry(
        errorReply(429, 'REQUEST_LIMIT_EXCEEDED', 'Too many requests: retry after the time in Retry-After.'),
        2,
      );
    case 'request_limit_403':
      return withRetry(errorReply(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.'));
    case 'error_500':
      return errorReply(
        500,
        'UNKNOWN_EXCEPTION',
        'An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)',
      );
    case 'query_timeout':
      return errorReply(400, 'QUERY_TIMEOUT', 'Your query request was running for too long.');
    case 'unavailable_503':
      return withRetry(
        errorReply(503, 'SERVER_UNAVAILABLE', 'Server temporarily unavailable. Please try again later.'),
      );
    default:
      return null;
  }
}

function failure(e: unknown): Reply {
  if (e instanceof RequestError) return errorReply(e.status, e.errorCode, e.message);
  if (isAppError(e)) {
    const code = typeof e.details?.statusCode === 'string' ? e.details.statusCode : 'UNKNOWN_EXCEPTION';
    return errorReply(400, code, e.message);
  }
  return errorReply(500, 'UNKNOWN_EXCEPTION', e instanceof Error ? e.message : String(e));
}

function results(list: unknown[]): Reply {
  return { status: 200, body: list, records: list.length };
}

function send(res: ServerResponse, reply: Reply): void {
  if (reply.text !== undefined) {
    res.writeHead(reply.status, { 'content-length': String(Buffer.byteLength(reply.text)), ...reply.headers });
    res.end(reply.text);
    return;
  }
  const body = reply.body === undefined || reply.status === 204 ? undefined : JSON.stringify(reply.body);
  res.writeHead(reply.status, { ...(body !== undefined ? { 'content-type': JSON_TYPE } : {}), ...reply.headers });
  res.end(body);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function bearer(req: IncomingMessage): string | undefined {
  const h = header(req, 'authorization');
  const m = h ? /^(?:Bearer|OAuth)\s+(.+)$/i.exec(h) : null;
  return m?.[1];
}

function basicAuth(req: IncomingMessage): { id: string; secret: string } | undefined {
  const h = header(req, 'authorization');
  const m = h ? /^Basic\s+(.+)$/i.exec(h) : null;
  if (!m) return undefined;
  const [id, secret] = Buffer.from(m[1]!, 'base64').toString('utf8').split(':');
  return id !== undefined && secret !== undefined
    ? { id: decodeURIComponent(id), secret: decodeURIComponent(secret) }
    : undefined;
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw new RequestError('JSON_PARSER_ERROR', 'The request body is not valid JSON');
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
