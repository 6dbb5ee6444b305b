/** Runs the web app on Node's HTTP server (@hono/node-server). */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { AppError } from '../errors.ts';
import { silentLogger } from '../util/log.ts';
import { createWebApp, type WebAppOptions } from './app.ts';

export interface WebServerOptions extends WebAppOptions {
  /** 0 picks a free port. */
  port: number;
  /** Default 127.0.0.1; use 0.0.0.0 in a container. */
  host?: string;
}

export interface RunningWebServer {
  /** e.g. `http://127.0.0.1:8080`. */
  url: string;
  port: number;
  /** Stops accepting connections, closes idle keep-alive ones and waits for requests in flight. */
  close(): Promise<void>;
}

export async function startWebServer(options: WebServerOptions): Promise<RunningWebServer> {
  const logger = options.logger ?? silentLogger;
  const host = options.host ?? '127.0.0.1';
  // Built before listening, so a route without a policy stops start-up before any port is opened.
  const { app, routes } = createWebApp(options);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: options.port, hostname: host }) as Server;
    s.once('listening', () => resolve(s));
    s.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new AppError('INTERNAL', `the web server cannot listen on ${host}:${options.port}: ${e.message}`, {
          cause: e,
          where: `${host}:${options.port}`,
        }),
      ),
    );
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${port}`;
  logger.info({ url, routes: routes.length }, 'web server listening');
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
