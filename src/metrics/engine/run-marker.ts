/**
 * The "running" marker of a full recompute made in one process (`MetricsEngine.recomputeAll`): a `recompute_runs`
 * row with status `running`, as a sharded run has. Its shards commit one by one and the groups come with the last,
 * so until it ends the stored snapshots mix new rep figures with old group figures: readers treat the snapshots as
 * not current while the row is open (src/reports/current-period.ts), write-back waits (src/writeback/values.ts), and
 * the cold path does not start from the stored state (engine.ts's probe). The row never has shards or jobs: a
 * sharded planner neither joins it nor merges it (shards.ts), and gives it up only when it is stuck, as it gives
 * up its own runs, so a process that died mid-run leaves the snapshots stale for at most `STUCK_RUN_SECONDS`.
 */
import { type Kysely, sql } from 'kysely';
import type { FiscalPeriod } from '../../config/calendar.ts';
import type { Database } from '../../db/schema.ts';
import { releaseClaims } from '../../dirty/queue.ts';
import type { PlainDate } from '../../util/date.ts';

/** A run left running this long is taken for dead (its process or jobs failed for good). */
export const STUCK_RUN_SECONDS = 3600;

/** `recompute_runs.reason` of a full recompute in one process. */
export const IN_PROCESS_RUN = 'in_process';

/**
 * Gives up the in-process runs left running past `STUCK_RUN_SECONDS` (their process died): their claimed marks go
 * back to the queue. The rates flag such a run took stays taken, and the next full recompute takes it again.
 */
export async function abandonStuckInProcessRuns(db: Kysely<Database>): Promise<number> {
  const rows = await sql<{ claimed: string[] }>`
    update recompute_runs set status = 'abandoned', finished_at = now() -- wall-clock: an audit stamp
    where status = 'running' and reason = ${IN_PROCESS_RUN}
      and created_at < now() - make_interval(secs => ${STUCK_RUN_SECONDS}) -- wall-clock: a lease
    returning claimed::text[] as claimed`.execute(db);
  const ids = rows.rows.flatMap((r) => r.claimed.map(Number));
  if (ids.length > 0) await releaseClaims(db, ids);
  return rows.rows.length;
}

/**
 * Raises the marker of an in-process full recompute; its id closes it. The caller gives up stuck runs
 * (`abandonStuckInProcessRuns`) before it claims its marks, so that it does not release marks it just claimed.
 */
export async function openInProcessRun(
  db: Kysely<Database>,
  o: { asOf: PlainDate; periods: readonly FiscalPeriod[]; configHash: string; inputsAt: string; claimed: number[] },
): Promise<number> {
  const row = await db
    .insertInto('recompute_runs')
    .values({
      as_of: o.asOf,
      period_ids: o.periods.map((p) => p.id),
      config_hash: o.configHash,
      // One shard pending and no `recompute_shards` rows: nothing for a merge to take (shards.ts skips the row).
      shards: 1,
      pending: 1,
      inputs_at: o.inputsAt,
      claimed: o.claimed.map(String),
      forecast: '{}',
      reason: IN_PROCESS_RUN,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

/** Lowers the marker: `done` once the run's snapshots are all stored, `abandoned` when it failed. */
export async function closeInProcessRun(
  db: Kysely<Database>,
  runId: number,
  status: 'done' | 'abandoned',
): Promise<void> {
  await db
    .updateTable('recompute_runs')
    .set({ status, finished_at: new Date() }) // wall-clock: an audit stamp
    .where('id', '=', runId)
    .where('status', '=', 'running')
    .execute();
}

/** True while a full recompute (sharded or in one process) is storing its snapshots. */
export async function recomputeRunning(db: Kysely<Database>): Promise<boolean> {
  const r = await sql<{ running: boolean }>`
    select exists (select 1 from recompute_runs where status = 'running') as running`.execute(db);
  return r.rows[0]?.running === true;
}
