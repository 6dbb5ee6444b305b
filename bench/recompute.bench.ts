/**
 * Recompute benchmark on a medium warehouse (500 reps in 50 teams and 5 regions, 100,000 deals, ~150,000
 * activities, 8 quarters of quotas, EUR deals at dated rates), generated straight into a fresh database because
 * the sandbox sync is not the thing measured here.
 *
 * Measures (medians of several runs):
 * - the full recompute: every field of every subject's snapshot (500 reps, 50 teams, 5 regions, the org) for the
 *   current quarter, from a cold load of the warehouse to committed snapshots;
 * - one change: a deal's amount edited and its rep-period marked dirty (as the sync does), to the rep's, team's,
 *   region's and org's snapshots committed by `runDirty`.
 * Targets: one change under 50 ms, and at least 100x faster than the full recompute.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { validateConfig } from '../src/config/load.ts';
import { connect } from '../src/db/index.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { MetricsEngine, markDirty } from '../src/metrics/engine/engine.ts';
import { admin } from './admin.ts';
import { median } from './rows.ts';
import { generateWarehouse } from './warehouse.ts';

const AS_OF = '2026-06-12';
const PERIOD = 'FY2026-Q2';

export async function run(): Promise<{ name: string; ok: boolean; summary: string; metrics: Record<string, number> }> {
  const server = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const name = `qt_bench_${randomBytes(4).toString('hex')}`;
  await admin(server, `create database ${name}`);
  const u = new URL(server);
  u.pathname = `/${name}`;
  const db = await connect(u.toString(), 4);
  try {
    await migrateToLatest(db);
    let t = performance.now();
    await generateWarehouse(db);
    const generateMs = performance.now() - t;
    const config = validateConfig({ calendar: { timezone: 'America/New_York' } });

    const fullRuns: number[] = [];
    let engine = new MetricsEngine({ db, config, workerId: 'bench' });
    let subjects = 0;
    for (let i = 0; i < 3; i++) {
      engine = new MetricsEngine({ db, config, workerId: 'bench' });
      t = performance.now();
      const r = await engine.recomputeAll(AS_OF);
      fullRuns.push(performance.now() - t);
      subjects = r.recomputed.length;
    }
    const fullMs = median(fullRuns);

    // One change at a time: edit a deal closed this quarter, mark old/new owner x period as the sync does.
    const changeRuns: number[] = [];
    const splits: Record<string, number>[] = [];
    let recomputed = 0;
    let written = 0;
    const deals = await sql<{ external_id: string; owner_external_id: string }>`
      select external_id, owner_external_id from deals where stage_category = 'won' and close_date between '2026-04-01' and ${AS_OF}
      order by external_id limit 9`.execute(db);
    for (const d of deals.rows) {
      t = performance.now();
      await sql`update deals set amount = amount + 1000 where connection_id = 'sf' and external_id = ${d.external_id}`.execute(
        db,
      );
      await markDirty(db, [{ subjectKey: `sf:${d.owner_external_id}`, periodId: PERIOD, reason: 'bench' }]);
      const r = await engine.runDirty(AS_OF);
      changeRuns.push(performance.now() - t);
      splits.push({ ...engine.lastTimings });
      recomputed = r.recomputed.length;
      written = r.changes.length;
    }
    const changeMs = median(changeRuns);
    // Where one change spends its time (the engine's lastTimings), each part's median over the runs.
    const split: Record<string, number> = {};
    for (const k of new Set(splits.flatMap((x) => Object.keys(x)))) split[k] = median(splits.map((x) => x[k] ?? 0));
    const ms = (k: string) => `${k} ${(split[k] ?? 0).toFixed(1)} ms`;

    // A sync page's worth: 100 deals of 100 reps changed, one runDirty for all of them.
    const batch = await sql<{ external_id: string; owner_external_id: string }>`
      select distinct on (owner_external_id) external_id, owner_external_id from deals
      where stage_category = 'won' and close_date between '2026-04-01' and ${AS_OF} order by owner_external_id, external_id limit 100`.execute(
      db,
    );
    t = performance.now();
    await sql`update deals set amount = amount + 1000 where connection_id = 'sf' and external_id = any(${batch.rows.map((r) => r.external_id)}::text[])`.execute(
      db,
    );
    await markDirty(
      db,
      batch.rows.map((d) => ({ subjectKey: `sf:${d.owner_external_id}`, periodId: PERIOD, reason: 'bench' })),
    );
    const batchResult = await engine.runDirty(AS_OF);
    const batchMs = performance.now() - t;
    const ratio = fullMs / changeMs;
    const ok = changeMs < 50 && ratio >= 100;
    return {
      name: 'recompute: full vs one changed deal (500 reps, 100,000 deals)',
      ok,
      summary: `full ${fullMs.toFixed(0)} ms for ${subjects} subject snapshots; one change ${changeMs.toFixed(1)} ms for ${recomputed} subjects (${written} written; medians: ${['probe', 'fetch', 'book'].map(ms).join(', ')} (load ${(split.load ?? 0).toFixed(1)} ms); compute ${['rep', 'team', 'region', 'org', 'document'].map(ms).join(', ')}; ${['store', 'alerts', 'release'].map(ms).join(', ')}); ratio ${ratio.toFixed(1)}x (targets < 50 ms, >= 100x); 100 changes in one batch ${batchMs.toFixed(0)} ms (${batchResult.recomputed.length} subjects)`,
      metrics: {
        generate_ms: generateMs,
        full_recompute_ms: fullMs,
        one_change_ms: changeMs,
        one_change_min_ms: Math.min(...changeRuns),
        one_change_max_ms: Math.max(...changeRuns),
        ratio,
        one_change_compute_rep_ms: split.rep ?? 0,
        one_change_compute_team_ms: split.team ?? 0,
        one_change_compute_region_ms: split.region ?? 0,
        one_change_compute_org_ms: split.org ?? 0,
        one_change_document_ms: split.document ?? 0,
        one_change_probe_ms: split.probe ?? 0,
        one_change_fetch_ms: split.fetch ?? 0,
        one_change_book_ms: split.book ?? 0,
        one_change_load_ms: split.load ?? 0,
        one_change_store_ms: split.store ?? 0,
        one_change_alerts_ms: split.alerts ?? 0,
        one_change_release_ms: split.release ?? 0,
        batch_100_changes_ms: batchMs,
        batch_100_per_change_ms: batchMs / 100,
        subjects_full: subjects,
        subjects_one_change: recomputed,
      },
    };
  } finally {
    await db.destroy();
    await admin(server, `drop database if exists ${name} with (force)`);
  }
}
