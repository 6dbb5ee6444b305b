/**
 * Write-back of one connection, end to end: the current quarter's snapshots as field values, queued against the
 * ledger, pushed (or, in dry-run mode, planned), plus alert-task delivery. This is what the `writeback` and
 * `deliver-alerts` jobs and `quota-tracker sync` call.
 *
 * Kill switches: `writeback.enabled: false` (globally or per connection) does nothing at all; `writeback.mode:
 * dry-run` computes and logs the plan and writes nothing. A past `asOf` (`sync --as-of`) writes nothing unless
 * `deliver` is set: yesterday's numbers must not overwrite today's in the CRM.
 */

import type { Kysely } from 'kysely';
import { now } from '../clock.ts';
import { createFiscalCalendar } from '../config/calendar.ts';
import type { Config, ConnectionConfig } from '../config/schema.ts';
import { connectorKind, crmLabel } from '../connectors/registry.ts';
import type { Connector, FieldLayout, TaskSink, WritePort, WritePortContext } from '../connectors/types.ts';
import type { Database } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { count } from '../util/count.ts';
import { type PlainDate, today as todayIn } from '../util/date.ts';
import type { Logger } from '../util/log.ts';
import { type DeliverResult, deliverAlertTasks } from './alert-tasks.ts';
import { unitsByField } from './fields.ts';
import { type EnqueueSummary, enqueueWriteback } from './ledger.ts';
import { withWritebackLock } from './lock.ts';
import { type PushResult, pushPending } from './push.ts';
import { desiredFromSnapshots } from './values.ts';

export interface WritebackContext {
  db: Kysely<Database>;
  config: Config;
  log: Logger;
  /** Returns the (cached) connector of a connection; the caller builds it (src/sync/connectors.ts). */
  connector: (connectionId: string) => Promise<Connector>;
  now?: () => Date;
  /** Ends a wait for the write-back lock or for a dead run's CRM call (lock.ts) with the signal's reason. */
  signal?: AbortSignal;
  /**
   * false: never wait in the process (a job, which must not hold a worker slot): fail at once with
   * SYNC_IN_PROGRESS when another process is writing back this connection, and with WRITEBACK_DEFERRED (its
   * retryAfterSeconds) when an earlier run's call may still land on the fields (push.ts lateWriteFence). Default:
   * wait for both (the CLI).
   */
  lockWait?: boolean;
}

export interface RunWritebackOptions {
  connectionId: string;
  /** The as-of date of the values; default today in the configured time zone. */
  asOf?: PlainDate;
  /** With a past `asOf`, write anyway (`sync --as-of ... --deliver`). */
  deliver?: boolean;
  /** Overrides `writeback.mode` (`writeback plan` forces dry-run). */
  mode?: 'live' | 'dry-run';
}

export type WritebackOutcome =
  | { connectionId: string; status: 'disabled' | 'past_as_of' | 'not_supported'; reason: string }
  | {
      connectionId: string;
      status: 'done';
      asOf: PlainDate;
      periodId: string;
      enqueued: EnqueueSummary;
      push: PushResult;
    };

/** Field layouts checked against describe, per connection, for the life of the process. */
const layouts = new Map<string, FieldLayout>();

function connectionOf(config: Config, id: string): ConnectionConfig {
  const conn = config.connections.find((c) => c.id === id);
  if (!conn) {
    throw new AppError('CONFIG_INVALID', `there is no connection "${id}" in the configuration`, {
      where: 'connections',
    });
  }
  return conn;
}

/** Whether write-back and alert tasks are built for the connection's CRM (its registry entry says so). */
export function writesTo(conn: ConnectionConfig): boolean {
  return connectorKind(conn.type)?.writes === true;
}

function portContext(config: Config, conn: ConnectionConfig, log: Logger, db?: Kysely<Database>): WritePortContext {
  const calendar = createFiscalCalendar(config.calendar);
  return {
    log,
    writeback: conn.writeback,
    periodBounds: (periodId) => {
      const p = calendar.periodById(periodId);
      return { start: p.start, end: p.end };
    },
    ...(db ? { repNames: (ids: readonly string[]) => repNames(db, conn.id, ids) } : {}),
  };
}

/** The names of a connection's reps by external id (those without a name are left out). */
async function repNames(
  db: Kysely<Database>,
  connectionId: string,
  ids: readonly string[],
): Promise<ReadonlyMap<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom('reps')
    .select(['external_id', 'name'])
    .where('connection_id', '=', connectionId)
    .where('external_id', 'in', [...new Set(ids)])
    .execute();
  return new Map(rows.flatMap((r) => (r.name ? [[r.external_id, r.name] as const] : [])));
}

function notBuilt(conn: ConnectionConfig, what: string): AppError {
  return new AppError('NOT_BUILT', `${what} ${crmLabel(conn.type)} is not built`, { where: `connections.${conn.id}` });
}

/** The write port of a connection's connector (write-back, `writeback revert`). */
export function writePortFor(
  connector: Connector,
  conn: ConnectionConfig,
  config: Config,
  log: Logger,
  db?: Kysely<Database>,
): WritePort {
  if (!connector.writePort) throw notBuilt(conn, 'write-back to');
  return connector.writePort(portContext(config, conn, log, db));
}

function taskSinkFor(connector: Connector, conn: ConnectionConfig, config: Config, log: Logger): TaskSink {
  if (!connector.taskSink) throw notBuilt(conn, 'alert tasks in');
  return connector.taskSink(portContext(config, conn, log));
}

/** Writes one connection's current values back (see the file comment). */
export async function runWriteback(ctx: WritebackContext, o: RunWritebackOptions): Promise<WritebackOutcome> {
  const { config, db, log } = ctx;
  const conn = connectionOf(config, o.connectionId);
  const id = o.connectionId;
  if (!writesTo(conn)) {
    return { connectionId: id, status: 'not_supported', reason: `write-back to ${crmLabel(conn.type)} is not built` };
  }
  if (!config.writeback.enabled || !conn.writeback.enabled) {
    return { connectionId: id, status: 'disabled', reason: 'writeback.enabled is false' };
  }
  if (conn.writeback.target === 'off') {
    return { connectionId: id, status: 'disabled', reason: 'writeback.target is off (scores stay in the reports)' };
  }
  const today = todayIn(config.calendar.timezone, (ctx.now ?? now)());
  const asOf = o.asOf ?? today;
  if (asOf < today && !o.deliver) {
    return {
      connectionId: id,
      status: 'past_as_of',
      reason: `values as of ${asOf} are stored but not written to the CRM (add --deliver to write them)`,
    };
  }
  const calendar = createFiscalCalendar(config.calendar);
  const period = calendar.periodContaining(asOf, 'quarter');
  const connector = await ctx.connector(id);
  const writer = writePortFor(connector, conn, config, log, db);
  const target = writer.target;
  let layout = layouts.get(id);
  if (!layout) {
    layout = await writer.checkFields(writer.defaultLayout(), id);
    layouts.set(id, layout);
  }
  const fieldLayout = layout;
  const signal = ctx.signal ? { signal: ctx.signal } : {};
  // Under the lock from the diff on: a run a dead process left is abandoned (its fields in doubt) before we diff.
  const { enqueued, push } = await withWritebackLock(
    db,
    id,
    log,
    async () => {
      const desired = await desiredFromSnapshots(db, { connectionId: id, period, target, layout: fieldLayout });
      const enqueued = await enqueueWriteback(db, id, desired.records, asOf);
      const push = await pushPending(db, {
        connectionId: id,
        mode: o.mode ?? config.writeback.mode,
        asOfField: fieldLayout.asOf.name,
        units: unitsByField(fieldLayout),
        sink: writer,
        log,
        asOf,
        lateWrite: ctx.lockWait === false ? 'defer' : 'wait',
        ...signal,
      });
      return { enqueued, push };
    },
    { ...signal, ...(ctx.lockWait === false ? { wait: false } : {}) },
  );
  log.info(
    {
      connection: id,
      runId: push.runId,
      mode: push.mode,
      records: push.plan.length,
      written: push.recordsWritten,
      failed: push.recordsFailed,
      apiCalls: push.apiCalls,
    },
    'write-back run finished',
  );
  return { connectionId: id, status: 'done', asOf, periodId: period.id, enqueued, push };
}

/** Delivers alert tasks through one connection (a no-op when alerts or write-back are off, or in dry-run). */
export async function deliverAlerts(
  ctx: WritebackContext,
  connectionId: string,
): Promise<DeliverResult | { skipped: string }> {
  const { config, db, log } = ctx;
  const conn = connectionOf(config, connectionId);
  if (!writesTo(conn)) return { skipped: `alert tasks in ${crmLabel(conn.type)} are not built` };
  if (!config.alerts.enabled) return { skipped: 'alerts.enabled is false' };
  if (!config.writeback.enabled || !conn.writeback.enabled) return { skipped: 'writeback.enabled is false' };
  if (config.writeback.mode === 'dry-run') return { skipped: 'writeback.mode is dry-run' };
  const today = todayIn(config.calendar.timezone, (ctx.now ?? now)());
  const connector = await ctx.connector(connectionId);
  const sink = taskSinkFor(connector, conn, config, log);
  const result = await deliverAlertTasks(db, {
    connectionId,
    sink,
    calendar: createFiscalCalendar(config.calendar),
    today,
    maxTasksPerManagerPerDay: config.alerts.maxTasksPerManagerPerDay,
    log,
    connectionOrder: config.connections.map((c) => c.id),
    ...(config.web.publicUrl ? { publicUrl: config.web.publicUrl } : {}),
  });
  log.info({ connection: connectionId, ...result }, 'alert tasks delivered');
  return result;
}

/**
 * The write-back step of `quota-tracker sync`: write-back for every connection that has it (or just `only`), then
 * alert tasks; returns one line per connection for the terminal. A past `asOf` writes nothing without `deliver`.
 */
export async function writebackStep(
  ctx: WritebackContext,
  o: { asOf?: PlainDate; deliver?: boolean; only?: string } = {},
): Promise<string[]> {
  const lines: string[] = [];
  const ids = ctx.config.connections
    .filter((c) => c.enabled && writesTo(c) && (o.only === undefined || c.id === o.only))
    .map((c) => c.id);
  for (const id of ids) {
    const out = await runWriteback(ctx, {
      connectionId: id,
      ...(o.asOf !== undefined ? { asOf: o.asOf } : {}),
      ...(o.deliver !== undefined ? { deliver: o.deliver } : {}),
    });
    // Scores with nowhere to go (`writeback.target: off`) still leave the managers' tasks to deliver.
    const targetOff = ctx.config.connections.find((c) => c.id === id)?.writeback.target === 'off';
    if (out.status !== 'done') {
      lines.push(`${id}: write-back skipped: ${out.reason}`);
      if (!targetOff || out.status !== 'disabled') continue;
    } else {
      const p = out.push;
      lines.push(
        p.mode === 'dry-run'
          ? `${id}: write-back dry run #${p.runId}: ${count(p.plan.length)} record(s) would change; nothing written`
          : `${id}: write-back run #${p.runId}: ${count(p.recordsWritten)} record(s) written, ${count(p.recordsFailed)} failed, ${count(p.apiCalls)} API call(s)`,
      );
    }
    const alerts = await deliverAlerts(ctx, id);
    lines.push(
      'skipped' in alerts
        ? `${id}: alert tasks skipped: ${alerts.skipped}`
        : `${id}: alert tasks: ${count(alerts.created)} created, ${count(alerts.resent)} re-sent, ${count(alerts.closed)} closed, ${count(alerts.capped)} over the daily cap`,
    );
  }
  return lines;
}
