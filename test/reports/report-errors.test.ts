/**
 * A report asked for a team or region that does not exist, or without one, says which ones there are on the
 * as-of date, so the user can correct the command without opening the database.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { buildReport } from '../../src/reports/report.ts';
import { insertFixture, readFixture } from '../fixtures/warehouse/load.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let t: TestDatabase;
let engine: MetricsEngine;
beforeAll(async () => {
  t = await createTestDatabase();
  await insertFixture(
    t.db,
    await readFixture(fileURLToPath(new URL('../fixtures/warehouse/golden.json', import.meta.url))),
  );
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
