/**
 * The metrics step of the pipeline, as the scheduler and `sync` call it after a sync: bring the org model up to
 * date, then recompute everything when the config changed or the day moved on (figures that depend on D change
 * daily), else only the dirty rep-periods. The result feeds write-back and alert delivery.
 */
import { sql } from 'kysely';
import { loadOrgFile } from '../../config/org-file.ts';
import type { PlainDate } from '../../util/date.ts';
import type { MetricsEngine } from './engine.ts';
import { markDirty } from './engine.ts';
import { syncOrgModel } from './org-model.ts';
import type { RecomputeResult } from './types.ts';

export interface MetricsStepResult extends RecomputeResult {
  mode: 'full' | 'incremental';
  why: 'config_changed' | 'new_day' | 'rates_changed' | 'dirty_keys';
}

/** `config_state` key holding the last change-feed id the metrics step looked at. */
export const FEED_KEY = 'metrics_change_feed';

export async function runMetricsStep(
  engine: MetricsEngine,
  asOf: PlainDate,
  orgFilePath?: string,
): Promise<MetricsStepResult> {
  const db = engine.db;
  const period = engine.activePeriods(asOf)[0]?.id as string;
  const org = await syncOrgModel(db, {
    orgFile: orgFilePath ? await loadOrgFile(orgFilePath) : null,
    asOf,
    periodId: period,
  });
  await markDirty(db, org.dirty);
  if (await engine.configChanged())
    return { ...(await engine.recomputeAll(asOf)), mode: 'full', why: 'config_changed' };
  // A rate change carries no owner, so the sync marks nothing: any synced rate change since the last step means
  // every subject with money in another currency may move; recompute all of them.
  const seen = await db.selectFrom('config_state').select('hash').where('key', '=', FEED_KEY).executeTakeFirst();
  const feed = await sql<{ last: number | null; rates: boolean | null }>`
    select max(id) as last, bool_or(stream = 'fx_rates') as rates from change_feed where id > ${Number(seen?.hash ?? 0)}`.execute(
    db,
  );
  const f = feed.rows[0];
  if (f?.last != null) {
    const last = String(f.last);
    await db
      .insertInto('config_state')
      .values({ key: FEED_KEY, hash: last, value: null })
      .onConflict((oc) => oc.column('key').doUpdateSet({ hash: last, applied_at: new Date() }))
      .execute();
    if (f.rates) return { ...(await engine.recomputeAll(asOf)), mode: 'full', why: 'rates_changed' };
  }
  const last = await sql<{
    as_of: PlainDate | null;
  }>`select max(as_of)::text as as_of from metric_snapshots where period_id = ${period}`.execute(db);
  const lastAsOf = last.rows[0]?.as_of ?? null;
  if (lastAsOf === null || lastAsOf < asOf) {
    const result = await engine.recomputeAll(asOf);
    return { ...result, mode: 'full', why: 'new_day' };
  }
  return { ...(await engine.runDirty(asOf)), mode: 'incremental', why: 'dirty_keys' };
}
