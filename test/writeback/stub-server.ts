/**
 * A one-route-table HTTP server for the Salesforce write tests. nock 15 (through @mswjs/interceptors) hands the
 * reply callback no body for jsforce's PATCH requests, so these tests use a real socket instead.
 */
import { createServer, type Server } from 'node:http';

export interface StubRequest {
  method: string;
  path: string;
  body: unknown;
}

export interface StubReply {
  status?: number;
  json: unknown;
  headers?: Record<string, string>;
}

/** A reply, later (the handler may do work first), or `null`: no answer ever (a CRM that holds the request). */
export type StubHandler = (req: StubRequest) => StubReply | null | Promise<StubReply | null>;

export interface StubServer {
  url: string;
  requests: StubRequest[];
  close(): Promise<void>;
}

export async function startStub(handler: StubHandler): Promise<StubServer> {
  const requests: StubRequest[] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', async () => {
      const r: StubRequest = { method: req.method ?? '', path: req.url ?? '', body: raw ? JSON.parse(raw) : null };
      requests.push(r);
      let out: StubReply | null;
      try {
        out = await handler(r);
      } catch (e) {
        out = { status: 500, json: [{ errorCode: 'TEST_HANDLER', message: String(e) }] };
      }
      if (out === null) return;
      res.writeHead(out.status ?? 200, { 'content-type': 'application/json', ...(out.headers ?? {}) });
      res.end(JSON.stringify(out.json));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
