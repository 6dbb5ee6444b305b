/**
 * `quota-tracker sync` on a HubSpot connection, SIGKILLed in the middle of a stream and run again: nothing lost,
 * nothing doubled. The kill is placed by progress, never by the clock: the test waits until the stream's cursor
 * holds a list in progress (a committed page, more to come), then kills the process. The whole sync (every stream)
 * is killed in the deals, the line items, the calls and the leads, then run to the end; the warehouse is then held
 * against a clean sync of the same portal into another database (every table a HubSpot stream fills, and the
 * quarantine), and against the sandbox store: every live deal once, every stage-history entry once, the goal
 * targets as the oracle's quotas. With QT_HEAVY=1, ten more kills at random points of the stage history's pages.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { hubspotSandboxConnection } from '../../src/cli/commands/sandbox.ts';
import { HUBSPOT_STREAMS } from '../../src/connectors/hubspot/streams.ts';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { hubspotRecords } from '../../src/sandbox/hubspot/oracle.ts';
import { dateInZone } from '../../src/util/date.ts';
import { BIN, configFile } from '../cli/helpers.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { counts, hubspotWarehouse } from './helpers/hubspot-warehouse.ts';

const heavy = process.env.QT_HEAVY === '1';
let hs: HubSpotSandbox;
let t: TestDatabase;
let clean: TestDatabase;
let config: string;
let cleanConfig: string;
const env = { QUOTA_TRACKER_NOW: '2026-11-15T15:00:00Z' };

/** `quota-tracker sync` of the connection: every stream, or `only` that one (into the clean database: `cfg`). */
function sync(only?: string, cfg = config): ChildProcess {
  const pinned = process.env.QUOTA_TRACKER_NOW ? { QUOTA_TRACKER_NOW: process.env.QUOTA_TRACKER_NOW } : {};
  return spawn(
    process.execPath,
    [BIN, 'sync', '--no-writeback', '--connection', 'hs', ...(only ? ['--stream', only] : []), '--config', cfg],
    {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...pinned, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
}

const exited = (p: ChildProcess) => new Promise<number | null>((r) => p.once('exit', (code) => r(code)));

/** The stream's stored cursor: a list scan in progress once a page is committed and more remain. */
async function listInProgress(stream: string): Promise<boolean> {
  const row = await t.db
    .selectFrom('sync_cursors')
    .select('cursor')
    .where('connection_id', '=', 'hs')
    .where('stream', '=', stream)
    .executeTakeFirst();
  const scan = (row?.cursor as { scan?: { kind?: string; after?: string | null } } | undefined)?.scan;
  return scan?.kind === 'list' && typeof scan.after === 'string';
}

/**
 * Runs the sync (every stream, or `only` that one) and SIGKILLs it once `pages` pages of `stream` have been committed
 * mid-list; returns the exit code if it finished first, else null.
 */
async function killAfter(stream: string, pages: number, only?: string): Promise<number | null> {
  const p = sync(only);
  const done = exited(p);
  let finished = false;
  void done.then(() => {
    finished = true;
  });
  const seen = new Set<string>();
  while (!finished) {
    const row = await t.db
      .selectFrom('sync_cursors')
      .select('cursor')
      .where('connection_id', '=', 'hs')
      .where('stream', '=', stream)
      .executeTakeFirst();
    if (row && (await listInProgress(stream))) seen.add(JSON.stringify(row.cursor));
    if (seen.size >= pages) {
      p.kill('SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return done;
}

async function runToEnd(streams: readonly string[], only?: string, cfg = config): Promise<void> {
  const p = sync(only, cfg);
  let out = '';
  let err = '';
  p.stdout?.on('data', (d) => {
    out += String(d);
  });
  p.stderr?.on('data', (d) => {
    err += String(d);
  });
  expect(await exited(p), err).toBe(0);
  for (const s of streams) expect(out).toMatch(new RegExp(`^hs/${s}: succeeded`, 'm'));
}

async function countsOf(table: 'deals' | 'deal_stage_history'): Promise<{ rows: number; distinct: number }> {
  const r = await t.db
    .selectFrom(table)
    .select((eb) => [eb.fn.countAll<string>().as('rows'), eb.fn.count<string>('external_id').distinct().as('distinct')])
    .where('connection_id', '=', 'hs')
    .where('is_deleted', '=', false)
    .executeTakeFirstOrThrow();
  return { rows: Number(r.rows), distinct: Number(r.distinct) };
}

/** Every stream of the connection, in the order a full sync runs them. */
const ALL = HUBSPOT_STREAMS.map((s) => s.name);
/**
 * The streams killed mid-list, in the order the sync reaches them: the deals first, then the activities and stage
 * history, then the rest (`streamStartOrder` in src/cli/commands/sync.ts).
 */
const KILLED = ['deals', 'calls', 'line_items', 'leads'];

beforeAll(async () => {
  [t, clean] = await Promise.all([createTestDatabase({ poolSize: 2 }), createTestDatabase({ poolSize: 2 })]);
  hs = await startHubSpotSandbox({
    seed: 7,
    size: 'small',
    anchorDate: '2026-11-15',
    // Three whole syncs would wait out the 10-second window for a minute; what is tested is the kills.
    rateLimits: { tenSecondly: 1_000, windowMs: 1_000 },
  });
  // Each list page of a killed stream answers a little late, so a run is still listing when the test sees its
  // first page committed.
  for (const s of KILLED) hs.faults.add({ kind: 'slow', path: `/crm/v3/objects/${s}`, delayMs: 150 });
  config = await configFile(stringify({ database: { url: t.url }, connections: [hubspotSandboxConnection(hs, 'hs')] }));
  cleanConfig = await configFile(
    stringify({ database: { url: clean.url }, connections: [hubspotSandboxConnection(hs, 'hs')] }),
  );
}, 60_000);
afterAll(async () => {
  await hs?.close();
  await t?.drop();
  await clean?.drop();
});

describe('SIGKILL during a HubSpot sync', () => {
  it(heavy
    ? 'ten kills at random pages and reruns lose and double nothing'
    : 'a kill mid-list and a rerun lose and double nothing', { timeout: heavy ? 600_000 : 240_000 }, async () => {
    // The whole sync, killed once the deals stream has committed its first page; run again and killed in the calls,
    // again in the line items, again in the leads (each rerun resumes the killed stream and goes on); then run to
    // the end.
    for (const s of KILLED) expect(await killAfter(s, 1), s).toBeNull();
    hs.faults.clear();
    await runToEnd(ALL);
    const tz = hs.store.timezone;
    const live = [...hs.store.scan('deals')].filter((r) => r.props.closedate);
    expect(await countsOf('deals')).toEqual({ rows: live.length, distinct: live.length });
    const stored = await t.db
      .selectFrom('deals')
      .select(['external_id', 'close_date'])
      .where('connection_id', '=', 'hs')
      .execute();
    const closeOf = new Map(stored.map((r) => [r.external_id, r.close_date]));
    for (const d of live) expect(closeOf.get(String(d.id))).toBe(dateInZone(d.props.closedate as string, tz));

    // With QT_HEAVY=1 the stage history (50 a page) is read anew and killed ten times at random pages.
    if (heavy) {
      await t.db.deleteFrom('sync_cursors').where('stream', '=', 'deal_stage_history').execute();
      let seed = 20261207;
      const random = () => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed / 2 ** 31;
      };
      let killed = 0;
      for (let i = 0; i < 10; i++) {
        const code = await killAfter('deal_stage_history', 1 + Math.floor(random() * 2), 'deal_stage_history');
        if (code !== null) break; // it finished before the kill
        killed++;
      }
      expect(killed).toBeGreaterThan(0);
      await runToEnd(['deal_stage_history'], 'deal_stage_history');
    }
    // The whole warehouse as a clean sync of the same portal leaves it.
    await runToEnd(ALL, undefined, cleanConfig);
    const want = await hubspotWarehouse(clean.db, 'hs');
    for (const table of ['reps', 'deals', 'deal_stage_history', 'deal_line_items', 'activities', 'leads', 'quotas'])
      expect(want[table]?.length, table).toBeGreaterThan(0);
    const got = await hubspotWarehouse(t.db, 'hs');
    expect(counts(got)).toEqual(counts(want));
    expect(got).toEqual(want);

    const entries = [...hs.store.scan('deals')].reduce((n, r) => n + (r.history?.dealstage?.length ?? 0), 0);
    expect(await countsOf('deal_stage_history')).toEqual({ rows: entries, distinct: entries });

    // Quotas from goal targets, read whole: the oracle's.
    const quotas = await t.db
      .selectFrom('quotas')
      .innerJoin('reps', (j) =>
        j
          .onRef('reps.external_id', '=', 'quotas.owner_external_id')
          .onRef('reps.connection_id', '=', 'quotas.connection_id'),
      )
      .select(['reps.email', 'quotas.period_start', 'quotas.amount'])
      .where('quotas.connection_id', '=', 'hs')
      .where('quotas.is_deleted', '=', false)
      .execute();
    expect(quotas.map((q) => `${q.email}|${q.period_start}|${Number(q.amount)}`).sort()).toEqual(
      hubspotRecords(hs.store)
        .quotas.map((q) => `${q.ownerId.toLowerCase()}|${q.start}|${q.amount.toNumber()}`)
        .sort(),
    );
  });
});
