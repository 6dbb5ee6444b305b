/**
 * `npm run bench -- hubspot-sync`: API calls the HubSpot read spends, beside the page-size minimum, per stream
 * (deals, line items, calls, emails, meetings, tasks, leads) against the HubSpot sandbox (seed 42, small;
 * QT_BENCH_SIZE=medium for the larger org).
 *
 * - Initial sync, one connector for all streams as a sync run has: the list at 100 a page (leads 50, as they are
 *   read with their stage history), plus one association batch read per page for the streams that link to deals.
 *   The minimum is ceil(n / page) * (1 + association types); target at most 1.1x (the portal's facts, the lead
 *   pipeline and the archived lists are the overhead).
 * - Then k records of each stream change and an incremental sync must read about k records (target: at most k plus
 *   the records the lookback window holds again) in ceil(k / 200) search pages (each with its association read;
 *   leads add their batch reads with history, 50 a call) and the archived list, plus the relink slice (links made
 *   later: ceil(records / 24,000) association calls a run, src/connectors/hubspot/README.md), printed apart.
 *
 * The sandbox's 10-second and search limits are lifted: their 429s are waits the retry policy spends, not calls the
 * read's paging needs (hubspot-faults.test.ts covers them).
 */
import { randomBytes } from 'node:crypto';
import { createFiscalCalendar } from '../src/config/calendar.ts';
import { HubSpotConnector } from '../src/connectors/hubspot/connector.ts';
import { connect } from '../src/db/index.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { startHubSpotSandbox } from '../src/sandbox/hubspot/index.ts';
import { runSync } from '../src/sync/run.ts';
import { silentLogger } from '../src/util/log.ts';
import { admin } from './admin.ts';

const K = 250;

/** Each stream: its object, list page size, association types read per page, a change that moves the stamp. */
const STREAMS: ReadonlyArray<{ stream: string; object: string; page: number; links: number; prop: string }> = [
  { stream: 'deals', object: 'deals', page: 100, links: 0, prop: 'dealname' },
  { stream: 'line_items', object: 'line_items', page: 100, links: 1, prop: 'name' },
  { stream: 'calls', object: 'calls', page: 100, links: 1, prop: 'hs_call_title' },
  { stream: 'emails', object: 'emails', page: 100, links: 1, prop: 'hs_email_subject' },
  { stream: 'meetings', object: 'meetings', page: 100, links: 1, prop: 'hs_meeting_title' },
  { stream: 'tasks', object: 'tasks', page: 100, links: 1, prop: 'hs_task_subject' },
  { stream: 'leads', object: 'leads', page: 50, links: 1, prop: 'hs_lead_name' },
];

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
    rateLimits: { searchPerSecond: 100_000, tenSecondly: 1_000_000 },
  });
  try {
    await migrateToLatest(db);
    const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
    const connector = () =>
      new HubSpotConnector({
        config: { id: 'hs', accessToken: sb.credentials.accessToken, basePath: sb.url, sync: { lookbackMinutes: 10 } },
        log: silentLogger,
      });
    const sync = (c: HubSpotConnector, stream: string) =>
      runSync({ db, connector: c, connectionId: 'hs', stream, calendar, now: () => sb.store.now() });
    const lines: string[] = [];
    const metrics: Record<string, number> = {};
    let ok = true;

    const first = connector();
    let allCalls = 0;
    let allMinimum = 0;
    let allListed = 0;
    for (const s of STREAMS) {
      const r = await sync(first, s.stream);
      if (r.status !== 'succeeded') throw new Error(`${s.stream}: ${r.errorMessage}`);
      const listed = r.read + r.quarantined;
      const minimum = Math.ceil(listed / s.page) * (1 + s.links);
      const ratio = r.apiCalls / minimum;
      ok &&= ratio <= 1.1;
      allCalls += r.apiCalls;
      allMinimum += minimum;
      allListed += listed;
      lines.push(
        `  initial ${s.stream}: ${r.apiCalls} calls for ${listed} records (${((r.apiCalls / listed) * 1000).toFixed(1)} per 1,000; minimum ${minimum}, ${((minimum / listed) * 1000).toFixed(1)} per 1,000; ratio ${ratio.toFixed(3)}, target <= 1.1)`,
      );
      metrics[`${s.stream}_initial_calls`] = r.apiCalls;
      metrics[`${s.stream}_initial_minimum`] = minimum;
      metrics[`${s.stream}_initial_ratio`] = ratio;
    }
    metrics.initial_calls = allCalls;
    metrics.initial_minimum = allMinimum;
    metrics.initial_ratio = allCalls / allMinimum;
    metrics.calls_per_1000 = (allCalls / allListed) * 1000;
    metrics.minimum_per_1000 = (allMinimum / allListed) * 1000;

    // Where each stream's next window starts: the lookback reads again what was stamped in the 10 minutes before it
    // (and anything stamped later, such as a record the sandbox stamped ahead of its clock): expected, not waste.
    const since = new Map<string, number>();
    for (const c of await db.selectFrom('sync_cursors').select(['stream', 'cursor']).execute()) {
      since.set(c.stream, (c.cursor as { since: number }).since);
    }
    sb.store.advance(60 * 60_000);
    const changed = new Map<string, Set<number>>();
    for (const s of STREAMS) {
      const ids = [...sb.store.scan(s.object)].slice(0, K).map((r) => r.id);
      for (const id of ids) sb.store.update(s.object, id, { [s.prop]: `changed ${id}` });
      changed.set(s.stream, new Set(ids));
    }
    sb.store.advance(60_000);
    const later = connector();
    for (const s of STREAMS) {
      sb.log.clear();
      const r = await sync(later, s.stream);
      if (r.status !== 'succeeded') throw new Error(`${s.stream}: ${r.errorMessage}`);
      const read = r.read + r.quarantined - r.deleted;
      const ids = changed.get(s.stream) ?? new Set();
      const from = (since.get(s.stream) ?? 0) - 10 * 60_000;
      const lookback = [...sb.store.scan(s.object)].filter(
        (x) => !ids.has(x.id) && Date.parse(x.props.hs_lastmodifieddate ?? '') >= from,
      ).length;
      const pages = Math.ceil(read / 200);
      const searchMinimum = pages * (1 + s.links) + (s.stream === 'leads' ? Math.ceil(read / 50) : 0);
      ok &&= read <= ids.size + lookback;
      // The relink slice: the association calls beyond one per search page that held records (links made later).
      const log = sb.log.entries();
      const assoc = log.filter((e) => e.path === `/crm/v4/associations/${s.object}/deals/batch/read`).length;
      const searched = log.filter(
        (e) => e.path === `/crm/v3/objects/${s.object}/search` && (e.recordsReturned ?? 0) > 0,
      ).length;
      const relink = s.links > 0 ? assoc - searched : 0;
      lines.push(
        `  after ${ids.size} ${s.stream} changes: ${read} read (target <= ${ids.size} + ${lookback} in the lookback) in ${r.apiCalls} calls (search minimum ${searchMinimum}, plus the archived list${s.links > 0 ? `; the relink slice ${relink} of them, over ${sb.store.count(s.object)} records` : ''})`,
      );
      metrics[`${s.stream}_incremental_relink_calls`] = relink;
      metrics[`${s.stream}_incremental_read`] = read;
      metrics[`${s.stream}_incremental_lookback`] = lookback;
      metrics[`${s.stream}_incremental_calls`] = r.apiCalls;
    }
    return {
      name: `hubspot-sync (${size})`,
      ok,
      summary: [
        `initial: ${allCalls} calls for ${allListed} records (${metrics.calls_per_1000.toFixed(1)} per 1,000; minimum ${allMinimum}, ${metrics.minimum_per_1000.toFixed(1)} per 1,000; ratio ${metrics.initial_ratio.toFixed(3)}, target <= 1.1)`,
        ...lines,
      ].join('\n'),
      metrics,
    };
  } finally {
    await sb.close();
    await db.destroy();
    await admin(server, `drop database if exists ${name} with (force)`);
  }
}
