/**
 * The scheduled service as `start`, `worker` and `demo` run it: the queue backend chosen by the config, the job
 * handlers of the pipeline, the schedulers reconciled with the config (not by plain workers), and the workers.
 */
import type { Config } from '../config/schema.ts';
import type { DbHandle } from '../db/index.ts';
import { AppError } from '../errors.ts';
import { sweepAbandonedRuns } from '../sync/abandoned.ts';
import { rotationNeedsKeyMessage, rotationWithoutKey } from '../sync/connectors.ts';
import type { Logger } from '../util/log.ts';
import { sweepAbandonedWritebacks } from '../writeback/lock.ts';
import { createQueueBackend } from './backend.ts';
import { createPipeline, type Pipeline, type PipelineContext, tasksInFlight } from './pipeline.ts';
import { JobRuntime } from './runtime.ts';
import {
  keepSchedulers,
  missingSchedulersProblem,
  overdueStreamsProblem,
  queueProblem,
  type ReadinessProblem,
} from './schedule-health.ts';
import { desiredSchedulers } from './schedules.ts';

export interface ServiceOptions {
  config: Config;
  db: DbHandle;
  log: Logger;
  /** Apply the PostgreSQL queue backend's schema migrations (start, demo), or only check them (worker). */
  migrateQueue: boolean;
  /** Make the Job Schedulers match the config (start, demo). */
  reconcileSchedulers: boolean;
  /** Jobs run at once per process. */
  concurrency?: number;
  onWriteback?: PipelineContext['onWriteback'];
  /** Force a backend regardless of the config and REDIS_URL (the demo runs on PostgreSQL). */
  backend?: 'redis' | 'postgres';
  /** How often the scheduler owner checks that no scheduler went missing (default SCHEDULER_CHECK_MS). */
  schedulerCheckMs?: number;
}

export interface Service {
  runtime: JobRuntime;
  pipeline: Pipeline;
  backend: 'redis' | 'postgres';
  schedulers: string[];
  /**
   * Why the service cannot do its work, or null: the queue unreachable, a scheduler missing (when this service
   * owns them), or a stream not synced successfully within twice its interval.
   */
  readiness(): Promise<ReadinessProblem | null>;
  /** Stops taking jobs, lets running ones finish, closes the queue connections. */
  close(): Promise<void>;
}

/** The Redis URL of the config, else of the environment; empty means the PostgreSQL backend. */
export function redisUrlOf(config: Config): string | undefined {
  const url = config.queue.redisUrl ?? process.env.REDIS_URL;
  return url && url.trim() !== '' ? url : undefined;
}

export async function startService(o: ServiceOptions): Promise<Service> {
  const backend = createQueueBackend({
    redisUrl: o.backend === 'postgres' ? undefined : redisUrlOf(o.config),
    databaseUrl: o.db.url,
    prefix: o.config.queue.prefix,
  });
  await backend.prepare(o.migrateQueue);
  // Runs a killed process left marked running are closed before new ones start (the next run of each would too).
  await sweepAbandonedRuns(o.db.db, o.log);
  await sweepAbandonedWritebacks(o.db.db, o.log);
  const shutdown = new AbortController();
  const pipeline = createPipeline({
    db: o.db.db,
    config: o.config,
    log: o.log,
    signal: shutdown.signal,
    ...(o.onWriteback ? { onWriteback: o.onWriteback } : {}),
  });
  // Fails with JOB_HANDLER_MISSING before any worker starts if a job name has no handler.
  const runtime = new JobRuntime(backend, pipeline.handlers, o.log);
  let schedulers: string[] = [];
  const desired = desiredSchedulers(o.config);
  let stopKeeping = () => {};
  if (o.reconcileSchedulers) {
    const r = await runtime.reconcileSchedulers(desired);
    schedulers = r.upserted;
    if (r.removed.length > 0) o.log.info({ removed: r.removed }, 'removed job schedulers the config no longer names');
    stopKeeping = keepSchedulers(runtime, desired, o.log, {
      ...(o.schedulerCheckMs !== undefined ? { everyMs: o.schedulerCheckMs } : {}),
      onReconnect: (cb) => runtime.onReconnect(cb),
    });
  }
  runtime.startWorkers({ concurrency: o.concurrency ?? 4, shards: o.config.queue.recomputeShards > 1 });
  // Alert tasks a killed process claimed but never heard back about go out again now, not at the next alert change.
  if (await tasksInFlight(o.db.db)) await runtime.enqueue('deliver-alerts', { v: 1 });
  o.log.info({ backend: backend.kind, schedulers: schedulers.length }, 'job workers started');
  const startedAt = new Date(); // wall-clock: compared with sync_runs.finished_at, an audit stamp in wall time
  return {
    runtime,
    pipeline,
    backend: backend.kind,
    schedulers,
    readiness: async () =>
      (await rotationProblem(o.db.db, o.config)) ??
      (await queueProblem(runtime)) ??
      (o.reconcileSchedulers ? await missingSchedulersProblem(runtime, desired) : null) ??
      // wall-clock: the age of the last successful sync, against wall-time audit stamps
      (await overdueStreamsProblem(o.db.db, o.config, startedAt, new Date())),
    close: async () => {
      stopKeeping();
      await closeWithin(runtime, shutdown, o.log);
    },
  };
}

/** A connection whose rotated refresh token could not be kept (no secret key): failing, with how to fix it. */
async function rotationProblem(db: DbHandle['db'], config: Config): Promise<ReadinessProblem | null> {
  const ids = await rotationWithoutKey(db, config);
  if (ids.length === 0) return null;
  return {
    reason: 'secret_key_missing',
    message: ids.map((id) => rotationNeedsKeyMessage(config, id)).join('; '),
    connections: ids,
  };
}

/** How long running jobs get to finish on their own at shutdown before their CRM calls and lock waits are aborted. */
export const SHUTDOWN_GRACE_MS = 4_000;

/**
 * Stops taking jobs and lets the running ones finish; past the grace, aborts them (each stops at its next CRM call,
 * page or lock wait, with what it committed kept) so that a stop never waits on a stuck CRM answer.
 */
async function closeWithin(runtime: JobRuntime, shutdown: AbortController, log: Logger): Promise<void> {
  const closing = runtime.close();
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), SHUTDOWN_GRACE_MS);
  });
  const first = await Promise.race([closing.then(() => 'done' as const), grace]).finally(() => clearTimeout(timer));
  if (first === 'late') {
    log.warn({ graceMs: SHUTDOWN_GRACE_MS }, 'running jobs did not finish in time; aborting them');
    shutdown.abort(new AppError('INTERNAL', 'the service is shutting down; the next run resumes from here'));
  }
  await closing;
}

/** Resolves on the first SIGTERM or SIGINT (and stops listening for them). */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(sig);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}
