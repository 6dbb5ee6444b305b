/**
 * Write-back runs hold a lock, and a run whose process went away cannot overwrite a newer value.
 *
 * "Process A" runs write-back on its own pool; its CRM call is held by the CRM (as a real one may hold a request and
 * apply it later) and its lock session is terminated, as a SIGKILL or a cut database session ends it. "Process B"
 * then runs write-back with newer values. B marks A's run abandoned and says so; A's held call lands at the CRM
 * after B started but within A's call timeout; B waits that out before writing, so the CRM ends with B's values,
 * including a field whose value went back to what the ledger held before A. When A's call finally answers, A books
 * nothing. A service start marks a run nobody holds abandoned and leaves a live one alone.
 */
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultLayout } from '../../src/connectors/salesforce/write-fields.ts';
import type { SinkResult, WritebackSink, WriteIntent } from '../../src/connectors/types.ts';
import { connect } from '../../src/db/index.ts';
import type { Database } from '../../src/db/schema.ts';
import { isAppError } from '../../src/errors.ts';
import { silentLogger } from '../../src/util/log.ts';
import { metricFieldValues, type RepMetricValues, unitsByField } from '../../src/writeback/fields.ts';
import { type DesiredRecord, enqueueWriteback } from '../../src/writeback/ledger.ts';
import { sweepAbandonedWritebacks, withWritebackLock, writebackLockKey } from '../../src/writeback/lock.ts';
import { pushPending } from '../../src/writeback/push.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const layout = defaultLayout();
const units = unitsByField(layout);
const ASOF = '2026-11-20';
/** The call timeout both processes' sinks declare: a dead call may land at the CRM up to this long after it left. */
const CALL_TIMEOUT_MS = 1500;

/** The CRM's state: record id -> field -> value, with every applied write in order. */
const crm = new Map<string, Record<string, unknown>>();
const applied: string[] = [];

function apply(who: string, intents: readonly WriteIntent[]): SinkResult[] {
  applied.push(who);
  return intents.map((i) => {
    crm.set(i.targetRecordId, { ...(crm.get(i.targetRecordId) ?? {}), ...i.fields });
    return { targetRecordId: i.targetRecordId, ok: true };
  });
}

/** A sink whose calls the CRM holds until `hold` resolves, then applies. */
function sink(who: string, hold?: Promise<void>): WritebackSink & { calls: number } {
  const s = {
    calls: 0,
    callTimeoutMs: CALL_TIMEOUT_MS,
    async write(intents: readonly WriteIntent[]) {
      s.calls++;
      if (hold) await hold;
      return apply(who, intents);
    },
    apiCalls: () => s.calls,
  };
  return s;
}

function rep(id: string, attainment: string): DesiredRecord {
  const values: RepMetricValues = {
    attainment,
    pace: '0.0845',
    projectedAttainment: '1.0860',
    status: 'on_track',
    coverage: '2.5000',
    rank: 3,
  };
  return { targetObject: 'User', targetRecordId: id, fields: metricFieldValues(values, layout, id) };
}

function capturingLogger() {
  const lines: Array<{ msg: string; writebackRun?: number }> = [];
  const log = pino({ level: 'warn' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  return { log, lines };
}

function writeback(db: Kysely<Database>, records: DesiredRecord[], sk: WritebackSink, log = silentLogger) {
  return withWritebackLock(db, 'sf', log, async () => {
    await enqueueWriteback(db, 'sf', records, ASOF);
    return pushPending(db, {
      connectionId: 'sf',
      mode: 'live',
      asOfField: layout.asOf.name,
      units,
      sink: sk,
      log,
      asOf: ASOF,
    });
  });
}

async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  // wall-clock: a bound on a wait
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > 10_000) throw new Error(`not within 10 s: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let t: TestDatabase;
let dbA: Kysely<Database>;

beforeAll(async () => {
  t = await createTestDatabase();
  dbA = await connect(t.url, 3);
  await t.db.insertInto('connections').values({ id: 'sf', kind: 'salesforce' }).execute();
});
afterAll(async () => {
  // A's pool still has the terminated session checked out by its never-ending lock holder: dropped with the database.
  await t?.drop();
});

it('a run that lost its lock mid-call is abandoned; its late call cannot overtake the newer values, nor its booking', async () => {
  // Before A: the CRM and the ledger hold 50% for 005A.
  await writeback(t.db, [rep('005A', '0.5000')], sink('first'));
  expect(crm.get('005A')?.Quota_Attainment__c).toBe(50);

  // A sends 70%; the CRM holds the call.
  let land!: () => void;
  const held = new Promise<void>((r) => {
    land = r;
  });
  const a = sink('A', held);
  const aDone = writeback(dbA, [rep('005A', '0.7000')], a).then(
    () => 'booked',
    (e: Error) => e.message,
  );
  await until("A's call is out", () => a.calls === 1);
  const aRun = Number(
    (await t.db.selectFrom('writeback_runs').select('id').where('status', '=', 'running').executeTakeFirstOrThrow()).id,
  );
  // A's process "dies": its session, and with it the lock, ends.
  const killed = await sql<{ ok: boolean }>`select pg_terminate_backend(l.pid) as ok from pg_locks l
    where l.locktype = 'advisory' and l.granted and l.pid <> pg_backend_pid()
      and l.database = (select oid from pg_database where datname = current_database())`.execute(t.db);
  expect(killed.rows).toEqual([{ ok: true }]);

  // The CRM applies A's held call 0.8 s later, within A's call timeout.
  const landing = setTimeout(land, 800);

  // B: the metric went back to 50%, the value the ledger holds.
  const { log, lines } = capturingLogger();
  const b = sink('B');
  const bOut = await writeback(t.db, [rep('005A', '0.5000')], b, log);
  clearTimeout(landing);
  land();

  expect(lines.find((l) => l.writebackRun === aRun)?.msg).toMatch(
    new RegExp(`^write-back run #${aRun} of sf \\(started [^)]+\\) was abandoned: its process went away`),
  );
  expect(lines.some((l) => /waits \d+ s before writing: the CRM call of abandoned run #\d+/.test(l.msg))).toBe(true);
  // B sent 50% again (the ledger's value was in doubt) and only after A's call landed.
  expect(b.calls).toBe(1);
  expect(applied).toEqual(['first', 'A', 'B']);
  expect(crm.get('005A')?.Quota_Attainment__c).toBe(50);

  // A's call answers now; A must not book 70% over B's 50%.
  expect(await aDone).not.toBe('booked');
  const ledger = await t.db
    .selectFrom('writeback_ledger')
    .select(['field', 'value', 'run_id', 'uncertain'])
    .where('target_record_id', '=', '005A')
    .where('field', '=', 'Quota_Attainment__c')
    .executeTakeFirstOrThrow();
  expect(ledger).toEqual({ field: 'Quota_Attainment__c', value: '50', run_id: bOut.runId, uncertain: false });
  const runs = await t.db.selectFrom('writeback_runs').select(['id', 'status']).orderBy('id').execute();
  expect(runs.map((r) => r.status)).toEqual(['succeeded', 'abandoned', 'succeeded']);
});

it('the same values as a dead call go out at once; a service start abandons a run nobody holds, not a live one', async () => {
  // A dead run whose call carried exactly what the next run sends: nothing to wait for.
  const dead = await t.db
    .insertInto('writeback_runs')
    .values({
      connection_id: 'sf',
      mode: 'live',
      as_of: ASOF,
      in_flight: JSON.stringify([['User', '005A', 'Quota_Attainment__c', '60']]),
      write_deadline: sql<Date>`now() + interval '1 hour'`,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const b = sink('B2');
  // The same value goes out at once: the run does not wait out the dead call's hour (it says so when it waits).
  const quiet = capturingLogger();
  await writeback(t.db, [rep('005A', '0.6000')], b, quiet.log);
  expect(quiet.lines.filter((l) => l.msg.includes('before writing'))).toEqual([]);
  expect(crm.get('005A')?.Quota_Attainment__c).toBe(60);
  expect(
    (await t.db.selectFrom('writeback_runs').select('status').where('id', '=', dead.id).executeTakeFirstOrThrow())
      .status,
  ).toBe('abandoned');

  // At start: a running row whose lock is free is abandoned; one whose lock a live process holds is left alone.
  await t.db.insertInto('connections').values({ id: 'hs', kind: 'hubspot' }).execute();
  const insertRunning = async (connectionId: string) =>
    Number(
      (
        await t.db
          .insertInto('writeback_runs')
          .values({ connection_id: connectionId, mode: 'live', as_of: ASOF })
          .returning('id')
          .executeTakeFirstOrThrow()
      ).id,
    );
  const nobody = await insertRunning('sf');
  const alive = await insertRunning('hs');
  const { log, lines } = capturingLogger();
  const swept = await t.db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(hashtextextended(${writebackLockKey('hs')}, 0))`.execute(conn);
    try {
      // A job does not wait for another process's write-back (it comes back later): it fails at once.
      const busy = await withWritebackLock(t.db, 'hs', log, async () => 'ran', { wait: false }).catch((e: Error) => e);
      expect(isAppError(busy, 'SYNC_IN_PROGRESS')).toBe(true);
      return await sweepAbandonedWritebacks(t.db, log);
    } finally {
      await sql`select pg_advisory_unlock(hashtextextended(${writebackLockKey('hs')}, 0))`.execute(conn);
    }
  });
  expect(swept.map((s) => s.id)).toEqual([nobody]);
  expect(lines.map((l) => l.writebackRun)).toEqual([nobody]);
  const status = async (id: number) =>
    (await t.db.selectFrom('writeback_runs').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;
  expect([await status(nobody), await status(alive)]).toEqual(['abandoned', 'running']);
});
