/**
 * The full recompute in one process runs shard by shard (`MetricsEngine.recomputeAll`, docs/scaling.md): every
 * snapshot equals the figures of one model loaded whole (reps, teams, regions, the org, forecasts included: split
 * deals across shards, a rep who moved teams, owners no rep row stands for, stage history), and no statement it
 * issues reads the deals, splits or activities of more than one shard's reps. The stored state a cold start reads
 * (team partials, learned forecasts) is the one the whole model gives.
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.ts';
import { typeParsers } from '../../../src/db/index.ts';
import type { Database } from '../../../src/db/schema.ts';
import { figuresDocument } from '../../../src/metrics/document.ts';
import { learnForecasts } from '../../../src/metrics/engine/cold.ts';
import { MetricsEngine } from '../../../src/metrics/engine/engine.ts';
import {
  dealTimelinePages,
  learnForecastsByPage,
  repeatedDealIds,
} from '../../../src/metrics/engine/forecast-history.ts';
import { encodeLearned, type LearnedForecast, learnForecast } from '../../../src/metrics/engine/forecast-model.ts';
import { encodePartial } from '../../../src/metrics/engine/partials.ts';
import { describeSubject } from '../../../src/metrics/engine/subjects.ts';
import type { SubjectRef } from '../../../src/metrics/engine/types.ts';
import { repeatPass } from '../../helpers/ci-pass.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.ts';
import { SHARDED_AS_OF as AS_OF, seedShardedOrg } from '../../helpers/sharded-org.ts';

let t: TestDatabase;
const config = validateConfig({
  calendar: { timezone: 'America/New_York' },
  booking: { splits: 'revenue' },
  forecast: { trials: 500, backtest: { enabled: false } },
});

/** Statements and their parameters, as the engine issued them. */
const issued: { sql: string; parameters: readonly unknown[] }[] = [];
let logged: Kysely<Database>;

beforeAll(async () => {
  t = await createTestDatabase();
  await seedShardedOrg(t.db);
  logged = new Kysely<Database>({
    dialect: new PostgresDialect({
      pool: new pg.Pool({ connectionString: t.url, max: 4, types: typeParsers as pg.CustomTypesConfig }),
    }),
    log: (e) => {
      if (e.level === 'query') issued.push({ sql: e.query.sql, parameters: e.query.parameters });
    },
  });
}, 120_000);

afterAll(async () => {
  await logged?.destroy();
  await t?.drop();
});

describe.skipIf(repeatPass)('a full recompute in one process, shard by shard', () => {
  it('stores the figures of the whole model, reading no more than a shard of reps at a time', async () => {
    const repsPerShard = 7;
    const engine = new MetricsEngine({ db: logged, config, workerId: 'by-shard', repsPerShard });
    const result = await engine.recomputeAll(AS_OF);
    const itsStatements = issued.splice(0);
    expect(engine.lastTimings.shards).toBeGreaterThan(5);

    // The reference: one model of the whole warehouse, every subject computed from it.
    const periods = engine.activePeriods(AS_OF);
    const whole = await engine.loadModel(AS_OF, periods);
    const expected = new Map<string, unknown>();
    for (const period of periods) {
      const subjects: SubjectRef[] = whole.repKeys().map((id) => ({ kind: 'rep', id }));
      for (const level of ['team', 'region', 'org'] as const)
        for (const id of whole.groups(level)) subjects.push({ kind: level, id });
      for (const s of subjects) {
        const doc = figuresDocument(
          describeSubject(whole, s),
          period,
          whole.compute(s, period),
          engine.settings.baseCurrency,
        );
        expected.set(`${s.kind}:${s.id}@${period.id}`, JSON.parse(JSON.stringify(doc)));
      }
    }
    const rows = await t.db
      .selectFrom('metric_snapshots')
      .select(['subject_kind', 'subject_id', 'period_id', 'metrics'])
      .execute();
    const got = new Map(rows.map((r) => [`${r.subject_kind}:${r.subject_id}@${r.period_id}`, r.metrics]));
    expect(result.recomputed).toEqual([...expected.keys()].sort());
    // Its changes say which subjects and fields changed, without the documents (two a subject-period otherwise).
    expect(result.changes.length).toBe(expected.size);
    for (const c of result.changes)
      expect(Object.keys(c).sort()).toEqual(['asOf', 'changedFields', 'periodId', 'subject']);
    expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
    expect([...got.keys()].some((k) => k.startsWith('rep:sf:005X'))).toBe(true);
    for (const [k, doc] of expected) expect(got.get(k), k).toEqual(doc);
    // Each with its exact attainment, groups included (ranks read from the snapshots).
    const unranked = await t.db
      .selectFrom('metric_snapshots')
      .select('subject_id')
      .where('exact_stored', '=', false)
      .execute();
    expect(unranked).toEqual([]);

    // The cold path's state: each team's partial as the whole model merges it, under the forecast it learned.
    const parts = await t.db
      .selectFrom('team_parts')
      .select(['team_id', 'period_id', 'part', 'forecast_hash'])
      .execute();
    expect(parts.length).toBe(whole.groups('team').length * periods.length);
    for (const p of parts) {
      const period = periods.find((x) => x.id === p.period_id);
      if (!period) throw new Error(`team part of ${p.period_id}`);
      whole.computeGroup('team', p.team_id, period);
      const mine = whole.lastTeamPartial(p.team_id, period.id);
      if (!mine) throw new Error(`no partial of team ${p.team_id}`);
      expect(p.part, p.team_id).toEqual(JSON.parse(encodePartial(mine).part));
      expect(p.forecast_hash).toBe(whole.learnedOf(period)?.hash);
    }
    const learned = await t.db.selectFrom('learned_forecasts').select(['period_id', 'hash']).execute();
    expect(learned).toEqual(periods.map((p) => ({ period_id: p.id, hash: whole.learnedOf(p)?.hash })));

    // Every read of deals (their splits' owners with them) or activities the recompute issued names at most one shard's owners: the users
    // of `repsPerShard` reps (the owners no rep row stands for are read by the `not exists` of one shard).
    const users = Math.max(...[...whole.data.reps.values()].map((r) => r.users.length));
    const byOwner = itsStatements.filter((q) => /from (deals d|activities a)\b/.test(q.sql));
    expect(byOwner.length).toBeGreaterThan(0);
    for (const q of byOwner) {
      expect(q.sql, q.sql).toContain('unnest(');
      const arrays = q.parameters.filter((p): p is unknown[] => Array.isArray(p));
      expect(arrays.length, q.sql).toBeGreaterThan(0);
      for (const a of arrays) expect(a.length, q.sql).toBeLessThanOrEqual(repsPerShard * users);
    }
  }, 120_000);

  it('after each full recompute, the next change starts from the stored state, not a whole load', async () => {
    // One cold run allowed: before the fix the counter ran for the engine's life, so after a second recompute the
    // first change loaded the whole warehouse.
    const engine = new MetricsEngine({
      db: t.db,
      config,
      workerId: 'warm-after',
      warmAfterColdRuns: 1,
      repsPerShard: 20,
    });
    const periods = engine.activePeriods(AS_OF);
    let wholeLoads = 0;
    const load = engine.loadModel.bind(engine);
    engine.loadModel = (...a: Parameters<MetricsEngine['loadModel']>) => {
      wholeLoads++;
      return load(...a);
    };
    const change = async () => {
      await engine.recompute([{ subjectKey: 'person:3', periodId: periods[0]?.id ?? '' }], AS_OF);
      return { cold: engine.lastTimings.cold !== undefined, wholeLoads };
    };
    await engine.recomputeAll(AS_OF);
    expect(await change()).toEqual({ cold: true, wholeLoads: 0 });
    // The one cold run is used: the next change loads the whole model, and the one after is warm.
    expect(await change()).toEqual({ cold: false, wholeLoads: 1 });
    expect(await change()).toEqual({ cold: false, wholeLoads: 1 });
    await engine.recomputeAll(AS_OF);
    expect(await change()).toEqual({ cold: true, wholeLoads: 1 });
  }, 120_000);

  it('learns the forecast a page of deals at a time as from the whole history, to the last bit', async () => {
    const engine = new MetricsEngine({ db: t.db, config });
    const settings = engine.settings.forecast.calibration;
    const calendar = engine.settings.calendar;
    let pipelines = 0;
    // Early in a quarter too: its week's origin leaves room for deals created and won after it (new pipeline).
    for (const asOf of [AS_OF, '2026-04-03']) {
      const periods = engine.activePeriods(asOf, 'FY2025-Q4');
      const whole = await engine.loadModel(asOf, periods);
      const timelines = whole.data.dealTimelines ?? [];
      const o = { asOf, timezone: engine.settings.timezone, ownerToRep: whole.data.ownerToRep, fx: whole.fx };
      // Pairs kept by deal id, and counted as they come (ids unique: the warehouse has one connection).
      for (const repeatedIds of [undefined, new Set<string>()]) {
        let count = 0;
        const pages = dealTimelinePages(t.db, o, 700);
        const counted = (async function* () {
          for await (const page of pages) {
            count++;
            yield page;
          }
        })();
        const byPage = await learnForecastsByPage(counted, { calendar, periods, asOf, settings, repeatedIds });
        expect(count).toBeGreaterThan(5);
        for (const period of periods) {
          const expected = learnForecast({ timelines, calendar, period, asOf, settings });
          const got = byPage.get(period.id);
          if (!got) throw new Error(`nothing learned for ${period.id}`);
          expect(expected.calibration.basis).toBe('calibrated');
          expect(expected.learnedFrom.length).toBeGreaterThan(1);
          pipelines += expected.newPipeline.length;
          // Map order and float bits included: the stored hash (team partials' forecast) is of this JSON.
          expect(JSON.stringify(encodeLearned(got)), `${asOf} ${period.id} ${repeatedIds?.size}`).toBe(
            JSON.stringify(encodeLearned(expected)),
          );
        }
      }
    }
    // Some week has new-pipeline wins in its history (their amounts' order counted too).
    expect(pipelines).toBeGreaterThan(0);
  }, 120_000);

  it('learns the new-pipeline win of a deal entered after its period ended from one-deal pages as from the whole', async () => {
    // Last in the file: the deal it adds would change the figures the tests above compare.
    const engine = new MetricsEngine({ db: t.db, config });
    const calendar = engine.settings.calendar;
    const settings = engine.settings.forecast.calibration;
    const periods = engine.activePeriods(AS_OF);
    const target = periods[0];
    if (!target) throw new Error('no period');
    const previous = calendar.periodsBetween('2025-01-01', target.start, 'quarter').filter((x) => x.end < target.start);
    const last = previous.at(-1);
    if (!last) throw new Error('no ended period');
    const owner = await sql<{ owner: string }>`select owner_external_id as owner from deals
      order by external_id limit 1`.execute(t.db);
    const ownerId = owner.rows[0]?.owner as string;
    // Won on the last day of the previous quarter, created in this one, with no stage history: its timeline has
    // one row dated at its close, and it counts as new pipeline of a period that ended before it was created.
    await sql`insert into deals (connection_id, external_id, content_hash, name, owner_external_id, amount, currency,
        stage, stage_category, probability, close_date, created_date)
      values ('sf', '006ZZZZ1', 'h', 'entered late', ${ownerId}, 12345.67, 'USD', 'Closed Won', 'won', 1, ${last.end},
        ${target.start})`.execute(t.db);
    const whole = await engine.loadModel(AS_OF, periods);
    const o = { asOf: AS_OF, timezone: engine.settings.timezone, ownerToRep: whole.data.ownerToRep, fx: whole.fx };
    const expected = learnForecast({
      timelines: whole.data.dealTimelines ?? [],
      calendar,
      period: target,
      asOf: AS_OF,
      settings,
    });
    const rep = whole.data.ownerToRep.get(`sf:${ownerId}`) ?? `sf:${ownerId}`;
    const term = expected.newPipeline.find(([k]) => k === rep)?.[1];
    expect(term?.cents).toContain(1234567);
    // One deal a page: the page holding the late deal starts after the period it counts in.
    const byPage = await learnForecastsByPage(dealTimelinePages(t.db, o, 1), {
      calendar,
      periods,
      asOf: AS_OF,
      settings,
    });
    const got = byPage.get(target.id);
    if (!got) throw new Error('nothing learned');
    expect(JSON.stringify(encodeLearned(got))).toBe(JSON.stringify(encodeLearned(expected)));
  }, 120_000);
  it('keeps by id the pairs of deal ids two connections share, and counts the others as they come', async () => {
    // After the tests above: the second connection's deals would change the figures they compare.
    const engine = new MetricsEngine({ db: t.db, config });
    const settings = engine.settings.forecast.calibration;
    const calendar = engine.settings.calendar;
    const periods = engine.activePeriods(AS_OF);
    // A second CRM whose deals and stage history repeat some of the first's ids: one (deal, period) pair each in
    // the whole-history count (countOutcomes keys pairs by deal id), two if counted as they come.
    await sql`insert into connections (id, kind) values ('hs', 'hubspot')`.execute(t.db);
    await sql`insert into deals (connection_id, external_id, content_hash, name, owner_external_id, amount, currency,
        stage, stage_category, probability, close_date, created_date)
      select 'hs', external_id, content_hash, name, owner_external_id, amount, currency, stage, stage_category,
        probability, close_date, created_date from deals where connection_id = 'sf' and external_id like '%3'`.execute(
      t.db,
    );
    await sql`insert into deal_stage_history (connection_id, external_id, content_hash, deal_external_id, stage,
        stage_category, amount, close_date, probability, changed_at)
      select 'hs', h.external_id, h.content_hash, h.deal_external_id, h.stage, h.stage_category, h.amount, h.close_date,
        h.probability, h.changed_at from deal_stage_history h
      where h.connection_id = 'sf' and h.deal_external_id like '%3'`.execute(t.db);
    const repeated = await repeatedDealIds(t.db);
    const copied = await sql<{ n: number }>`select count(*)::int as n from deals where connection_id = 'hs'`.execute(
      t.db,
    );
    expect(repeated.size).toBe(copied.rows[0]?.n);
    expect(repeated.size).toBeGreaterThan(10);
    const whole = await engine.loadModel(AS_OF, periods);
    const expected = (p: (typeof periods)[number]) =>
      JSON.stringify(
        encodeLearned(
          learnForecast({ timelines: whole.data.dealTimelines ?? [], calendar, period: p, asOf: AS_OF, settings }),
        ),
      );
    const learned = await learnForecasts(t.db, engine.settings, {
      options: engine.loadOptions(AS_OF, periods),
      periods,
      forecastConfig: 'x',
      pageSize: 300,
    });
    for (const period of periods) expect(JSON.stringify(learned[period.id]?.learned)).toBe(expected(period));
    // Without the repeated ids (every pair counted as it comes) the wins and losses differ: the ids matter here.
    const o = { asOf: AS_OF, timezone: engine.settings.timezone, ownerToRep: whole.data.ownerToRep, fx: whole.fx };
    const asTheyCome = await learnForecastsByPage(dealTimelinePages(t.db, o, 300), {
      calendar,
      periods,
      asOf: AS_OF,
      settings,
      repeatedIds: new Set(),
    });
    const first = periods[0];
    if (!first) throw new Error('no period');
    expect(JSON.stringify(encodeLearned(asTheyCome.get(first.id) as LearnedForecast))).not.toBe(expected(first));
  }, 120_000);
});
