/**
 * What operators get, admin only: `/metrics` in Prometheus text (with `# TYPE` lines) read from the warehouse and
 * the queue, `/api/v1/status` (each connection's last sync, cursor age, errors, quarantined records with reasons),
 * and Bull Board over a real BullMQ queue on Redis. Everyone else: 401 without a token, 403 with one.
 */

import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knownSchemaVersion } from '../../src/db/migrate.ts';
import { createQueueBackend, type QueueBackend } from '../../src/jobs/backend.ts';
import { createWebApp } from '../../src/web/app.ts';
import { createApiToken } from '../../src/web/tokens.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestRedis, type TestRedis } from '../helpers/redis.ts';

let t: TestDatabase;
let redis: TestRedis;
let backend: QueueBackend;
let web: ReturnType<typeof createWebApp>;
const bearer: Record<string, string> = {};

beforeAll(async () => {
  t = await createTestDatabase();
  redis = await createTestRedis();
  backend = createQueueBackend({ redisUrl: redis.url, databaseUrl: t.url, prefix: redis.prefix });
  const queue = backend.queue('pipeline');
  await queue.add('sync', { v: 1 });
  await queue.add('recompute', { v: 1 }, { delay: 60_000 });
  // A sharded run's shard jobs wait on a queue of their own: two waiting shards, counted apart from the pipeline.
  const shardQueue = backend.queue('recompute-shards');
  await shardQueue.add('recompute-shard', { runId: 1, shard: 0 });
  await shardQueue.add('recompute-shard', { runId: 1, shard: 1 });

  await t.db.insertInto('connections').values({ id: 'sf', kind: 'salesforce' }).execute();
  await sql`insert into sync_runs (connection_id, stream, trigger, started_at, finished_at, status, records_read,
      records_changed, records_quarantined, api_calls, error_code, error_message) values
    ('sf', 'deals', 'schedule', now() - interval '2 hours', now() - interval '2 hours' + interval '12 seconds',
      'succeeded', 1500, 40, 2, 3, null, null),
    ('sf', 'deals', 'schedule', now() - interval '1 hour', now() - interval '1 hour' + interval '4.5 seconds',
      'failed', 200, 0, 0, 1, 'CRM_UNAVAILABLE', 'the CRM answered 503 three times'),
    ('sf', 'users', 'schedule', now() - interval '1 hour', now() - interval '1 hour' + interval '2 seconds',
      'succeeded', 30, 0, 0, 1, null, null)`.execute(t.db);
  await sql`insert into sync_cursors (connection_id, stream, cursor, updated_at) values
    ('sf', 'deals', '{}'::jsonb, now() - interval '2 hours')`.execute(t.db);
  await t.db
    .insertInto('quarantine')
    .values([
      {
        connection_id: 'sf',
        stream: 'deals',
        external_id: '006A',
        reason_code: 'AMOUNT_INVALID',
        reason: 'Amount "abc" is not a number',
      },
      {
        connection_id: 'sf',
        stream: 'deals',
        external_id: '006B',
        reason_code: 'AMOUNT_INVALID',
        reason: 'Amount "1,2" is not a number',
      },
      {
        connection_id: 'sf',
        stream: 'deals',
        external_id: '006C',
        reason_code: 'CURRENCY_UNKNOWN',
        reason: 'currency XXX has no rate',
      },
    ])
    .execute();
  await t.db
    .insertInto('alerts')
    .values({
      rule: 'pace_behind',
      subject_kind: 'rep',
      subject_id: 'person:1',
      period_id: 'FY2026-Q4',
      dedupe_key: 'k1',
      severity: 'critical',
      message: 'behind pace',
    })
    .execute();
  await t.db
    .insertInto('persons')
    .values([{ email: 'm@example.com' }, { email: 'r@example.com' }])
    .execute();
  bearer.admin = `Bearer ${(await createApiToken(t.db, { role: 'admin' })).token}`;
  bearer.manager = `Bearer ${(await createApiToken(t.db, { role: 'manager', subject: 'm@example.com' })).token}`;
  bearer.rep = `Bearer ${(await createApiToken(t.db, { role: 'rep', subject: 'r@example.com' })).token}`;
  web = createWebApp({ db: t.db, operator: { queue, shardQueue } });
}, 60_000);
afterAll(async () => {
  await backend?.close();
  await redis?.close();
  await t?.drop();
});

const get = (path: string, who?: string) =>
  web.app.request(path, who ? { headers: { authorization: bearer[who] as string } } : {});

describe('/metrics', () => {
  it('answers an admin with Prometheus text, with # TYPE lines and the warehouse and queue figures', async () => {
    const res = await get('/metrics', 'admin');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const type of [
      '# TYPE quota_tracker_sync_runs_total counter',
      '# TYPE quota_tracker_sync_last_duration_seconds gauge',
      '# TYPE quota_tracker_sync_last_records_read gauge',
      '# TYPE quota_tracker_sync_cursor_age_seconds gauge',
      '# TYPE quota_tracker_crm_api_calls_today gauge',
      '# TYPE quota_tracker_crm_api_budget_left gauge',
      '# TYPE quota_tracker_queue_jobs gauge',
      '# TYPE quota_tracker_writeback_api_calls_total counter',
      '# TYPE quota_tracker_alerts_open gauge',
      '# TYPE quota_tracker_recompute_last_phase_seconds gauge',
      '# TYPE quota_tracker_process_cpu_user_seconds_total counter',
    ])
      expect(text).toContain(type);
    expect(text).toContain('quota_tracker_sync_runs_total{connection="sf",status="succeeded"} 2');
    expect(text).toContain('quota_tracker_sync_runs_total{connection="sf",status="failed"} 1');
    expect(text).toContain(
      'quota_tracker_sync_last_duration_seconds{connection="sf",stream="deals",status="failed"} 4.5',
    );
    expect(text).toContain('quota_tracker_sync_last_records_read{connection="sf",stream="deals"} 200');
    expect(text).toMatch(/quota_tracker_sync_cursor_age_seconds\{connection="sf",stream="deals"\} 7[12]\d\d/);
    expect(text).toContain(
      'quota_tracker_quarantined_records{connection="sf",stream="deals",reason="AMOUNT_INVALID"} 2',
    );
    expect(text).toContain('quota_tracker_queue_jobs{queue="pipeline",state="waiting"} 1');
    expect(text).toContain('quota_tracker_queue_jobs{queue="pipeline",state="delayed"} 1');
    expect(text).toContain('quota_tracker_queue_jobs{queue="recompute-shards",state="waiting"} 2');
    expect(text).toContain('quota_tracker_alerts_open{severity="critical"} 1');
  });

  it('counts runs past their retention, and a running run only once it has finished', async () => {
    // The users run goes (pruned, as runs older than the retention are), one starts and then fails.
    await sql`delete from sync_runs where stream = 'users'`.execute(t.db);
    const { id } = await t.db
      .insertInto('sync_runs')
      .values({ connection_id: 'sf', stream: 'leads', trigger: 'schedule' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const runs = async () =>
      (await (await get('/metrics', 'admin')).text()).match(/^quota_tracker_sync_runs_total.*$/gm)?.sort();
    expect(await runs()).toEqual([
      'quota_tracker_sync_runs_total{connection="sf",status="failed"} 1',
      'quota_tracker_sync_runs_total{connection="sf",status="succeeded"} 2',
    ]);
    const finished = new Date(); // wall-clock: an audit stamp
    await t.db.updateTable('sync_runs').set({ status: 'failed', finished_at: finished }).where('id', '=', id).execute();
    expect(await runs()).toEqual([
      'quota_tracker_sync_runs_total{connection="sf",status="failed"} 2',
      'quota_tracker_sync_runs_total{connection="sf",status="succeeded"} 2',
    ]);
    await t.db.deleteFrom('sync_runs').where('id', '=', id).execute();
  });

  it('answers 401 without a token and 403 to a manager or a rep', async () => {
    expect((await get('/metrics')).status).toBe(401);
    expect((await get('/metrics', 'manager')).status).toBe(403);
    expect((await get('/metrics', 'rep')).status).toBe(403);
  });
});

describe('/api/v1/status', () => {
  it("gives each connection's last sync per stream, cursor age, errors and quarantined records with reasons", async () => {
    const res = await get('/api/v1/status', 'admin');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const s = (await res.json()) as {
      schema: { version: string };
      connections: {
        id: string;
        streams: {
          stream: string;
          status: string;
          error: unknown;
          lastSucceededAt: string | null;
          cursorAgeSeconds: number;
        }[];
        quarantine: { open: number; reasons: { reasonCode: string; count: number; example: string }[] };
      }[];
      queue: { name: string; counts: Record<string, number> };
      shardQueue: { name: string; counts: Record<string, number> } | null;
      alerts: { open: Record<string, number> };
    };
    expect(s.schema.version).toBe(knownSchemaVersion());
    const sf = s.connections.find((c) => c.id === 'sf');
    const deals = sf?.streams.find((x) => x.stream === 'deals');
    expect(deals).toMatchObject({
      status: 'failed',
      error: { code: 'CRM_UNAVAILABLE', message: 'the CRM answered 503 three times' },
    });
    expect(deals?.lastSucceededAt).not.toBeNull();
    expect(deals?.cursorAgeSeconds).toBeGreaterThanOrEqual(7190);
    expect(sf?.quarantine.open).toBe(3);
    expect(sf?.quarantine.reasons[0]).toMatchObject({ reasonCode: 'AMOUNT_INVALID', count: 2 });
    expect(sf?.quarantine.reasons[0]?.example).toMatch(/^Amount ".*" is not a number$/);
    expect(s.queue).toMatchObject({ name: 'pipeline', counts: { waiting: 1, delayed: 1, failed: 0 } });
    expect(s.shardQueue).toMatchObject({ name: 'recompute-shards', counts: { waiting: 2, delayed: 0, failed: 0 } });
    expect(s.alerts.open).toEqual({ critical: 1, warning: 0, info: 0 });
    expect((await get('/api/v1/status', 'manager')).status).toBe(403);
  });
});

describe('Bull Board', () => {
  it('is reachable by an admin only, read-only, with its page, its API and its static files', async () => {
    const page = await get('/admin/queues', 'admin');
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<base href="/admin/queues');
    const script = /src="(static\/js\/main\.[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    expect((await get(`/admin/queues/${script}`, 'admin')).status).toBe(200);
    const api = await get('/admin/queues/api/queues', 'admin');
    expect(api.status).toBe(200);
    const body = (await api.json()) as { queues: { name: string; readOnlyMode: boolean }[] };
    expect(body.queues.map((q) => [q.name, q.readOnlyMode])).toEqual([
      ['pipeline', true],
      ['recompute-shards', true],
    ]);
    expect((await get('/admin/queues')).status).toBe(401);
    expect((await get('/admin/queues', 'manager')).status).toBe(403);
    expect((await get('/admin/queues/api/queues', 'rep')).status).toBe(403);
  });
});
