/**
 * The fast counterpart of the heavy "two workers and start on one Redis under faults" scenario (test/faults): three
 * services on one Redis queue (one owning the schedulers, as `start`; two plain workers) on two-second schedules,
 * for a few seconds with the CRM failing a share of calls (500, 503, 429) and the org changing. After the faults stop every stream
 * succeeds again, each service stops within 10 s, no sync run is left `running`, and the warehouse equals the
 * sandbox's oracle. A small org of a few users: the subject is the three processes sharing one queue, not volume.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { clockStartingAt, setClock } from '../../src/clock.ts';
import { type Config, configSchema } from '../../src/config/schema.ts';
import { desiredSchedulers } from '../../src/jobs/schedules.ts';
import { type Service, startService } from '../../src/jobs/service.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { silentLogger } from '../../src/util/log.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { type OwnRedis, startOwnRedis } from '../helpers/own-redis.ts';
import { sandboxConnectionEntry } from '../helpers/sandbox.ts';
import { expectWarehouseEqualsOracle } from '../sync/helpers/oracle-compare.ts';

const ANCHOR = '2026-11-16';
/** How long the three run under faults. */
const SOAK_MS = 3_000;

let redis: OwnRedis;
let sb: SalesforceSandbox;
let t: TestDatabase;
let config: Config;
const services: Service[] = [];

beforeAll(async () => {
  setClock(clockStartingAt(ANCHOR));
  redis = await startOwnRedis();
  sb = await startSalesforceSandbox({ seed: 3, size: 'small', anchorDate: ANCHOR, populate: false });
  for (let i = 0; i < 6; i++) {
    sb.store.insert('User', {
      Username: `rep${i}@x.test`,
      Email: `rep${i}@x.test`,
      LastName: `Rep${i}`,
      IsActive: true,
    });
  }
  t = await createTestDatabase({ poolSize: 12 });
  config = configSchema.parse({
    queue: { prefix: `qt_three_${process.pid}`, redisUrl: redis.url },
    connections: [sandboxConnectionEntry(sb, { schedule: { every: '2s' } })],
  });
}, 60_000);

afterAll(async () => {
  for (const s of services) await s.close().catch(() => {});
  await redis?.stop();
  await sb?.close();
  await t?.drop();
  setClock(undefined);
}, 60_000);

it('start and two workers on one queue, under CRM faults: every stream succeeds after, and the warehouse equals the oracle', {
  timeout: 60_000,
}, async () => {
  const db = { db: t.db, url: t.url, embedded: false, close: async () => {} };
  const common = { config, db, log: silentLogger, backend: 'redis' as const, concurrency: 2 };
  services.push(await startService({ ...common, migrateQueue: true, reconcileSchedulers: true }));
  services.push(await startService({ ...common, migrateQueue: false, reconcileSchedulers: false }));
  services.push(await startService({ ...common, migrateQueue: false, reconcileSchedulers: false }));

  sb.faults.add({ kind: 'error_500', path: '/query', probability: 0.2 });
  sb.faults.add({ kind: 'unavailable_503', probability: 0.1 });
  // No dropped connections here: a data call cut mid-answer waits out the 180 s request timeout (the heavy soak
  // has them, on one-minute schedules).
  sb.faults.add({ kind: 'rate_limit_429', probability: 0.05, retryAfterSeconds: 1 });
  const users = sb.store.all('User');
  let changes = 0;
  const changer = setInterval(() => {
    const u = users[changes % users.length];
    if (!u) return;
    sb.store.advance(1000);
    sb.store.update('User', String(u.Id), { LastName: `Renamed${changes}` });
    changes++;
  }, 400);
  await new Promise((r) => setTimeout(r, SOAK_MS));
  clearInterval(changer);
  sb.faults.clear();
  expect(changes).toBeGreaterThan(3);

  const streams = desiredSchedulers(config)
    .filter((d) => d.name === 'sync')
    .map((d) => d.id.split(':')[2] as string);
  const cleared = await t.db
    .selectFrom('sync_runs')
    .select((eb) => eb.fn.max('id').as('id'))
    .executeTakeFirst();
  // wall-clock: a bound on a wait
  const t0 = Date.now();
  for (;;) {
    const ok = await t.db
      .selectFrom('sync_runs')
      .select('stream')
      .where('status', '=', 'succeeded')
      .where('id', '>', Number(cleared?.id ?? 0))
      .distinct()
      .execute();
    if (streams.every((s) => ok.some((o) => o.stream === s))) break;
    if (Date.now() - t0 > 30_000) {
      const all = await t.db.selectFrom('sync_runs').select(['id', 'stream', 'status', 'error_message']).execute();
      const counts = await services[0]?.runtime.queue.getJobCounts();
      throw new Error(
        `streams not synced after the faults: ${JSON.stringify({ missing: streams.filter((x) => !ok.some((o) => o.stream === x)), cleared, all: all.filter((r) => r.status !== 'succeeded').slice(-8), n: all.length, counts })}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const runs = await t.db
    .selectFrom('sync_runs')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirst();
  // Each of the three took part: the syncs were spread over the one queue (more runs than one service could make).
  expect(Number(runs?.n)).toBeGreaterThan(streams.length);

  for (const s of services.splice(0)) {
    const t1 = Date.now();
    await s.close();
    expect(Date.now() - t1).toBeLessThan(10_000);
  }
  const running = await t.db.selectFrom('sync_runs').select('id').where('status', '=', 'running').execute();
  expect(running).toEqual([]);
  await expectWarehouseEqualsOracle(t.db, sb, 'sf');
});
