/**
 * `quota-tracker sync [--connection ID] [--stream NAME] [--full] [--no-writeback] [--as-of DATE] [--deliver]`: runs
 * the pipeline once, now: every stream of every enabled connection (or the one asked for) into the warehouse, with
 * a progress bar on a terminal and one plain line per stream otherwise; then the metrics of what changed, as of
 * `--as-of` or today; then write-back and alert tasks (not with `--no-writeback`; for a past `--as-of` only with
 * `--deliver`).
 */
import { createFiscalCalendar } from '../../config/calendar.ts';
import { AppError } from '../../errors.ts';
import type { SyncProgress, SyncSummary } from '../../sync/run.ts';
import { count } from '../../util/count.ts';
import { inTurns } from '../../util/in-turns.ts';
import { processWorkerId } from '../../util/worker-id.ts';
import { loadForCommand } from '../config-for-command.ts';
import type { CommandContext } from '../program.ts';

const BAR_WIDTH = 24;

/** The warehouse tables of the streams every other stream's checks rely on: synced first, alone. */
const PEOPLE_TABLES = new Set(['reps', 'crm_roles']);

/**
 * The tables that hold most of an org's rows, largest first: the activities (5,000,000 of the `large` org's rows,
 * its Task stream alone 4,000,000), then the stage history (3,300,000). Their streams start right after the deals.
 */
const LARGE_TABLES = ['activities', 'deal_stage_history'];

/**
 * The order a connection's streams (after its people) start in, as indexes of `tables` (each stream's warehouse
 * table). The deals first: a sync stopped early (the API budget, Ctrl-C) has the figures' main input. Then the
 * streams of the biggest tables, one stream of each table before a second of any (several streams share the
 * activities: Salesforce's tasks and events, HubSpot's calls, emails, ...), the largest table first: the biggest
 * streams start early and run beside each other, and the smaller ones fill in after them, instead of the largest one
 * starting late and running alone at the end (on the 468,000-record bench org, tasks after opportunities and the
 * stage history ran alone for its last 7 of 36 s). The rest in their own order.
 */
export function streamStartOrder(tables: readonly string[]): number[] {
  const seen = new Map<string, number>();
  const rank = (t: string): [number, number, number] => {
    if (t === 'deals') return [0, 0, 0];
    const large = LARGE_TABLES.indexOf(t);
    if (large < 0) return [2, 0, 0];
    const nth = seen.get(t) ?? 0;
    seen.set(t, nth + 1);
    return [1, nth, large];
  };
  return tables
    .map((t, i) => ({ i, rank: rank(t) }))
    .sort((a, b) => a.rank[0] - b.rank[0] || a.rank[1] - b.rank[1] || a.rank[2] - b.rank[2] || a.i - b.i)
    .map((x) => x.i);
}

/** Streams of one connection synced at once by `sync` (the service runs each stream as its own job). */
const STREAMS_AT_ONCE = 2;

/** One progress line: a bar when the CRM said how many records the scan has, counts otherwise. */
export function progressLine(connectionId: string, p: SyncProgress): string {
  const counts = `${count(p.read)} read, ${count(p.changed)} changed, ${count(p.deleted)} deleted, ${count(p.apiCalls)} API calls`;
  if (p.total && p.total > 0) {
    const share = Math.min(1, p.read / p.total);
    const filled = Math.round(share * BAR_WIDTH);
    return `${connectionId}/${p.stream} [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${Math.round(share * 100)}% ${counts}`;
  }
  return `${connectionId}/${p.stream} ${counts}`;
}

export function summaryLine(connectionId: string, s: SyncSummary): string {
  const abandoned = s.abandonedRuns?.length
    ? `; closed abandoned run${s.abandonedRuns.length === 1 ? '' : 's'} ${s.abandonedRuns.map((id) => `#${id}`).join(', ')} (its process had gone away)`
    : '';
  const base = `${connectionId}/${s.stream}: ${s.status}; ${count(s.read)} read, ${count(s.changed)} changed, ${count(s.deleted)} deleted, ${count(s.quarantined)} quarantined, ${count(s.apiCalls)} API calls${abandoned}`;
  return s.errorMessage ? `${base}; ${s.errorMessage}` : base;
}

/**
 * `--stream conn/stream`, as the summary lines print it, names the connection too; it must agree with
 * `--connection` when both are given.
 */
export function streamOption(
  connection: string | undefined,
  stream: string | undefined,
): { connection: string | undefined; stream: string | undefined } {
  const slash = stream?.indexOf('/') ?? -1;
  if (stream === undefined || slash < 0) return { connection, stream };
  const named = stream.slice(0, slash);
  if (connection !== undefined && connection !== named) {
    throw new AppError('USAGE', `--stream ${stream} names connection ${named}, but --connection is ${connection}`, {
      where: '--stream',
    });
  }
  return { connection: named, stream: stream.slice(slash + 1) };
}

export async function run(ctx: CommandContext): Promise<number> {
  const { loaded, logger } = await loadForCommand(ctx, { quiet: true });
  const { config } = loaded;
  // A malformed quota or rate file is bad config: exit 2 naming file:line:column before anything is synced.
  const { checkPlanningFiles } = await import('../../planning/files.ts');
  await checkPlanningFiles(config, createFiscalCalendar(config.calendar));

  const { connection: wanted, stream: requested } = streamOption(
    ctx.options.connection as string | undefined,
    ctx.options.stream as string | undefined,
  );
  let connections = config.connections.filter((c) => (wanted ? c.id === wanted : c.enabled));
  if (wanted && connections.length === 0) {
    throw new AppError('USAGE', `no connection "${wanted}" in the configuration`, { where: '--connection' });
  }
  if (connections.length === 0) {
    ctx.io.stderr('No enabled connection in the configuration: nothing to sync.');
    return 0;
  }

  const { connectorFor } = await import('../../sync/connectors.ts');
  const { connectorKind, crmLabel, matchStreams } = await import('../../connectors/registry.ts');
  // A mistyped --stream is bad usage, said before the database opens or a connector warns about anything. A name
  // one CRM has and the other lacks (`opportunities`, `goal_targets`) syncs the connections that have it.
  const streamsOf = new Map<string, string[]>();
  const knownOf = new Map<string, string[]>();
  const aliasNames = new Set<string>();
  for (const conn of connections) {
    const kind = connectorKind(conn.type);
    if (!kind) continue;
    const known = kind.streams(conn).map((s) => s.name);
    knownOf.set(conn.id, known);
    for (const a of Object.keys(kind.streamAliases)) aliasNames.add(a);
    const found = matchStreams(known, requested, kind.streamAliases);
    if (found) streamsOf.set(conn.id, found);
  }
  if (requested !== undefined) {
    if (streamsOf.size === 0) {
      const known = [...knownOf].map(([id, names]) => `${id}: ${names.join(', ')}`).join('; ');
      throw new AppError(
        'USAGE',
        `unknown stream "${requested}"; ${known || 'no connection with a sync'}; or a name for the same data in either CRM: ${[...aliasNames].sort().join(', ')}`,
        { where: '--stream' },
      );
    }
    connections = connections.filter((c) => streamsOf.has(c.id) || !connectorKind(c.type));
    // What the name stood for, in the names the summary lines below use.
    const chosen = [...streamsOf].flatMap(([id, names]) => names.map((n) => `${id}/${n}`));
    if (chosen.length !== 1 || !chosen[0]?.endsWith(`/${requested.trim().toLowerCase()}`)) {
      ctx.io.stderr(`--stream ${requested}: ${chosen.join(', ') || 'no stream of it in the enabled connections'}`);
    }
  }

  const { createDb } = await import('../../db/index.ts');
  const { migrateToLatest } = await import('../../db/migrate.ts');
  const { runSync } = await import('../../sync/run.ts');
  const handle = await createDb({ url: config.database.url, dataDir: config.database.dataDir, logger });
  const abort = new AbortController();
  const { armStopDeadline } = await import('../stop-deadline.ts');
  const onSignal = (sig: NodeJS.Signals) => {
    abort.abort(new AppError('INTERNAL', 'interrupted; the next sync resumes where this one stopped'));
    armStopDeadline(ctx.io, sig);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const tty = process.stderr.isTTY === true;
  let failed = false;
  try {
    await migrateToLatest(handle.db, { log: logger });
    const calendar = createFiscalCalendar(config.calendar);
    for (const conn of connections) {
      if (!connectorKind(conn.type)) {
        // Nothing half-built exits 0: the other connections sync, and the run fails naming this one.
        ctx.io.stderr(
          `${conn.id}: ${crmLabel(conn.type)} sync is not built yet; connection ${conn.id} was not synced (sync the others alone with --connection ID, or set enabled: false on it).`,
        );
        failed = true;
        continue;
      }
      const connector = await connectorFor(handle.db, conn, config, logger, abort.signal);
      // A CRM read but not written (HubSpot for now): the read runs, and a run that was asked to write there fails
      // naming it rather than skipping it silently.
      const writeAsked =
        ctx.options.writeback !== false && config.writeback.enabled && conn.writeback.enabled && conn.enabled;
      const unwritable = writeAsked && connectorKind(conn.type)?.writes !== true;
      const streams = streamsOf.get(conn.id) ?? [];
      const specs = new Map(
        connectorKind(conn.type)
          ?.streams(conn)
          .map((s) => [s.name, s]) ?? [],
      );
      // The users and roles streams go first, alone: the other streams' owner checks need the users. The rest
      // run STREAMS_AT_ONCE at a time, as the service's workers run them, so that the CRM, this process and
      // PostgreSQL work at once instead of in turn; their summaries print in sync order.
      const people = streams.filter((s) => PEOPLE_TABLES.has(specs.get(s)?.table ?? ''));
      const rest = streams.filter((s) => !people.includes(s));
      let stop = false;
      const syncOne = async (stream: string): Promise<SyncSummary | undefined> => {
        if (abort.signal.aborted || stop) return undefined;
        const summary = await runSync({
          db: handle.db,
          connector,
          connectionId: conn.id,
          stream,
          calendar,
          trigger: 'cli',
          sanity: conn.sync.sanity,
          full: ctx.options.full === true,
          log: logger,
          signal: abort.signal,
          onProgress: (p) => {
            if (tty) process.stderr.write(`\r\x1b[2K${progressLine(conn.id, p)}`);
          },
        });
        // A budget stop, an org mismatch or bad credentials will stop every stream the same way: start no more.
        if (
          summary.status === 'stopped_budget' ||
          summary.errorCode === 'CRM_AUTH_FAILED' ||
          summary.errorCode === 'CRM_ORG_MISMATCH'
        )
          stop = true;
        return summary;
      };
      let budgetSaid = false;
      const report = (summary: SyncSummary | undefined) => {
        if (!summary) return;
        if (tty) process.stderr.write('\r\x1b[2K');
        ctx.io.stdout(summaryLine(conn.id, summary));
        if (summary.status === 'failed') failed = true;
        if (summary.status === 'stopped_budget' && !budgetSaid) {
          budgetSaid = true;
          ctx.io.stderr(`${conn.id}: stopped at the configured API budget; the next sync resumes from here.`);
        }
      };
      for (const stream of people) report(await syncOne(stream));
      const startOrder = streamStartOrder(rest.map((s) => specs.get(s)?.table ?? ''));
      await inTurns(rest, STREAMS_AT_ONCE, syncOne, report, startOrder);
      if (unwritable) {
        ctx.io.stderr(
          `${conn.id}: write-back to ${crmLabel(conn.type)} is not built yet; connection ${conn.id} was read but nothing was written to it (pass --no-writeback, or set writeback.enabled: false on it).`,
        );
        failed = true;
      }
    }
    // --- metrics (issue 6): recompute what the sync dirtied, as of --as-of or today ---
    const asOf = ctx.options.asOf as string | undefined;
    if (!abort.signal.aborted) {
      const { MetricsEngine } = await import('../../metrics/engine/engine.ts');
      const { runMetricsStep } = await import('../../metrics/engine/step.ts');
      const { today } = await import('../../util/date.ts');
      const engine = new MetricsEngine({ db: handle.db, config, logger, workerId: `cli-${processWorkerId()}` });
      const day = asOf ?? today(config.calendar.timezone);
      const step = await runMetricsStep(engine, day, config.org.file);
      ctx.io.stdout(
        `metrics as of ${day}: ${step.mode} recompute, ${count(step.recomputed.length)} subjects, ${count(step.changes.length)} changed`,
      );
      const { rampWarehouseNotice } = await import('../ramp-notice.ts');
      const ramp = await rampWarehouseNotice(handle.db, config);
      if (ramp) ctx.io.stderr(ramp);
    }
    if (ctx.options.writeback === false) ctx.io.stderr('Nothing was written to the CRM (--no-writeback).');
    // --- write-back and alert tasks (issue 7): src/writeback/run.ts ---
    if (ctx.options.writeback !== false && !abort.signal.aborted) {
      const { writebackStep } = await import('../../writeback/run.ts');
      const wb = {
        db: handle.db,
        config,
        log: logger,
        connector: (id: string) => {
          const c = config.connections.find((x) => x.id === id);
          if (!c) throw new AppError('USAGE', `no connection "${id}" in the configuration`, { where: '--connection' });
          return connectorFor(handle.db, c, config, logger, abort.signal);
        },
      };
      const lines = await writebackStep(wb, {
        ...(asOf !== undefined ? { asOf } : {}),
        deliver: ctx.options.deliver === true,
        ...(wanted !== undefined ? { only: wanted } : {}),
      });
      for (const line of lines) ctx.io.stdout(line);
    }
    // --- end of write-back ---
    return failed ? 1 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await handle.close();
  }
}
