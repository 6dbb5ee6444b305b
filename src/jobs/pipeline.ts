/**
 * The job handlers: each step of the pipeline (sync, metrics, write-back, alert delivery) as a job, and what each
 * queues next. A sync that changed rows queues a recompute; a recompute that changed values queues write-back per
 * connection, and one that opened, escalated or resolved alerts queues delivery. Queued follow-ups are
 * deduplicated (runtime.ts), so a burst of pages asks for one recompute.
 */

import type { Kysely } from 'kysely';
import { now } from '../clock.ts';
import { createFiscalCalendar } from '../config/calendar.ts';
import type { Config } from '../config/schema.ts';
import type { Connector } from '../connectors/types.ts';
import type { Database } from '../db/schema.ts';
import { AppError, isAppError } from '../errors.ts';
import { createMetricsEngine, type MetricsEngine } from '../metrics/engine/engine.ts';
import { backtestDue, forecastConfigHash } from '../metrics/engine/forecast-store.ts';
import { mergeRun, type RunRef, runningRun, runShard, startShardedRun } from '../metrics/engine/shards.ts';
import { type FullReason, runMetricsStep } from '../metrics/engine/step.ts';
import type { RecomputeResult } from '../metrics/engine/types.ts';
import { planningFilesChanged } from '../planning/files.ts';
import { runDelivery } from '../reports/deliveries.ts';
import { serviceBacktest } from '../reports/forecast-report.ts';
import { connectorFor } from '../sync/connectors.ts';
import { runSync } from '../sync/run.ts';
import { type PlainDate, today } from '../util/date.ts';
import type { Logger } from '../util/log.ts';
import { processWorkerId } from '../util/worker-id.ts';
import {
  deliverAlerts,
  runWriteback,
  type WritebackContext,
  type WritebackOutcome,
  writesTo,
} from '../writeback/run.ts';
import type { Enqueue, JobHandlers } from './runtime.ts';
import { RetryLater } from './runtime.ts';

/** How long a shard or merge job of a run planned under another configuration waits before it is tried again. */
const OTHER_CONFIG_RETRY_MS = 30_000;

export interface PipelineContext {
  db: Kysely<Database>;
  config: Config;
  log: Logger;
  now?: () => Date;
  /** Called after each write-back run (the e2e tests time change-to-write-back with it). */
  onWriteback?: (outcome: WritebackOutcome) => void;
  /** Aborted when the service shuts down: CRM calls, token requests and lock waits of running jobs end. */
  signal?: AbortSignal;
}

export interface Pipeline {
  handlers: JobHandlers;
  /** The (cached) connector of a connection. */
  connector(connectionId: string): Promise<Connector>;
  engine: MetricsEngine;
}

/** Connections that receive alert tasks (enabled, write-back built for their CRM, write-back on). */
export function taskConnections(config: Config): string[] {
  if (!config.writeback.enabled) return [];
  return config.connections.filter((c) => c.enabled && writesTo(c) && c.writeback.enabled).map((c) => c.id);
}

/**
 * Connections whose values are written back: those receiving tasks, less those whose scores have nowhere to go
 * (`writeback.target: off`), for which no write-back job is queued at all.
 */
export function writebackConnections(config: Config): string[] {
  const off = new Set(config.connections.filter((c) => c.writeback.target === 'off').map((c) => c.id));
  return taskConnections(config).filter((id) => !off.has(id));
}

/**
 * Whether an alert task was claimed but its CRM call never answered (the process died in between: no task id, no
 * error). Delivery sends such rows again, but only a delivery that runs does, and none ran after a restart unless
 * an alert changed: the SIGKILL-mid-write-back fault scenario found two tasks waiting for good.
 */
export async function tasksInFlight(db: Kysely<Database>): Promise<boolean> {
  const row = await db
    .selectFrom('alert_tasks')
    .select('alert_id')
    .where('crm_task_id', 'is', null)
    .where('closed_at', 'is', null)
    .where('last_error', 'is', null)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

async function followUps(
  db: Kysely<Database>,
  result: RecomputeResult,
  config: Config,
  enqueue: Enqueue,
): Promise<void> {
  if (result.changes.some((c) => c.subject.kind === 'rep')) {
    for (const id of writebackConnections(config)) await enqueue('writeback', { v: 1, connectionId: id });
  }
  if (result.alertEvents.length > 0 || (await tasksInFlight(db))) await enqueue('deliver-alerts', { v: 1 });
}

export function createPipeline(ctx: PipelineContext): Pipeline {
  const { db, config, log } = ctx;
  const calendar = createFiscalCalendar(config.calendar);
  const engine = createMetricsEngine({ db, config, logger: log, workerId: processWorkerId() });
  const connectors = new Map<string, Promise<Connector>>();
  const connector = (id: string): Promise<Connector> => {
    let c = connectors.get(id);
    if (!c) {
      const conn = config.connections.find((x) => x.id === id);
      if (!conn) {
        throw new AppError('CONFIG_INVALID', `there is no connection "${id}" in the configuration (any more)`, {
          where: 'connections',
        });
      }
      c = connectorFor(db, conn, config, log, ctx.signal);
      c.catch(() => connectors.delete(id));
      connectors.set(id, c);
    }
    return c;
  };
  const sanityOf = (id: string) => {
    const conn = config.connections.find((x) => x.id === id);
    return conn ? { sanity: conn.sync.sanity } : {};
  };
  const wbCtx: WritebackContext = {
    db,
    config,
    log,
    connector,
    ...(ctx.now ? { now: ctx.now } : {}),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    // Another process's write-back in progress, or an earlier run's call that may still land on the fields: come
    // back later (RetryLater), not hold a worker slot waiting (writeback job).
    lockWait: false,
  };
  const todayNow = () => today(config.calendar.timezone, (ctx.now ?? now)());
  const backtestDueNow = (asOf: PlainDate) =>
    backtestDue(db, {
      periodKind: calendar.periodContaining(asOf, 'quarter').kind,
      configHash: forecastConfigHash(config),
      asOf,
    });

  // A full recompute split into rep shards (queue.recomputeShards): planned here, computed by whichever workers take
  // the shard jobs, merged by the last one's merge job, which queues the follow-ups.
  const shards = config.queue.recomputeShards;
  const workerId = processWorkerId();
  const queueRun = async (ref: RunRef, enqueue: Enqueue) => {
    for (const shard of ref.todo) await enqueue('recompute-shard', { v: 1, runId: ref.runId, shard });
    if (ref.mergeDue) await enqueue('recompute-merge', { v: 1, runId: ref.runId });
  };
  const shardedFull = async (
    asOf: PlainDate,
    enqueue: Enqueue,
    o: { reason: FullReason | 'daily' | 'backtest'; alwaysWriteback: boolean; force?: boolean },
  ): Promise<RecomputeResult & { run: number }> => {
    const ref = await startShardedRun(engine, asOf, { shards, ...o });
    await queueRun(ref, enqueue);
    return { asOf, recomputed: [], changes: [], alertEvents: [], run: ref.runId };
  };

  const handlers: JobHandlers = {
    sync: async (p, job) => {
      const c = await connector(p.connectionId);
      let changedSoFar = 0;
      let summary: Awaited<ReturnType<typeof runSync>>;
      try {
        summary = await runSync({
          db,
          connector: c,
          connectionId: p.connectionId,
          stream: p.stream,
          calendar,
          trigger: p.trigger,
          log: job.log,
          // The connection's bounds as configured (a connection gone from the config failed in connector() above).
          ...sanityOf(p.connectionId),
          ...(ctx.signal ? { signal: ctx.signal } : {}),
          onProgress: (progress) => {
            // Each committed page with changes asks for a recompute; deduplication keeps it to one waiting job.
            if (progress.changed + progress.deleted > changedSoFar) {
              changedSoFar = progress.changed + progress.deleted;
              job.enqueue('recompute', { v: 1, reason: `sync ${p.connectionId}/${p.stream}` }).catch(() => {});
            }
          },
        });
      } catch (e) {
        if (isAppError(e, 'SYNC_IN_PROGRESS')) {
          // A scheduled run finds the previous one still going: skip it, the schedule comes back. Others wait.
          if (p.trigger === 'schedule') return { skipped: 'in progress elsewhere' };
          throw new RetryLater(10_000, e.message);
        }
        throw e;
      }
      if (summary.changed + summary.deleted > 0) {
        await job.enqueue('recompute', { v: 1, reason: `sync ${p.connectionId}/${p.stream}` });
      } else if (await planningFilesChanged(db, config)) {
        // Each schedule tick also notices an edited quota or rate file: the recompute loads it.
        await job.enqueue('recompute', { v: 1, reason: 'planning file changed' });
      }
      // The run's own error, not a copy: its Retry-After sets the job's delay, its retryable flag whether to retry.
      if (summary.status === 'stopped_budget') {
        throw (
          summary.error ??
          new AppError('CRM_BUDGET_EXHAUSTED', summary.errorMessage ?? 'the API budget is used up', {
            where: `${p.connectionId}/${p.stream}`,
          })
        );
      }
      if (summary.status === 'failed') {
        throw (
          summary.error ??
          new AppError('INTERNAL', summary.errorMessage ?? 'the sync failed', {
            where: `${p.connectionId}/${p.stream}`,
          })
        );
      }
      return { read: summary.read, changed: summary.changed, deleted: summary.deleted };
    },

    recompute: async (_p, job) => {
      const asOf = todayNow();
      if (shards > 1) {
        // A sharded run of today is under way: its merge queues the next pass (marks made meanwhile wait for it,
        // rather than a cold full load here recomputing what the shards are computing). Its shard jobs are queued
        // again, which is a no-op unless a lost queue dropped them.
        const running = await runningRun(engine, asOf);
        if (running) {
          await queueRun(running, job.enqueue);
          return { deferred: `sharded recompute ${running.runId} under way` };
        }
      }
      // The org model first (teams, memberships), then a full recompute on a config change or a new day, else
      // the dirty rep-periods.
      const step = await runMetricsStep(engine, asOf, config.org.file, {
        badPlanningFile: 'keep-last-good',
        ...(shards > 1
          ? { full: (why: FullReason) => shardedFull(asOf, job.enqueue, { reason: why, alwaysWriteback: false }) }
          : {}),
      });
      if (step.run !== undefined) return { mode: step.mode, why: step.why, run: step.run };
      await followUps(db, step, config, job.enqueue);
      let recomputed = step.recomputed.length;
      let changed = step.changes.length;
      // Drain: marks made while we worked are claimed now rather than waiting for another job.
      for (;;) {
        const r = await engine.runDirty(asOf);
        if (r.claimed === 0) break;
        recomputed += r.recomputed.length;
        changed += r.changes.length;
        await followUps(db, r, config, job.enqueue);
      }
      return { mode: step.mode, why: step.why, recomputed, changed };
    },

    'daily-recompute': async (_p, job) => {
      const asOf = todayNow();
      // A new deployment or a changed config has no backtest for its settings: have one today, not at the weekly
      // cron. (Not at start-up: the first syncs of a new deployment are still arriving then.)
      if (config.forecast.backtest.enabled && (await backtestDueNow(asOf)))
        await job.enqueue('backtest', { v: 1, trigger: 'schedule' });
      if (shards > 1) {
        // A sharded run of today under way is joined (and told to write back), as `recompute` defers to it: the
        // step below would recompute the dirty marks the run's merge leaves for its next pass.
        if (await runningRun(engine, asOf))
          return { run: (await shardedFull(asOf, job.enqueue, { reason: 'daily', alwaysWriteback: true })).run };
        // The merge queues the follow-ups, write-back included (the as-of date moved).
        const step = await runMetricsStep(engine, asOf, config.org.file, {
          badPlanningFile: 'keep-last-good',
          full: () => shardedFull(asOf, job.enqueue, { reason: 'daily', alwaysWriteback: true }),
        });
        const run = step.run ?? (await shardedFull(asOf, job.enqueue, { reason: 'daily', alwaysWriteback: true })).run;
        return { run };
      }
      let r: RecomputeResult = await runMetricsStep(engine, asOf, config.org.file, {
        badPlanningFile: 'keep-last-good',
      });
      if ((r as { mode?: string }).mode !== 'full') r = await engine.recomputeAll(asOf);
      await followUps(db, r, config, job.enqueue);
      // The as-of date moved: every rep's pacing figures did too, so write-back runs even without a change.
      for (const id of writebackConnections(config)) await job.enqueue('writeback', { v: 1, connectionId: id });
      return { recomputed: r.recomputed.length, changed: r.changes.length };
    },

    writeback: async (p) => {
      let out: WritebackOutcome;
      try {
        out = await runWriteback(wbCtx, { connectionId: p.connectionId });
      } catch (e) {
        if (isAppError(e, 'SYNC_IN_PROGRESS')) throw new RetryLater(10_000, e.message);
        // An earlier run's call may still land on these fields: come back once it cannot, not wait in the slot.
        if (isAppError(e, 'WRITEBACK_DEFERRED')) throw new RetryLater((e.retryAfterSeconds ?? 10) * 1000, e.message);
        throw e;
      }
      ctx.onWriteback?.(out);
      return out.status === 'done'
        ? { runId: out.push.runId, written: out.push.recordsWritten, failed: out.push.recordsFailed }
        : { skipped: out.reason };
    },

    backtest: async (_p, job) => {
      const asOf = todayNow();
      const out = await serviceBacktest(db, engine, config, asOf);
      // Every snapshot prints the stored backtest's line: recompute them so today's figures carry the new one (a
      // sharded run under way read the warehouse before it: planned anew).
      if (shards > 1)
        return {
          ...out,
          run: (await shardedFull(asOf, job.enqueue, { reason: 'backtest', alwaysWriteback: false, force: true })).run,
        };
      const r = await engine.recomputeAll(asOf);
      await followUps(db, r, config, job.enqueue);
      return { ...out, recomputed: r.recomputed.length };
    },

    // The job that made the unanswered call failed with DELIVERY_WEBHOOK_FAILED; later checks of that slot only
    // warn (runDelivery logs it), as nothing can be done about a message that may have arrived.
    'deliver-reports': async (p, job) =>
      runDelivery(
        { db, engine, config, log: job.log, ...(ctx.signal ? { signal: ctx.signal } : {}) },
        p.deliveryId,
        (ctx.now ?? now)(),
      ),

    'recompute-shard': async (p, job) => {
      const out = await runShard(engine, p.runId, p.shard, workerId);
      // A rolling config change: a worker of the run's config (or the run's giving up) is awaited.
      if (out.otherConfig) throw new RetryLater(OTHER_CONFIG_RETRY_MS, out.reason ?? 'another configuration');
      if (out.mergeDue) await job.enqueue('recompute-merge', { v: 1, runId: p.runId });
      return out;
    },

    'recompute-merge': async (p, job) => {
      const out = await mergeRun(engine, p.runId);
      if (out.otherConfig) throw new RetryLater(OTHER_CONFIG_RETRY_MS, out.reason ?? 'another configuration');
      if (out.status !== 'skipped') {
        if (out.repChanges + out.changes.length > 0 || out.alwaysWriteback)
          for (const id of writebackConnections(config)) await job.enqueue('writeback', { v: 1, connectionId: id });
        if (out.alertEvents > 0 || (await tasksInFlight(db))) await job.enqueue('deliver-alerts', { v: 1 });
        // Marks made while the run computed (and a rates flag raised meanwhile) are the next pass's.
        await job.enqueue('recompute', { v: 1, reason: `after sharded recompute ${p.runId}` });
      }
      return { status: out.status, reason: out.reason, groups: out.groups, changed: out.changes.length };
    },

    'deliver-alerts': async () => {
      const out: Record<string, unknown> = {};
      for (const id of taskConnections(config)) out[id] = await deliverAlerts(wbCtx, id);
      return out;
    },
  };
  return { handlers, connector, engine };
}
