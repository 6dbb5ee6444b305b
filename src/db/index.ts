/**
 * The database handle every command and worker uses: kysely over a `pg.Pool`, against `DATABASE_URL` when given,
 * else against the embedded PostgreSQL server (started here, or reused when another process of ours already runs
 * it on the same data directory).
 */
import { resolve } from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { AppError, isAppError } from '../errors.ts';
import type { Logger } from '../util/log.ts';
import { silentLogger } from '../util/log.ts';
import { ensureDatabase, startEmbeddedServer } from './embedded.ts';
import type { Database } from './schema.ts';

export type { Database } from './schema.ts';

export interface CreateDbOptions {
  /** PostgreSQL URL; defaults to DATABASE_URL. Empty means "not given". */
  url?: string;
  /** Embedded server data directory; default `./.quota-tracker/pg`. */
  dataDir?: string;
  logger?: Logger;
  /** Port for an embedded server we start (a free one by default). */
  port?: number;
  /** Pool size; default 10. */
  poolSize?: number;
}

export interface DbHandle {
  db: Kysely<Database>;
  /** The URL connected to (credentials included: never log it, use `redactUrl`). */
  url: string;
  /** True when the database is the embedded server (started by us or by another process of ours). */
  embedded: boolean;
  /** Closes the pool, and stops the embedded server if this process started it. Idempotent. */
  close(): Promise<void>;
}

/** The embedded server's database for the application's tables. */
export const EMBEDDED_DATABASE = 'quota_tracker';
export const DEFAULT_DATA_DIR = '.quota-tracker/pg';

const DATE_ARRAY = 1182;
const INT8_ARRAY = 1016;
const TEXT_ARRAY = 1009;
const textArray = (value: string): unknown =>
  (pg.types.getTypeParser as (oid: number, format: 'text') => (v: string) => unknown)(TEXT_ARRAY, 'text')(value);

/**
 * How values come back from PostgreSQL: `date` stays the `'YYYY-MM-DD'` text (a JS Date would shift it by the
 * process time zone), `int8` (bigserial ids, counts) becomes a number, `numeric` stays a decimal string (pg's
 * default) so money never passes through a float.
 */
export const typeParsers = {
  getTypeParser(oid: number, format?: string): (value: string) => unknown {
    if (oid === pg.types.builtins.DATE) return (value: string) => value;
    if (oid === pg.types.builtins.INT8) return (value: string) => Number(value);
    // Arrays of them (array_agg of close dates or ids) follow the same rules, parsed as text[] first.
    if (oid === DATE_ARRAY) return textArray;
    if (oid === INT8_ARRAY) {
      return (value: string) => (textArray(value) as (string | null)[]).map((v) => (v === null ? null : Number(v)));
    }
    return pg.types.getTypeParser(oid, (format ?? 'text') as 'text') as (value: string) => unknown;
  },
};

/** Opens the database: DATABASE_URL (or `url`) when given, else the embedded server. */
export async function createDb(options: CreateDbOptions = {}): Promise<DbHandle> {
  const logger = options.logger ?? silentLogger;
  const given = options.url ?? process.env.DATABASE_URL;
  if (given !== undefined && given.trim() !== '') {
    const db = await connect(given, options.poolSize, logger);
    return handle(db, given, false, async () => {});
  }

  const dataDir = resolve(options.dataDir ?? DEFAULT_DATA_DIR);
  const server = await startEmbeddedServer({ dataDir, port: options.port, logger });
  try {
    await ensureDatabase(server.adminUrl, EMBEDDED_DATABASE);
    const url = server.urlFor(EMBEDDED_DATABASE);
    const db = await connect(url, options.poolSize, logger);
    return handle(db, url, true, () => server.stop());
  } catch (e) {
    await server.stop();
    throw e;
  }
}

const closingHooks = new WeakMap<Kysely<Database>, () => void>();

/** Kysely over a pool for one URL, with our type parsers; fails with DB_UNAVAILABLE when it cannot connect. */
export async function connect(url: string, poolSize = 10, logger: Logger = silentLogger): Promise<Kysely<Database>> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, types: typeParsers as pg.CustomTypesConfig });
  let closing = false;
  // An idle client's error (server restart, network drop) must not crash the process; the next query reconnects.
  // Once we are closing, the embedded server stopping right behind the pool's end() cuts connections still on their
  // way out: expected, not worth a warning.
  pool.on('error', (e) => {
    if (!closing) logger.warn({ err: e.message }, 'idle PostgreSQL connection failed');
  });
  // A checked-out client has no pool listener: a connection cut while it is held between two queries (a page's
  // transaction, the migrator's lock; pg_terminate_backend, a failover) emitted an unhandled 'error' and killed the
  // process. With this listener the client's next query fails instead (the run ends failed, the next one resumes)
  // and the pool drops the broken client on release.
  pool.on('connect', (client) => {
    client.on('error', (e) => {
      if (!closing) logger.warn({ err: e.message }, 'PostgreSQL connection failed while in use');
    });
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  closingHooks.set(db, () => {
    closing = true;
  });
  try {
    await sql`select 1`.execute(db);
  } catch (e) {
    await db.destroy().catch(() => {});
    if (isAppError(e)) throw e;
    throw new AppError('DB_UNAVAILABLE', `cannot connect to PostgreSQL at ${redactUrl(url)}: ${(e as Error).message}`, {
      cause: e,
      where: redactUrl(url),
    });
  }
  return db;
}

function handle(db: Kysely<Database>, url: string, embedded: boolean, stopServer: () => Promise<void>): DbHandle {
  let closing: Promise<void> | undefined;
  return {
    db,
    url,
    embedded,
    close() {
      closing ??= (async () => {
        try {
          closingHooks.get(db)?.();
          await db.destroy();
        } finally {
          await stopServer();
        }
      })();
      return closing;
    },
  };
}

/** The URL with its password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable database URL)';
  }
}
