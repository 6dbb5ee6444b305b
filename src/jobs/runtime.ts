/**
 * The job runtime: one BullMQ queue (`pipeline`) carrying every job name, typed enqueueing with deduplication,
 * workers that validate payloads and map failures onto BullMQ's three outcomes, and the reconciliation of Job
 * Schedulers with the config.
 *
 * Failure mapping, decided once here:
 * - a permanent error (bad payload, bad config, a 4xx the CRM will repeat) fails the job once, with its message
 *   (`UnrecoverableError`: no retries);
 * - a CRM that asked us to wait (`Retry-After`), an exhausted API budget, or a busy lock moves the job back to
 *   delayed for that long (`moveToDelayed` + `DelayedError`), which is not a failed attempt;
 * - anything else is retried with exponential backoff and jitter, up to `attempts`.
 */
import { DelayedError, type Job, type Queue, UnrecoverableError, type Worker } from 'bullmq';
import { AppError, isAppError } from '../errors.ts';
import type { Logger } from '../util/log.ts';
import { processWorkerId } from '../util/worker-id.ts';
import type { QueueBackend } from './backend.ts';
import {
  dedupeId,
  isJobName,
  JOB_NAMES,
  type JobName,
  type JobPayload,
  type ParsedPayload,
  parsePayload,
} from './names.ts';

export const QUEUE_NAME = 'pipeline';

/**
 * The shards and merges of a sharded full recompute (src/metrics/engine/shards.ts) have a queue of their own, taken
 * one job at a time per process: each is a few seconds of one core, so N worker processes compute N shards at once
 * (on the main queue one process would take four and run them in turn on its one thread).
 */
export const SHARD_QUEUE_NAME = 'recompute-shards';
const SHARD_JOBS: ReadonlySet<JobName> = new Set(['recompute-shard', 'recompute-merge']);

const LOCK_MS =
  Number(process.env.QUOTA_TRACKER_JOB_LOCK_MS) > 0 ? Number(process.env.QUOTA_TRACKER_JOB_LOCK_MS) : 60_000;

/** What a handler gets besides its payload. */
export interface JobContext {
  jobId: string;
  /** 1 for the first attempt. */
  attempt: number;
  log: Logger;
  enqueue: Enqueue;
}

export type JobHandler<N extends JobName> = (payload: ParsedPayload<N>, ctx: JobContext) => Promise<unknown>;
export type JobHandlers = { [N in JobName]: JobHandler<N> };

/** Queues a job; resolves to its id (the id of the job it coalesced into, when deduplicated). */
export type Enqueue = <N extends JobName>(
  name: N,
  payload: JobPayload<N>,
  opts?: { delayMs?: number },
) => Promise<string | undefined>;

/** Thrown by a handler that cannot run now but will be able to later (a lock held elsewhere, a window closed). */
export class RetryLater extends Error {
  constructor(
    readonly delayMs: number,
    message: string,
  ) {
    super(message);
    this.name = 'RetryLater';
  }
}

/** Default job options: retries with backoff and jitter; finished jobs kept for inspection, then trimmed. */
export const DEFAULT_JOB_OPTIONS = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 2_000, jitter: 0.5 },
  removeOnComplete: { count: 1_000 },
  removeOnFail: { count: 5_000 },
} as const;

/** An exhausted daily budget is not worth retrying for a while; a Retry-After says exactly how long. */
const BUDGET_DELAY_MS = 30 * 60_000;

/** Fails with JOB_HANDLER_MISSING when a job name has no handler (checked before any worker starts). */
export function assertHandlers(handlers: Partial<JobHandlers>): asserts handlers is JobHandlers {
  const missing = JOB_NAMES.filter((n) => typeof handlers[n] !== 'function');
  if (missing.length > 0) {
    throw new AppError(
      'JOB_HANDLER_MISSING',
      `no handler is registered for the job${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
      {
        where: 'src/jobs',
        details: { missing },
      },
    );
  }
}

/** Added to a "come back later" delay so that the job never returns before the CRM's window has passed. */
export const RETRY_LATER_MARGIN_MS = 1_000;

/** How long to delay a job for this error, or null when it is not a "come back later" error. */
export function delayFor(e: unknown): number | null {
  if (e instanceof RetryLater) return e.delayMs;
  if (isAppError(e)) {
    if (e.retryAfterSeconds !== undefined) return Math.max(1_000, Math.ceil(e.retryAfterSeconds * 1000));
    if (e.code === 'CRM_BUDGET_EXHAUSTED') return BUDGET_DELAY_MS;
  }
  return null;
}

/** Whether an error can never succeed on a retry. */
export function isPermanent(e: unknown): boolean {
  if (isAppError(e)) return !e.retryable;
  return false;
}

export interface SchedulerSpec {
  id: string;
  name: JobName;
  data: JobPayload<JobName>;
  /** Milliseconds between runs, or a cron pattern (with its time zone). */
  every?: number;
  pattern?: string;
  tz?: string;
}

export class JobRuntime {
  private queueInstance: Queue | undefined;
  private shardQueueInstance: Queue | undefined;
  private readonly workers: Worker[] = [];

  constructor(
    private readonly backend: QueueBackend,
    private readonly handlers: Partial<JobHandlers>,
    private readonly log: Logger,
  ) {
    assertHandlers(handlers);
  }

  get kind() {
    return this.backend.kind;
  }

  /** One round trip to the queue's datastore. */
  ping(): Promise<void> {
    return this.backend.ping();
  }

  /** See QueueBackend.onReconnect. */
  onReconnect(cb: () => void): () => void {
    return this.backend.onReconnect(cb);
  }

  get queue(): Queue {
    this.queueInstance ??= this.backend.queue(QUEUE_NAME);
    return this.queueInstance;
  }

  /** The queue of the shards and merges of sharded recomputes. */
  get shardQueue(): Queue {
    this.shardQueueInstance ??= this.backend.queue(SHARD_QUEUE_NAME);
    return this.shardQueueInstance;
  }

  /**
   * Queues a job. Jobs with the same deduplication id coalesce: at most one runs and one waits, and the waiting one
   * carries the newest payload, so a burst of sync pages asks for one recompute, not hundreds.
   */
  enqueue: Enqueue = async (name, payload, opts = {}) => {
    parsePayload(name, payload);
    const job = await (SHARD_JOBS.has(name) ? this.shardQueue : this.queue).add(name, payload, {
      ...DEFAULT_JOB_OPTIONS,
      deduplication: { id: dedupeId(name, payload), keepLastIfActive: true },
      ...(opts.delayMs ? { delay: opts.delayMs } : {}),
    });
    return job.id;
  };

  /**
   * Starts `count` workers on the queue (each running `concurrency` jobs at once), and with `shards` (a sharded
   * recompute is configured: queue.recomputeShards above 1) as many on the shard queue (one job at a time each);
   * without, no shard job is ever queued, so no shard worker holds a connection polling for one.
   */
  startWorkers(options: { concurrency?: number; count?: number; shards?: boolean } = {}): Worker[] {
    const perCount = options.shards ? 2 : 1;
    for (let i = 0; i < perCount * (options.count ?? 1); i++) {
      const shardWorker = i % perCount === 1;
      const worker = this.backend.worker(
        shardWorker ? SHARD_QUEUE_NAME : QUEUE_NAME,
        (job, token) => this.process(job, token),
        {
          concurrency: shardWorker ? 1 : (options.concurrency ?? 4),
          // Each job records the process that took it (`processedBy`, shown by Bull Board).
          name: processWorkerId(),
          // A sync page can take a while; the lock is renewed in the background meanwhile. A worker that dies holds
          // its jobs until the lock expires, then another worker takes them over (QUOTA_TRACKER_JOB_LOCK_MS shortens
          // that, e.g. in tests).
          lockDuration: LOCK_MS,
          stalledInterval: Math.max(1_000, Math.floor(LOCK_MS / 2)),
        },
      );
      worker.on('failed', (job, err) => {
        this.log.warn({ job: job?.name, jobId: job?.id, attempt: job?.attemptsMade, err: err.message }, 'job failed');
      });
      worker.on('error', (err) => this.log.error({ err: err.message }, 'job worker error'));
      this.workers.push(worker);
    }
    return this.workers;
  }

  /** Runs one job: validate, handle, and map the outcome (see the file comment). */
  async process(job: Job, token: string | undefined): Promise<unknown> {
    const jobId = job.id ?? '?';
    const log = this.log.child({ job: job.name, jobId });
    if (!isJobName(job.name)) {
      throw new UnrecoverableError(`JOB_PAYLOAD_INVALID: no job is called "${job.name}" in this build`);
    }
    const name = job.name;
    let payload: ParsedPayload<JobName>;
    try {
      payload = parsePayload(name, job.data, jobId);
    } catch (e) {
      log.error({ err: (e as Error).message }, 'job payload rejected');
      throw new UnrecoverableError(`JOB_PAYLOAD_INVALID: ${(e as Error).message}`);
    }
    const handler = this.handlers[name] as JobHandler<JobName>;
    try {
      return await handler(payload, { jobId, attempt: job.attemptsMade + 1, log, enqueue: this.enqueue });
    } catch (e) {
      const delay = delayFor(e);
      if (delay !== null && token !== undefined) {
        log.info({ delayMs: delay, reason: (e as Error).message }, 'job delayed');
        // A second more than asked: the CRM counts its window from when it answered, which was before now, and
        // BullMQ measures the delay from its own later reading of the clock, so an exact figure comes back early.
        await job.moveToDelayed(Date.now() + delay + RETRY_LATER_MARGIN_MS, token); // wall-clock: BullMQ schedules in real time
        throw new DelayedError();
      }
      if (isPermanent(e)) {
        const code = isAppError(e) ? e.code : 'INTERNAL';
        const text = isAppError(e) ? e.toUserString() : (e as Error).message;
        log.error({ code, err: text }, 'job failed permanently');
        throw new UnrecoverableError(`${code}: ${text}`);
      }
      throw e;
    }
  }

  /**
   * Makes the queue's Job Schedulers match `desired`: upserts each (idempotent, keeps its next run when unchanged)
   * and removes ours that the config no longer names (a connection removed, a stream dropped).
   */
  async reconcileSchedulers(desired: readonly SchedulerSpec[]): Promise<{ upserted: string[]; removed: string[] }> {
    const wanted = new Set(desired.map((d) => d.id));
    const existing = await this.queue.getJobSchedulers(0, -1, true);
    const removed: string[] = [];
    for (const s of existing) {
      const id = s.key;
      if (!wanted.has(id)) {
        await this.queue.removeJobScheduler(id);
        removed.push(id);
      }
    }
    for (const d of desired) {
      const repeat = d.pattern ? { pattern: d.pattern, ...(d.tz ? { tz: d.tz } : {}) } : { every: d.every ?? 60_000 };
      await this.queue.upsertJobScheduler(d.id, repeat, {
        name: d.name,
        data: d.data,
        opts: {
          attempts: DEFAULT_JOB_OPTIONS.attempts,
          backoff: DEFAULT_JOB_OPTIONS.backoff,
          removeOnComplete: DEFAULT_JOB_OPTIONS.removeOnComplete,
          removeOnFail: DEFAULT_JOB_OPTIONS.removeOnFail,
        },
      });
    }
    return { upserted: desired.map((d) => d.id), removed };
  }

  /** Stops taking jobs, waits for the running ones to finish, and closes the queue. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
    this.workers.length = 0;
    await this.backend.close();
  }
}
