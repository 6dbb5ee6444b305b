/**
 * `quota-tracker writeback plan [--connection ID]`: what the next write-back would change, field by field with the
 * value before and after, computed exactly as a live run would (same snapshots, same ledger), and nothing written
 * to the CRM. `quota-tracker writeback revert --run ID`: restores the values a run replaced, as a new audited run.
 */
import type { Config } from '../../config/schema.ts';
import type { DbHandle } from '../../db/index.ts';
import { AppError } from '../../errors.ts';
import { count } from '../../util/count.ts';
import type { Logger } from '../../util/log.ts';
import type { RecordChanges } from '../../writeback/ledger.ts';
import { loadForCommand } from '../config-for-command.ts';
import type { CommandContext, CommandModule } from '../program.ts';
import { table } from '../table.ts';

async function open(ctx: CommandContext): Promise<{ config: Config; logger: Logger; handle: DbHandle }> {
  const { loaded, logger } = await loadForCommand(ctx, { quiet: true });
  const { createDb } = await import('../../db/index.ts');
  const { migrateToLatest } = await import('../../db/migrate.ts');
  const config = loaded.config;
  const handle = await createDb({ url: config.database.url, dataDir: config.database.dataDir, logger });
  await migrateToLatest(handle.db, { log: logger });
  return { config, logger, handle };
}

const show = (v: string | null) => (v === null ? '(empty)' : v);

/** The rep a write-back record is for: its name and email as synced. */
export interface PlanPerson {
  readonly name: string;
  readonly email: string | null;
}

/**
 * The rep of each planned record. A user-fields record is the rep's CRM user (its id is the user id); a
 * scorecard record's id is `<user id>:<period>`.
 */
async function peopleOf(
  db: DbHandle['db'],
  connectionId: string,
  plan: readonly RecordChanges[],
): Promise<Map<string, PlanPerson>> {
  const userOf = (recordId: string) => recordId.split(':')[0] as string;
  const ids = [...new Set(plan.map((r) => userOf(r.targetRecordId)))];
  const out = new Map<string, PlanPerson>();
  if (ids.length === 0) return out;
  const rows = await db
    .selectFrom('reps as r')
    .leftJoin('persons as p', 'p.id', 'r.person_id')
    .select(['r.external_id', 'r.name', 'r.email', 'p.name as personName'])
    .where('r.connection_id', '=', connectionId)
    .where('r.external_id', 'in', ids)
    .execute();
  const byUser = new Map(rows.map((r) => [r.external_id, { name: r.personName ?? r.name, email: r.email }]));
  for (const r of plan) {
    const person = byUser.get(userOf(r.targetRecordId));
    if (person) out.set(r.targetRecordId, person);
  }
  return out;
}

function personText(person: PlanPerson | undefined, label: string | undefined): string {
  if (person) return ` ${person.name}${person.email ? ` <${person.email}>` : ''}`;
  return label ? ` ${label}` : '';
}

/** The plan as text lines: one per record, naming the rep, then one per field. */
export function planLines(
  connectionId: string,
  plan: readonly RecordChanges[],
  people: ReadonlyMap<string, PlanPerson> = new Map(),
): string[] {
  const lines: string[] = [];
  for (const r of plan) {
    lines.push(
      `${connectionId} ${r.targetObject} ${r.targetRecordId}${personText(people.get(r.targetRecordId), r.label)}`,
    );
    for (const c of r.changes)
      lines.push(
        `  ${c.field}: ${c.beforeUnknown ? '(unknown: never written by us)' : show(c.before)} -> ${show(c.after)}`,
      );
  }
  return lines;
}

/** One planned record in `writeback plan --format json`. */
function planRecordJson(r: RecordChanges, person: PlanPerson | undefined) {
  return {
    object: r.targetObject,
    recordId: r.targetRecordId,
    rep: person ? { name: person.name, email: person.email } : r.label ? { name: r.label, email: null } : null,
    changes: r.changes.map((c) => ({
      field: c.field,
      before: c.beforeUnknown ? null : c.before,
      beforeUnknown: c.beforeUnknown === true,
      after: c.after,
    })),
  };
}

export const plan: CommandModule = {
  async run(ctx) {
    const json = ctx.options.format === 'json';
    const { config, logger, handle } = await open(ctx);
    try {
      const { connectorFor } = await import('../../sync/connectors.ts');
      const { runWriteback } = await import('../../writeback/run.ts');
      const wanted = ctx.options.connection as string | undefined;
      const conns = config.connections.filter((c) => (wanted ? c.id === wanted : c.enabled));
      if (wanted && conns.length === 0) {
        throw new AppError('USAGE', `no connection "${wanted}" in the configuration`, { where: '--connection' });
      }
      const wb = {
        db: handle.db,
        config,
        log: logger,
        connector: async (id: string) => {
          const conn = config.connections.find((c) => c.id === id);
          if (!conn) throw new AppError('USAGE', `no connection "${id}"`, { where: '--connection' });
          return connectorFor(handle.db, conn, config, logger);
        },
      };
      let records = 0;
      let fields = 0;
      const doc: Array<Record<string, unknown>> = [];
      for (const conn of conns) {
        const out = await runWriteback(wb, { connectionId: conn.id, mode: 'dry-run' });
        if (out.status !== 'done') {
          doc.push({ connection: conn.id, planned: false, reason: out.reason, records: [] });
          if (!json) ctx.io.stdout(`${conn.id}: nothing to plan (${out.reason})`);
          continue;
        }
        const people = await peopleOf(handle.db, conn.id, out.push.plan);
        records += out.push.plan.length;
        fields += out.push.plan.reduce((n, r) => n + r.changes.length, 0);
        doc.push({
          connection: conn.id,
          planned: true,
          asOf: out.asOf,
          period: out.periodId,
          dryRun: out.push.runId,
          records: out.push.plan.map((r) => planRecordJson(r, people.get(r.targetRecordId))),
        });
        if (json) continue;
        for (const line of planLines(conn.id, out.push.plan, people)) ctx.io.stdout(line);
        ctx.io.stdout(
          `${conn.id}: ${count(out.push.plan.length)} record(s) would change as of ${out.asOf} (${out.periodId}); dry run #${out.push.runId}, nothing written`,
        );
      }
      if (json) ctx.io.stdout(JSON.stringify({ connections: doc, records, fields }, null, 2));
      ctx.io.stderr(
        `Plan: ${count(records)} record(s), ${count(fields)} field(s) would change; nothing was written to any CRM.`,
      );
      return 0;
    } finally {
      await handle.close();
    }
  },
};

/** A run as `writeback runs` shows it. */
export interface RunListing {
  id: number;
  connection: string;
  kind: 'push' | 'revert';
  revertsRun: number | null;
  mode: 'live' | 'dry-run';
  asOf: string | null;
  startedAt: string;
  finishedAt: string | null;
  status: string;
  recordsWritten: number;
  recordsUnchanged: number;
  recordsFailed: number;
  apiCalls: number;
  error: string | null;
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

export const runs: CommandModule = {
  async run(ctx) {
    const limit = (ctx.options.limit as number | undefined) ?? 20;
    if (limit < 1) throw new AppError('USAGE', `--limit must be 1 or more, got ${limit}`, { where: '--limit' });
    const wanted = ctx.options.connection as string | undefined;
    const { handle } = await open(ctx);
    try {
      let q = handle.db.selectFrom('writeback_runs').selectAll().orderBy('id', 'desc').limit(limit);
      if (wanted !== undefined) q = q.where('connection_id', '=', wanted);
      const rows = await q.execute();
      const listed: RunListing[] = rows.map((r) => ({
        id: r.id,
        connection: r.connection_id,
        kind: r.kind,
        revertsRun: r.reverts_run_id,
        mode: r.mode,
        asOf: r.as_of === null ? null : String(r.as_of),
        startedAt: iso(r.started_at) as string,
        finishedAt: iso(r.finished_at),
        status: r.status,
        recordsWritten: r.records_written,
        recordsUnchanged: r.records_unchanged,
        recordsFailed: r.records_failed,
        apiCalls: r.api_calls,
        error: r.error_message,
      }));
      if (ctx.options.format === 'json') {
        ctx.io.stdout(JSON.stringify({ runs: listed }, null, 2));
        return 0;
      }
      if (listed.length === 0) {
        ctx.io.stdout(`No write-back run yet${wanted ? ` for connection ${wanted}` : ''}.`);
        return 0;
      }
      const header = [
        'run',
        'connection',
        'started (UTC)',
        'mode',
        'kind',
        'status',
        'records',
        'failed',
        'calls',
        'as of',
      ];
      const body = listed.map((r) => [
        String(r.id),
        r.connection,
        r.startedAt.slice(0, 19).replace('T', ' '),
        r.mode,
        r.kind === 'revert' ? `revert of ${r.revertsRun}` : 'push',
        r.status,
        count(r.recordsWritten),
        count(r.recordsFailed),
        count(r.apiCalls),
        r.asOf ?? '',
      ]);
      for (const line of table(header, body, new Set([0, 6, 7, 8]))) ctx.io.stdout(line);
      ctx.io.stderr('A live run can be undone with: quota-tracker writeback revert --run ID');
      return 0;
    } finally {
      await handle.close();
    }
  },
};

export const revert: CommandModule = {
  async run(ctx) {
    const raw = String(ctx.options.run ?? '');
    if (!/^\d+$/.test(raw))
      throw new AppError('USAGE', `--run expects a write-back run id, got "${raw}"`, { where: '--run' });
    const runId = Number(raw);
    const { config, logger, handle } = await open(ctx);
    try {
      const run = await handle.db.selectFrom('writeback_runs').selectAll().where('id', '=', runId).executeTakeFirst();
      if (!run) throw new AppError('NOT_FOUND', `there is no write-back run ${runId}`, { where: '--run' });
      const conn = config.connections.find((c) => c.id === run.connection_id);
      const { writePortFor, writesTo } = await import('../../writeback/run.ts');
      if (!conn || !writesTo(conn)) {
        throw new AppError(
          'CONFIG_INVALID',
          `run ${runId} wrote to connection "${run.connection_id}", which is not a connection with write-back in the configuration`,
          {
            where: 'connections',
          },
        );
      }
      const { connectorFor } = await import('../../sync/connectors.ts');
      const { unitsByField } = await import('../../writeback/fields.ts');
      const { revertRun } = await import('../../writeback/push.ts');
      const connector = await connectorFor(handle.db, conn, config, logger);
      const writer = writePortFor(connector, conn, config, logger, handle.db);
      const layout = await writer.checkFields(writer.defaultLayout(), conn.id);
      const out = await revertRun(handle.db, runId, { units: unitsByField(layout), sink: writer, log: logger });
      ctx.io.stdout(
        `Reverted run ${runId} as run ${out.runId}: ${count(out.recordsWritten)} record(s) restored, ${count(out.recordsFailed)} failed, ${count(out.apiCalls)} API call(s).`,
      );
      for (const f of out.failures) ctx.io.stderr(`  ${f.targetRecordId}: ${f.errorCode ?? ''} ${f.message ?? ''}`);
      return out.recordsFailed === 0 ? 0 : 1;
    } finally {
      await handle.close();
    }
  },
};
