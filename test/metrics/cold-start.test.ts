/**
 * One change in a fresh process (src/metrics/engine/cold.ts): an engine with nothing cached recomputes the dirty
 * reps, their teams from the teams' members' rows, and regions and the org from the stored team partials, with the
 * forecast the full recompute stored; every snapshot equals the one a full recompute stores after the same change
 * (forecast figures of teams, regions and the org included), on the generated org with split deals, a rep who
 * moved teams, owners no rep row stands for and stage history. When the stored state does not match (people
 * changed, a sharded run merged), the engine loads everything as before.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.ts';
import { raiseRatesChanged, settleRatesChanged, takeRatesChanged } from '../../src/dirty/queue.ts';
import { MetricsEngine, markDirty } from '../../src/metrics/engine/engine.ts';
import { mergeRun, runShard, startShardedRun } from '../../src/metrics/engine/shards.ts';
import { addDays } from '../../src/util/date.ts';
import { repeatPass } from '../helpers/ci-pass.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { SHARDED_AS_OF as AS_OF, seedShardedOrg } from '../helpers/sharded-org.ts';

const PERIOD = 'FY2026-Q2';
let t: TestDatabase;

const config = validateConfig({
  calendar: { timezone: 'America/New_York' },
  booking: { splits: 'revenue' },
  forecast: { trials: 500, backtest: { enabled: false } },
});

async function snapshots(): Promise<Map<string, unknown>> {
  const rows = await t.db
    .selectFrom('metric_snapshots')
    .select(['subject_kind', 'subject_id', 'period_id', 'metrics'])
    .execute();
  return new Map(rows.map((r) => [`${r.subject_kind}:${r.subject_id}@${r.period_id}`, r.metrics]));
}

/** The snapshots now, then those a fresh full recompute stores: equal subject by subject. */
async function expectFullRecomputeAgrees(): Promise<void> {
  const now = await snapshots();
  await new MetricsEngine({ db: t.db, config, workerId: 'full-check' }).recomputeAll(AS_OF);
  const full = await snapshots();
  expect(now.size).toBe(full.size);
  for (const [k, v] of full) expect(now.get(k), k).toEqual(v);
}

/** A cold engine's run of the dirty marks; which path it took (`cold`: the stored state, `coldMissed`: full load). */
async function coldRun(): Promise<{ path: string; recomputed: string[] }> {
  const engine = new MetricsEngine({ db: t.db, config, workerId: `cold-${Math.random()}` });
  const r = await engine.runDirty(AS_OF);
  const path = 'cold' in engine.lastTimings ? 'stored' : 'coldMissed' in engine.lastTimings ? 'full' : 'warm';
  return { path, recomputed: r.recomputed };
}

/** The snapshots of the subjects a run recomputed equal the ones a fresh full recompute stores after it. */
async function expectRecomputedAgree(recomputed: string[]): Promise<void> {
  const now = await snapshots();
  await new MetricsEngine({ db: t.db, config, workerId: 'full-check' }).recomputeAll(AS_OF);
  const full = await snapshots();
  expect(recomputed.length).toBeGreaterThan(0);
  for (const k of recomputed) expect(now.get(k), k).toEqual(full.get(k));
}

async function editDeal(where: string, set: string): Promise<string> {
  const r = await sql<{
    owner: string;
  }>`update deals set ${sql.raw(set)} where external_id = (select external_id from deals
      where ${sql.raw(where)} order by external_id limit 1) returning owner_external_id as owner`.execute(t.db);
  const owner = r.rows[0]?.owner as string;
  await markDirty(t.db, [{ subjectKey: `sf:${owner}`, periodId: PERIOD, reason: 'test' }]);
  return owner;
}

beforeAll(async () => {
  if (repeatPass) return;
  t = await createTestDatabase({ poolSize: 6 });
  await seedShardedOrg(t.db);
  await new MetricsEngine({ db: t.db, config, workerId: 'first' }).recomputeAll(AS_OF);
}, 120_000);

afterAll(async () => {
  await t?.drop();
});

// Pinned to one date (the generated org's) and a minute long: the first CI pass only.
describe.skipIf(repeatPass)('one change in a fresh process', () => {
  it('recomputes a won deal of a rep who moved teams from the stored state, as a full recompute would', async () => {
    const owner = await editDeal(
      `owner_external_id = '005R0025' and stage_category = 'won' and close_date >= '2026-04-01'`,
      'amount = amount + 1234.56',
    );
    expect(owner).toBe('005R0025');
    const run = await coldRun();
    expect(run.path).toBe('stored');
    // The rep, both teams it belonged to this quarter, their regions and the org.
    expect(run.recomputed.filter((k) => k.startsWith('team:')).length).toBe(2);
    expect(run.recomputed.some((k) => k.startsWith('org:'))).toBe(true);
    await expectFullRecomputeAgrees();
  });

  it('two cold changes in a row (the second reads the team partials the first stored), open pipeline and splits', async () => {
    await editDeal(`owner_external_id = '005R0013' and stage_category = 'open'`, 'amount = amount * 2');
    expect((await coldRun()).path).toBe('stored');
    // A split deal (every 9th) owned by another rep of another team.
    await editDeal(
      `owner_external_id = '005R0047' and stage_category = 'open' and substr(external_id, 5)::int % 9 = 0`,
      'amount = amount + 500',
    );
    expect((await coldRun()).path).toBe('stored');
    await expectFullRecomputeAgrees();
  });

  it('after a warm engine changed a team, a cold one reads that team as the warm one stored it', async () => {
    const warm = new MetricsEngine({ db: t.db, config, workerId: 'warm' });
    await warm.recomputeAll(AS_OF);
    await editDeal(`owner_external_id = '005R0002' and stage_category = 'open'`, 'amount = amount + 10');
    await warm.runDirty(AS_OF);
    await editDeal(`owner_external_id = '005R0033' and stage_category = 'open'`, 'amount = amount + 10');
    expect((await coldRun()).path).toBe('stored');
    await expectFullRecomputeAgrees();
  });

  it('an engine that keeps getting changes loads the whole model after warmAfterColdRuns and stays warm', async () => {
    const engine = new MetricsEngine({ db: t.db, config, workerId: 'worker', warmAfterColdRuns: 1 });
    const paths = [];
    for (const rep of ['005R0004', '005R0005', '005R0006']) {
      await editDeal(`owner_external_id = '${rep}' and stage_category = 'open'`, 'amount = amount + 1');
      await engine.runDirty(AS_OF);
      const lt = engine.lastTimings;
      paths.push('cold' in lt ? 'stored' : 'fetch' in lt ? 'warm' : 'full');
    }
    expect(paths).toEqual(['stored', 'full', 'warm']);
    await expectFullRecomputeAgrees();
  });

  it('loads everything when the people changed since the state was stored', async () => {
    await sql`update persons set name = name || ' Jr', updated_at = now() where id = 7`.execute(t.db); // wall-clock: a test's edit
    await editDeal(`owner_external_id = '005R0007' and stage_category = 'open'`, 'amount = amount + 10');
    expect((await coldRun()).path).toBe('full');
    await expectFullRecomputeAgrees();
  });

  it('loads everything after a sharded run merged (it stores no team partials)', async () => {
    const engine = new MetricsEngine({ db: t.db, config, workerId: 'sharded' });
    const ref = await startShardedRun(engine, AS_OF, { shards: 2, reason: 'test', alwaysWriteback: false });
    for (const shard of ref.todo) await runShard(engine, ref.runId, shard, 'w');
    expect((await mergeRun(engine, ref.runId)).status).toBe('done');
    await editDeal(`owner_external_id = '005R0011' and stage_category = 'open'`, 'amount = amount + 10');
    expect((await coldRun()).path).toBe('full');
    await expectFullRecomputeAgrees();
  });

  it("does not merge stored partials while another worker's change is under way (its mark claimed elsewhere)", async () => {
    // Rep a's change is claimed by a worker that has not stored yet: its team's stored partial is behind.
    const a = await editDeal(
      `owner_external_id = '005R0003' and stage_category = 'won' and close_date >= '2026-04-01'`,
      'amount = amount + 777',
    );
    await sql`update dirty_keys set claimed_by = 'busy-worker', claimed_at = now()
      where subject_key = ${`sf:${a}`}`.execute(t.db); // wall-clock: a claim as a worker takes it
    await editDeal(`owner_external_id = '005R0043' and stage_category = 'open'`, 'amount = amount + 10');
    const engine = new MetricsEngine({ db: t.db, config, workerId: 'cold-b' });
    const r = await engine.runDirty(AS_OF);
    // What it stored for the org and its regions includes a's change, as a full load read it.
    await sql`update dirty_keys set claimed_by = null, claimed_at = null`.execute(t.db);
    await expectRecomputedAgree(r.recomputed.filter((k) => !k.startsWith('rep:')));
    expect('coldMissed' in engine.lastTimings).toBe(true);
    expect(engine.coldMissedWhy).toBe('marks_outstanding');
  });

  it('does not merge team partials converted at other rates (rates changed, or a sharded run under way)', async () => {
    await sql`update fx_rates set rate = rate * 1.5`.execute(t.db);
    await editDeal(`owner_external_id = '005R0021' and stage_category = 'open'`, 'amount = amount + 10');
    const engine = new MetricsEngine({ db: t.db, config, workerId: 'cold-rates' });
    const r = await engine.runDirty(AS_OF);
    await expectRecomputedAgree(r.recomputed);
    expect(engine.coldMissedWhy).toBe('state_mismatch');
    // The flag a rate sync raises is enough on its own.
    await raiseRatesChanged(t.db);
    await editDeal(`owner_external_id = '005R0022' and stage_category = 'open'`, 'amount = amount + 10');
    const flagged = new MetricsEngine({ db: t.db, config, workerId: 'cold-flag' });
    await flagged.runDirty(AS_OF);
    expect(flagged.coldMissedWhy).toBe('rates_changed');
    // Lowered as a full recompute lowers it: taken at its start, settled once it has stored its snapshots.
    await takeRatesChanged(t.db);
    await settleRatesChanged(t.db);
    // A sharded run started (not merged): its start invalidates the stored forecasts, and it is in progress.
    const sharder = new MetricsEngine({ db: t.db, config, workerId: 'sharder' });
    const ref = await startShardedRun(sharder, AS_OF, { shards: 2, reason: 'test', alwaysWriteback: false });
    expect((await t.db.selectFrom('learned_forecasts').select('period_id').execute()).length).toBe(0);
    await editDeal(`owner_external_id = '005R0023' and stage_category = 'open'`, 'amount = amount + 10');
    const during = new MetricsEngine({ db: t.db, config, workerId: 'cold-during' });
    await during.runDirty(AS_OF);
    expect(during.coldMissedWhy).toBe('run_in_progress');
    await sql`update recompute_runs set status = 'abandoned' where id = ${ref.runId}`.execute(t.db);
    await sql`update dirty_keys set claimed_by = null, claimed_at = null`.execute(t.db);
    await expectFullRecomputeAgrees();
  });

  it('an older date never replaces the stored state of a later one', async () => {
    const before = addDays(AS_OF, -1);
    await new MetricsEngine({ db: t.db, config, workerId: 'yesterday' }).recomputeAll(before);
    const parts = await t.db.selectFrom('team_parts').select('as_of').distinct().execute();
    expect(parts.map((p) => String(p.as_of))).toEqual([AS_OF]);
    const forecasts = await t.db.selectFrom('learned_forecasts').select('as_of').distinct().execute();
    expect(forecasts.map((p) => String(p.as_of))).toEqual([AS_OF]);
    await editDeal(`owner_external_id = '005R0024' and stage_category = 'open'`, 'amount = amount + 10');
    expect((await coldRun()).path).toBe('stored');
    // Today's snapshots again for whatever runs next (the run as of yesterday replaced them).
    await new MetricsEngine({ db: t.db, config, workerId: 'today' }).recomputeAll(AS_OF);
  });

  it('a user re-linked to another person (its rep row not rewritten) changes the people fingerprint', async () => {
    // A binding change in the org file moves the user to an existing person: persons, memberships unchanged.
    await sql`update reps set person_id = 15 where external_id = '005R0005'`.execute(t.db);
    await markDirty(t.db, [
      { subjectKey: 'person:5', periodId: PERIOD, reason: 'test' },
      { subjectKey: 'person:15', periodId: PERIOD, reason: 'test' },
    ]);
    expect((await coldRun()).path).toBe('full');
    await expectFullRecomputeAgrees();
  });
});
