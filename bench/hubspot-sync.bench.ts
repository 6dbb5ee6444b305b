/**
 * `npm run bench -- hubspot-sync`: API calls the HubSpot read spends, beside the page-size minimum. The initial
 * sync of the deals stream against the HubSpot sandbox (seed 42, small; QT_BENCH_SIZE=medium for the larger org)
 * lists 100 a page: target at most 1.1x the minimum ceil(n / 100) calls (the portal's facts and the archived list
 * are the overhead). Then k deals change and an incremental sync must read about k records (target: at most k plus
 * the records the lookback window holds again) in ceil(k / 200) search calls.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createFiscalCalendar } from '../src/config/calendar.ts';
import { HubSpotConnector } from '../src/connectors/hubspot/connector.ts';
import { connect } from '../src/db/index.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { startHubSpotSandbox } from '../src/sandbox/hubspot/index.ts';
import { runSync } from '../src/sync/run.ts';
import { silentLogger } from '../src/util/log.ts';

const K = 250;

async function admin(url: string, q: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(q);
  } finally {
    await c.end();
  }
}

export async function run(): Promise<{ name: string; ok: boolean; summary: string; metrics: Record<string, number> }> {
  const size = process.env.QT_BENCH_SIZE === 'medium' ? 'medium' : 'small';
  const server = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const name = `qt_bench_${randomBytes(4).toString('hex')}`;
  await admin(server, `create database ${name}`);
  const u = new URL(server);
  u.pathname = `/${name}`;
  const db = await connect(u.toString(), 4);
  const sb = await startHubSpotSandbox({
    seed: 42,
    size,
    anchorDate: '2026-11-15',
    rateLimits: { searchPerSecond: 1000 },
  });
  try {
    await migrateToLatest(db);
    const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
    const connector = () =>
      new HubSpotConnector({
        config: { id: 'hs', accessToken: sb.credentials.accessToken, basePath: sb.url, sync: { lookbackMinutes: 10 } },
        log: silentLogger,
      });
    const sync = () =>
      runSync({ db, connector: connector(), connectionId: 'hs', stream: 'deals', calendar, now: () => sb.store.now() });
    const initialAt = sb.store.nowMs();
    const initial = await sync();
    const listed = initial.read + initial.quarantined;
    const minimum = Math.ceil(listed / 100);
    const ratio = initial.apiCalls / minimum;

    sb.store.advance(60 * 60_000);
    const ids = [...sb.store.scan('deals')].slice(0, K).map((r) => r.id);
    for (const id of ids) sb.store.update('deals', id, { dealname: `changed ${id}` });
    sb.store.advance(60_000);
    const inc = await sync();
    const incRead = inc.read + inc.quarantined - inc.deleted;
    const incMinimum = Math.ceil(K / 200);
    // The lookback (10 minutes) reads again what was stamped just before the initial sync: expected, not waste.
    const changed = new Set(ids);
    const lookback = [...sb.store.scan('deals')].filter(
      (r) => !changed.has(r.id) && Date.parse(r.props.hs_lastmodifieddate ?? '') >= initialAt - 10 * 60_000,
    ).length;
    const ok = ratio <= 1.1 && incRead <= K + lookback;
    return {
      name: `hubspot-sync (${size})`,
      ok,
      summary: `initial: ${initial.apiCalls} calls for ${listed} deals (${((initial.apiCalls / listed) * 1000).toFixed(1)} per 1,000; minimum ${minimum}, ratio ${ratio.toFixed(3)}, target <= 1.1); after ${K} changes: ${incRead} read (target <= ${K} + ${lookback} in the lookback) in ${inc.apiCalls} calls (search minimum ${incMinimum})`,
      metrics: {
        initial_calls: initial.apiCalls,
        initial_minimum: minimum,
        initial_ratio: ratio,
        calls_per_1000: (initial.apiCalls / listed) * 1000,
        minimum_per_1000: (minimum / listed) * 1000,
        incremental_read: incRead,
        incremental_lookback: lookback,
        incremental_calls: inc.apiCalls,
      },
    };
  } finally {
    await sb.close();
    await db.destroy();
    await admin(server, `drop database if exists ${name} with (force)`);
  }
}
