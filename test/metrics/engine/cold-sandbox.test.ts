/**
 * One change in a fresh process on the small sandbox org (src/metrics/engine/cold.ts): after a full recompute, an
 * opportunity's amount changed in the CRM and synced; an engine with nothing cached recomputes it from the stored
 * team partials and forecast, and every snapshot equals what a full recompute from scratch stores.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../../src/config/calendar.ts';
import { validateConfig } from '../../../src/config/load.ts';
import { MetricsEngine } from '../../../src/metrics/engine/engine.ts';
import { runMetricsStep } from '../../../src/metrics/engine/step.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../../src/sandbox/salesforce/index.ts';
import { runSync } from '../../../src/sync/run.ts';
import { dateInZone } from '../../../src/util/date.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.ts';
import { sandboxConnector } from '../../helpers/sandbox.ts';
import { snapshotHashes } from '../../helpers/snapshots.ts';

let sb: SalesforceSandbox;
let t: TestDatabase;
beforeAll(async () => {
  sb = await startSalesforceSandbox({ seed: 6, size: 'small' });
  t = await createTestDatabase();
});
afterAll(async () => {
  await sb?.close();
  await t?.drop();
});

it('a changed opportunity, recomputed by a fresh engine from the stored state, ends on a full recompute`s figures', async () => {
  const config = validateConfig({ forecast: { trials: 100 } });
  const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
  const connector = sandboxConnector(sb);
  const asOf = dateInZone(sb.store.now(), 'UTC');
  const sync = (stream: string) =>
    runSync({ db: t.db, connector, connectionId: 'sf', stream, calendar, full: false, now: () => sb.store.now() });
  for (const stream of [
    'fiscal_periods',
    'currency_types',
    'dated_conversion_rates',
    'user_roles',
    'users',
    'forecasting_quotas',
    'opportunities',
    'opportunity_history',
    'opportunity_splits',
    'tasks',
    'events',
  ])
    await sync(stream);
  // The org model from the CRM's role tree, then the full recompute (a new config's first step).
  expect((await runMetricsStep(new MetricsEngine({ db: t.db, config }), asOf)).mode).toBe('full');
  expect(await t.db.selectFrom('team_parts').select('team_id').execute()).not.toHaveLength(0);

  const open = sb.store
    .all('Opportunity')
    .filter((o) => o.IsClosed === false && typeof o.Amount === 'number')
    .sort((a, b) => String(a.Id).localeCompare(String(b.Id)));
  const deal = open[0];
  expect(deal).toBeDefined();
  sb.store.advance(60_000);
  sb.store.update('Opportunity', String(deal?.Id), { Amount: Number(deal?.Amount) + 12_345 });
  await sync('opportunities');

  const cold = new MetricsEngine({ db: t.db, config });
  const r = await cold.runDirty(asOf);
  expect('cold' in cold.lastTimings).toBe(true);
  expect(r.recomputed.some((k) => k.startsWith('org:'))).toBe(true);
  expect(r.changes.length).toBeGreaterThan(0);
  const incremental = await snapshotHashes(t.db);

  await new MetricsEngine({ db: t.db, config }).recomputeAll(asOf);
  const full = await snapshotHashes(t.db);
  const differ = [...new Set([...full.keys(), ...incremental.keys()])]
    .filter((k) => incremental.get(k) !== full.get(k))
    .sort();
  expect(differ).toEqual([]);
}, 120_000);
