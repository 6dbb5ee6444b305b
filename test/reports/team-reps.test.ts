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
  // Emily left the company on 2026-06-01.
  await t.db.updateTable('memberships').set({ valid_to: '2026-06-02' }).where('person_id', '=', 3).execute();
  await t.db.updateTable('reps').set({ is_active: false }).where('external_id', '=', '005EMILY').execute();
  engine = new MetricsEngine({ db: t.db, config: validateConfig({ calendar: { timezone: 'America/New_York' } }) });
});
afterAll(() => t.drop());

const names = async (team: string) => {
  const doc = await buildReport(t.db, engine, { kind: 'team', team, period: 'FY2026-Q2', asOf: '2026-06-12' });
  return (doc.reps as { subject: { name: string } }[]).map((r) => r.subject.name);
};

it('lists a rep who left the company mid-quarter in her last team, and a mover only in his new one', async () => {
  expect(await names('West Mid')).toEqual(['Emily White']);
  expect(await names('West Enterprise')).toEqual(['Sarah Chen', 'Tom Anderson']);
});
