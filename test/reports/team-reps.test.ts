/**
 * People who left (docs/metrics.md, "People who left"), on the golden warehouse where Emily White left the company
 * on 2026-06-01, mid FY2026-Q2, and Tom moved from West Mid to West Enterprise on 2026-05-15. Hand-worked: Emily was
 * a member 62 of the quarter's 91 days (April 30, May 31, June 1), so her 500,000 quota counts 500,000 x 62 / 91 =
 * 340,659.34 toward West Mid, the region and the org (it used to count nothing while she was listed with "needs
 * 500,000.00", ranked on the leaderboard and counted among the quota-carrying reps). She is listed apart (`leavers`),
 * never ranked, and her open deal (60,000 closing 2026-06-15) is listed as needing a new owner.
 */
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

const at = { period: 'FY2026-Q2', asOf: '2026-06-12' } as const;
type Doc = {
  totals: { quota: string | null };
  reps: { subject: { name: string } }[];
  leavers: {
    subject: { name: string };
    leftOn: string;
    quota: string;
    rank: Record<string, { rank: number | null; rankReason?: string }>;
    openDealsNeedingOwner: { id: string; amount: string; closeDate: string }[];
  }[];
};
const team = async (name: string) =>
  (await buildReport(t.db, engine, { kind: 'team', team: name, ...at })) as unknown as Doc;

it('lists a rep who left mid-quarter apart in her last team, with her share of quota, and a mover only in his new one', async () => {
  const mid = await team('West Mid');
  expect(mid.reps.map((r) => r.subject.name)).toEqual([]);
  expect(mid.leavers.map((r) => [r.subject.name, r.leftOn, r.quota])).toEqual([
    ['Emily White', '2026-06-01', '500000.00'],
  ]);
  expect(mid.totals.quota).toBe('340659.34');
  const leaver = mid.leavers[0]!;
  expect(Object.values(leaver.rank).map((r) => [r.rank, r.rankReason])).toEqual([
    [null, 'left'],
    [null, 'left'],
    [null, 'left'],
  ]);
  expect(leaver.openDealsNeedingOwner.map((d) => [d.id, d.amount, d.closeDate])).toEqual([
    ['006E2', '60000.00', '2026-06-15'],
  ]);
  const enterprise = await team('West Enterprise');
  expect(enterprise.reps.map((r) => r.subject.name)).toEqual(['Sarah Chen', 'Tom Anderson']);
  expect(enterprise.leavers).toEqual([]);
  expect(enterprise.totals.quota).toBe('1200000.00');
});

it('the org lists her apart, counts her share of quota, and the leaderboard never ranks her', async () => {
  const org = (await buildReport(t.db, engine, { kind: 'org', ...at })) as unknown as Doc;
  expect(org.reps.map((r) => r.subject.name)).not.toContain('Emily White');
  expect(org.leavers.map((r) => r.subject.name)).toEqual(['Emily White']);
  expect(org.totals.quota).toBe('1540659.34');
  const board = await buildReport(t.db, engine, { kind: 'leaderboard', ...at });
  expect((board.entries as { subject: { name: string } }[]).map((e) => e.subject.name)).not.toContain('Emily White');
});

it('says when she left, in every format, with the deal that needs a new owner', async () => {
  const doc = await buildReport(t.db, engine, { kind: 'team', team: 'West Mid', ...at });
  expect(renderReport('text', 'team', doc)).toContain('  Emily White (left 2026-06-01)');
  expect(renderReport('text', 'team', doc)).toMatch(/needs a new owner: .* 60,000\.00 closing 2026-06-15/);
  expect(renderReport('md', 'team', doc)).toContain('| Emily White (left 2026-06-01) |');
  expect(renderReport('html', 'team', doc)).toContain('Emily White (left 2026-06-01)');
});
