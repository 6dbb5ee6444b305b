/**
 * The warehouse at size (issue 22): every statement the product sends to its big tables can be served by an index,
 * so a sequential scan of a million-row table on a hot path is caught here, on the small sandbox, before it costs
 * minutes at 1,000,000 deals.
 *
 * The whole pipeline runs in this process, on the Salesforce and on the HubSpot sandbox (`sync` with write-back and
 * alert tasks, a changed deal and the incremental `sync` after it, every report kind in JSON), and each distinct
 * statement it sent is recorded. Then each is planned again with sequential scans priced out (`enable_seqscan = off`): a plan that
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
import { hubspotSandboxConnection } from '../../src/cli/commands/sandbox.ts';
import { runCli } from '../../src/cli/program.ts';
import { clockStartingAt, setClock } from '../../src/clock.ts';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { writeOrgCsv } from '../../src/sandbox/org/org-csv.ts';
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
let hs: HubSpotSandbox;
let sf: TestDatabase;
let hub: TestDatabase;
let dir: string;
/** Each database's distinct statements, with the values of their first use. */
const seen = new Map<string, Map<string, unknown[]>>();
let recording = false;
const query = pg.Client.prototype.query;

async function cli(t: TestDatabase, connection: Record<string, unknown>, args: string[]): Promise<void> {
  const configPath = join(dir, `${String(connection.id)}.yaml`);
  await writeFile(
    configPath,
    stringify({
      database: { url: t.url },
      logLevel: 'warn',
      calendar: { type: 'calendar', fiscalYearStartMonth: 1, timezone: 'UTC' },
      forecast: { trials: 200, backtest: { enabled: false } },
      connections: [connection],
      ...(connection.type === 'hubspot' ? { org: { file: join(dir, 'org.csv') } } : {}),
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

/**
 * `sync`, one deal changed and `sync` again (the incremental path: dirty keys, one rep's recompute, a one-record
 * write-back), then with a rep to report on every report kind (CRM-neutral: one CRM's run covers them).
 */
async function pipeline(t: TestDatabase, connection: Record<string, unknown>, change: () => void, rep: string | null) {
  await cli(t, connection, ['sync']);
  change();
  await cli(t, connection, ['sync']);
  if (rep === null) return;
  const unit = async (kind: 'team' | 'region') =>
    (await t.db.selectFrom('org_units').select('name').where('kind', '=', kind).orderBy('id').executeTakeFirstOrThrow())
      .name;
  const who: Record<string, string[]> = {
    rep: ['--rep', rep],
    team: ['--team', await unit('team')],
    region: ['--region', await unit('region')],
  };
  for (const kind of ['rep', 'team', 'region', 'org', 'leaderboard', 'trends', 'alerts'])
    await cli(t, connection, ['report', kind, '--format', 'json', ...(who[kind] ?? [])]);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qt-hot-queries-'));
  sf = await createTestDatabase({ poolSize: 4 });
  hub = await createTestDatabase({ poolSize: 4 });
  sb = await startSalesforceSandbox({ seed: 5, size: 'small', anchorDate: AS_OF });
  hs = await startHubSpotSandbox({
    seed: 5,
    size: 'small',
    anchorDate: AS_OF,
    rateLimits: { tenSecondly: 100_000, searchPerSecond: 10_000 },
  });
  if (!hs.org) throw new Error('the HubSpot sandbox serves no org model');
  await writeOrgCsv(hs.org, join(dir, 'org.csv'));
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const [q, v] = args as [unknown, unknown];
    const text = typeof q === 'string' ? q : (q as { text?: unknown } | null)?.text;
    const values = typeof q === 'string' ? v : ((q as { values?: unknown }).values ?? v);
    if (recording && typeof text === 'string' && /^\s*(select|insert|update|delete|with)\b/i.test(text)) {
      const database = String((this as unknown as { database?: string }).database);
      const mine = seen.get(database) ?? new Map<string, unknown[]>();
      seen.set(database, mine);
      if (!mine.has(text)) mine.set(text, Array.isArray(values) ? values : []);
    }
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  recording = true;
  await pipeline(
    sf,
    sandboxConnectionEntry(sb),
    () => {
      const deal = sb.store.all('Opportunity').find((o) => o.IsClosed === false);
      if (!deal) throw new Error('the sandbox has no open deal');
      sb.store.update('Opportunity', String(deal.Id), { Amount: Number(deal.Amount ?? 0) + 1000 });
    },
    String(sb.store.all('User').find((u) => u.IsActive === true && u.ManagerId)?.Email),
  );
  await pipeline(
    hub,
    hubspotSandboxConnection(hs, 'hs'),
    () => {
      const deal = hs.store.all('deals').find((d) => d.props.hs_is_closed !== 'true');
      if (!deal) throw new Error('the HubSpot sandbox has no open deal');
      hs.store.update('deals', deal.id, { amount: String(Number(deal.props.amount ?? 0) + 1000) });
    },
    null,
  );
  recording = false;
}, 600_000);

afterAll(async () => {
  pg.Client.prototype.query = query;
  await sb?.close();
  await hs?.close();
  await sf?.drop();
  await hub?.drop();
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
  it('never scan a big table sequentially, for a condition or whole', async () => {
    const missing: string[] = [];
    const whole: string[] = [];
    let planned = 0;
    let unplanned = 0;
    const databaseOf = (t: TestDatabase) => new URL(t.url).pathname.slice(1);
    for (const t of [sf, hub]) {
      const client = new pg.Client({ connectionString: t.url });
      await client.connect();
      await client.query('analyze');
      // Controls, first in each database: a condition no index serves, and no condition at all.
      const statements: [string, unknown[]][] = [
        ['select * from deals where name = $1', ['x']],
        ['select * from alert_tasks', []],
        ...(seen.get(databaseOf(t)) ?? []),
      ];
      try {
        for (const [text, values] of statements) {
          if (![...BIG].some((b) => new RegExp(`\\b${b}\\b`).test(text))) continue;
          await client.query('begin');
          try {
            await client.query('set local enable_seqscan = off');
            const r = await client.query(`explain (format json) ${text}`, values);
            planned++;
            const plan = (r.rows[0] as { 'QUERY PLAN': { Plan: PlanNode }[] })['QUERY PLAN'][0]?.Plan as PlanNode;
            for (const scan of seqScans(plan)) {
              const where = text.replace(/\s+/g, ' ').slice(0, 160);
              if (scan.filter === null) whole.push(`${scan.table}: ${where}`);
              else missing.push(`${scan.table} (${scan.filter}): ${where}`);
            }
          } catch {
            unplanned++;
          } finally {
            await client.query('rollback');
          }
        }
      } finally {
        await client.end();
      }
    }
    const counts = [sf, hub].map((t) => seen.get(databaseOf(t))?.size ?? 0);
    console.log(
      `distinct statements: Salesforce ${counts[0]}, HubSpot ${counts[1]}; ${planned - 4} on big tables planned, ` +
        `${unplanned} not plannable; whole-table reads ${whole.length - 2}, missing indexes ${missing.length - 2} ` +
        '(less the controls)',
    );
    const controls = (xs: string[]) =>
      xs.filter((x) => /: select \* from (deals where name = \$1|alert_tasks)$/.test(x));
    expect(controls(missing)).toHaveLength(2);
    expect(controls(whole)).toHaveLength(2);
    expect(planned - 4).toBeGreaterThan(100);
    expect(unplanned).toBe(0);
    expect(missing.filter((x) => !controls(missing).includes(x))).toEqual([]);
    expect(whole.filter((x) => !controls(whole).includes(x))).toEqual([]);
  }, 120_000);
});
