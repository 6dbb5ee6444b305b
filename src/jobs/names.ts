/**
 * Every job the service runs, by name, with its payload schema. Payloads carry ids and a version, never records:
 * a job that waits an hour must read the warehouse as it is then, not as it was when it was queued. A payload of
 * an unknown version (queued by a newer or older build) fails once with a message naming the job and version.
 */
import { z } from 'zod';
import { AppError } from '../errors.ts';

export const JOB_NAMES = [
  'sync',
  'recompute',
  'daily-recompute',
  'writeback',
  'deliver-alerts',
  'backtest',
  'deliver-reports',
  'recompute-shard',
  'recompute-merge',
] as const;
export type JobName = (typeof JOB_NAMES)[number];

const trigger = z.enum(['schedule', 'cli', 'webhook', 'start']);

export const PAYLOAD_SCHEMAS = {
  /** Read one stream of one connection from its cursor. */
  sync: z.strictObject({
    v: z.literal(1),
    connectionId: z.string().min(1),
    stream: z.string().min(1),
    trigger: trigger.default('schedule'),
  }),
  /** Drain the dirty keys (the rows themselves say what to recompute). */
  recompute: z.strictObject({ v: z.literal(1), reason: z.string().min(1) }),
  /** Every active subject, once a day: pacing and run rates move without any CRM change. */
  'daily-recompute': z.strictObject({ v: z.literal(1) }),
  /** Push what is pending for one connection. */
  writeback: z.strictObject({ v: z.literal(1), connectionId: z.string().min(1) }),
  /** Create tasks for alerts that opened or escalated, close those of resolved alerts. */
  'deliver-alerts': z.strictObject({ v: z.literal(1) }),
  /** Backtest the current quarter's forecast over the ended quarters and store it (the P10 line of every report). */
  backtest: z.strictObject({ v: z.literal(1), trigger: trigger.default('schedule') }),
  /** Render and send what one report delivery (`reports.deliveries[].id`) owes, if it has not been sent. */
  'deliver-reports': z.strictObject({ v: z.literal(1), deliveryId: z.string().min(1) }),
  /** Compute and store one rep shard of a sharded full recompute (src/metrics/engine/shards.ts). */
  'recompute-shard': z.strictObject({ v: z.literal(1), runId: z.int().min(1), shard: z.int().min(0) }),
  /** Every team, region and the org of a sharded run whose shards are all in. */
  'recompute-merge': z.strictObject({ v: z.literal(1), runId: z.int().min(1) }),
} as const satisfies Record<JobName, z.ZodType>;

export type JobPayload<N extends JobName> = z.input<(typeof PAYLOAD_SCHEMAS)[N]>;
export type ParsedPayload<N extends JobName> = z.output<(typeof PAYLOAD_SCHEMAS)[N]>;

export function isJobName(name: string): name is JobName {
  return (JOB_NAMES as readonly string[]).includes(name);
}

/**
 * Validates a job's payload. Unknown names and versions and malformed payloads are JOB_PAYLOAD_INVALID, which is
 * permanent: running the same payload again cannot succeed.
 */
export function parsePayload<N extends JobName>(name: N, data: unknown, jobId?: string): ParsedPayload<N> {
  const where = `job ${name}${jobId ? ` ${jobId}` : ''}`;
  const v = (data as { v?: unknown } | null)?.v;
  if (v !== 1) {
    throw new AppError(
      'JOB_PAYLOAD_INVALID',
      `the ${name} job has payload version ${JSON.stringify(v ?? null)}, and this build reads version 1 only`,
      { where },
    );
  }
  const parsed = PAYLOAD_SCHEMAS[name].safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.join('.') || '(payload)';
    throw new AppError('JOB_PAYLOAD_INVALID', `the ${name} job payload is invalid at ${path}: ${issue?.message}`, {
      where,
    });
  }
  return parsed.data as ParsedPayload<N>;
}

/** Deduplication id of a job: at most one running and one waiting per id. */
export function dedupeId<N extends JobName>(name: N, payload: JobPayload<N>): string {
  switch (name) {
    case 'sync': {
      const p = payload as JobPayload<'sync'>;
      return `sync:${p.connectionId}:${p.stream}`;
    }
    case 'writeback':
      return `writeback:${(payload as JobPayload<'writeback'>).connectionId}`;
    case 'deliver-reports':
      return `deliver-reports:${(payload as JobPayload<'deliver-reports'>).deliveryId}`;
    case 'recompute-shard': {
      const p = payload as JobPayload<'recompute-shard'>;
      return `recompute-shard:${p.runId}:${p.shard}`;
    }
    case 'recompute-merge':
      return `recompute-merge:${(payload as JobPayload<'recompute-merge'>).runId}`;
    default:
      return name;
  }
}

/** Scheduler id of a connection's stream (so reconciliation can tell ours apart). */
export function syncSchedulerId(connectionId: string, stream: string): string {
  return `sync:${connectionId}:${stream}`;
}

export const DAILY_RECOMPUTE_SCHEDULER = 'daily-recompute';
export const BACKTEST_SCHEDULER = 'forecast-backtest';

/** Scheduler id of a report delivery. */
export function deliverySchedulerId(deliveryId: string): string {
  return `deliver-reports:${deliveryId}`;
}
