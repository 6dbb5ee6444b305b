import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.ts';
import { MetricsEngine } from '../../../src/metrics/engine/engine.ts';
import { goldenWarehouse } from '../../fixtures/warehouse/load.ts';
import type { TestDatabase } from '../../helpers/db.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await goldenWarehouse();
});
afterAll(() => t.drop());

const config = validateConfig({ calendar: { timezone: 'America/New_York' }, forecast: { trials: 500 } });
const sarah = (events: { subject: { id: string }; rule: string; event: string }[]) =>
  events
    .filter((e) => e.subject.id === 'person:1')
    .map((e) => `${e.rule}:${e.event}`)
    .sort();

describe('alert lifecycle', () => {
  it('opens, escalates after a week, and resolves when the value clears', async () => {
    const engine = new MetricsEngine({ db: t.db, config });
    const first = await engine.recomputeAll('2026-06-12');
    expect(sarah(first.alertEvents)).toEqual(['activity_drop:opened', 'conversion_decline:opened']);
    // The same figures again: the alerts still fire as they did, and no alert row is written.
    const versions = async () =>
      (
        await sql<{ k: string }>`select dedupe_key || '@' || xmin::text || '@' || updated_at::text as k
          from alerts order by dedupe_key`.execute(t.db)
      ).rows.map((r) => r.k);
    const before = await versions();
    expect(before.length).toBeGreaterThan(0);
    const again = await engine.recomputeAll('2026-06-12');
    expect(sarah(again.alertEvents)).toEqual([]);
    expect(await versions()).toEqual(before);

    const week = await engine.recomputeAll('2026-06-19');
    expect(sarah(week.alertEvents)).toEqual(['activity_drop:escalated', 'conversion_decline:escalated']);

    await t.db
      .updateTable('deals')
      .set({ stage: 'Closed Won', stage_category: 'won', probability: '1' })
      .where('external_id', '=', '006SL')
      .execute();
    const cleared = await engine.recompute([{ subjectKey: 'sf:005SARAH', periodId: 'FY2026-Q2' }], '2026-06-19');
    expect(sarah(cleared.alertEvents)).toEqual(['conversion_decline:resolved']);
    const rows = await t.db
      .selectFrom('alerts')
      .select(['rule', 'status', 'dedupe_key'])
      .where('subject_id', '=', 'person:1')
      .orderBy('rule')
      .execute();
    expect(rows).toEqual([
      { rule: 'activity_drop', status: 'escalated', dedupe_key: 'activity_drop:person:1:FY2026-Q2' },
      { rule: 'conversion_decline', status: 'resolved', dedupe_key: 'conversion_decline:person:1:FY2026-Q2' },
    ]);
  }, 120_000);

  it('watches only active reps who carry quota: a manager without quota gets none, a rep who leaves has hers closed', async () => {
    const engine = new MetricsEngine({ db: t.db, config });
    const dana = await t.db
      .selectFrom('reps')
      .select('person_id')
      .where('external_id', '=', '005DANA')
      .executeTakeFirstOrThrow();
    const danas = await t.db
      .selectFrom('alerts')
      .select('rule')
      .where('subject_id', '=', `person:${dana.person_id}`)
      .execute();
    expect(danas).toEqual([]);

    await t.db.updateTable('reps').set({ is_active: false }).where('external_id', '=', '005SARAH').execute();
    const left = await engine.recomputeAll('2026-06-19');
    expect(sarah(left.alertEvents)).toEqual(['activity_drop:resolved']);
    const open = await t.db
      .selectFrom('alerts')
      .select('rule')
      .where('subject_id', '=', 'person:1')
      .where('status', '<>', 'resolved')
      .execute();
    expect(open).toEqual([]);
  }, 120_000);
});
