import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.ts';
import { raiseRatesChanged } from '../../../src/dirty/queue.ts';
import { MetricsEngine, markDirty } from '../../../src/metrics/engine/engine.ts';
import { runMetricsStep } from '../../../src/metrics/engine/step.ts';
import { goldenWarehouse } from '../../fixtures/warehouse/load.ts';
import type { TestDatabase } from '../../helpers/db.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await goldenWarehouse();
});
afterAll(() => t.drop());

describe('runMetricsStep', () => {
  it('runs full on a new config, a rate change or a new day, else only dirty keys', async () => {
    const engine = new MetricsEngine({
      db: t.db,
      config: validateConfig({ calendar: { timezone: 'America/New_York' }, forecast: { trials: 200 } }),
    });
    const first = await runMetricsStep(engine, '2026-06-12');
    expect([first.mode, first.why]).toEqual(['full', 'config_changed']);
    // Four reps (the manager Dana too, who is in no team: her CRM user has no role and her reps name her as their
    // manager), the two teams, West and the org, all for FY2026-Q2.
    expect(first.recomputed.map((k) => k.replace('@FY2026-Q2', '')).sort()).toEqual([
      'org:org',
      'region:2',
      'rep:person:1',
      'rep:person:2',
      'rep:person:3',
      'rep:person:4',
      'team:3',
      'team:4',
    ]);

    const idle = await runMetricsStep(engine, '2026-06-12');
    expect([idle.mode, idle.recomputed]).toEqual(['incremental', []]);

    await markDirty(t.db, [{ subjectKey: 'sf:005EMILY', periodId: 'FY2026-Q2', reason: 'test' }]);
    const dirty = await runMetricsStep(engine, '2026-06-12');
    expect([dirty.mode, dirty.recomputed]).toEqual([
      'incremental',
      ['org:org@FY2026-Q2', 'region:2@FY2026-Q2', 'rep:person:3@FY2026-Q2', 'team:4@FY2026-Q2'],
    ]);

    // What a sync that changes a rate leaves behind (in the rates' own transaction).
    await raiseRatesChanged(t.db);
    const rates = await runMetricsStep(engine, '2026-06-12');
    expect([rates.mode, rates.why]).toEqual(['full', 'rates_changed']);
    const after = await runMetricsStep(engine, '2026-06-12');
    expect([after.mode, after.recomputed]).toEqual(['incremental', []]);

    const tomorrow = await runMetricsStep(engine, '2026-06-13');
    expect([tomorrow.mode, tomorrow.why, tomorrow.recomputed.length]).toEqual(['full', 'new_day', 8]);
  }, 120_000);
});
