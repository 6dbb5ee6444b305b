/**
 * A group's forecast is the per-trial sum of its members' trials, each deal drawing from its own stream: after one
 * changed deal, the team's, region's and org's forecasts computed incrementally (only the changed rep re-simulated)
 * equal those of a full recompute from scratch, and a revenue split deal draws alike in both reps it credits.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.ts';
import { MetricsEngine } from '../../../src/metrics/engine/engine.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.ts';
import { insertQuotaRep } from './rep-rows.ts';

const AS_OF = '2026-06-12';
const CURRENT = 'FY2026-Q2';
const REPS = ['005A', '005B', '005C', '005D', '005E', '005F'] as const;
const config = validateConfig({ calendar: { timezone: 'UTC' }, booking: { splits: 'revenue' } });

let t: TestDatabase;

async function seed(): Promise<void> {
  const db = t.db;
  await db.insertInto('connections').values({ id: 'sf', kind: 'salesforce' }).execute();
  await db
    .insertInto('org_units')
    .values([
      { id: 1, kind: 'org', name: 'Org', parent_id: null, source: 'file' },
      { id: 2, kind: 'region', name: 'North', parent_id: 1, source: 'file' },
      { id: 3, kind: 'team', name: 'Team 3', parent_id: 2, source: 'file' },
      { id: 4, kind: 'team', name: 'Team 4', parent_id: 2, source: 'file' },
    ] as never)
    .execute();
  for (const [i, ext] of REPS.entries())
    await insertQuotaRep(db, { person: i + 1, externalId: ext, teamId: i < 3 ? 3 : 4, quota: '200000' });
  // Four open deals closing this quarter per rep, with assorted probabilities, and one won deal each.
  const rows = [];
  for (const [i, ext] of REPS.entries()) {
    for (let k = 0; k < 4; k++)
      rows.push({
        connection_id: 'sf',
        external_id: `006${ext}${k}`,
        content_hash: 'h',
        name: `Deal ${ext}${k}`,
        owner_external_id: ext,
        amount: String(20000 + 9000 * k + 1000 * i),
        currency: 'USD',
        stage: 'Proposal',
        stage_category: 'open' as const,
        probability: ['0.2', '0.4', '0.6', '0.8'][k] as string,
        close_date: `2026-06-${String(15 + k).padStart(2, '0')}`,
        created_date: '2026-01-10',
      });
    rows.push({
      connection_id: 'sf',
      external_id: `006${ext}W`,
      content_hash: 'h',
      name: `Won ${ext}`,
      owner_external_id: ext,
      amount: String(90000 + 5000 * i),
      currency: 'USD',
      stage: 'Closed Won',
      stage_category: 'won' as const,
      probability: '1',
      close_date: '2026-05-20',
      created_date: '2026-01-10',
    });
  }
  await db.insertInto('deals').values(rows).execute();
  // 005A's deal 0 is split 60/40 with 005D, who is in the other team: both teams count their share of one deal.
  await db
    .insertInto('deal_splits')
    .values(
      [
        ['S1', '005A', '60'],
        ['S2', '005D', '40'],
      ].map(([id, owner, percent]) => ({
        connection_id: 'sf',
        external_id: id as string,
        content_hash: 'h',
        deal_external_id: '006005A0',
        owner_external_id: owner as string,
        split_percent: percent as string,
        split_amount: null,
        split_type: 'Revenue',
        is_overlay: false,
      })),
    )
    .execute();
}

type Forecast = Record<string, unknown>;

async function forecasts(): Promise<Map<string, Forecast>> {
  const rows = await t.db
    .selectFrom('metric_snapshots')
    .select(['subject_kind', 'subject_id', 'metrics'])
    .where('period_id', '=', CURRENT)
    .execute();
  return new Map(
    rows.map((r) => [`${r.subject_kind}:${r.subject_id}`, (r.metrics as { forecast: Forecast }).forecast] as const),
  );
}

beforeAll(async () => {
  t = await createTestDatabase();
  await seed();
});
afterAll(() => t.drop());

describe('group forecast', () => {
  it('after one changed deal equals a full recompute, and moved', async () => {
    const engine = new MetricsEngine({ db: t.db, config });
    await engine.recomputeAll(AS_OF);
    const before = await forecasts();

    await sql`update deals set amount = 250000, probability = 0.5 where external_id = '006005B2'`.execute(t.db);
    const result = await engine.recompute([{ subjectKey: 'sf:005B', periodId: CURRENT }], AS_OF);
    expect(result.recomputed).toEqual([
      `org:org@${CURRENT}`,
      `region:2@${CURRENT}`,
      `rep:person:2@${CURRENT}`,
      `team:3@${CURRENT}`,
    ]);
    const incremental = await forecasts();
    // The change moved every group it reached, and not the other team.
    for (const g of ['team:3', 'region:2', 'org:org']) expect(incremental.get(g)).not.toEqual(before.get(g));
    expect(incremental.get('team:4')).toEqual(before.get('team:4'));

    const full = await new MetricsEngine({ db: t.db, config }).recomputeAll(AS_OF);
    expect(full.changes.map((c) => `${c.subject.kind}:${c.subject.id}`)).toEqual([]);
    expect(await forecasts()).toEqual(incremental);
  }, 60_000);

  it("draws a split deal alike in both reps: the region's trials are the sum of its teams'", async () => {
    const engine = new MetricsEngine({ db: t.db, config });
    const model = await engine.loadModel(AS_OF);
    const period = engine.settings.calendar.periodById(CURRENT);
    const region = model.computeGroup('region', '2', period);
    const team3 = model.computeGroup('team', '3', period);
    const team4 = model.computeGroup('team', '4', period);
    // Every trial's total adds up, so the mean does exactly (actuals add up too).
    expect(region.forecast.mean.toString()).toBe(team3.forecast.mean.plus(team4.forecast.mean).toString());
    // The split deal is one deal in the region's count though both teams hold a credit of it.
    expect(region.pipeline.openDeals).toBe(team3.pipeline.openDeals + team4.pipeline.openDeals - 1);
    expect(region.pipeline.openDeals).toBe(24);
  }, 60_000);
});
