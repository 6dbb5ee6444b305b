/**
 * The one place that knows which datastore BullMQ runs on. With a Redis URL (`queue.redisUrl` / REDIS_URL) it is
 * BullMQ's Redis backend over ioredis: any number of workers on any number of machines share one Redis. Without
 * it, BullMQ 6's own PostgreSQL backend on the warehouse database (schema `bullmq`), so the embedded default runs
 * the real schedulers too. Everything above this file uses the same Queue and Worker API either way.
 */
import {
  assertSchemaCompatibility,
  createPostgresBackend,
  type Processor,
  Queue,
  runMigrations,
  Worker,
  type WorkerOptions,
} from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { AppError } from '../errors.ts';

export type BackendKind = 'redis' | 'postgres';

export interface QueueBackendOptions {
  /** Redis URL; empty or absent means the PostgreSQL backend. */
  redisUrl?: string | undefined;
  /** The warehouse database URL (the PostgreSQL backend's home). */
  databaseUrl: string;
  /** Key prefix (Redis) or schema (PostgreSQL) that namespaces our queues. */
  prefix?: string;
}

/** Queue and worker constructors bound to one datastore, plus its preparation and shutdown. */
export interface QueueBackend {
  readonly kind: BackendKind;
  queue(name: string): Queue;
  worker(name: string, processor: Processor, opts?: Omit<WorkerOptions, 'connection'>): Worker;
  /**
   * Readies the datastore: on PostgreSQL, applies BullMQ's own schema migrations (`migrate`, for `start`) or only
   * checks that the schema is one this BullMQ understands (workers). A no-op on Redis.
   */
  prepare(migrate: boolean): Promise<void>;
  /** Closes every queue and worker made here, then the shared connection. */
  close(): Promise<void>;
  /** One round trip to the datastore (readiness). */
  ping(): Promise<void>;
  /** Calls `cb` each time the connection to the datastore is back after a loss; returns the unsubscribe. */
  onReconnect(cb: () => void): () => void;
}

/** PostgreSQL schema names allow letters, digits and underscores; prefixes like `quota-tracker` are mapped. */
function schemaFor(prefix: string): string {
  return prefix.replace(/[^A-Za-z0-9_]/g, '_').toLowerCase();
}

export function createQueueBackend(opts: QueueBackendOptions): QueueBackend {
  const prefix = opts.prefix ?? 'quota-tracker';
  const redisUrl = opts.redisUrl?.trim();
  const closables: Array<{ close(): Promise<void> }> = [];
  const track = <T extends { close(): Promise<void> }>(x: T): T => {
    closables.push(x);
    return x;
  };
  const closeAll = async () => {
    // Workers first (they drain their active jobs), then queues.
    const workers = closables.filter((c) => c instanceof Worker);
    await Promise.all(workers.map((w) => w.close()));
    await Promise.all(closables.filter((c) => !(c instanceof Worker)).map((q) => q.close()));
    closables.length = 0;
  };

  if (redisUrl) {
    // BullMQ's blocking commands need maxRetriesPerRequest: null; workers duplicate this connection for theirs.
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null, lazyConnect: false });
    connection.on('error', () => {});
    return {
      kind: 'redis',
      queue: (name) => track(new Queue(name, { connection, prefix })),
      worker: (name, processor, wopts = {}) => track(new Worker(name, processor, { ...wopts, connection, prefix })),
      prepare: async () => {
        await connection.ping().catch((cause) => {
          throw new AppError('DB_UNAVAILABLE', `cannot reach Redis for the job queue: ${(cause as Error).message}`, {
            cause,
            where: 'queue.redisUrl',
          });
        });
      },
      close: async () => {
        await closeAll();
        connection.disconnect();
      },
      ping: async () => {
        await connection.ping();
      },
      onReconnect: (cb) => {
        // 'ready' follows every (re)connection; only those after a loss matter.
        let lost = false;
        const onLost = () => {
          lost = true;
        };
        const onReady = () => {
          if (!lost) return;
          lost = false;
          cb();
        };
        connection.on('close', onLost);
        connection.on('ready', onReady);
        return () => {
          connection.off('close', onLost);
          connection.off('ready', onReady);
        };
      },
    };
  }

  const schema = schemaFor(prefix);
  // A config object (not a bare string) so the backend pins search_path to our schema; each Queue/Worker owns a
  // small pool of its own plus, for workers, one LISTEN connection.
  const connection = { connectionString: opts.databaseUrl, schema, max: 3 };
  return {
    kind: 'postgres',
    queue: (name) => track(new Queue(name, { connection }, createPostgresBackend) as unknown as Queue),
    worker: (name, processor, wopts = {}) =>
      track(new Worker(name, processor, { ...wopts, connection }, createPostgresBackend) as unknown as Worker),
    prepare: async (migrate) => {
      const client = new pg.Client({ connectionString: opts.databaseUrl });
      await client.connect();
      try {
        if (migrate) await runMigrations(client, schema);
        else await assertSchemaCompatibility(client, schema);
      } catch (cause) {
        throw new AppError(
          migrate ? 'MIGRATION_FAILED' : 'SCHEMA_UNKNOWN',
          `the job queue's PostgreSQL schema "${schema}" is not usable: ${(cause as Error).message}`,
          { cause, where: `schema ${schema}` },
        );
      } finally {
        await client.end();
      }
    },
    close: closeAll,
    ping: async () => {
      const client = new pg.Client({ connectionString: opts.databaseUrl });
      await client.connect();
      try {
        await client.query('SELECT 1');
      } finally {
        await client.end();
      }
    },
    // The PostgreSQL backend keeps its schedulers in the warehouse: they do not vanish with a connection.
    onReconnect: () => () => {},
  };
}
