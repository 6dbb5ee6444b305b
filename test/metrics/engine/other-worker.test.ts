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
  const a = new MetricsEngine({ db: t.db, config, workerId: 'a' });
  await a.recomputeAll(asOf);
  await a.recompute([{ subjectKey: 'sf:005SARAH', periodId: 'FY2026-Q2' }], asOf);

  // Worker B, meanwhile: Tom's won deal grows, and B's snapshot of Tom lands stamped before A's last probe.
  const deal = await t.db
    .selectFrom('deals')
    .select('external_id')
    .where('owner_external_id', '=', '005TOM')
    .where('stage_category', '=', 'won')
    .where('close_date', '>=', '2026-04-01')
    .where('close_date', '<=', asOf)
    .orderBy('external_id')
    .executeTakeFirstOrThrow();
  await t.db
    .updateTable('deals')
    .set({ amount: sql`amount + 100000` })
    .where('external_id', '=', deal.external_id)
    .execute();
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
