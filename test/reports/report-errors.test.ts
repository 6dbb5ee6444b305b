import { afterAll, beforeAll, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { buildReport } from '../../src/reports/report.ts';
import { goldenWarehouse } from '../fixtures/warehouse/load.ts';
import type { TestDatabase } from '../helpers/db.ts';

let t: TestDatabase;
let engine: MetricsEngine;
beforeAll(async () => {
  t = await goldenWarehouse();
  engine = new MetricsEngine({ db: t.db, config: validateConfig({ calendar: { timezone: 'America/New_York' } }) });
});
afterAll(() => t.drop());

const at = { period: 'FY2026-Q2', asOf: '2026-06-12' } as const;

it('names the teams there are when the team asked for is not one of them', async () => {
  await expect(buildReport(t.db, engine, { kind: 'team', team: 'East', ...at })).rejects.toThrow(
    'no team is named "East"; teams: West Enterprise, West Mid',
  );
});

it('names the regions there are when report region is given no --region', async () => {
  await expect(buildReport(t.db, engine, { kind: 'region', ...at })).rejects.toThrow(
    'report region needs --region NAME; regions: West',
  );
});
