/**
 * The scheduled service end to end, on both queue backends: schedulers every few seconds against the Salesforce
 * sandbox, the real job workers, and a change made in the sandbox that must come back as updated fields on the
 * rep's User record, plus exactly one Task for the manager when it crosses the at-risk threshold.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clockStartingAt, setClock } from '../../src/clock.ts';
import { type Config, configSchema } from '../../src/config/schema.ts';
import { type Service, startService } from '../../src/jobs/service.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { createLogger, silentLogger } from '../../src/util/log.ts';
import type { WritebackOutcome } from '../../src/writeback/run.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnectionEntry } from '../helpers/sandbox.ts';
import { BACKEND_KINDS } from '../jobs/backends.ts';

function until<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = async () => {
      try {
        const v = await check();
        if (v !== undefined && v !== null && (v as unknown) !== false) return resolve(v as T);
      } catch (e) {
        return reject(e);
      }
      if (Date.now() - start > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 200);
    };
    void tick();
  });
}

// The product and the sandbox live on one pinned day (the clock runs on from its noon), so "this quarter" and the
// generated org are the same on every date the suite runs.
const ANCHOR = '2026-11-16';
const PERIOD_START = '2026-10-01';

describe.each(BACKEND_KINDS)('start on the %s backend', (kind) => {
  let sb: SalesforceSandbox;
  let fresh: TestDatabase;
  let service: Service;
  let config: Config;
  const writebacks: Array<{ at: number; out: WritebackOutcome }> = [];

  beforeAll(async () => {
    setClock(clockStartingAt(ANCHOR));
    sb = await startSalesforceSandbox({ seed: 5, size: 'small', anchorDate: ANCHOR });
    // Each running sync holds one connection for its lock and one for its page: 2 x concurrency and more.
    fresh = await createTestDatabase({ poolSize: 12 });
    config = configSchema.parse({
      queue: {
        prefix: `qt_e2e_${kind}_${process.pid}`,
        ...(kind === 'redis' ? { redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' } : {}),
      },
      // The generated org opens many alerts on its first run; the cap is tested elsewhere.
      alerts: { maxTasksPerManagerPerDay: 100 },
      connections: [sandboxConnectionEntry(sb, { schedule: { every: '3s' } })],
    });
    service = await startService({
      config,
      db: { db: fresh.db, url: fresh.url, embedded: false, close: async () => {} },
      log: process.env.E2E_LOG ? createLogger({ level: 'warn' }) : silentLogger,
      migrateQueue: true,
      reconcileSchedulers: true,
      backend: kind,
      onWriteback: (out) => writebacks.push({ at: Date.now(), out }),
    });
  }, 60_000);

  afterAll(async () => {
    await service?.runtime.reconcileSchedulers([]).catch(() => {});
    if (kind === 'redis') await service?.runtime.queue.obliterate({ force: true }).catch(() => {});
    await service?.close();
    await sb?.close();
    await fresh?.drop();
    setClock(undefined);
  }, 60_000);

  it('writes a change made in the sandbox back to the rep, and one task for the manager when it crosses at-risk', async () => {
    // The first scheduled round: every stream synced, metrics computed, scores written back.
    await until(
      () => writebacks.find((w) => w.out.status === 'done' && w.out.push.recordsWritten > 0),
      60_000,
      'the first write-back',
    );
    // A rep on course (projected >= 70%) with a manager and won deals this quarter.
    const users = sb.store.all('User');
    const candidate = users
      .filter(
        (u) =>
          typeof u.Projected_Attainment__c === 'number' && (u.Projected_Attainment__c as number) >= 75 && u.ManagerId,
      )
      .map((u) => ({
        user: u,
        won: sb.store
          .all('Opportunity')
          .filter((o) => o.OwnerId === u.Id && o.StageName === 'Closed Won' && String(o.CloseDate) >= PERIOD_START),
      }))
      .find((c) => c.won.length > 0);
    expect(candidate, 'a rep projected at or above 75% with won deals this quarter').toBeDefined();
    if (!candidate) return;
    const repId = String(candidate.user.Id);
    const managerId = String(candidate.user.ManagerId);
    const before = Number(candidate.user.Quota_Attainment__c);

    // The change: every deal the rep won this quarter turns out lost.
    sb.store.advance(60_000);
    const changedAt = Date.now();
    for (const o of candidate.won) sb.store.update('Opportunity', String(o.Id), { StageName: 'Closed Lost' });

    // Wait for the value the change must give rather than for any change: when the candidate was chosen, the
    // first rounds may still have been finishing the initial sync, and their write-back is a change too.
    const after = await until(
      () => {
        const u = sb.store.get('User', repId);
        return u && u.Quota_Attainment__c === 0 ? u : undefined;
      },
      60_000,
      `the rep's attainment to fall to 0 (was ${before})`,
    ).catch(async (e) => {
      const u = sb.store.get('User', repId);
      const snap = await fresh.db
        .selectFrom('metric_snapshots')
        .select(['subject_id', 'period_id', 'metrics'])
        .where('subject_kind', '=', 'rep')
        .execute();
      console.log(JSON.stringify({ repId, user: u, snapshots: snap.length }).slice(0, 3000));
      throw e;
    });
    const ms = Date.now() - changedAt;
    console.log(`[${kind}] change to write-back: ${(ms / 1000).toFixed(1)} s`);
    expect(after.Quota_Attainment__c).toBe(0);
    expect(after.Projected_Attainment__c).toBeLessThan(70);
    expect(after.LastModifiedById).toBe(sb.integrationUserId);

    const atRiskTasks = () =>
      sb.store
        .all('Task')
        .filter((t) => String(t.Quota_Alert_Key__c ?? '').startsWith('at_risk_rep:') && t.OwnerId === managerId)
        .filter((t) => String(t.Subject ?? '').includes(String(candidate.user.Name)));
    const tasks = await until(() => (atRiskTasks().length > 0 ? atRiskTasks() : undefined), 30_000, 'the task').catch(
      async (e) => {
        const alerts = await fresh.db.selectFrom('alerts').selectAll().where('rule', '=', 'at_risk_rep').execute();
        const rows = await fresh.db.selectFrom('alert_tasks').selectAll().execute();
        console.log(JSON.stringify({ repId, managerId, alerts, rows: rows.length }).slice(0, 3000));
        throw e;
      },
    );
    // A few more scheduled rounds: still exactly one.
    await new Promise((r) => setTimeout(r, 8_000));
    expect(atRiskTasks()).toHaveLength(1);
    expect(tasks[0]).toMatchObject({ OwnerId: managerId, Status: 'Not Started' });
    expect(String(tasks[0]?.Description)).toMatch(/projected attainment/i);
  }, 150_000);
});
