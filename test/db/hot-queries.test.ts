/**
 * The warehouse at size (issue 22): every statement the product sends to its big tables can be served by an index,
 * so a sequential scan of a million-row table on a hot path is caught here, on the small sandbox, before it costs
 * minutes at 1,000,000 deals.
 *
 * The whole pipeline runs in this process (`sync` with write-back and alert tasks, a changed deal and the incremental
 * `sync` after it, every report kind in JSON, the API's read model for today), and each distinct statement it sent
 * is recorded. Then each is planned again with sequential scans priced out (`enable_seqscan = off`): a plan that
 * still scans a big table sequentially has no index for its condition (a missing index), or has no condition at all
 * (a whole-table read, which grows with the org's history): either fails, naming the statement. Two control
 * statements show the check can see both.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../../src/cli/program.ts';
import { clockStartingAt, setClock } from '../../src/clock.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { COMMAND_TABLE_FOR_TESTS } from '../e2e/command-table.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnectionEntry } from '../helpers/sandbox.ts';

const AS_OF = '2026-11-20';
const NOW = `${AS_OF}T15:00:00Z`;

/** The tables that grow with the org's deals and activities (at 1M deals: millions of rows each). */
const BIG = new Set([
  'deals',
  'deal_stage_history',
  'deal_line_items',
  'deal_splits',
  'activities',
  'leads',
  'metric_snapshots',
  'metric_snapshot_history',
  'alerts',
  'alert_tasks',
  'writeback_ledger',
  'writeback_audit',
  'quarantine',
  'dirty_keys',
  'sync_sweep_seen',
  'webhook_events',
]);

let sb: SalesforceSandbox;
let t: TestDatabase;
let dir: string;
const seen = new Map<string, unknown[]>();
let recording = false;
const query = pg.Client.prototype.query;

async function cli(args: string[]): Promise<void> {
  const configPath = join(dir, 'quota-tracker.yaml');
  await writeFile(
    configPath,
    stringify({
      database: { url: t.url },
      logLevel: 'warn',
      calendar: { type: 'calendar', fiscalYearStartMonth: 1, timezone: 'UTC' },
      forecast: { trials: 200, backtest: { enabled: false } },
      connections: [sandboxConnectionEntry(sb)],
    }),
  );
  const err: string[] = [];
  setClock(clockStartingAt(NOW));
  try {
    const code = await runCli(['--config', configPath, ...args], COMMAND_TABLE_FOR_TESTS, {
      io: { stdout: () => {}, stderr: (s) => err.push(s) },
    });
    expect(code, `${args.join(' ')}: ${err.join('\n')}`).toBe(0);
  } finally {
    setClock(undefined);
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qt-hot-queries-'));
  t = await createTestDatabase({ poolSize: 4 });
  sb = await startSalesforceSandbox({ seed: 5, size: 'small', anchorDate: AS_OF });
  // Every statement any client of this process sends, with the values of its first use.
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const [q, v] = args as [unknown, unknown];
    const text = typeof q === 'string' ? q : (q as { text?: unknown } | null)?.text;
    const values = typeof q === 'string' ? v : ((q as { values?: unknown }).values ?? v);
    if (recording && typeof text === 'string' && /^\s*(select|insert|update|delete|with)\b/i.test(text))
      if (!seen.has(text)) seen.set(text, Array.isArray(values) ? values : []);
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  recording = true;
  await cli(['sync']);
  // One deal moves: the incremental path (dirty keys, one rep's recompute, a one-record write-back).
  const deal = sb.store.all('Opportunity').find((o) => o.IsClosed === false);
  if (!deal) throw new Error('the sandbox has no open deal');
  sb.store.update('Opportunity', String(deal.Id), { Amount: Number(deal.Amount ?? 0) + 1000 });
  await cli(['sync']);
  const unit = async (kind: 'team' | 'region') =>
    (await t.db.selectFrom('org_units').select('name').where('kind', '=', kind).orderBy('id').executeTakeFirstOrThrow())
      .name;
  const rep = String(sb.store.all('User').find((u) => u.IsActive === true && u.ManagerId)?.Email);
  const who: Record<string, string[]> = {
    rep: ['--rep', rep],
    team: ['--team', await unit('team')],
    region: ['--region', await unit('region')],
  };
  for (const kind of ['rep', 'team', 'region', 'org', 'leaderboard', 'trends', 'alerts'])
    await cli(['report', kind, '--format', 'json', ...(who[kind] ?? [])]);
  recording = false;
}, 600_000);

afterAll(async () => {
  pg.Client.prototype.query = query;
  await sb?.close();
  await t?.drop();
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  Filter?: string;
  Plans?: PlanNode[];
}

function seqScans(node: PlanNode, out: { table: string; filter: string | null }[] = []) {
  if (node['Node Type'] === 'Seq Scan' && node['Relation Name'] && BIG.has(node['Relation Name']))
    out.push({ table: node['Relation Name'], filter: node.Filter ?? null });
  for (const p of node.Plans ?? []) seqScans(p, out);
  return out;
}

describe('the statements of a whole pipeline on the small sandbox org', () => {
  it('never scan a big table sequentially for a condition an index should serve', async () => {
    const client = new pg.Client({ connectionString: t.url });
    await client.connect();
    await client.query('analyze');
    const missing: string[] = [];
    const whole: string[] = [];
    let planned = 0;
    let unplanned = 0;
    // Controls: a condition no index serves, and no condition at all.
    const controls = ['select * from deals where name = $1', 'select * from alert_tasks'];
    const statements: [string, unknown[]][] = [[controls[0] as string, ['x']], [controls[1] as string, []], ...seen];
    try {
      for (const [text, values] of statements) {
        if (![...BIG].some((b) => new RegExp(`\\b${b}\\b`).test(text))) continue;
        await client.query('begin');
        try {
          await client.query('set local enable_seqscan = off');
          const r = await client.query(`explain (format json) ${text}`, values);
          planned++;
          const plan = (r.rows[0] as { 'QUERY PLAN': { Plan: PlanNode }[] })['QUERY PLAN'][0]?.Plan as PlanNode;
          for (const s of seqScans(plan)) {
            const where = text.replace(/\s+/g, ' ').slice(0, 160);
            if (s.filter === null) whole.push(`${s.table}: ${where}`);
            else missing.push(`${s.table} (${s.filter}): ${where}`);
          }
        } catch {
          // A statement on a temporary table of another session, or one whose values no longer apply.
          unplanned++;
        } finally {
          await client.query('rollback');
        }
      }
    } finally {
      await client.end();
    }
    console.log(
      `${seen.size} distinct statements, ${planned - 2} on big tables planned, ${unplanned} not plannable here; ` +
        `whole-table reads: ${whole.length - 1}, missing indexes: ${missing.length - 1} (each less its control)`,
    );
    expect(missing[0]).toMatch(/^deals \(.*name.*\): select \* from deals where name/);
    expect(whole[0]).toBe('alert_tasks: select * from alert_tasks');
    expect(planned - 2).toBeGreaterThan(50);
    expect(unplanned).toBe(0);
    expect(missing.slice(1)).toEqual([]);
    expect(whole.slice(1)).toEqual([]);
  }, 120_000);
});
