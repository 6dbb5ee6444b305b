/**
 * The generic sync runner: reads one stream of one connection through its connector and commits every page in
 * its own transaction (rows, deletes, change feed, dirty keys, quarantine, cursor, run counters). One sync per
 * connection and stream at a time (advisory lock); the connection is bound to its CRM org on the first sync and a
 * different org later is refused.
 */

import { type Kysely, sql } from 'kysely';
import { now } from '../clock.ts';
import { type CallCounter, countingCalls } from '../connectors/call-count.ts';
import type { Connector, Page, StoredValue, StreamCursor, StreamSpec } from '../connectors/types.ts';
import type { Database } from '../db/schema.ts';
import { AppError, isAppError } from '../errors.ts';
import { type Logger, silentLogger } from '../util/log.ts';
import { markAbandoned, syncLockKey } from './abandoned.ts';
import { applyPage, type PeriodLookup } from './apply-page.ts';
import { withAdvisoryLock } from './locks.ts';
import { bindOrg, ensureConnection } from './org-binding.ts';
import type { SanityRules } from './sanity.ts';

export interface SyncProgress {
  stream: string;
  pages: number;
  read: number;
  changed: number;
  deleted: number;
  quarantined: number;
  apiCalls: number;
  /** Records the current scan will return in all, when the CRM said (for a progress bar). */
  total?: number;
}

export interface RunSyncOptions {
  db: Kysely<Database>;
  connector: Connector;
  connectionId: string;
  stream: string;
  calendar: PeriodLookup;
  /** What started it: 'cli', 'schedule', 'webhook', 'test'. */
  trigger?: string;
  /** Forget the cursor: read everything again, then sweep rows the CRM no longer has. */
  full?: boolean;
  log?: Logger;
  signal?: AbortSignal;
  now?: () => Date;
  onProgress?: (p: SyncProgress) => void;
  /** The connection's `sync.sanity` bounds; the defaults when not given. */
  sanity?: SanityRules;
}

/** `skipped`: an optional stream the account cannot be read for (the connector said why); nothing read, not a failure. */
export type SyncStatus = 'succeeded' | 'failed' | 'stopped_budget' | 'skipped';

export interface SyncSummary extends SyncProgress {
  runId: number;
  status: SyncStatus;
  /** Earlier runs of this stream found abandoned (their process gone) and marked so by this one. */
  abandonedRuns?: number[];
  errorCode?: string;
  errorMessage?: string;
  /**
   * The error that ended the run, as thrown: its Retry-After, retryable override and cause reach whoever runs the
   * sync (the job runtime delays the retry by it).
   */
  error?: AppError;
}

/**
 * Runs one stream. A CRM failure ends the run with status failed (or stopped_budget) and a summary naming the
 * error; what was committed page by page stays, and the next run resumes from the last stored cursor.
 */
export async function runSync(opts: RunSyncOptions): Promise<SyncSummary> {
  const { db, connector, connectionId } = opts;
  const log = opts.log ?? silentLogger;
  const spec = connector.streams().find((s) => s.name === opts.stream);
  if (!spec) {
    throw new AppError('USAGE', `unknown stream "${opts.stream}" for connection "${connectionId}"`, {
      where: '--stream',
      details: { known: connector.streams().map((s) => s.name) },
    });
  }
  // This run's calls only: the connector may be syncing other streams, or writing back, at the same time.
  const counter: CallCounter = { calls: 0 };
  await ensureConnection(db, connectionId, connector.kind);
  try {
    return await countingCalls(counter, async () => {
      await bindOrg(db, connectionId, await connector.identify());
      return withAdvisoryLock(db, syncLockKey(connectionId, spec.name), () => runLocked(opts, spec, log), {
        what: `the sync of ${connectionId}/${spec.name}`,
      });
    });
  } finally {
    await recordApiUsage(db, connectionId, connector, counter.calls, log);
  }
}

/**
 * Today's API use of the connection (`crm_api_usage`, what the operator's status and /metrics show with the budget
 * left): the calls this run made, identify's included, added to the day's, and the account's daily usage as the CRM
 * last reported it. A failure here is logged: the run's outcome stands.
 */
async function recordApiUsage(
  db: Kysely<Database>,
  connectionId: string,
  connector: Connector,
  calls: number,
  log: Logger,
): Promise<void> {
  try {
    const usage = (await connector.apiUsage?.()) ?? null;
    if (calls <= 0 && usage === null) return;
    await sql`
      INSERT INTO crm_api_usage (connection_id, day, api_calls, reported_used, reported_limit)
      VALUES (${connectionId}, (now() at time zone 'UTC')::date, ${calls}, ${usage?.used ?? null}, ${usage?.limit ?? null}) -- wall-clock: the operator's day (web/operator.ts reads the same UTC day)
      ON CONFLICT (connection_id, day) DO UPDATE SET
        api_calls = crm_api_usage.api_calls + excluded.api_calls,
        reported_used = coalesce(excluded.reported_used, crm_api_usage.reported_used),
        reported_limit = coalesce(excluded.reported_limit, crm_api_usage.reported_limit),
        updated_at = now() -- wall-clock: when the row was written
      `.execute(db);
  } catch (e) {
    log.warn({ connectionId, err: (e as Error).message }, 'the API usage of the run could not be recorded');
  }
}

/**
 * The stream's live rows (its scope's, in a shared table): id and one column, keyset by external id. With
 * `quarantined`, also the stream's open quarantine entries of that reason code without a live row, value null.
 */
async function storedValues(
  db: Kysely<Database>,
  connectionId: string,
  spec: StreamSpec,
  column: string,
  afterId: string | null,
  limit: number,
  quarantined?: string,
): Promise<StoredValue[]> {
  let live = liveRows(db, connectionId, spec).select([
    'external_id',
    sql<string | null>`${sql.ref(column)}::text`.as('value'),
  ]);
  if (afterId !== null) live = live.where('external_id', '>', afterId);
  // biome-ignore lint/suspicious/noExplicitAny: the union's two halves are typed by the stream's table at run time
  let q: any = live;
  if (quarantined !== undefined) {
    let held = quarantinedRows(db, connectionId, spec, quarantined).select([
      'q.external_id',
      sql<string | null>`null::text`.as('value'),
    ]);
    if (afterId !== null) held = held.where('q.external_id', '>', afterId);
    q = live.unionAll(held);
  }
  const rows = (await q.orderBy('external_id').limit(limit).execute()) as Array<{
    external_id: string;
    value: string | null;
  }>;
  return rows.map((r) => ({ externalId: r.external_id, value: r.value }));
}

/** How many rows `storedValues` goes through. */
async function storedCount(
  db: Kysely<Database>,
  connectionId: string,
  spec: StreamSpec,
  quarantined?: string,
): Promise<number> {
  const count = async (q: { executeTakeFirst(): Promise<unknown> }) =>
    Number(((await q.executeTakeFirst()) as { n?: string | number } | undefined)?.n ?? 0);
  const live = await count(liveRows(db, connectionId, spec).select(sql<string>`count(*)`.as('n')));
  if (quarantined === undefined) return live;
  return (
    live + (await count(quarantinedRows(db, connectionId, spec, quarantined).select(sql<string>`count(*)`.as('n'))))
  );
}

function liveRows(db: Kysely<Database>, connectionId: string, spec: StreamSpec) {
  // biome-ignore lint/suspicious/noExplicitAny: the stream's table and column are named by its spec at run time
  let q = (db as unknown as Kysely<any>)
    .selectFrom(spec.table)
    .where('connection_id', '=', connectionId)
    .where('is_deleted', '=', false);
  if (spec.scope) q = q.where(spec.scope.column, '=', spec.scope.value);
  return q;
}

/** Open quarantine entries of the stream with this reason and no live row. */
function quarantinedRows(db: Kysely<Database>, connectionId: string, spec: StreamSpec, reasonCode: string) {
  // biome-ignore lint/suspicious/noExplicitAny: the stream's table is named by its spec at run time
  return (db as unknown as Kysely<any>)
    .selectFrom('quarantine as q')
    .where('q.connection_id', '=', connectionId)
    .where('q.stream', '=', spec.name)
    .where('q.reason_code', '=', reasonCode)
    .where('q.resolved_at', 'is', null)
    .where((eb) =>
      eb.not(
        eb.exists(
          liveRows(db, connectionId, spec)
            .select(sql`1`.as('one'))
            .whereRef(`${spec.table}.external_id`, '=', 'q.external_id'),
        ),
      ),
    );
}

/** The stored cursor, opaque here: the connector reads it (and re-reads the stream when it cannot). */
async function storedCursor(opts: RunSyncOptions, spec: StreamSpec): Promise<{ cursor: StreamCursor } | undefined> {
  const row = await opts.db
    .selectFrom('sync_cursors')
    .select('cursor')
    .where('connection_id', '=', opts.connectionId)
    .where('stream', '=', spec.name)
    .executeTakeFirst();
  return row ? { cursor: (row.cursor ?? null) as StreamCursor } : undefined;
}

/** Days a stream's finished runs are kept (its last run of each outcome is kept whatever its age). */
export const SYNC_RUNS_KEEP_DAYS = 30;

/**
 * Removes the stream's finished runs older than SYNC_RUNS_KEEP_DAYS, as a new one starts (runs every few minutes
 * on every stream would grow without end; their counts live on in sync_run_totals). The last run of each outcome
 * stays: the operator's status shows the last success, and the schedule's health check reads it.
 */
async function pruneRuns(db: Kysely<Database>, connectionId: string, stream: string): Promise<void> {
  await sql`DELETE FROM sync_runs r WHERE r.connection_id = ${connectionId} AND r.stream = ${stream}
    AND r.status <> 'running'
    AND r.started_at < now() - make_interval(days => ${SYNC_RUNS_KEEP_DAYS}) -- wall-clock: retention by real age
    AND r.id <> ALL (SELECT max(l.id) FROM sync_runs l WHERE l.connection_id = ${connectionId} AND l.stream = ${stream}
      GROUP BY l.status)`.execute(db);
}

/** Below this many rows changed, autovacuum's own ANALYZE (within a minute or so) is soon enough. */
const ANALYZE_MIN_CHANGED = 5_000;

/**
 * ANALYZE of the stream's table after a run that wrote a tenth of it or more (an initial sync, a full re-read),
 * before anything plans a query on it. Autovacuum analyzes a table a while after it grew (its naptime, then its
 * thresholds), but the recompute, the reports and the next stream's pages plan their statements right away, and
 * with statistics that say a million-row table is empty PostgreSQL picks plans that read it whole in a loop. A
 * failure (a role that does not own the table) is logged: the run's outcome stands.
 */
async function refreshStatistics(db: Kysely<Database>, table: string, changed: number, log: Logger): Promise<void> {
  if (changed < ANALYZE_MIN_CHANGED) return;
  try {
    const { rows } = await sql<{ n: number }>`SELECT reltuples::float8 AS n FROM pg_class
      WHERE oid = ${table}::regclass`.execute(db);
    // reltuples is -1 for a table never analyzed.
    if (changed < 0.1 * Math.max(0, rows[0]?.n ?? 0)) return;
    await sql`ANALYZE ${sql.table(table)}`.execute(db);
  } catch (e) {
    log.warn({ table, err: (e as Error).message }, 'the statistics of the table could not be refreshed after the sync');
  }
}

async function runLocked(opts: RunSyncOptions, spec: StreamSpec, log: Logger): Promise<SyncSummary> {
  const { db, connector, connectionId } = opts;
  // Holding the stream's lock, any run still marked running has no live process behind it.
  const abandoned = await markAbandoned(db, connectionId, spec.name, log);
  const stored = await storedCursor(opts, spec);
  const run = await db
    .insertInto('sync_runs')
    .values({
      connection_id: connectionId,
      stream: spec.name,
      trigger: opts.trigger ?? 'cli',
      full_scan: opts.full === true,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  // Housekeeping: a failure here is logged, and the run goes on.
  await pruneRuns(db, connectionId, spec.name).catch((e: unknown) =>
    log.warn({ stream: spec.name, err: (e as Error).message }, 'old sync runs could not be pruned'),
  );
  const progress: SyncProgress = {
    stream: spec.name,
    pages: 0,
    read: 0,
    changed: 0,
    deleted: 0,
    quarantined: 0,
    apiCalls: 0,
  };
  const today = (opts.now ?? now)().toISOString().slice(0, 10);
  const ctx = { connectionId, stream: spec, runId: run.id, calendar: opts.calendar, today, sanity: opts.sanity };
  let status: SyncStatus = 'succeeded';
  let error: AppError | undefined;
  let skipped: Page['skipped'];
  try {
    const pages = connector.read(spec.name, opts.full ? null : (stored?.cursor ?? null), {
      log,
      // A full re-read owes a sweep when rows may exist that the CRM no longer has.
      ...(opts.full ? { full: { hadCursor: stored !== undefined } } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.now ? { now: opts.now } : {}),
      stored: (column, afterId, limit, quarantined) =>
        storedValues(db, connectionId, spec, column, afterId, limit, quarantined),
      storedCount: (quarantined) => storedCount(db, connectionId, spec, quarantined),
    });
    // One page read ahead: the connector fetches and normalizes page n+1 while page n's transaction commits
    // (the CRM, this process and PostgreSQL each busy at once, not in turn). Only committed pages' cursors are
    // stored, so a page read ahead and never applied is read again by the next run.
    const it = pages[Symbol.asyncIterator]();
    let ahead = it.next();
    for (;;) {
      const next = await ahead;
      if (next.done) break;
      const page = next.value;
      ahead = it.next();
      // Its failure surfaces when it is awaited (after this page commits); not an unhandled rejection meanwhile.
      ahead.catch(() => undefined);
      let counts: Awaited<ReturnType<typeof applyPage>>;
      try {
        // A stop asked for while this page was read ahead applies before it, as it would before a fetch.
        opts.signal?.throwIfAborted();
        counts = await db.transaction().execute((trx) => applyPage(trx, ctx, page, page.cursor));
      } catch (e) {
        // Let the read ahead settle, then close the connector's generator (its finally blocks run).
        await ahead.catch(() => undefined);
        await it.return?.(undefined);
        throw e;
      }
      progress.pages++;
      progress.read += counts.read;
      progress.changed += counts.changed;
      progress.deleted += counts.deleted;
      progress.quarantined += counts.quarantined;
      progress.apiCalls += page.apiCalls;
      if (page.totalEstimate !== undefined) progress.total = page.totalEstimate;
      if (page.skipped) skipped = page.skipped;
      opts.onProgress?.({ ...progress });
    }
  } catch (e) {
    error = isAppError(e)
      ? e
      : new AppError('INTERNAL', `sync of ${connectionId}/${spec.name} failed: ${(e as Error).message}`, { cause: e });
    status = error.code === 'CRM_BUDGET_EXHAUSTED' ? 'stopped_budget' : 'failed';
    log.warn({ stream: spec.name, code: error.code, err: error.message }, `sync ${status}`);
  }
  if (!error && skipped) status = 'skipped';
  await refreshStatistics(db, spec.table, progress.changed + progress.deleted, log);
  await db
    .updateTable('sync_runs')
    .set({
      status,
      finished_at: new Date(), // wall-clock: an audit stamp
      error_code: error?.code ?? (status === 'skipped' ? (skipped?.code ?? null) : null),
      error_message: error ? error.toUserString() : status === 'skipped' ? (skipped?.reason ?? null) : null,
    })
    .where('id', '=', run.id)
    .execute();
  return {
    ...progress,
    runId: run.id,
    status,
    ...(abandoned.length > 0 ? { abandonedRuns: abandoned.map((a) => a.id) } : {}),
    ...(error ? { errorCode: error.code, errorMessage: error.toUserString(), error } : {}),
    ...(!error && skipped ? { errorCode: skipped.code, errorMessage: skipped.reason } : {}),
  };
}
