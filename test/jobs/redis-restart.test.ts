/**
 * Redis losing its data must not stop the schedules for good. On a Redis of the test's own (no persistence): while
 * it is down /readyz answers 503 queue_unreachable; when it comes back empty, the service that owns the schedulers
 * puts them back on reconnect; a scheduler gone missing is a 503 naming it until the periodic check restores it;
 * and a stream whose last successful sync is older than twice its interval is a 503 naming the stream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clockStartingAt, setClock } from '../../src/clock.ts';
import { type Config, configSchema } from '../../src/config/schema.ts';
import { overdueStreamsProblem, restoreMissingSchedulers } from '../../src/jobs/schedule-health.ts';
import { desiredSchedulers } from '../../src/jobs/schedules.ts';
import { type Service, startService } from '../../src/jobs/service.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { ensureConnection } from '../../src/sync/org-binding.ts';
import { silentLogger } from '../../src/util/log.ts';
import { createWebApp } from '../../src/web/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { type OwnRedis, startOwnRedis } from '../helpers/own-redis.ts';
import { sandboxConnectionEntry } from '../helpers/sandbox.ts';

const ANCHOR = '2026-11-16';

let redis: OwnRedis;
let sb: SalesforceSandbox;
let t: TestDatabase;
let config: Config;
let service: Service;

async function readyz(): Promise<{ status: number; body: Record<string, unknown> }> {
  const { app } = createWebApp({ db: t.db, readiness: () => service.readiness() });
  const res = await app.request('/readyz');
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function schedulerIds(): Promise<string[]> {
  return (await service.runtime.queue.getJobSchedulers(0, -1, true)).map((s) => s.key).sort();
}

async function eventually<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never happened: ${what}`);
}

beforeAll(async () => {
  setClock(clockStartingAt(ANCHOR));
  redis = await startOwnRedis();
  // An empty org: the scheduled syncs that run meanwhile are quick and never the subject here.
  sb = await startSalesforceSandbox({ seed: 2, size: 'small', anchorDate: ANCHOR, populate: false });
  t = await createTestDatabase();
  config = configSchema.parse({
    queue: { prefix: `qt_restart_${process.pid}`, redisUrl: redis.url },
    connections: [sandboxConnectionEntry(sb, { schedule: { every: '1m' } })],
  });
  service = await startService({
    config,
    db: { db: t.db, url: t.url, embedded: false, close: async () => {} },
    log: silentLogger,
    migrateQueue: true,
    reconcileSchedulers: true,
    backend: 'redis',
    // Only a reconnect may put the schedulers back in the first test; the periodic check is called by hand.
    schedulerCheckMs: 3_600_000,
  });
}, 60_000);

afterAll(async () => {
  await service?.close();
  await redis?.stop();
  await sb?.close();
  await t?.drop();
  setClock(undefined);
}, 60_000);

describe('Redis restarted without its data', () => {
  it('is not ready while Redis is down, and gets every scheduler back when Redis returns empty', async () => {
    const desired = desiredSchedulers(config)
      .map((d) => d.id)
      .sort();
    expect(await schedulerIds()).toEqual(desired);
    expect((await readyz()).status).toBe(200);

    await redis.kill();
    const down = await readyz();
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: 'unavailable', reason: 'queue_unreachable' });
    expect(String(down.body.message)).toMatch(/^no answer from the job queue \(redis\) within 3 s$/);

    await redis.restart();
    await eventually('the schedulers to be back', async () =>
      (await schedulerIds()).length === desired.length ? true : undefined,
    );
    expect(await schedulerIds()).toEqual(desired);
    expect((await readyz()).status).toBe(200);
  });

  it('names a missing scheduler on /readyz until the periodic check puts it back', async () => {
    await service.runtime.queue.removeJobScheduler('sync:sf:opportunities');
    const r = await readyz();
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({
      reason: 'schedule_missing',
      message: 'the job queue has lost 1 schedule: sync:sf:opportunities',
      missing: ['sync:sf:opportunities'],
    });
    expect(await restoreMissingSchedulers(service.runtime, desiredSchedulers(config), silentLogger)).toEqual([
      'sync:sf:opportunities',
    ]);
    expect((await readyz()).status).toBe(200);
  });
});

describe('streams overdue', () => {
  it('a stream whose last success is older than twice its interval is named; a fresh start is not overdue', async () => {
    // A connection of its own: the service's scheduled syncs of "sf" keep adding successes meanwhile.
    const quiet = configSchema.parse({
      connections: [{ ...sandboxConnectionEntry(sb), id: 'quiet', schedule: { every: '1m' } }],
    });
    await ensureConnection(t.db, 'quiet', 'salesforce');
    const at = new Date('2026-11-16T12:00:00Z');
    const hourAgo = new Date(at.getTime() - 3_600_000);
    const rows = desiredSchedulers(quiet)
      .filter((d) => d.name === 'sync')
      .map((d) => {
        const stream = d.id.split(':')[2] as string;
        // users last succeeded 2 min 1 s ago (overdue at 1m), every other stream 1 min 59 s ago.
        const ago = stream === 'users' ? 121_000 : 119_000;
        return {
          connection_id: 'quiet',
          stream,
          trigger: 'schedule',
          status: 'succeeded' as const,
          started_at: new Date(at.getTime() - ago - 1000),
          finished_at: new Date(at.getTime() - ago),
        };
      });
    await t.db.insertInto('sync_runs').values(rows).execute();
    const problem = await overdueStreamsProblem(t.db, quiet, hourAgo, at);
    expect(problem).toEqual({
      reason: 'sync_overdue',
      message: "no successful sync within twice the schedule's interval for quiet/users",
      overdue: [{ stream: 'quiet/users', lastSuccess: '2026-11-16T11:57:59.000Z', intervalSeconds: 60 }],
    });
    // Started 30 s ago: no stream is overdue yet, whatever the history says.
    expect(await overdueStreamsProblem(t.db, quiet, new Date(at.getTime() - 30_000), at)).toBeNull();
  });
});
