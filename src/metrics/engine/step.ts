/**
 * The metrics step of the pipeline, as the scheduler and `sync` call it after a sync: bring the org model up to
 * date, then recompute everything when the config changed or the day moved on (figures that depend on D change
 * daily), else only the dirty rep-periods. The result feeds write-back and alert delivery.
 */
import { sql } from 'kysely';
import { loadOrgFile } from '../../config/org-file.ts';
import { markDirty, raiseRatesChanged, settleRatesChanged, takeRatesChanged } from '../../dirty/queue.ts';
import { loadPlanningFiles, loadPlanningFilesKeepingLastGood } from '../../planning/files.ts';
import type { PlainDate } from '../../util/date.ts';
import { lastFullRecompute, type MetricsEngine } from './engine.ts';
import { linkPersons, syncOrgModel } from './org-model.ts';
import type { RecomputeResult } from './types.ts';

export interface MetricsStepResult extends RecomputeResult {
  mode: 'full' | 'incremental';
  why: 'config_changed' | 'new_day' | 'rates_changed' | 'dirty_keys';
  /** The sharded run a full recompute was queued as (`full`), still to finish. */
  run?: number;
}

/** Why a full recompute is due. */
export type FullReason = 'config_changed' | 'new_day' | 'rates_changed';

export interface MetricsStepOptions {
  /**
   * A planning file (quotas, rates) that turned bad: `throw` it (a command, exit 2 naming file:line:column), or keep
   * the last good rows and report it on /readyz (a running service).
   */
  badPlanningFile?: 'throw' | 'keep-last-good';
  /**
   * Runs a full recompute in place of `engine.recomputeAll`: the service queues it as a sharded run
   * (src/metrics/engine/shards.ts) when `queue.recomputeShards` is above 1, and returns before it is done.
   */
  full?: (why: FullReason) => Promise<RecomputeResult & { run?: number }>;
}

export async function runMetricsStep(
  engine: MetricsEngine,
  asOf: PlainDate,
  orgFilePath?: string,
  options: MetricsStepOptions = {},
): Promise<MetricsStepResult> {
  const db = engine.db;
  const period = engine.activePeriods(asOf)[0]?.id as string;
  const orgFile = orgFilePath ? await loadOrgFile(orgFilePath) : null;
  // RevOps' quota and rate files first: who carries a quota decides who is a rep in the org model below. Users are
  // linked to persons before (the org file's CRM id bindings included), and a user now standing for another person
  // moves both persons' figures.
  const relinked = await linkPersons(db, orgFile);
  await markDirty(
    db,
    relinked.map((id) => ({ subjectKey: `person:${id}`, periodId: period, reason: 'person_linked' })),
  );
  const planning =
    options.badPlanningFile === 'keep-last-good'
      ? await loadPlanningFilesKeepingLastGood(db, engine.config, engine.settings.calendar, engine.log)
      : await loadPlanningFiles(db, engine.config, engine.settings.calendar, engine.log);
  if (planning) await markDirty(db, planning.dirty);
  const org = await syncOrgModel(db, {
    orgFile,
    asOf,
    periodId: period,
  });
  await markDirty(db, org.dirty);
  // A rate change carries no owner, so the sync marks no rep: it raises a flag in the same transaction as the rates
  // (see src/dirty/queue.ts), and any money in another currency may move, so every subject is recomputed. The
  // flag is taken before the recompute reads the rates (a sync committing later raises it again), stays in place
  // while it runs (the snapshots still hold the old rates' figures: readers must not call them current), is
  // lowered once the recompute has stored its snapshots and given back if it fails.
  const rates = await takeRatesChanged(db);
  const full = options.full ?? (() => engine.recomputeAll(asOf));
  try {
    const why = (await engine.configChanged()) ? 'config_changed' : rates ? 'rates_changed' : null;
    if (why !== null) {
      const result = await full(why);
      if (rates) await settleRatesChanged(db);
      return { ...result, mode: 'full', why };
    }
  } catch (e) {
    if (rates) await raiseRatesChanged(db);
    throw e;
  }
  // The day of the last finished full recompute (a sharded run given up has moved some snapshots on, not all); a
  // database from before that record falls back on the snapshots' dates.
  let lastAsOf = await lastFullRecompute(db);
  if (lastAsOf === null) {
    const last = await sql<{
      as_of: PlainDate | null;
    }>`select max(as_of)::text as as_of from metric_snapshots where period_id = ${period}`.execute(db);
    lastAsOf = last.rows[0]?.as_of ?? null;
  }
  if (lastAsOf === null || lastAsOf < asOf) {
    return { ...(await full('new_day')), mode: 'full', why: 'new_day' };
  }
  return { ...(await engine.runDirty(asOf)), mode: 'incremental', why: 'dirty_keys' };
}
