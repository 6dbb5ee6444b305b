/**
 * Sync runs whose process went away. A run holds its stream's advisory lock for as long as its process and database
 * session live; a `running` row whose lock can be taken has nobody behind it any more (the process was killed, or
 * PostgreSQL ended its session). The next run of the stream marks such rows `abandoned` once it holds the lock, and
 * each service start sweeps every stream, so a killed run does not stay `running` for ever.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema.ts';
import type { Logger } from '../util/log.ts';
import { ifLockFree } from './locks.ts';

export interface AbandonedRun {
  id: number;
  connectionId: string;
  stream: string;
  startedAt: Date;
}

const WHY =
  'its process went away before it finished (killed, or its database session ended); what it committed stays, and the next run resumes from its last committed page';

/** The advisory lock key of one stream's sync (src/sync/run.ts takes it for the whole run). */
export function syncLockKey(connectionId: string, stream: string): string {
  return `sync:${connectionId}:${stream}`;
}

/**
 * Marks the stream's `running` rows abandoned. Call only while holding the stream's sync lock: then no live
 * process is behind any of them.
 */
export async function markAbandoned(
  db: Kysely<Database> | Transaction<Database>,
  connectionId: string,
  stream: string,
  log: Logger,
): Promise<AbandonedRun[]> {
  const rows = await db
    .updateTable('sync_runs')
    .set({
      status: 'abandoned',
      finished_at: new Date(), // wall-clock: an audit stamp
      error_code: 'SYNC_ABANDONED',
      error_message: `this run was abandoned: ${WHY}`,
    })
    .where('connection_id', '=', connectionId)
    .where('stream', '=', stream)
    .where('status', '=', 'running')
    .returning(['id', 'started_at'])
    .execute();
  const runs = rows.map((r) => ({ id: Number(r.id), connectionId, stream, startedAt: r.started_at }));
  for (const r of runs) {
    log.warn(
      { connection: connectionId, stream, run: r.id, startedAt: r.startedAt.toISOString() },
      `sync run #${r.id} of ${connectionId}/${stream} (started ${r.startedAt.toISOString()}) was abandoned: ${WHY}`,
    );
  }
  return runs;
}

/**
 * Sweeps every stream with a `running` row: where the stream's lock is free, its rows are abandoned; where another
 * process holds it, the run is alive and left alone.
 */
export async function sweepAbandonedRuns(db: Kysely<Database>, log: Logger): Promise<AbandonedRun[]> {
  const streams = await db
    .selectFrom('sync_runs')
    .select(['connection_id', 'stream'])
    .where('status', '=', 'running')
    .distinct()
    .execute();
  const out: AbandonedRun[] = [];
  for (const s of streams) {
    const marked = await ifLockFree(db, syncLockKey(s.connection_id, s.stream), () =>
      markAbandoned(db, s.connection_id, s.stream, log),
    );
    out.push(...(marked ?? []));
  }
  return out;
}
