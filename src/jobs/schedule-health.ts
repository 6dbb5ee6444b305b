/**
 * Whether the schedules still run. A Redis that restarts without persistence comes back empty: workers reconnect,
 * but the Job Schedulers are gone and nothing syncs again, silently. So the service that owns the schedulers puts
 * back any that are missing, when the queue connection comes back and at least every minute, and readiness says
 * when the queue cannot be reached, a scheduler is missing, or a stream's last successful sync is older than twice
 * its interval (naming the stream).
 */
import type { Kysely } from 'kysely';
import type { Config } from '../config/schema.ts';
import { durationToSeconds } from '../config/schema.ts';
import type { Database } from '../db/schema.ts';
import type { Logger } from '../util/log.ts';
import type { JobRuntime, SchedulerSpec } from './runtime.ts';
import { streamsOf } from './schedules.ts';

/** How often the scheduler owner checks that every scheduler is there. */
export const SCHEDULER_CHECK_MS = 60_000;

/** How long a readiness probe waits for the queue before calling it unreachable. */
export const QUEUE_PROBE_TIMEOUT_MS = 3_000;

/** One reason the service is not ready, as /readyz shows it. */
export interface ReadinessProblem {
  reason: string;
  message: string;
  [detail: string]: unknown;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from ${what} within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Puts back the schedulers of `desired` that the queue lost; returns the ids it put back. */
export async function restoreMissingSchedulers(
  runtime: JobRuntime,
  desired: readonly SchedulerSpec[],
  log: Logger,
): Promise<string[]> {
  const present = new Set((await runtime.queue.getJobSchedulers(0, -1, true)).map((s) => s.key));
  const missing = desired.filter((d) => !present.has(d.id));
  if (missing.length === 0) return [];
  await runtime.reconcileSchedulers(desired);
  const ids = missing.map((m) => m.id);
  log.warn(
    { restored: ids },
    `${ids.length} job scheduler${ids.length === 1 ? ' was' : 's were'} missing from the queue (did Redis restart without its data?); put back`,
  );
  return ids;
}

/**
 * Keeps the schedulers in place while the service runs: a check on every reconnect of the queue's connection and
 * every `everyMs`. Returns the function that stops it.
 */
export function keepSchedulers(
  runtime: JobRuntime,
  desired: readonly SchedulerSpec[],
  log: Logger,
  options: { everyMs?: number; onReconnect?: (cb: () => void) => () => void } = {},
): () => void {
  let running: Promise<unknown> | undefined;
  const check = () => {
    if (running) return;
    running = restoreMissingSchedulers(runtime, desired, log)
      .catch((e: unknown) => log.warn({ err: (e as Error).message }, 'could not check the job schedulers; retrying'))
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(check, options.everyMs ?? SCHEDULER_CHECK_MS);
  timer.unref();
  const offReconnect = options.onReconnect?.(check);
  return () => {
    clearInterval(timer);
    offReconnect?.();
  };
}

/** The queue answers within the probe timeout. */
export async function queueProblem(runtime: JobRuntime): Promise<ReadinessProblem | null> {
  try {
    await withTimeout(runtime.ping(), QUEUE_PROBE_TIMEOUT_MS, `the job queue (${runtime.kind})`);
    return null;
  } catch (e) {
    return { reason: 'queue_unreachable', message: (e as Error).message };
  }
}

/** Schedulers the config asks for that the queue does not have. */
export async function missingSchedulersProblem(
  runtime: JobRuntime,
  desired: readonly SchedulerSpec[],
): Promise<ReadinessProblem | null> {
  const present = new Set(
    (await withTimeout(runtime.queue.getJobSchedulers(0, -1, true), QUEUE_PROBE_TIMEOUT_MS, 'the job queue')).map(
      (s) => s.key,
    ),
  );
  const missing = desired.filter((d) => !present.has(d.id)).map((d) => d.id);
  if (missing.length === 0) return null;
  return {
    reason: 'schedule_missing',
    message: `the job queue has lost ${missing.length} schedule${missing.length === 1 ? '' : 's'}: ${missing.join(', ')}`,
    missing,
  };
}

/**
 * Streams on an `every` schedule whose last successful sync is older than twice their interval, counted from when
 * this service started if that is later (a fresh start is not overdue). Cron schedules have no fixed interval and
 * are left to the missing-scheduler check.
 */
export async function overdueStreamsProblem(
  db: Kysely<Database>,
  config: Config,
  startedAt: Date,
  at: Date,
): Promise<ReadinessProblem | null> {
  const last = await db
    .selectFrom('sync_runs')
    .select(['connection_id', 'stream'])
    .select((eb) => eb.fn.max('finished_at').as('finished'))
    // A skipped run (an optional stream the account cannot be read for) is the stream done for the interval.
    .where('status', 'in', ['succeeded', 'skipped'])
    .groupBy(['connection_id', 'stream'])
    .execute();
  const lastOf = new Map(last.map((r) => [`${r.connection_id}/${r.stream}`, r.finished as Date | null]));
  const overdue: Array<{ stream: string; lastSuccess: string | null; intervalSeconds: number }> = [];
  for (const conn of config.connections) {
    if (!conn.enabled || !('every' in conn.schedule)) continue;
    const interval = durationToSeconds(conn.schedule.every);
    for (const stream of streamsOf(conn)) {
      const key = `${conn.id}/${stream}`;
      const success = lastOf.get(key) ?? null;
      const since = success && success > startedAt ? success : startedAt;
      if (at.getTime() - since.getTime() > 2 * interval * 1000) {
        overdue.push({ stream: key, lastSuccess: success ? success.toISOString() : null, intervalSeconds: interval });
      }
    }
  }
  if (overdue.length === 0) return null;
  return {
    reason: 'sync_overdue',
    message: `no successful sync within twice the schedule's interval for ${overdue.map((o) => o.stream).join(', ')}`,
    overdue,
  };
}
