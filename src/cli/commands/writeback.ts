/**
 * `quota-tracker writeback plan [--connection ID]`: what the next write-back would change, field by field with the
 * value before and after, computed exactly as a live run would (same snapshots, same ledger), and nothing written
 * to the CRM. `quota-tracker writeback revert --run ID`: restores the values a run replaced, as a new audited run.
 */
import type { Config } from '../../config/schema.ts';
import type { DbHandle } from '../../db/index.ts';
import { AppError } from '../../errors.ts';
import type { Logger } from '../../util/log.ts';
import type { RecordChanges } from '../../writeback/ledger.ts';
import { loadForCommand } from '../config-for-command.ts';
import type { CommandContext, CommandModule } from '../program.ts';

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

/** The plan as text lines: one per record, then one per field. */
export function planLines(connectionId: string, plan: readonly RecordChanges[]): string[] {
  const lines: string[] = [];
  for (const r of plan) {
    lines.push(`${connectionId} ${r.targetObject} ${r.targetRecordId}${r.label ? ` (${r.label})` : ''}`);
    for (const c of r.changes)
      lines.push(
        `  ${c.field}: ${c.beforeUnknown ? '(unknown: never written by us)' : show(c.before)} -> ${show(c.after)}`,
      );
  }
  return lines;
}

export const plan: CommandModule = {
  async run(ctx) {
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
      for (const conn of conns) {
        const out = await runWriteback(wb, { connectionId: conn.id, mode: 'dry-run' });
        if (out.status !== 'done') {
          ctx.io.stdout(`${conn.id}: nothing to plan (${out.reason})`);
          continue;
        }
        for (const line of planLines(conn.id, out.push.plan)) ctx.io.stdout(line);
        records += out.push.plan.length;
        fields += out.push.plan.reduce((n, r) => n + r.changes.length, 0);
        ctx.io.stdout(
          `${conn.id}: ${out.push.plan.length} record(s) would change as of ${out.asOf} (${out.periodId}); dry run #${out.push.runId}, nothing written`,
        );
      }
      ctx.io.stderr(`Plan: ${records} record(s), ${fields} field(s) would change; nothing was written to any CRM.`);
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
      const writer = writePortFor(connector, conn, config, logger);
      const layout = await writer.checkFields(writer.defaultLayout(), conn.id);
      const out = await revertRun(handle.db, runId, { units: unitsByField(layout), sink: writer, log: logger });
      ctx.io.stdout(
        `Reverted run ${runId} as run ${out.runId}: ${out.recordsWritten} record(s) restored, ${out.recordsFailed} failed, ${out.apiCalls} API call(s).`,
      );
      for (const f of out.failures) ctx.io.stderr(`  ${f.targetRecordId}: ${f.errorCode ?? ''} ${f.message ?? ''}`);
      return out.recordsFailed === 0 ? 0 : 1;
    } finally {
      await handle.close();
    }
  },
};
