/**
 * Fault scenarios a real deployment meets, against the real bin, a populated sandbox org, PostgreSQL and a Redis of
 * the test's own. Each ends with the service stopped, a clean `sync --no-writeback`, the warehouse equal to the
 * sandbox's oracle, no alert task created twice in the CRM, and no sync run left `running` (helpers.ts):
 * - Redis killed and restarted WITH its data (AOF) under `start` on one-minute schedules: /readyz is 503 while Redis
 *   is down, every stream syncs again within 3 minutes, and the job schedulers are there once each (not doubled by
 *   the reconcile that finds them already in Redis);
 * - PostgreSQL connections of the sync killed mid-page (`pg_terminate_backend` on a backend inside a page's
 *   transaction, three times): the sync exits without hanging and the next one completes the warehouse;
 * - `start` SIGKILLed while a write-back call is in flight, then restarted at once while the CRM still holds that
 *   call: the killed run is marked abandoned, the held call lands, and only then the new run writes (its values
 *   differ), so every ledger value is what the CRM holds; the alert tasks complete, no task twice;
 * - two `worker` processes and one `start` on one Redis for QT_SOAK_MINUTES (default 10) minutes of one-minute
 *   schedules with CRM faults on (500, 503, 429 with Retry-After, dropped connections) and the org changing:
 *   after the faults stop every stream succeeds again, and SIGTERM ends each process within 10 s.
 * Minutes long: runs only with QT_HEAVY=1. Durations are printed (FAULT lines), asserted only against the issue's
 * bounds.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { configSchema } from '../../src/config/schema.ts';
import { QUEUE_NAME } from '../../src/jobs/runtime.ts';
import { desiredSchedulers } from '../../src/jobs/schedules.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { configFile, runBin } from '../cli/helpers.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { type OwnRedis, startOwnRedis } from '../helpers/own-redis.ts';
import { sandboxConnectionEntry } from '../helpers/sandbox.ts';
import {
  ANCHOR,
  alertTaskCount,
  CHILD_ENV,
  duplicateTasks,
  expectConverged,
  freePort,
  latestRuns,
  launch,
  readyz,
  report,
  type Service,
  stamp,
  until,
  untilOrSay,
} from './helpers.ts';

const heavy = process.env.QT_HEAVY === '1';
/** The soak's length in minutes; the issue asks for ten, a quicker look may pass fewer. */
const SOAK_MINUTES = Number(process.env.QT_SOAK_MINUTES ?? '10');

/** Everything a scenario started, stopped after it whatever happened. */
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => {});
});
afterAll(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => {});
});

async function sandbox(seed: number): Promise<SalesforceSandbox> {
  const sb = await startSalesforceSandbox({ seed, size: 'small', anchorDate: ANCHOR });
  cleanup.push(() => sb.close());
  return sb;
}
async function database(): Promise<TestDatabase> {
  const t = await createTestDatabase();
  cleanup.push(() => t.drop());
  return t;
}
async function redisOfOwn(persist: boolean): Promise<OwnRedis> {
  const r = await startOwnRedis({ persist });
  cleanup.push(() => r.stop());
  return r;
}
function service(args: string[]): Service {
  const s = launch(args);
  cleanup.push(() => s.crash());
  return s;
}

function serviceConfig(t: TestDatabase, sb: SalesforceSandbox, redis: OwnRedis, port: number) {
  return {
    database: { url: t.url },
    queue: { redisUrl: redis.url, prefix: `qt_fault_${process.pid}_${port}` },
    web: { port },
    connections: [sandboxConnectionEntry(sb, { schedule: { every: '1m' } })],
  };
}

const syncStreams = (cfg: unknown) =>
  desiredSchedulers(configSchema.parse(cfg))
    .filter((d) => d.name === 'sync')
    .map((d) => d.id.split(':')[2] as string);

describe.skipIf(!heavy)('Redis restarted with its data under start', () => {
  it('readyz is 503 while Redis is down; every stream syncs again within 3 minutes; schedulers once each', {
    timeout: 1_200_000,
  }, async () => {
    const t0 = stamp();
    const [redis, sb, t, port] = await Promise.all([redisOfOwn(true), sandbox(3), database(), freePort()]);
    const cfg = serviceConfig(t, sb, redis, port);
    const path = await configFile(stringify(cfg));
    const streams = syncStreams(cfg);
    const start = service(['start', '--config', path]);
    await until('start is running', 120_000, () => start.stderr().includes('quota-tracker is running'));
    await until(
      'every stream synced once',
      300_000,
      async () => (await latestRuns(t.db, 'succeeded')).size === streams.length,
    );
    expect((await readyz(port)).status).toBe(200);

    await redis.kill();
    const toUnready = await until('/readyz answers 503', 30_000, async () => {
      const r = await readyz(port);
      return r.status === 503 && r.body.reason === 'queue_unreachable';
    });
    report('/readyz 503 after Redis (with AOF) was killed', toUnready);
    expect(toUnready).toBeLessThan(10_000);

    const before = await latestRuns(t.db);
    await redis.restart();
    const back = await until('a new sync_runs row for every stream', 180_000, async () => {
      const now = await latestRuns(t.db);
      return streams.every((s) => (now.get(s) ?? 0) > (before.get(s) ?? 0));
    });
    report('every stream synced again after Redis restarted with its data', back);
    await until('/readyz answers 200 again', 60_000, async () => (await readyz(port)).status === 200);

    // The reconcile found the schedulers Redis kept: each is there once, none doubled, none lost.
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE_NAME, { connection, prefix: cfg.queue.prefix });
    const schedulers = (await queue.getJobSchedulers(0, -1)).map((s) => s.key);
    await queue.close();
    connection.disconnect();
    const desired = desiredSchedulers(configSchema.parse(cfg)).map((d) => d.id);
    expect([...schedulers].sort()).toEqual([...desired].sort());

    const stopped = await start.stop();
    report('start stopping on SIGTERM', stopped.ms);
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(10_000);
    await expectConverged(t.db, sb, path);
    report('scenario: Redis restarted with its data', stamp() - t0);
  });
});

describe.skipIf(!heavy)('PostgreSQL connections killed mid-page', () => {
  it('a sync whose page transactions are terminated ends without hanging; the next completes the warehouse', {
    timeout: 900_000,
  }, async () => {
    const t0 = stamp();
    const [sb, t] = await Promise.all([sandbox(5), database()]);
    // 200-record pages: many page transactions to land in.
    const path = await configFile(
      stringify({ database: { url: t.url }, connections: [sandboxConnectionEntry(sb, { sync: { batchSize: 200 } })] }),
    );
    const dbName = new URL(t.url).pathname.slice(1);
    const admin = new pg.Client({ connectionString: t.url });
    await admin.connect();
    cleanup.push(() => admin.end());
    const killed: Array<{ pid: number; query: string }> = [];
    let stop = false;
    // Terminates a backend of the sync that is inside a page's transaction (idle in it, or writing rows), three
    // times, at least two seconds apart, once the migrations are done.
    const terminator = (async () => {
      let last = 0;
      let armed = false;
      while (!stop && killed.length < 3) {
        await new Promise((r) => setTimeout(r, 20));
        if (stamp() - last < 2000) continue;
        if (!armed) {
          // Past the migrations: the first sync run exists, so the transactions from here on are pages.
          armed = await admin
            .query('SELECT 1 FROM sync_runs LIMIT 1')
            .then((r) => r.rowCount === 1)
            .catch(() => false);
          continue;
        }
        const { rows } = await admin.query<{ pid: number; query: string }>(
          `SELECT pid, query FROM pg_stat_activity
           WHERE datname = $1 AND pid <> pg_backend_pid()
             AND ((state = 'idle in transaction' AND query NOT ILIKE '%kysely_migration%')
               OR (state = 'active' AND query ~* '^insert into "(deals|activities|deal_stage_history|deal_line_items|reps|leads|quotas|change_feed|dirty_keys|quarantine)"'))
           LIMIT 1`,
          [dbName],
        );
        const victim = rows[0];
        if (!victim) continue;
        await admin.query('SELECT pg_terminate_backend($1)', [victim.pid]);
        killed.push({ pid: victim.pid, query: victim.query.slice(0, 60) });
        last = stamp();
      }
    })();
    const s0 = stamp();
    const first = await runBin(['sync', '--no-writeback', '--config', path], { env: CHILD_ENV, timeoutMs: 600_000 });
    stop = true;
    await terminator;
    report(`sync with ${killed.length} page transactions terminated (exit ${first.code})`, stamp() - s0);
    console.log(`FAULT terminated: ${killed.map((k) => k.query).join(' | ')}`);
    console.log(
      `FAULT the sync said:\n${first.stdout}${first.stderr
        .split('\n')
        .filter((l) => !l.startsWith('{'))
        .join('\n')}`,
    );
    expect(killed.length).toBeGreaterThan(0);
    // It ends (no hang) with 0 or 1, and says which stream failed rather than a stack.
    expect([0, 1]).toContain(first.code);
    if (first.code === 1) expect(first.stdout + first.stderr).toMatch(/: failed;|terminat/i);
    await expectConverged(t.db, sb, path);
    report('scenario: PostgreSQL connections killed mid-page', stamp() - t0);
  });
});

describe.skipIf(!heavy)('start SIGKILLed mid write-back', () => {
  it('after a restart the write-back and alert tasks complete, no task twice, the ledger equals the CRM', {
    timeout: 1_200_000,
  }, async () => {
    const t0 = stamp();
    const [redis, sb, t, port] = await Promise.all([redisOfOwn(false), sandbox(4), database(), freePort()]);
    const cfg = serviceConfig(t, sb, redis, port);
    const path = await configFile(stringify(cfg));
    // The first write to the CRM hangs for 8 s (the server still applies it afterwards, as a real one may):
    // the process is killed while it is in flight.
    const slow = sb.faults.add({ kind: 'slow', method: 'PATCH', path: '/composite/sobjects', count: 1, delayMs: 8000 });
    let start = service(['start', '--config', path]);
    await until('a write-back call in flight', 600_000, () => !sb.faults.list().some((f) => f.id === slow));
    await new Promise((r) => setTimeout(r, 1000));
    await start.crash();
    const killedAt = stamp();
    const runsAtKill = await t.db.selectFrom('writeback_runs').select(['id', 'status']).execute();
    console.log(`FAULT write-back runs at the kill: ${JSON.stringify(runsAtKill)}`);

    // Restarted at once: the CRM applies the held call some 7 s later, after the new process computed newer values.
    // Before the write-back lock, the new run wrote first and the dead call's older values landed on top of it (24
    // User fields differed from the ledger in a full heavy run, where the restart came quicker than alone). A won
    // deal grows meanwhile, so that the new values differ from the dead call's and the new run has to wait it out.
    const won = sb.store.all('Opportunity').find((o) => o.StageName === 'Closed Won' && typeof o.Amount === 'number');
    if (won) {
      sb.store.advance(1000);
      sb.store.update('Opportunity', String(won.Id), { Amount: (won.Amount as number) + 250_000 });
    }
    start = service(['start', '--config', path]);
    await until('start is running again', 120_000, () => start.stderr().includes('quota-tracker is running'));
    const lastKilled = Math.max(0, ...runsAtKill.map((r) => Number(r.id)));
    // On a timeout, what the warehouse and the restarted process say, so the failure names its cause.
    const diagnosis = async () =>
      JSON.stringify({
        runs: await t.db
          .selectFrom('writeback_runs')
          .select(['id', 'status', 'records_written', 'error_code', 'error_message', 'write_deadline'])
          .orderBy('id')
          .execute(),
        pendingTasks: await t.db
          .selectFrom('alert_tasks')
          .select(['alert_id', 'last_error', 'sent_on'])
          .where('crm_task_id', 'is', null)
          .where('closed_at', 'is', null)
          .execute(),
        log: start
          .stderr()
          .split('\n')
          .filter((l) => /write-back|writeback|deliver|job failed|error/i.test(l))
          .slice(-30),
      });
    const done = await untilOrSay(
      'a write-back run after the restart succeeded and every alert task is in the CRM',
      600_000,
      diagnosis,
      async () => {
        const ok = await t.db
          .selectFrom('writeback_runs')
          .select('id')
          .where('id', '>', lastKilled)
          .where('status', '=', 'succeeded')
          .executeTakeFirst();
        if (!ok) return false;
        const pending = await t.db
          .selectFrom('alert_tasks')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .where('crm_task_id', 'is', null)
          .where('closed_at', 'is', null)
          .executeTakeFirstOrThrow();
        const made = await t.db
          .selectFrom('alert_tasks')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow();
        return Number(made.n) > 0 && Number(pending.n) === 0;
      },
    );
    report('write-back and alert tasks complete after the restart', done);
    report('from the kill to completion', stamp() - killedAt);
    // The job does not wait in its slot: it comes back once the dead call cannot land (RetryLater).
    const fence = /the write-back of \w+ (?:waits \d+ s before writing|comes back in \d+ s)[^"]*/.exec(start.stderr());
    console.log(
      `FAULT the new run ${fence ? `held back until the dead call could no longer land: ${fence[0]}` : 'sent no value that clashed with the dead call before its deadline'}`,
    );

    // Every value the ledger says was pushed is what the CRM's User holds.
    const ledger = await t.db
      .selectFrom('writeback_ledger')
      .select(['target_object', 'target_record_id', 'field', 'value'])
      .where('target_object', '=', 'User')
      .execute();
    expect(ledger.length).toBeGreaterThan(0);
    const differs = ledger.filter((l) => {
      const user = sb.store.all('User').find((u) => u.Id === l.target_record_id);
      const crm = user?.[l.field];
      const same =
        l.value === null
          ? crm === null || crm === undefined
          : typeof crm === 'number'
            ? Number(l.value) === crm
            : String(crm) === l.value;
      return !same;
    });
    expect(differs).toEqual([]);
    const tasks = alertTaskCount(sb);
    const stored = await t.db
      .selectFrom('alert_tasks')
      .select((eb) => eb.fn.count<string>('crm_task_id').distinct().as('n'))
      .executeTakeFirstOrThrow();
    console.log(`FAULT alert tasks in the CRM: ${tasks}, distinct CRM task ids in alert_tasks: ${stored.n}`);
    expect(duplicateTasks(sb)).toEqual([]);

    const stopped = await start.stop();
    expect(stopped.code).toBe(0);
    const left = await t.db
      .selectFrom('writeback_runs')
      .select(['id', 'status'])
      .where('status', '=', 'running')
      .execute();
    expect(left).toEqual([]);
    const killedRuns = runsAtKill.filter((r) => r.status === 'running').map((r) => Number(r.id));
    const abandoned = await t.db.selectFrom('writeback_runs').select('id').where('status', '=', 'abandoned').execute();
    expect(abandoned.map((r) => Number(r.id))).toEqual(killedRuns);
    expect(start.stderr()).toMatch(/write-back run #\d+ of sf \(started [^)]+\) was abandoned/);
    await expectConverged(t.db, sb, path);
    report('scenario: start SIGKILLed mid write-back', stamp() - t0);
  });
});

describe.skipIf(!heavy)('two workers and start on one Redis, one-minute schedules, faults on', () => {
  it(`${SOAK_MINUTES} minutes of faults; then every stream succeeds again and the warehouse equals the oracle`, {
    timeout: (SOAK_MINUTES + 25) * 60_000,
  }, async () => {
    const t0 = stamp();
    const [redis, sb, t, port] = await Promise.all([redisOfOwn(false), sandbox(6), database(), freePort()]);
    const cfg = serviceConfig(t, sb, redis, port);
    const path = await configFile(stringify(cfg));
    const streams = syncStreams(cfg);
    const start = service(['start', '--config', path]);
    await until('start is running', 120_000, () => start.stderr().includes('quota-tracker is running'));
    const workers = [service(['worker', '--config', path]), service(['worker', '--config', path])];
    for (const w of workers) await until('worker is running', 120_000, () => w.stderr().includes('worker is running'));

    // The CRM misbehaves on a share of calls, and the org keeps changing, for the whole soak.
    sb.faults.add({ kind: 'error_500', path: '/query', probability: 0.05 });
    sb.faults.add({ kind: 'unavailable_503', probability: 0.03 });
    sb.faults.add({ kind: 'rate_limit_429', probability: 0.03, retryAfterSeconds: 1 });
    sb.faults.add({ kind: 'drop', probability: 0.02 });
    const opps = sb.store.all('Opportunity').filter((o) => o.IsClosed !== true);
    let changes = 0;
    const changer = setInterval(() => {
      const o = opps[changes % opps.length];
      if (!o) return;
      sb.store.advance(1000);
      sb.store.update('Opportunity', String(o.Id), { Amount: 1000 + ((changes * 137) % 50_000) });
      changes++;
    }, 15_000);
    cleanup.push(async () => clearInterval(changer));

    const soakStart = stamp();
    let readyzFailures = 0;
    const unready: string[] = [];
    while (stamp() - soakStart < SOAK_MINUTES * 60_000) {
      await new Promise((r) => setTimeout(r, 30_000));
      const r = await readyz(port);
      if (r.status !== 200) {
        readyzFailures++;
        const at = Math.round((stamp() - soakStart) / 1000);
        unready.push(`${at} s: ${r.status} ${r.body.reason ?? ''}`);
        // Why: the reason's words (which stream, its last success), and that stream's recent runs.
        console.log(`FAULT soak readyz ${r.status} at ${at} s: ${JSON.stringify(r.body)}`);
        const recent = await t.db
          .selectFrom('sync_runs')
          .select(['id', 'stream', 'status', 'trigger', 'started_at', 'finished_at', 'error_code', 'error_message'])
          .orderBy('id', 'desc')
          .limit(12)
          .execute();
        console.log(`FAULT soak recent sync runs: ${JSON.stringify(recent)}`);
      }
      for (const s of [start, ...workers]) expect(s.child.exitCode, s.stderr().slice(-2000)).toBeNull();
    }
    clearInterval(changer);
    sb.faults.clear();
    // The processes' logs, for reading why /readyz was not 200 (QT_FAULT_LOGS names a directory).
    if (process.env.QT_FAULT_LOGS) {
      const { writeFile } = await import('node:fs/promises');
      const names = ['start', 'worker-1', 'worker-2'];
      for (const [i, s] of [start, ...workers].entries())
        await writeFile(`${process.env.QT_FAULT_LOGS}/soak-${names[i]}.log`, s.stderr());
    }
    const clearedAt = await t.db
      .selectFrom('sync_runs')
      .select((eb) => eb.fn.max('id').as('id'))
      .executeTakeFirst();
    const byStatus = await t.db
      .selectFrom('sync_runs')
      .select(['status'])
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .groupBy('status')
      .execute();
    console.log(
      `FAULT soak: ${changes} org changes, sync runs by status ${JSON.stringify(byStatus)}, readyz not 200 on ${readyzFailures} of ${Math.round(SOAK_MINUTES * 2)} looks (${unready.join('; ')})`,
    );
    report(`soak of ${SOAK_MINUTES} minutes`, stamp() - soakStart);

    const settled = await until('every stream succeeded after the faults stopped', 300_000, async () => {
      const ok = await latestRuns(t.db, 'succeeded');
      return streams.every((s) => (ok.get(s) ?? 0) > Number(clearedAt?.id ?? 0));
    });
    report('every stream succeeded again after the faults stopped', settled);
    expect(duplicateTasks(sb)).toEqual([]);

    for (const s of [...workers, start]) {
      const stopped = await s.stop();
      report('a process stopping on SIGTERM', stopped.ms);
      expect(stopped.code).toBe(0);
      expect(stopped.ms).toBeLessThan(10_000);
    }
    await expectConverged(t.db, sb, path);
    report('scenario: two workers and start under faults', stamp() - t0);
  });
});
