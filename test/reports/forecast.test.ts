/**
 * The learned forecast end to end on the golden warehouse plus nine quarters of synthetic stage history: the basis
 * and its line in every report that shows a forecast, each `forecast.calibration.*` key, `report forecast` with its
 * deals and new-pipeline term, and `report forecast --backtest` (stored, then printed beside the forecasts).
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.ts';
import { BACKTEST_SCHEDULER } from '../../src/jobs/names.ts';
import { createPipeline } from '../../src/jobs/pipeline.ts';
import { desiredSchedulers } from '../../src/jobs/schedules.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { forecastConfigHash } from '../../src/metrics/engine/forecast-store.ts';
import type { DealTimeline } from '../../src/metrics/math/calibration.ts';
import { buildForecastReport } from '../../src/reports/forecast-report.ts';
import { renderReport } from '../../src/reports/render.ts';
import { buildReport } from '../../src/reports/report.ts';
import { silentLogger } from '../../src/util/log.ts';
import { GOLDEN_FIXTURE, insertFixture, readFixture } from '../fixtures/warehouse/load.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { syntheticHistory } from '../metrics/math/history-fixture.ts';

const OWNERS = ['005SARAH', '005TOM', '005EMILY'];
const AS_OF = '2026-06-12';

/** The timelines as warehouse rows: the deal as it stands now and one stage-history row per change. */
function historyRows(timelines: readonly DealTimeline[]) {
  const deals: Record<string, unknown>[] = [];
  const history: Record<string, unknown>[] = [];
  timelines.forEach((t, i) => {
    const last = t.rows[t.rows.length - 1];
    if (!last) return;
    const id = `H${t.id}`;
    deals.push({
      connection_id: 'sf',
      external_id: id,
      content_hash: `h-${id}`,
      name: `History ${t.id}`,
      owner_external_id: OWNERS[i % OWNERS.length],
      amount: t.amount?.toString() ?? null,
      currency: 'USD',
      stage: last.stage,
      stage_category: last.category,
      probability: last.probability === null ? null : String(last.probability),
      close_date: last.closeDate,
      created_date: t.createdDate,
    });
    t.rows.forEach((r, j) => {
      history.push({
        connection_id: 'sf',
        external_id: `${id}-${j}`,
        content_hash: `h-${id}-${j}`,
        deal_external_id: id,
        stage: r.stage,
        stage_category: r.category,
        amount: t.amount?.toString() ?? null,
        close_date: r.closeDate,
        probability: r.probability === null ? null : String(r.probability),
        // 15:00 UTC is the same date in New York.
        changed_at: `${r.date}T15:00:00Z`,
      });
    });
  });
  return { deals, history };
}

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await insertFixture(t.db, await readFixture(GOLDEN_FIXTURE));
  // Nine quarters, 2024-Q1 to 2026-Q1, before the golden FY2026-Q2.
  const { deals, history } = historyRows(syntheticHistory(21, 120));
  await insertFixture(t.db, { deals, deal_stage_history: history });
}, 60_000);
afterAll(() => t.drop());

const configWith = (calibration: Record<string, number> = {}) =>
  validateConfig({
    calendar: { timezone: 'America/New_York', baseCurrency: 'USD' },
    forecast: { calibration },
  });

async function repReport(calibration: Record<string, number> = {}) {
  const engine = new MetricsEngine({ db: t.db, config: configWith(calibration) });
  return buildReport(t.db, engine, { kind: 'rep', rep: 'sarah.chen@example.com', period: 'FY2026-Q2', asOf: AS_OF });
}

const calibrationOf = (doc: Record<string, unknown>) =>
  (doc.forecast as { calibration: Record<string, unknown> }).calibration;

describe('the forecast learned from the warehouse history', () => {
  it('is calibrated on the nine ended quarters and says it is not backtested yet', async () => {
    const doc = await repReport();
    expect(calibrationOf(doc)).toMatchObject({
      basis: 'calibrated',
      periods: 9,
      learnedFromPeriods: 9,
      p10Held: null,
      p10HeldReason: 'not_backtested',
    });
    const text = renderReport('text', 'rep', doc);
    expect(text).toContain('calibrated on 9 periods; not backtested yet (`report forecast --backtest`)');
  });

  it('forecast.calibration.minWins and minLosses decide when the history is enough', async () => {
    const { wins, losses } = calibrationOf(await repReport()) as { wins: number; losses: number };
    expect(calibrationOf(await repReport({ minWins: wins, minLosses: losses })).basis).toBe('calibrated');
    const few = await repReport({ minWins: wins + 1 });
    expect(calibrationOf(few).basis).toBe('crm_fallback');
    expect(renderReport('text', 'rep', few)).toContain(
      `not enough history to calibrate (${wins} wins, ${losses} losses in 9 periods): CRM stage probabilities with a wider band`,
    );
    expect(calibrationOf(await repReport({ minLosses: losses + 1 })).basis).toBe('crm_fallback');
  });

  it('forecast.calibration.priorWeight pulls sparse cells toward their stage', async () => {
    const probabilityOf = async (priorWeight: number) => {
      const engine = new MetricsEngine({ db: t.db, config: configWith({ priorWeight }) });
      const doc = await buildForecastReport(t.db, engine, {
        rep: 'sarah.chen@example.com',
        period: 'FY2026-Q2',
        asOf: AS_OF,
        backtest: false,
        config: configWith({ priorWeight }),
      });
      return (doc.deals as { id: string; probability: string }[]).map((d) => `${d.id} ${d.probability}`);
    };
    expect(await probabilityOf(0)).not.toEqual(await probabilityOf(5000));
  });

  it('report forecast lists each open deal with its learned probability and cell, and the new-pipeline term', async () => {
    const config = configWith();
    const engine = new MetricsEngine({ db: t.db, config });
    // Early in the quarter (week 2), when deals not created yet still add up to something.
    const doc = await buildForecastReport(t.db, engine, {
      rep: 'sarah.chen@example.com',
      period: 'FY2026-Q2',
      asOf: '2026-04-20',
      backtest: false,
      config,
    });
    const deals = doc.deals as {
      stage: string;
      crmProbability: string;
      probability: string;
      cell: { source: string };
    }[];
    expect(deals.length).toBeGreaterThan(0);
    for (const d of deals) {
      expect(Number(d.probability)).toBeGreaterThanOrEqual(0);
      expect(Number(d.probability)).toBeLessThanOrEqual(1);
      // The golden deals' stages never appear in the synthetic history: they take the org rate.
      expect(['cell', 'stage', 'org']).toContain(d.cell.source);
    }
    expect(doc.newPipeline).toMatchObject({ included: true, week: 2 });
    expect(Number((doc.newPipeline as { expectedDeals: string }).expectedDeals)).toBeGreaterThan(0);
    const text = renderReport('text', 'forecast', doc);
    expect(text).toContain('OPEN DEALS IN THE PERIOD');
    expect(text).toContain('PIPELINE NOT CREATED YET');
    expect(text).toContain('calibrated on 9 periods');
    const f = doc.forecast as Record<string, string>;
    expect(Number(f.p10)).toBeLessThanOrEqual(Number(f.p50));
    expect(Number(f.p50)).toBeLessThanOrEqual(Number(f.p90));
  });

  it('report rep --explain shows the forecast inputs report forecast --rep shows: each deal with its learned probability and cell, and the new-pipeline term', async () => {
    const config = configWith();
    const engine = new MetricsEngine({ db: t.db, config });
    const asOf = '2026-04-20';
    const rep = 'sarah.chen@example.com';
    const doc = await buildReport(t.db, engine, { kind: 'rep', rep, period: 'FY2026-Q2', asOf, explain: true });
    const forecast = await buildForecastReport(t.db, engine, {
      rep,
      period: 'FY2026-Q2',
      asOf,
      backtest: false,
      config,
    });
    const explain = doc.explain as {
      figures: { forecast: { working: string; sums: { deals: string[] }[] } };
      deals: { id: string; forecast?: { probability: string; cell: Record<string, unknown> } }[];
    };
    const working = explain.figures.forecast;
    const byId = new Map(
      (forecast.deals as { id: string; probability: string; cell: Record<string, unknown> }[]).map((d) => [d.id, d]),
    );
    // The forecast names its deals by id; their learned probability and cell are on the deal table's rows.
    const table = new Map(explain.deals.map((d) => [d.id, d]));
    const deals = (working.sums[0]?.deals ?? []).map((id) => ({ id, ...table.get(id)?.forecast }));
    expect(deals.length).toBe(byId.size);
    for (const d of deals) {
      expect(d.probability).toBe(byId.get(d.id)?.probability);
      expect(d.cell).toEqual(byId.get(d.id)?.cell);
    }
    const n = forecast.newPipeline as { expectedDeals: string; expectedAmount: string };
    expect(working.working).toContain(`new pipeline (week 2): ${n.expectedDeals} deals expected`);
    const text = renderReport('text', 'rep', doc);
    const first = deals[0]?.cell as { source: string; stage: string };
    expect(text).toContain(`(${first.source} ${first.stage}, `);
    expect(text).toContain('forecast = P10..P90 of trials');
    const md = renderReport('md', 'rep', doc);
    expect(md).toContain('Forecast p (cell)');
  });

  it('report forecast --backtest scores the model against both baselines, stores it, and forecasts then print the P10 line', async () => {
    const config = configWith();
    const engine = new MetricsEngine({ db: t.db, config });
    const doc = await buildForecastReport(t.db, engine, { asOf: AS_OF, period: 'FY2026-Q2', backtest: true, config });
    expect(doc).toMatchObject({ periods: 8, basis: 'calibrated' });
    const model = doc.model as Record<string, string>;
    const crm = (doc.baselines as Record<string, Record<string, string | null>>).crm as Record<string, string>;
    const runRate = (doc.baselines as Record<string, Record<string, string | null>>).runRate as Record<
      string,
      string | null
    >;
    for (const key of ['brier', 'ece', 'p10Held', 'p10p90Covered', 'crps']) {
      expect(model[key]).toMatch(/^\d+\.\d+$/);
      expect(crm[key]).toMatch(/^\d+\.\d+$/);
    }
    expect(runRate.brier).toBeNull();
    expect(Number(model.brier)).toBeLessThan(Number(crm.brier));
    expect(Number(model.p10Held)).toBeGreaterThan(Number(crm.p10Held));
    expect(renderReport('html', 'forecast-backtest', doc)).toContain('<svg');
    expect(renderReport('text', 'forecast-backtest', doc)).toContain('Calibrated model');
    const stored = await sql<{ n: number }>`select count(*)::int as n from forecast_calibrations`.execute(t.db);
    expect(stored.rows[0]?.n).toBe(1);

    const after = await repReport();
    expect(calibrationOf(after)).toMatchObject({
      basis: 'calibrated',
      periods: 8,
      p10Held: model.p10Held,
      backtestAsOf: AS_OF,
    });
    const pct = (Number(model.p10Held) * 100).toFixed(1);
    expect(renderReport('text', 'rep', after)).toContain(
      `calibrated on 8 periods; the P10 held in ${pct}% of them (backtest as of ${AS_OF})`,
    );
    // Other settings: the stored backtest is not theirs, and the line says so.
    expect(calibrationOf(await repReport({ priorWeight: 7 })).p10HeldReason).toBe('not_backtested');
  });
});

describe('the service backtests on its own (forecast.backtest)', () => {
  // Settings of their own (priorWeight 11), so no backtest of the tests above counts as theirs.
  const serviceConfig = (backtest: Record<string, unknown> = {}) =>
    validateConfig({
      calendar: { timezone: 'America/New_York', baseCurrency: 'USD' },
      forecast: { calibration: { priorWeight: 11 }, backtest },
    });
  // 16:00 UTC on AS_OF is AS_OF in New York.
  const at = () => new Date(`${AS_OF}T16:00:00Z`);
  const jobOf = (queued: string[]) => ({
    jobId: 'test',
    attempt: 1,
    log: silentLogger,
    enqueue: async (name: string) => {
      queued.push(name);
      return name;
    },
  });
  const p10HeldInSnapshots = async () =>
    (
      await sql<{ subject_kind: string; p10: string | null }>`
        select subject_kind, metrics #>> '{forecast,calibration,p10Held}' as p10
        from metric_snapshots where period_id = 'FY2026-Q2' order by subject_kind, subject_id`.execute(t.db)
    ).rows;

  it('is a weekly job scheduler on forecast.backtest.cron in the org time zone, and none when turned off', () => {
    const on = desiredSchedulers(serviceConfig({ cron: '15 4 * * 0' })).find((s) => s.id === BACKTEST_SCHEDULER);
    expect(on).toMatchObject({ name: 'backtest', pattern: '15 4 * * 0', tz: 'America/New_York' });
    expect(desiredSchedulers(serviceConfig()).find((s) => s.id === BACKTEST_SCHEDULER)?.pattern).toBe('30 2 * * 1');
    expect(desiredSchedulers(serviceConfig({ enabled: false })).some((s) => s.name === 'backtest')).toBe(false);
    expect(() => serviceConfig({ cron: 'every monday' })).toThrow(/forecast\.backtest\.cron/);
  });

  it('runs from the daily recompute when the settings have none, stores it, and every snapshot prints its P10 line', async () => {
    const off: string[] = [];
    const offPipeline = createPipeline({
      db: t.db,
      config: serviceConfig({ enabled: false }),
      log: silentLogger,
      now: at,
    });
    await offPipeline.handlers['daily-recompute']({ v: 1 }, jobOf(off));
    expect(off).not.toContain('backtest');

    const config = serviceConfig();
    const pipeline = createPipeline({ db: t.db, config, log: silentLogger, now: at });
    const queued: string[] = [];
    await pipeline.handlers['daily-recompute']({ v: 1 }, jobOf(queued));
    expect(queued).toContain('backtest');
    const before = await p10HeldInSnapshots();
    expect(before.length).toBeGreaterThan(0);
    expect(before.every((r) => r.p10 === null)).toBe(true);

    const out = (await pipeline.handlers.backtest({ v: 1, trigger: 'schedule' }, jobOf([]))) as {
      periods: number;
      p10Held: string;
      recomputed: number;
    };
    expect(out.periods).toBe(8);
    expect(out.p10Held).toMatch(/^0\.\d+$/);
    const stored = await sql<{ as_of: string; p10_held: string }>`
      select as_of::text, p10_held from forecast_calibrations where config_hash = ${forecastConfigHash(config)}`.execute(
      t.db,
    );
    expect(stored.rows).toEqual([{ as_of: AS_OF, p10_held: out.p10Held }]);
    // No report had to be asked for: the stored figures every report of today reads already carry the line.
    const after = await p10HeldInSnapshots();
    expect(after.map((r) => r.p10)).toEqual(after.map(() => out.p10Held));

    const again: string[] = [];
    await pipeline.handlers['daily-recompute']({ v: 1 }, jobOf(again));
    expect(again).not.toContain('backtest');
    // Another schedule is not another model: the stored backtest still counts.
    const moved: string[] = [];
    const movedPipeline = createPipeline({
      db: t.db,
      config: serviceConfig({ cron: '0 5 * * 2' }),
      log: silentLogger,
      now: at,
    });
    await movedPipeline.handlers['daily-recompute']({ v: 1 }, jobOf(moved));
    expect(moved).not.toContain('backtest');
  });
});
