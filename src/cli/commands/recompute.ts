/**
 * `quota-tracker recompute [--from PERIOD]`: recompute every subject's snapshot as of today (and, with `--from`,
 * every quarter since PERIOD), then run whatever rep-periods are still marked dirty. Prints what changed.
 */
import { today } from '../../util/date.ts';
import { processWorkerId } from '../../util/worker-id.ts';
import { loadForCommand } from '../config-for-command.ts';
import type { CommandContext } from '../program.ts';

export async function run(ctx: CommandContext): Promise<number> {
  const { loaded, logger } = await loadForCommand(ctx, { quiet: true });
  const { config } = loaded;
  const { createDb } = await import('../../db/index.ts');
  const { migrateToLatest } = await import('../../db/migrate.ts');
  const { MetricsEngine } = await import('../../metrics/engine/engine.ts');
  const { checkPlanningFiles, loadPlanningFiles } = await import('../../planning/files.ts');
  const { createFiscalCalendar } = await import('../../config/calendar.ts');
  const calendar = createFiscalCalendar(config.calendar);
  await checkPlanningFiles(config, calendar);
  const handle = await createDb({ url: config.database.url, dataDir: config.database.dataDir, logger });
  try {
    await migrateToLatest(handle.db, { log: logger });
    const engine = new MetricsEngine({ db: handle.db, config, logger, workerId: `cli-${processWorkerId()}` });
    const asOf = today(config.calendar.timezone);
    const from = ctx.options.from as string | undefined;
    const started = performance.now();
    const { linkPersons, syncOrgModel } = await import('../../metrics/engine/org-model.ts');
    const { loadOrgFile } = await import('../../config/org-file.ts');
    // The quota and rate files as they are now (a changed file is loaded; the recompute below covers it).
    const orgFile = config.org.file ? await loadOrgFile(config.org.file) : null;
    // Everything is recomputed below, so the persons whose users moved need no marks.
    await linkPersons(handle.db, orgFile);
    await loadPlanningFiles(handle.db, config, calendar, logger);
    await syncOrgModel(handle.db, {
      orgFile,
      asOf,
      periodId: engine.activePeriods(asOf)[0]?.id as string,
    });
    const result = await engine.recomputeAll(asOf, from === undefined ? {} : { from });
    // Marks made before this run are covered by it; drop them rather than compute them twice.
    const dirty = await engine.runDirty(asOf);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const opened = result.alertEvents.filter((e) => e.event === 'opened').length;
    const resolved = result.alertEvents.filter((e) => e.event === 'resolved').length;
    ctx.io.stdout(
      `Recomputed ${result.recomputed.length} subject-periods as of ${asOf} in ${seconds} s: ${result.changes.length} changed, ${opened} alerts opened, ${resolved} resolved${dirty.claimed > 0 ? `; then ${dirty.claimed} dirty keys` : ''}.`,
    );
    return 0;
  } finally {
    await handle.close();
  }
}
