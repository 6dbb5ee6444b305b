import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, isAppError } from '../../src/errors.ts';
import type { QueueBackend } from '../../src/jobs/backend.ts';
import type { JobName } from '../../src/jobs/names.ts';
import { type JobHandlers, JobRuntime } from '../../src/jobs/runtime.ts';
import { silentLogger } from '../../src/util/log.ts';
import { BACKEND_KINDS, type TestBackend, testBackend } from './backends.ts';

function until(check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = async () => {
      if (await check()) return resolve();
      if (Date.now() - start > timeoutMs) return reject(new Error('timed out waiting'));
      setTimeout(tick, 50);
    };
    void tick();
  });
}

type Calls = Record<JobName, unknown[]>;

const state = async (rt: JobRuntime, id: string | undefined) => (await rt.queue.getJob(id as string))?.getState();

function recordingHandlers(calls: Calls, overrides: Partial<JobHandlers> = {}): JobHandlers {
  const rec =
    (name: JobName) =>
    async (payload: unknown): Promise<void> => {
      calls[name].push(payload);
    };
  return {
    sync: rec('sync'),
    recompute: rec('recompute'),
    'daily-recompute': rec('daily-recompute'),
    writeback: rec('writeback'),
    'deliver-alerts': rec('deliver-alerts'),
    backtest: rec('backtest'),
    'deliver-reports': rec('deliver-reports'),
    'recompute-shard': rec('recompute-shard'),
    'recompute-merge': rec('recompute-merge'),
    ...overrides,
  };
}

const emptyCalls = (): Calls => ({
  sync: [],
  recompute: [],
  'daily-recompute': [],
  'deliver-reports': [],
  writeback: [],
  'deliver-alerts': [],
  backtest: [],
  'recompute-shard': [],
  'recompute-merge': [],
});

it('refuses to start when a job name has no handler', () => {
  const calls = emptyCalls();
  const { writeback: _w, 'deliver-alerts': _d, ...partial } = recordingHandlers(calls);
  try {
    new JobRuntime({} as QueueBackend, partial, silentLogger);
    expect.unreachable();
  } catch (e) {
    expect(isAppError(e, 'JOB_HANDLER_MISSING')).toBe(true);
    expect((e as Error).message).toBe('no handler is registered for the jobs writeback, deliver-alerts');
  }
});

describe.each(BACKEND_KINDS)('job runtime on the %s backend', (kind) => {
  let tb: TestBackend;
  beforeAll(async () => {
    tb = await testBackend(kind);
    await tb.make().prepare(true);
  }, 60_000);
  afterAll(async () => tb?.cleanup(), 60_000);

  it('coalesces repeated requests: one waiting job, and at most one more while it runs', async () => {
    const calls = emptyCalls();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const rt = new JobRuntime(
      tb.make(),
      recordingHandlers(calls, {
        recompute: async (p) => {
          calls.recompute.push(p);
          if (calls.recompute.length === 1) await gate;
        },
      }),
      silentLogger,
    );
    for (let i = 0; i < 5; i++) await rt.enqueue('recompute', { v: 1, reason: `page ${i}` });
    expect(await rt.queue.getJobCounts('waiting', 'wait', 'prioritized')).toMatchObject({});
    const waiting = await rt.queue.getWaitingCount();
    expect(waiting).toBe(1);
    rt.startWorkers({ concurrency: 2 });
    await until(() => calls.recompute.length === 1);
    for (let i = 5; i < 9; i++) await rt.enqueue('recompute', { v: 1, reason: `page ${i}` });
    release();
    await until(() => calls.recompute.length === 2);
    await new Promise((r) => setTimeout(r, 500));
    expect(calls.recompute).toEqual([
      { v: 1, reason: 'page 0' },
      { v: 1, reason: 'page 8' },
    ]);
    await rt.close();
  });

  it('fails a payload of an unknown version once, with a message naming it', async () => {
    const calls = emptyCalls();
    const rt = new JobRuntime(tb.make(), recordingHandlers(calls), silentLogger);
    const job = await rt.queue.add('writeback', { v: 2, connectionId: 'sf' }, { attempts: 5 });
    rt.startWorkers();
    await until(async () => (await job.isFailed()) || false);
    const failed = await rt.queue.getJob(job.id as string);
    expect(failed?.attemptsMade).toBe(1);
    expect(failed?.failedReason).toBe(
      'JOB_PAYLOAD_INVALID: the writeback job has payload version 2, and this build reads version 1 only',
    );
    expect(calls.writeback).toEqual([]);
    await rt.close();
  });

  it('fails a permanent error once and retries a transient one with backoff', async () => {
    const calls = emptyCalls();
    let transient = 0;
    const rt = new JobRuntime(
      tb.make(),
      recordingHandlers(calls, {
        writeback: async () => {
          throw new AppError('CRM_FIELD_MISSING', 'User.Quota_Rank__c does not exist', { where: 'connections.sf' });
        },
        'deliver-alerts': async () => {
          transient++;
          if (transient === 1) throw new Error('socket hang up');
        },
      }),
      silentLogger,
    );
    rt.startWorkers();
    const wb = await rt.enqueue('writeback', { v: 1, connectionId: 'sf' });
    const da = await rt.enqueue('deliver-alerts', { v: 1 });
    await until(async () => (await state(rt, wb)) === 'failed' && (await state(rt, da)) === 'completed');
    const failed = await rt.queue.getJob(wb as string);
    expect(failed?.attemptsMade).toBe(1);
    expect(failed?.failedReason).toBe('CRM_FIELD_MISSING: User.Quota_Rank__c does not exist (at connections.sf)');
    const done = await rt.queue.getJob(da as string);
    expect(done?.attemptsMade).toBe(2);
    expect(transient).toBe(2);
    await rt.close();
  });

  it('delays a job the CRM asked to come back to later instead of failing it', async () => {
    const calls = emptyCalls();
    const seenAt: number[] = [];
    const rt = new JobRuntime(
      tb.make(),
      recordingHandlers(calls, {
        sync: async () => {
          seenAt.push(Date.now());
          if (seenAt.length === 1) {
            throw new AppError('CRM_RATE_LIMITED', 'Salesforce answered 429', { retryAfterSeconds: 1.5 });
          }
        },
      }),
      silentLogger,
    );
    rt.startWorkers();
    const id = await rt.enqueue('sync', { v: 1, connectionId: 'sf', stream: 'deals' });
    await until(() => seenAt.length === 1);
    await until(async () => (await state(rt, id)) === 'delayed', 3_000);
    await until(async () => (await state(rt, id)) === 'completed');
    expect(seenAt).toHaveLength(2);
    expect((seenAt[1] as number) - (seenAt[0] as number)).toBeGreaterThanOrEqual(1_400);
    expect((await rt.queue.getJob(id as string))?.attemptsMade).toBeLessThanOrEqual(1);
    await rt.close();
  });

  it('reconciles Job Schedulers with the config and runs them', async () => {
    const calls = emptyCalls();
    const rt = new JobRuntime(tb.make(), recordingHandlers(calls), silentLogger);
    await rt.reconcileSchedulers([
      { id: 'sync:sf:deals', name: 'sync', data: { v: 1, connectionId: 'sf', stream: 'deals' }, every: 1_000 },
      { id: 'sync:old:deals', name: 'sync', data: { v: 1, connectionId: 'old', stream: 'deals' }, every: 60_000 },
      { id: 'daily-recompute', name: 'daily-recompute', data: { v: 1 }, pattern: '5 0 * * *', tz: 'America/New_York' },
    ]);
    const second = await rt.reconcileSchedulers([
      { id: 'sync:sf:deals', name: 'sync', data: { v: 1, connectionId: 'sf', stream: 'deals' }, every: 1_000 },
      { id: 'daily-recompute', name: 'daily-recompute', data: { v: 1 }, pattern: '5 0 * * *', tz: 'America/New_York' },
    ]);
    expect(second.removed).toEqual(['sync:old:deals']);
    const ids = (await rt.queue.getJobSchedulers(0, -1, true)).map((s) => s.key).sort();
    expect(ids).toEqual(['daily-recompute', 'sync:sf:deals']);
    rt.startWorkers();
    // (the removed scheduler's first job was already queued when it was created: its handler must cope with a
    // connection that is gone, which the sync handler does by failing it permanently)
    const sf = () => calls.sync.filter((c) => (c as { connectionId: string }).connectionId === 'sf');
    await until(() => sf().length >= 2, 10_000);
    expect(sf()[0]).toEqual({ v: 1, connectionId: 'sf', stream: 'deals', trigger: 'schedule' });
    await rt.reconcileSchedulers([]);
    expect(await rt.queue.getJobSchedulersCount()).toBe(0);
    await rt.close();
  });
});
