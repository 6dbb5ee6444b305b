/**
 * Streams land in any order (the scheduler runs them concurrently): when the opportunities and quotas arrive before
 * the users they belong to, the incremental metrics step must end, once the users are in, on the same figures as a
 * full recompute from scratch.
 */
import pg from 'pg';
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

it('a full recompute keeps the marks of a sync that commits while it reads the warehouse', async () => {
  const config = validateConfig({ forecast: { trials: 100 } });
  const asOf = dateInZone(sb.store.now(), 'UTC');
  const sync = new pg.Client({ connectionString: t.url });
  await sync.connect();
  try {
    // A sync's transaction: begun before the recompute, committed while the recompute runs (its first shard's
    // store: after the claim, before the shards are done).
    await sync.query('begin');
    await sync.query(
      `insert into dirty_keys (subject_kind, subject_key, period_id, reason) values ('rep', 'sf:005LATE', 'FY2026-Q4', 'test')`,
    );
    let committed = false;
    class Racing extends MetricsEngine {
      override async commit(...args: Parameters<MetricsEngine['commit']>) {
        if (!committed) await sync.query('commit');
        committed = true;
        return super.commit(...args);
      }
    }
    await new Racing({ db: t.db, config }).recomputeAll(asOf);
    expect(committed).toBe(true);
    const left = await t.db
      .selectFrom('dirty_keys')
      .select('subject_key')
      .where('subject_key', '=', 'sf:005LATE')
      .execute();
    expect(left).toHaveLength(1);
  } finally {
    await sync.end();
  }
}, 60_000);

it('deals and quotas synced before their users end on the figures of a full recompute', async () => {
  const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
  const connector = sandboxConnector(sb);
  const config = validateConfig({ forecast: { trials: 100 } });
  const engine = new MetricsEngine({ db: t.db, config });
  const asOf = dateInZone(sb.store.now(), 'UTC');
  const sync = (stream: string) =>
    runSync({ db: t.db, connector, connectionId: 'sf', stream, calendar, full: false, now: () => sb.store.now() });

  for (const stream of ['fiscal_periods', 'currency_types', 'forecasting_quotas', 'opportunities']) await sync(stream);
  await runMetricsStep(engine, asOf);
  for (const stream of ['user_roles', 'users']) await sync(stream);
  await runMetricsStep(engine, asOf);
  const incremental = await snapshotHashes(t.db);

  // (an inactive rep with deals this quarter, Mei Rossi, has no team: only her own users row marks her)
  await new MetricsEngine({ db: t.db, config }).recomputeAll(asOf);
  const full = await snapshotHashes(t.db);
  const differ = [...new Set([...full.keys(), ...incremental.keys()])]
    .filter((k) => incremental.get(k) !== full.get(k))
    .sort();
  expect(differ).toEqual([]);
  // and the figures are real ones: some rep has won something this quarter
  const won = await t.db.selectFrom('metric_snapshots').select('metrics').where('subject_kind', '=', 'rep').execute();
  expect(won.some((r) => Number((r.metrics as { actual?: string }).actual ?? 0) > 0)).toBe(true);
}, 120_000);

it('a synced rate change makes the next metrics step recompute everything, once', async () => {
  const config = validateConfig({ forecast: { trials: 100 } });
  const engine = new MetricsEngine({ db: t.db, config });
  const asOf = dateInZone(sb.store.now(), 'UTC');
  const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
  const connector = sandboxConnector(sb);
  const sync = (stream: string) =>
    runSync({ db: t.db, connector, connectionId: 'sf', stream, calendar, full: false, now: () => sb.store.now() });
  await runMetricsStep(engine, asOf);
  expect((await runMetricsStep(engine, asOf)).mode).toBe('incremental');

  const eur = sb.store.all('CurrencyType').find((c) => c.IsoCode === 'EUR');
  expect(eur).toBeDefined();
  sb.store.advance(60_000);
  sb.store.update('CurrencyType', String(eur?.Id), { ConversionRate: Number(eur?.ConversionRate) * 1.1 });
  await sync('currency_types');
  const step = await runMetricsStep(engine, asOf);
  expect([step.mode, step.why]).toEqual(['full', 'rates_changed']);
  expect((await runMetricsStep(engine, asOf)).mode).toBe('incremental');
}, 120_000);
