/**
 * What operators look at: the status of each connection (last sync per stream, cursor age, errors, quarantined
 * records with their reasons, API use today and the budget left), the job queue, open alerts, write-back runs and
 * the schema; and the same figures as Prometheus metrics for `/metrics`. Everything is read from the warehouse at
 * the time of the request (plus the queue and this process's engine and read model), so any process serving the
 * web answers for every worker.
 */
import type { Queue } from 'bullmq';
import { type Kysely, sql } from 'kysely';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Config } from '../config/schema.ts';
import { schemaStatus } from '../db/migrate.ts';
import type { Database } from '../db/schema.ts';
import type { MetricsEngine } from '../metrics/engine/engine.ts';
import type { ReportReader } from '../reports/read-model.ts';

/** The parts of a running service the operator views read (all optional: a bare web server has none). */
export interface OperatorSources {
  db: Kysely<Database>;
  config?: Config | undefined;
  /** The pipeline's job queue (BullMQ, on Redis or PostgreSQL). */
  queue?: Queue | undefined;
  /**
   * The queue of a sharded full recompute's shard jobs (`queue.recomputeShards` above 1): a run's shards wait there,
   * not in the pipeline queue, so without it a stuck run looks like an idle queue.
   */
  shardQueue?: Queue | undefined;
  /** The engine of this process's workers: its last recompute's phase timings. */
  engine?: MetricsEngine | undefined;
  reports?: ReportReader | null | undefined;
}

export interface StreamStatus {
  stream: string;
  status: string;
  trigger: string;
  startedAt: string;
  finishedAt: string | null;
  durationSeconds: number | null;
  recordsRead: number;
  recordsChanged: number;
  recordsQuarantined: number;
  apiCalls: number;
  error: { code: string | null; message: string | null } | null;
  /** The last run that succeeded, when the last one did not. */
  lastSucceededAt: string | null;
  cursorUpdatedAt: string | null;
  cursorAgeSeconds: number | null;
}

export interface ConnectionStatus {
  id: string;
  kind: string;
  /** In the config (false: only in the warehouse, from an earlier config). */
  configured: boolean;
  streams: StreamStatus[];
  runs: { total: number; byStatus: Record<string, number> };
  apiUsageToday: {
    calls: number;
    reportedUsed: number | null;
    reportedLimit: number | null;
    budgetLeft: number | null;
  };
  quarantine: {
    open: number;
    reasons: { stream: string; reasonCode: string; count: number; example: string; lastSeenAt: string }[];
  };
  writeback: {
    lastRun: { id: number; status: string; mode: string; startedAt: string; finishedAt: string | null } | null;
    apiCalls: number;
    recordsWritten: number;
    recordsFailed: number;
  };
}

export type QueueStatus = { name: string; counts: Record<string, number> } | { name: string; error: string };

export interface OperatorStatus {
  schema: { version: string | null; pending: string[]; unknown: string[] };
  connections: ConnectionStatus[];
  queue: QueueStatus | null;
  /** The shard jobs' queue when this process runs a sharded recompute, else null. */
  shardQueue: QueueStatus | null;
  alerts: { open: Record<string, number>; byRule: Record<string, number> };
  recompute: { lastPhaseSeconds: Record<string, number> } | null;
  reports: {
    hits: number;
    builds: number;
    modelLoads: number;
    fromSnapshots: number;
    fallbacks: number;
  } | null;
}

const iso = (d: Date | string | null): string | null =>
  d === null ? null : typeof d === 'string' ? new Date(d).toISOString() : d.toISOString();

interface RunRow {
  connection_id: string;
  stream: string;
  status: string;
  trigger: string;
  started_at: Date;
  finished_at: Date | null;
  duration: string | null;
  records_read: number;
  records_changed: number;
  records_quarantined: number;
  api_calls: number;
  error_code: string | null;
  error_message: string | null;
  last_ok: Date | null;
  cursor_at: Date | null;
  cursor_age: string | null;
}

async function queueStatus(q: Queue | undefined): Promise<QueueStatus | null> {
  if (!q) return null;
  try {
    return {
      name: q.name,
      counts: await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed'),
    };
  } catch (e) {
    return { name: q.name, error: (e as Error).message };
  }
}

/** The status document of `/api/v1/status`, in a handful of queries whatever the number of runs kept. */
export async function operatorStatus(s: OperatorSources): Promise<OperatorStatus> {
  const { db } = s;
  const [schema, conns, runs, totals, usage, quarantine, writeback, alerts] = await Promise.all([
    schemaStatus(db),
    db.selectFrom('connections').select(['id', 'kind']).orderBy('id').execute(),
    sql<RunRow>`
      select distinct on (r.connection_id, r.stream) r.connection_id, r.stream, r.status, r.trigger, r.started_at,
        r.finished_at, extract(epoch from r.finished_at - r.started_at)::text as duration, r.records_read,
        r.records_changed, r.records_quarantined, r.api_calls, r.error_code, r.error_message,
        (select max(ok.finished_at) from sync_runs ok where ok.connection_id = r.connection_id
           and ok.stream = r.stream and ok.status = 'succeeded') as last_ok,
        c.updated_at as cursor_at,
        extract(epoch from now() - c.updated_at)::text as cursor_age -- wall-clock: a cursor's age is a duration
      from sync_runs r
      left join sync_cursors c on c.connection_id = r.connection_id and c.stream = r.stream
      order by r.connection_id, r.stream, r.started_at desc, r.id desc`.execute(db),
    // Finished runs from their totals (old runs are pruned, their counts are not), running ones as they stand.
    sql<{ connection_id: string; status: string; n: string }>`
      select connection_id, status, runs::text as n from sync_run_totals where runs > 0
      union all
      select connection_id, status, count(*)::text from sync_runs where status = 'running' group by connection_id, status`
      .execute(db)
      .then((r) => r.rows),
    db
      .selectFrom('crm_api_usage')
      .select(['connection_id', 'api_calls', 'reported_used', 'reported_limit'])
      .where('day', '=', sql<string>`(now() at time zone 'UTC')::date`) // wall-clock: the CRM's budget day is UTC
      .execute(),
    db
      .selectFrom('quarantine')
      .select([
        'connection_id',
        'stream',
        'reason_code',
        sql<string>`count(*)::text`.as('n'),
        sql<string>`(array_agg(reason order by last_seen_at desc))[1]`.as('example'),
        sql<Date>`max(last_seen_at)`.as('last_seen'),
      ])
      .where('resolved_at', 'is', null)
      .groupBy(['connection_id', 'stream', 'reason_code'])
      .orderBy('connection_id')
      .orderBy(sql`count(*)`, 'desc')
      .execute(),
    sql<{
      connection_id: string;
      last_id: number | null;
      last_status: string | null;
      last_mode: string | null;
      last_started: Date | null;
      last_finished: Date | null;
      calls: string;
      written: string;
      failed: string;
    }>`
      select w.connection_id, l.id as last_id, l.status as last_status, l.mode as last_mode,
        l.started_at as last_started, l.finished_at as last_finished, sum(w.api_calls)::text as calls,
        sum(w.records_written)::text as written, sum(w.records_failed)::text as failed
      from writeback_runs w
      left join lateral (select * from writeback_runs x where x.connection_id = w.connection_id
        order by x.started_at desc, x.id desc limit 1) l on true
      group by w.connection_id, l.id, l.status, l.mode, l.started_at, l.finished_at`.execute(db),
    db
      .selectFrom('alerts')
      .select(['severity', 'rule', sql<string>`count(*)::text`.as('n')])
      .where('status', '<>', 'resolved')
      .groupBy(['severity', 'rule'])
      .execute(),
  ]);

  const configured = new Map((s.config?.connections ?? []).map((c) => [c.id, c] as const));
  const ids = [...new Set([...conns.map((c) => c.id), ...configured.keys()])].sort();
  const kindOf = new Map<string, string>(conns.map((c) => [c.id, c.kind]));
  const connections: ConnectionStatus[] = ids.map((id) => {
    const cfg = configured.get(id);
    const byStatus: Record<string, number> = {};
    for (const t of totals) if (t.connection_id === id) byStatus[t.status] = Number(t.n);
    const u = usage.find((x) => x.connection_id === id);
    const share = cfg && 'sync' in cfg ? (cfg.sync as { apiBudgetShare?: number }).apiBudgetShare : undefined;
    const limit = u?.reported_limit ?? null;
    const used = u?.reported_used ?? null;
    const w = writeback.rows.find((x) => x.connection_id === id);
    const q = quarantine.filter((x) => x.connection_id === id);
    return {
      id,
      kind: kindOf.get(id) ?? cfg?.type ?? 'unknown',
      configured: cfg !== undefined,
      streams: runs.rows
        .filter((r) => r.connection_id === id)
        .map((r) => ({
          stream: r.stream,
          status: r.status,
          trigger: r.trigger,
          startedAt: iso(r.started_at) as string,
          finishedAt: iso(r.finished_at),
          durationSeconds: r.duration === null ? null : Number(r.duration),
          recordsRead: r.records_read,
          recordsChanged: r.records_changed,
          recordsQuarantined: r.records_quarantined,
          apiCalls: r.api_calls,
          error:
            r.error_code === null && r.error_message === null ? null : { code: r.error_code, message: r.error_message },
          lastSucceededAt: iso(r.last_ok),
          cursorUpdatedAt: iso(r.cursor_at),
          cursorAgeSeconds: r.cursor_age === null ? null : Math.round(Number(r.cursor_age)),
        })),
      runs: { total: Object.values(byStatus).reduce((a, b) => a + b, 0), byStatus },
      apiUsageToday: {
        calls: u?.api_calls ?? 0,
        reportedUsed: used,
        reportedLimit: limit,
        // The share of the org's daily limit this service allows itself, less what the org has used today.
        budgetLeft: limit === null || used === null ? null : Math.max(0, Math.floor(limit * (share ?? 0.5)) - used),
      },
      quarantine: {
        open: q.reduce((a, x) => a + Number(x.n), 0),
        reasons: q.map((x) => ({
          stream: x.stream,
          reasonCode: x.reason_code,
          count: Number(x.n),
          example: x.example,
          lastSeenAt: iso(x.last_seen) as string,
        })),
      },
      writeback: {
        lastRun:
          w?.last_id == null
            ? null
            : {
                id: Number(w.last_id),
                status: w.last_status as string,
                mode: w.last_mode as string,
                startedAt: iso(w.last_started) as string,
                finishedAt: iso(w.last_finished),
              },
        apiCalls: Number(w?.calls ?? 0),
        recordsWritten: Number(w?.written ?? 0),
        recordsFailed: Number(w?.failed ?? 0),
      },
    };
  });

  const open: Record<string, number> = { critical: 0, warning: 0, info: 0 };
  const byRule: Record<string, number> = {};
  for (const a of alerts) {
    open[a.severity] = (open[a.severity] ?? 0) + Number(a.n);
    byRule[a.rule] = (byRule[a.rule] ?? 0) + Number(a.n);
  }

  const [queue, shardQueue] = await Promise.all([queueStatus(s.queue), queueStatus(s.shardQueue)]);
  const timings = s.engine?.lastTimings;
  return {
    schema: {
      version: schema.applied[schema.applied.length - 1] ?? null,
      pending: schema.pending,
      unknown: schema.unknown,
    },
    connections,
    queue,
    shardQueue,
    alerts: { open, byRule },
    recompute:
      timings && Object.keys(timings).length > 0
        ? { lastPhaseSeconds: Object.fromEntries(Object.entries(timings).map(([k, ms]) => [k, ms / 1000])) }
        : null,
    reports: s.reports ? { ...s.reports.stats } : null,
  };
}

/**
 * A Prometheus registry whose metrics are read at scrape time from `operatorStatus` (plus the process's own
 * metrics). Counters come from the warehouse's running totals, so they only grow while runs are kept.
 */
export function operatorRegistry(sources: OperatorSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'quota_tracker_' });
  let pending: Promise<OperatorStatus> | null = null;
  // One status read per scrape, shared by every metric's collect.
  const status = (): Promise<OperatorStatus> => {
    pending ??= operatorStatus(sources).finally(() => {
      setImmediate(() => {
        pending = null;
      });
    });
    return pending;
  };
  const registers = [registry];

  new Counter({
    name: 'quota_tracker_sync_runs_total',
    help: 'Sync runs finished, by connection and outcome.',
    labelNames: ['connection', 'status'],
    registers,
    async collect() {
      this.reset();
      // Finished runs only: a counter never goes down, and a running run leaves `running` when it ends.
      for (const c of (await status()).connections)
        for (const [st, n] of Object.entries(c.runs.byStatus))
          if (st !== 'running') this.inc({ connection: c.id, status: st }, n);
    },
  });
  new Gauge({
    name: 'quota_tracker_sync_last_duration_seconds',
    help: 'Duration of the last sync run of each stream.',
    labelNames: ['connection', 'stream', 'status'],
    registers,
    async collect() {
      this.reset();
      for (const c of (await status()).connections)
        for (const s of c.streams)
          if (s.durationSeconds !== null)
            this.set({ connection: c.id, stream: s.stream, status: s.status }, s.durationSeconds);
    },
  });
  new Gauge({
    name: 'quota_tracker_sync_last_records_read',
    help: 'Records read by the last sync run of each stream.',
    labelNames: ['connection', 'stream'],
    registers,
    async collect() {
      this.reset();
      for (const c of (await status()).connections)
        for (const s of c.streams) this.set({ connection: c.id, stream: s.stream }, s.recordsRead);
    },
  });
  new Gauge({
    name: 'quota_tracker_sync_cursor_age_seconds',
    help: 'Seconds since the cursor of each stream last moved.',
    labelNames: ['connection', 'stream'],
    registers,
    async collect() {
      this.reset();
      for (const c of (await status()).connections)
        for (const s of c.streams)
          if (s.cursorAgeSeconds !== null) this.set({ connection: c.id, stream: s.stream }, s.cursorAgeSeconds);
    },
  });
  new Gauge({
    name: 'quota_tracker_crm_api_calls_today',
    help: 'CRM API calls this service made today (UTC), per connection.',
    labelNames: ['connection'],
    registers,
    async collect() {
      this.reset();
      for (const c of (await status()).connections) this.set({ connection: c.id }, c.apiUsageToday.calls);
    },
  });
  new Gauge({
    name: 'quota_tracker_crm_api_budget_left',
    help: "API calls left today within this service's share of the CRM's daily limit (as the CRM last reported).",
    labelNames: ['connection'],
    registers,
    async collect() {
      this.reset();
      for (const c of (await status()).connections)
        if (c.apiUsageToday.budgetLeft !== null) this.set({ connection: c.id }, c.apiUsageToday.budgetLeft);
    },
  });
  new Gauge({
    name: 'quota_tracker_quarantined_records',
    help: 'Records held in quarantine (unresolved), by connection and reason.',
    labelNames: ['connection', 'stream', 'reason'],
    registers,
    async collect() {
      this.reset();
      for (const c of (await status()).connections)
        for (const r of c.quarantine.reasons)
          this.set({ connection: c.id, stream: r.stream, reason: r.reasonCode }, r.count);
    },
  });
  new Gauge({
    name: 'quota_tracker_queue_jobs',
    help: 'Jobs in the pipeline queue and (with a sharded recompute) the shard queue, by state (failed: kept for inspection).',
    labelNames: ['queue', 'state'],
    registers,
    async collect() {
      this.reset();
      const { queue, shardQueue } = await status();
      for (const q of [queue, shardQueue])
        if (q && 'counts' in q)
          for (const [state, n] of Object.entries(q.counts)) this.set({ queue: q.name, state }, n);
    },
  });
  new Counter({
    name: 'quota_tracker_writeback_api_calls_total',
    help: 'CRM API calls made by write-back runs, per connection.',
    labelNames: ['connection'],
    registers,
    async collect() {
      this.reset();
      for (const c of (await status()).connections) this.inc({ connection: c.id }, c.writeback.apiCalls);
    },
  });
  new Counter({
    name: 'quota_tracker_writeback_records_total',
    help: 'Records written back (or failed), per connection.',
    labelNames: ['connection', 'outcome'],
    registers,
    async collect() {
      this.reset();
      for (const c of (await status()).connections) {
        this.inc({ connection: c.id, outcome: 'written' }, c.writeback.recordsWritten);
        this.inc({ connection: c.id, outcome: 'failed' }, c.writeback.recordsFailed);
      }
    },
  });
  new Gauge({
    name: 'quota_tracker_alerts_open',
    help: 'Open or escalated alerts, by severity.',
    labelNames: ['severity'],
    registers,
    async collect() {
      this.reset();
      for (const [severity, n] of Object.entries((await status()).alerts.open)) this.set({ severity }, n);
    },
  });
  new Gauge({
    name: 'quota_tracker_recompute_last_phase_seconds',
    help: "Phases of this process's last metrics recompute (load, compute per subject kind, store, alerts).",
    labelNames: ['phase'],
    registers,
    async collect() {
      this.reset();
      const r = (await status()).recompute;
      if (r) for (const [phase, seconds] of Object.entries(r.lastPhaseSeconds)) this.set({ phase }, seconds);
    },
  });
  new Counter({
    name: 'quota_tracker_report_requests_total',
    help: 'Report documents asked of the read model, by how they were answered (memory or a build).',
    labelNames: ['answer'],
    registers,
    async collect() {
      this.reset();
      const r = (await status()).reports;
      if (r) {
        this.inc({ answer: 'memory' }, r.hits);
        this.inc({ answer: 'built' }, r.builds);
      }
    },
  });
  new Counter({
    name: 'quota_tracker_report_builds_total',
    help:
      "Report documents built, by where their figures came from: today's stored snapshots, or computed from the " +
      'warehouse (past dates, explain, and today while the snapshots are not current).',
    labelNames: ['source'],
    registers,
    async collect() {
      this.reset();
      const r = (await status()).reports;
      if (r) {
        this.inc({ source: 'snapshots' }, r.fromSnapshots);
        this.inc({ source: 'warehouse' }, r.builds - r.fromSnapshots);
      }
    },
  });
  new Counter({
    name: 'quota_tracker_report_snapshot_fallbacks_total',
    help: "Today's report documents computed from the warehouse because the stored snapshots were not current.",
    registers,
    async collect() {
      this.reset();
      const r = (await status()).reports;
      if (r) this.inc(r.fallbacks);
    },
  });
  return registry;
}
