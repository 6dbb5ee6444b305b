import { afterAll, beforeAll, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { renderReport } from '../../src/reports/render.ts';
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

it('says when a listed rep left, in the JSON and in every format', async () => {
  const doc = await buildReport(t.db, engine, {
    kind: 'team',
    team: 'West Mid',
    period: 'FY2026-Q2',
    asOf: '2026-06-12',
  });
  const reps = doc.reps as { subject: { name: string }; leftOn?: string }[];
  expect(reps.map((r) => [r.subject.name, r.leftOn])).toEqual([['Emily White', '2026-06-01']]);
  expect(renderReport('text', 'team', doc)).toContain('  Emily White (left 2026-06-01)');
  expect(renderReport('md', 'team', doc)).toContain('| Emily White (left 2026-06-01) |');
  expect(renderReport('html', 'team', doc)).toContain('Emily White (left 2026-06-01)');
  const current = await buildReport(t.db, engine, {
    kind: 'team',
    team: 'West Enterprise',
    period: 'FY2026-Q2',
    asOf: '2026-06-12',
  });
  expect((current.reps as { leftOn?: string }[]).every((r) => r.leftOn === undefined)).toBe(true);
});
