/**
 * One write-back at a time per connection, across processes, and what happens when its process dies.
 *
 * A run holds the connection's write-back advisory lock for as long as its process and database session live
 * (like a sync run its stream's lock, src/sync/abandoned.ts). A `running` row whose lock can be taken has nobody
 * behind it: the next run, or the next service start, marks it `abandoned` and says so in the log.
 *
 * A dead run's CRM call may still be out: the CRM can apply it after the process died (it got the request, the
 * answer had nowhere to go). So a run records, before its write, what it carries and until when it can still land
 * (`in_flight`, `write_deadline`), and renews the deadline before every CRM request of the write (a write is many:
 * batches, retries; WriteCallGuard in connectors/types.ts) and while one is out. When it is abandoned:
 * - the ledger rows of those fields turn `uncertain` (the CRM holds either value), so the next run sends them again
 *   even where the metric went back to what the ledger says; a field we had never written stays marked so
 *   (`written` false), and a revert leaves it alone;
 * - the next run that would send a different value to one of those fields first waits out the deadline
 *   (`lateWriteFence` in push.ts; a job comes back later instead), so the dead call cannot land on top of the newer
 *   value;
 * - the dead process, should it be alive after all (its database session was cut), sends no further request: the
 *   renewal before each one updates no row once its run is no longer `running`, and that stops the write; nor does
 *   it book anything (push.ts checks under the run row's lock), so it cannot move the ledger back.
 * A live run whose request got no answer (a timeout, a reset) is treated alike: its fields turn uncertain and its
 * deadline stands for the next run.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { ifLockFree, type LockOptions, withAdvisoryLock } from '../sync/locks.ts';
import type { Logger } from '../util/log.ts';
import { markUncertain } from './ledger.ts';

/** The advisory lock key of one connection's write-back (runs and reverts). */
export function writebackLockKey(connectionId: string): string {
  return `writeback:${connectionId}`;
}

/** A write-back run waits this long at most for another run of the connection to finish (they take seconds). */
export const WRITEBACK_LOCK_WAIT_MS = 10 * 60_000;

export interface AbandonedWriteback {
  id: number;
  connectionId: string;
  startedAt: Date;
  /** Fields its CRM call carried when the process went away (0: none was out). */
  inFlight: number;
}

const WHY = 'its process went away before it finished (killed, or its database session ended)';

/**
 * Marks the connection's `running` write-back runs abandoned and the ledger rows their CRM call carried uncertain.
 * Call only while holding the connection's write-back lock: then no live process is behind any of them.
 */
export async function markWritebackAbandoned(
  db: Kysely<Database>,
  connectionId: string,
  log: Logger,
): Promise<AbandonedWriteback[]> {
  return db.transaction().execute(async (trx) => {
    const rows = await trx
      .updateTable('writeback_runs')
      .set({
        status: 'abandoned',
        finished_at: new Date(), // wall-clock: an audit stamp
        error_code: 'WRITEBACK_ABANDONED',
        error_message: `this write-back run was abandoned: ${WHY}`,
      })
      .where('connection_id', '=', connectionId)
      .where('status', '=', 'running')
      .returning(['id', 'started_at', 'in_flight', 'write_deadline'])
      .execute();
    const out: AbandonedWriteback[] = [];
    for (const r of rows) {
      const fields = r.in_flight ?? [];
      if (fields.length > 0) {
        // The CRM holds either the ledger's value or the one in flight: neither may be trusted to skip a send.
        await markUncertain(
          trx,
          connectionId,
          Number(r.id),
          fields.map(([targetObject, targetRecordId, field]) => ({ targetObject, targetRecordId, field })),
        );
      }
      const run = { id: Number(r.id), connectionId, startedAt: r.started_at, inFlight: fields.length };
      out.push(run);
      const late =
        fields.length > 0 && r.write_deadline
          ? `; its CRM call of ${fields.length} field(s) was still out and may land until ${r.write_deadline.toISOString()}, so those fields are sent again, a different value only after that`
          : '';
      log.warn(
        {
          connection: connectionId,
          writebackRun: run.id,
          startedAt: run.startedAt.toISOString(),
          inFlight: run.inFlight,
        },
        `write-back run #${run.id} of ${connectionId} (started ${run.startedAt.toISOString()}) was abandoned: ${WHY}${late}`,
      );
    }
    return out;
  });
}

/**
 * Runs `fn` holding the connection's write-back lock, after marking the runs a dead process left `running`
 * abandoned. Waits for a live run of another process (bounded, and ended by `signal`), or with `wait: false`
 * fails at once with SYNC_IN_PROGRESS (a job comes back later rather than hold a worker slot while it waits).
 */
export async function withWritebackLock<T>(
  db: Kysely<Database>,
  connectionId: string,
  log: Logger,
  fn: () => Promise<T>,
  options: Pick<LockOptions, 'maxWaitMs' | 'signal' | 'sleep' | 'wait'> = {},
): Promise<T> {
  return withAdvisoryLock(
    db,
    writebackLockKey(connectionId),
    async () => {
      await markWritebackAbandoned(db, connectionId, log);
      return fn();
    },
    {
      maxWaitMs: WRITEBACK_LOCK_WAIT_MS,
      wait: true,
      ...options,
      what: `the write-back of connection "${connectionId}"`,
    },
  );
}

/**
 * At service start: every connection with a `running` write-back run whose lock is free has it marked abandoned;
 * where another process holds the lock, the run is alive and left alone.
 */
export async function sweepAbandonedWritebacks(db: Kysely<Database>, log: Logger): Promise<AbandonedWriteback[]> {
  const conns = await db
    .selectFrom('writeback_runs')
    .select('connection_id')
    .where('status', '=', 'running')
    .distinct()
    .execute();
  const out: AbandonedWriteback[] = [];
  for (const c of conns) {
    const marked = await ifLockFree(db, writebackLockKey(c.connection_id), () =>
      markWritebackAbandoned(db, c.connection_id, log),
    );
    out.push(...(marked ?? []));
  }
  return out;
}
