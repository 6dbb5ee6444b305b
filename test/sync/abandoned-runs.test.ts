/**
 * A killed run does not stay `running` for ever. A sync process SIGKILLed after its first committed page leaves its
 * sync_runs row running; the next run of the stream marks it abandoned (and says so in its log and summary). A
 * service start sweeps every stream: a row whose stream lock is free is abandoned, one whose lock a live process
 * holds is left alone.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { sweepAbandonedRuns, syncLockKey } from '../../src/sync/abandoned.ts';
import { ensureConnection } from '../../src/sync/org-binding.ts';
import { runSync } from '../../src/sync/run.ts';
import { silentLogger } from '../../src/util/log.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnector } from '../helpers/sandbox.ts';

const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
let sb: SalesforceSandbox;
let t: TestDatabase;

beforeAll(async () => {
  sb = await startSalesforceSandbox({ seed: 6, size: 'small', anchorDate: '2026-03-02' });
  t = await createTestDatabase();
  await ensureConnection(t.db, 'sf', 'salesforce');
}, 60_000);
afterAll(async () => {
  await sb?.close();
  await t?.drop();
});

function syncChild(): ChildProcess {
  return spawn(process.execPath, ['bin/run-ts.js', 'test/sync/helpers/sync-child.ts'], {
    env: {
      ...process.env,
      DATABASE_URL: t.url,
      QT_SB_URL: sb.url,
      QT_SB_CREDENTIALS: JSON.stringify(sb.credentials),
      QT_STREAM: 'opportunities',
      QT_BATCH: '200',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

function capturingLogger() {
  const lines: Array<{ msg: string; run?: number }> = [];
  const log = pino({ level: 'warn' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  return { log, lines };
}

it('a run whose process was SIGKILLed is marked abandoned by the next run, which says so', async () => {
  const p = syncChild();
  const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
  p.stdout?.on('data', (d) => {
    if (/^page 1$/m.test(String(d))) p.kill('SIGKILL');
  });
  expect(await exited).toBeNull();
  const left = await t.db
    .selectFrom('sync_runs')
    .select(['id', 'status'])
    .where('stream', '=', 'opportunities')
    .execute();
  expect(left).toEqual([{ id: expect.anything(), status: 'running' }]);
  const killedId = Number(left[0]?.id);

  const { log, lines } = capturingLogger();
  const s = await runSync({
    db: t.db,
    connector: sandboxConnector(sb),
    connectionId: 'sf',
    stream: 'opportunities',
    calendar,
    log,
    now: () => sb.store.now(),
  });
  expect(s.status).toBe('succeeded');
  expect(s.abandonedRuns).toEqual([killedId]);
  const killed = await t.db
    .selectFrom('sync_runs')
    .select(['status', 'error_code', 'error_message', 'finished_at'])
    .where('id', '=', killedId)
    .executeTakeFirstOrThrow();
  expect(killed).toMatchObject({ status: 'abandoned', error_code: 'SYNC_ABANDONED' });
  expect(killed.finished_at).not.toBeNull();
  expect(lines.find((l) => l.run === killedId)?.msg).toMatch(
    new RegExp(`^sync run #${killedId} of sf/opportunities \\(started [^)]+\\) was abandoned: its process went away`),
  );
});

it('a service start abandons runs nobody holds and leaves a live one alone', async () => {
  const insertRunning = async (stream: string) =>
    Number(
      (
        await t.db
          .insertInto('sync_runs')
          .values({ connection_id: 'sf', stream, trigger: 'schedule', full_scan: false })
          .returning('id')
          .executeTakeFirstOrThrow()
      ).id,
    );
  const dead = await insertRunning('events');
  const alive = await insertRunning('tasks');
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  let taken!: () => void;
  const isTaken = new Promise<void>((r) => {
    taken = r;
  });
  // Another process's sync of tasks, alive: it holds the stream's lock on its own session.
  const holder = t.db.connection().execute(async (conn) => {
    await sql`SELECT pg_advisory_lock(hashtextextended(${syncLockKey('sf', 'tasks')}, 0))`.execute(conn);
    taken();
    await released;
    await sql`SELECT pg_advisory_unlock(hashtextextended(${syncLockKey('sf', 'tasks')}, 0))`.execute(conn);
  });
  await isTaken;
  try {
    const swept = await sweepAbandonedRuns(t.db, silentLogger);
    expect(swept.map((r) => [r.id, r.stream])).toEqual([[dead, 'events']]);
    const statuses = await t.db
      .selectFrom('sync_runs')
      .select(['id', 'status'])
      .where('id', 'in', [dead, alive])
      .orderBy('id')
      .execute();
    expect(statuses.map((r) => r.status)).toEqual(['abandoned', 'running']);
  } finally {
    release();
    await holder;
  }
});
