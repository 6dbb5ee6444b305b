import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.ts';
import { MetricsEngine } from '../../../src/metrics/engine/engine.ts';
import { goldenWarehouse } from '../../fixtures/warehouse/load.ts';
import type { TestDatabase } from '../../helpers/db.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await goldenWarehouse();
});
afterAll(() => t.drop());

const config = validateConfig({ calendar: { timezone: 'America/New_York' }, forecast: { trials: 200 } });
const asOf = '2026-06-12';

/** Adds `by` to the owner's first deal won this quarter (as a sync would have). */
async function growWonDeal(owner: string, by: number): Promise<void> {
  const deal = await t.db
    .selectFrom('deals')
    .select('external_id')
    .where('owner_external_id', '=', owner)
    .where('stage_category', '=', 'won')
    .where('close_date', '>=', '2026-04-01')
    .where('close_date', '<=', asOf)
    .orderBy('external_id')
    .executeTakeFirstOrThrow();
  await t.db
    .updateTable('deals')
    .set({ amount: sql`amount + ${by}` })
    .where('external_id', '=', deal.external_id)
    .execute();
}

async function orgHash(): Promise<string> {
  const r = await t.db
    .selectFrom('metric_snapshots')
    .select('value_hash')
    .where('subject_kind', '=', 'org')
    .where('period_id', '=', 'FY2026-Q2')
    .executeTakeFirstOrThrow();
  return r.value_hash;
}

it("reloads a rep whose snapshot another worker committed after this worker's probe, with an older stamp", async () => {
  // `coldStart: 'full'`: A's first change loads the whole model and keeps it (a full recompute, shard by shard,
  // caches nothing), so the second one is the warm path's reload under test.
  const a = new MetricsEngine({ db: t.db, config, workerId: 'a', coldStart: 'full' });
  await a.recomputeAll(asOf);
  await a.recompute([{ subjectKey: 'sf:005SARAH', periodId: 'FY2026-Q2' }], asOf);

  // Worker B, meanwhile: Tom's won deal grows, and B's snapshot of Tom lands stamped before A's last probe.
  await growWonDeal('005TOM', 100_000);
  const tom = await t.db
    .selectFrom('reps')
    .select('person_id')
    .where('external_id', '=', '005TOM')
    .executeTakeFirstOrThrow();
  await t.db
    .updateTable('metric_snapshots')
    .set({ computed_at: sql`now() - interval '10 seconds'`, value_hash: 'by-worker-b' })
    .where('subject_kind', '=', 'rep')
    .where('subject_id', '=', `person:${tom.person_id}`)
    .execute();

  // A recomputes Sarah again: the org it rolls up must include Tom's new figures.
  await a.recompute([{ subjectKey: 'sf:005SARAH', periodId: 'FY2026-Q2' }], asOf);
  const incremental = await orgHash();
  await new MetricsEngine({ db: t.db, config, workerId: 'c' }).recomputeAll(asOf);
  expect(incremental).toBe(await orgHash());
}, 60_000);

it('gives its marks back when a recompute that read later stored first, and the next pass writes', async () => {
  const a = new MetricsEngine({ db: t.db, config, workerId: 'a2' });
  await a.recomputeAll(asOf);
  const sarah = await t.db
    .selectFrom('reps')
    .select('person_id')
    .where('external_id', '=', '005SARAH')
    .executeTakeFirstOrThrow();
  const subject = `person:${sarah.person_id}`;
  await growWonDeal('005SARAH', 50_000);
  // Another worker's recompute of Sarah read the warehouse after this one will (its stamp is an hour ahead).
  await t.db
    .updateTable('metric_snapshots')
    .set({ inputs_at: sql`now() + interval '1 hour'`, value_hash: 'by-a-later-read' })
    .where('subject_kind', '=', 'rep')
    .where('subject_id', '=', subject)
    .execute();
  await t.db
    .insertInto('dirty_keys')
    .values({ subject_kind: 'rep', subject_key: 'sf:005SARAH', period_id: 'FY2026-Q2', reason: 'test' })
    .execute();
  const first = await a.runDirty(asOf);
  expect(first.claimed).toBe(1);
  expect(first.changes.map((c) => c.subject.id)).not.toContain(subject);
  // The mark is back, unclaimed, for another pass.
  const marks = await t.db.selectFrom('dirty_keys').select(['subject_key', 'claimed_at']).execute();
  expect(marks).toEqual([{ subject_key: 'sf:005SARAH', claimed_at: null }]);
  const stored = await t.db
    .selectFrom('metric_snapshots')
    .select('value_hash')
    .where('subject_id', '=', subject)
    .executeTakeFirstOrThrow();
  expect(stored.value_hash).toBe('by-a-later-read');
  // Once the later reads' figures are older than a fresh probe, the next pass writes and the mark is done.
  await t.db
    .updateTable('metric_snapshots')
    .set({ inputs_at: sql`now() - interval '1 second'` })
    .where('subject_id', '=', subject)
    .execute();
  const second = await a.runDirty(asOf);
  expect(second.changes.map((c) => c.subject.id)).toContain(subject);
  expect(await t.db.selectFrom('dirty_keys').select('id').execute()).toEqual([]);
}, 60_000);

it('runs the recomputes of one engine one at a time: a second reads the warehouse after the first has stored', async () => {
  // A worker runs several jobs at once on one engine and its cached model: a second recompute reading while the
  // first is storing could compute a team and org from rows the first loaded into that model and store them before
  // the first stores the rep they came from (the org counted a won deal its rep's snapshot did not show).
  await new MetricsEngine({ db: t.db, config, workerId: 'setup' }).recomputeAll(asOf);
  const events: string[] = [];
  let release = () => {};
  const held = new Promise<void>((r) => {
    release = r;
  });
  let storing = () => {};
  const firstStoring = new Promise<void>((r) => {
    storing = r;
  });
  class Watched extends MetricsEngine {
    override async claimAndProbe(...args: Parameters<MetricsEngine['claimAndProbe']>) {
      events.push('read');
      return super.claimAndProbe(...args);
    }
    override async commit(...args: Parameters<MetricsEngine['commit']>) {
      const first = !events.includes('store');
      events.push('store');
      if (first) {
        storing();
        await held;
      }
      const r = await super.commit(...args);
      events.push('stored');
      return r;
    }
  }
  const e = new Watched({ db: t.db, config, workerId: 'one-at-a-time' });
  const sarah = e.recompute([{ subjectKey: 'sf:005SARAH', periodId: 'FY2026-Q2' }], asOf);
  await firstStoring;
  const tom = e.recompute([{ subjectKey: 'sf:005TOM', periodId: 'FY2026-Q2' }], asOf);
  // Long enough for the second call's first query, had it not waited.
  await new Promise((r) => setTimeout(r, 300));
  expect(events).toEqual(['read', 'store']);
  release();
  await Promise.all([sarah, tom]);
  expect(events).toEqual(['read', 'store', 'stored', 'read', 'store', 'stored']);
}, 60_000);
