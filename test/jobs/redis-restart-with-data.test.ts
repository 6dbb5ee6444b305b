/**
 * The fast counterpart of the heavy "Redis restarted with its data" fault scenario (test/faults): a Redis of the
 * test's own with an append-only file, killed and restarted under a service that owns the schedulers. While it is
 * down /readyz answers 503 queue_unreachable; after the restart the schedulers are there once each (the reconcile
 * on reconnect finds Redis's own and doubles none), a job queued before the crash is still there, and the workers
 * run jobs again.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { clockStartingAt, setClock } from '../../src/clock.ts';
import { type Config, configSchema } from '../../src/config/schema.ts';
import { desiredSchedulers } from '../../src/jobs/schedules.ts';
import { type Service, startService } from '../../src/jobs/service.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
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
  redis = await startOwnRedis({ persist: true });
  // An empty org: the syncs are quick and never the subject here.
  sb = await startSalesforceSandbox({ seed: 2, size: 'small', anchorDate: ANCHOR, populate: false });
  t = await createTestDatabase();
  config = configSchema.parse({
    queue: { prefix: `qt_restart_aof_${process.pid}`, redisUrl: redis.url },
    // Hourly: no scheduled run starts during the test; the jobs it waits for are its own.
    connections: [sandboxConnectionEntry(sb, { schedule: { every: '1h' } })],
  });
  service = await startService({
    config,
    db: { db: t.db, url: t.url, embedded: false, close: async () => {} },
    log: silentLogger,
    migrateQueue: true,
    reconcileSchedulers: true,
    backend: 'redis',
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

it('Redis restarted with its data: 503 while down, schedulers once each, queued work kept, jobs run again', async () => {
  const desired = desiredSchedulers(config)
    .map((d) => d.id)
    .sort();
  const schedulers = async () => (await service.runtime.queue.getJobSchedulers(0, -1, true)).map((s) => s.key).sort();
  expect(await schedulers()).toEqual(desired);
  // Work queued before the crash, due later: Redis's append-only file must bring it back.
  const kept = await service.runtime.queue.add(
    'recompute',
    { v: 1, reason: 'queued before the crash' },
    { delay: 3_600_000 },
  );

  await redis.kill();
  const down = await readyz();
  expect(down.status).toBe(503);
  expect(down.body).toMatchObject({ status: 'unavailable', reason: 'queue_unreachable' });

  await redis.restart();
  await eventually('/readyz to answer 200 again', async () => ((await readyz()).status === 200 ? true : undefined));
  // The reconnect's reconcile found the schedulers Redis kept: each once, none doubled, none lost.
  expect(await schedulers()).toEqual(desired);
  expect(await service.runtime.queue.getJobState(String(kept.id))).toBe('delayed');

  // The workers took up their work again: a sync queued now runs to success.
  const before = await t.db
    .selectFrom('sync_runs')
    .select((eb) => eb.fn.max('id').as('id'))
    .executeTakeFirst();
  await service.runtime.enqueue('sync', { v: 1, connectionId: 'sf', stream: 'users', trigger: 'cli' });
  await eventually(
    'a sync run after the restart',
    async () =>
      (await t.db
        .selectFrom('sync_runs')
        .select('id')
        .where('stream', '=', 'users')
        .where('status', '=', 'succeeded')
        .where('id', '>', Number(before?.id ?? 0))
        .executeTakeFirst()) ?? undefined,
  );
});
