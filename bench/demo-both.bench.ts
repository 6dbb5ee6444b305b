/**
 * `quota-tracker demo --crm both` end to end (seed 1): one org split across the Salesforce and the HubSpot sandbox,
 * both synced at once through the BullMQ workers on PostgreSQL, metrics, write-back to both CRMs, alert tasks and
 * the dashboard with each figure's sources. Target: the single-CRM demo's minute, since a user waits for it the same
 * way. On DATABASE_URL when it is set (the demo database is recreated there), else on the embedded server under a
 * temporary folder. Wall time of one run.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDemo } from '../src/cli/commands/demo.ts';
import { silentLogger } from '../src/util/log.ts';

const TARGET_S = 60;

export async function run(): Promise<{ name: string; ok: boolean; summary: string; metrics: Record<string, number> }> {
  const url = process.env.DATABASE_URL;
  const dir = url ? undefined : await mkdtemp(join(tmpdir(), 'qt-bench-demo-both-'));
  if (dir) await chmod(dir, 0o755);
  const started = performance.now();
  try {
    const result = await runDemo({
      seed: 1,
      crm: 'both',
      log: silentLogger,
      ...(url ? { databaseUrl: url } : { dataDir: join(dir as string, 'pg') }),
    });
    const seconds = (performance.now() - started) / 1000;
    const ratio = seconds / TARGET_S;
    return {
      name: 'demo --crm both: the whole pipeline on the small org split across Salesforce and HubSpot',
      ok: ratio < 1 && result.summary.snapshots > 0 && result.text.includes('Actual from hs-sandbox'),
      summary: `${seconds.toFixed(1)} s wall (${url ? 'DATABASE_URL' : 'embedded PostgreSQL, first start included'}), ratio ${ratio.toFixed(2)} to the ${TARGET_S} s target; ${result.summary.records} records, ${result.summary.snapshots} snapshots, ${result.summary.written} records written in ${result.summary.writebackCalls} calls, ${result.summary.tasks} tasks`,
      metrics: { wall_s: seconds, ratio, records: result.summary.records },
    };
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}
