/**
 * Today's reports come from the stored snapshots, not a reload of the warehouse: with the clock on the golden
 * warehouse's as-of date, every kind equals the document the CLI's builder computes (`report <kind> --format json`),
 * says `x-report-source: snapshots`, and after a deal changes: computed from the warehouse while its dirty key waits
 * (so no stale figure is served), and from the snapshots again, equal to the CLI's, once the engine recomputed; the
 * same for a rep who left, whose stored snapshot still names her team until the recompute.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock, setClock } from '../../src/clock.ts';
import { validateConfig } from '../../src/config/load.ts';
import { markDirty } from '../../src/dirty/queue.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { renderReport } from '../../src/reports/render.ts';
import { buildReport, type ReportRequest } from '../../src/reports/report.ts';
import { createWebApp } from '../../src/web/app.ts';
import { createApiToken } from '../../src/web/tokens.ts';
import { goldenWarehouse } from '../fixtures/warehouse/load.ts';
import type { TestDatabase } from '../helpers/db.ts';

const config = validateConfig({ calendar: { timezone: 'America/New_York' }, forecast: { trials: 2000 } });
const TODAY = '2026-06-12';

let t: TestDatabase;
let admin: string;
let web: ReturnType<typeof createWebApp>;
let engine: MetricsEngine;

beforeAll(async () => {
  setClock(fixedClock(`${TODAY}T16:00:00Z`));
  t = await goldenWarehouse();
  engine = new MetricsEngine({ db: t.db, config });
  await engine.recomputeAll(TODAY);
  admin = (await createApiToken(t.db, { role: 'admin' })).token;
  web = createWebApp({ db: t.db, config });
});
afterAll(async () => {
  setClock(undefined);
  await t.drop();
});

const CASES: { req: ReportRequest; query: Record<string, string> }[] = [
  { req: { kind: 'rep', rep: 'sarah.chen@example.com' }, query: { rep: 'sarah.chen@example.com' } },
  { req: { kind: 'team', team: 'West Enterprise' }, query: { team: 'West Enterprise' } },
  { req: { kind: 'region', region: 'West' }, query: { region: 'West' } },
  { req: { kind: 'org' }, query: {} },
  { req: { kind: 'leaderboard', team: 'West Mid' }, query: { team: 'West Mid' } },
  { req: { kind: 'trends', region: 'West' }, query: { region: 'West' } },
  { req: { kind: 'alerts' }, query: {} },
  { req: { kind: 'leaderboard', metric: 'pipeline-coverage' }, query: { metric: 'pipeline-coverage' } },
  { req: { kind: 'leaderboard', metric: 'activity-score' }, query: { metric: 'activity-score' } },
];

/** What `report <kind> --format json` prints today: the CLI's builder on a fresh engine, as the command runs it. */
async function printed(req: ReportRequest): Promise<string> {
  return renderReport('json', req.kind, await buildReport(t.db, new MetricsEngine({ db: t.db, config }), req));
}

async function api(c: (typeof CASES)[number]): Promise<{ source: string | null; text: string }> {
  const res = await web.app.request(`/api/v1/reports/${c.req.kind}?${new URLSearchParams(c.query)}`, {
    headers: { authorization: `Bearer ${admin}` },
  });
  expect(res.status, c.req.kind).toBe(200);
  return { source: res.headers.get('x-report-source'), text: await res.text() };
}

describe("today's reports", () => {
  it('come from the stored snapshots and equal what the CLI prints, for every kind', async () => {
    const loads = web.reports?.stats.modelLoads;
    for (const c of CASES) {
      const got = await api(c);
      expect(got.source, c.req.kind).toBe('snapshots');
      expect(got.text, c.req.kind).toBe(await printed(c.req));
    }
    // No full warehouse model was loaded for any of them.
    expect(web.reports?.stats.modelLoads).toBe(loads);
  }, 60_000);

  it("the org report lists each region as that region's report's totals", async () => {
    const org = JSON.parse((await api(CASES[3] as (typeof CASES)[number])).text) as {
      regions: { subject: { name: string } }[];
      teams: { subject: { region: string | null } }[];
    };
    const names = [...new Set(org.teams.map((x) => x.subject.region).filter((r): r is string => r !== null))].sort();
    expect(org.regions.map((r) => r.subject.name)).toEqual(names);
    for (const r of org.regions) {
      const region = await api({ req: { kind: 'region' }, query: { region: r.subject.name } });
      expect(r, r.subject.name).toEqual((JSON.parse(region.text) as { totals: unknown }).totals);
    }
  });

  it('after a deal changes: computed while its recompute is due, then from the snapshots again, equal to the CLI', async () => {
    const before = await Promise.all(CASES.map(api));
    // Tom's deal of June 1 grows by 50,000: his actual, his rank, his team's, region's and the org's figures move.
    await sql`update deals set amount = amount + 50000, content_hash = 'changed'
      where connection_id = 'sf' and external_id = '006T2'`.execute(t.db);
    await markDirty(t.db, [{ subjectKey: 'sf:005TOM', periodId: 'FY2026-Q2', reason: 'changed' }]);
    // The dirty key waits: the stored figures are about to change, so the answer is computed, as the CLI's is.
    const due = CASES[1] as (typeof CASES)[number];
    const computed = await api(due);
    expect(computed.source).toBe('warehouse');
    expect(computed.text).toBe(await printed(due.req));
    expect(computed.text).not.toBe(before[1]?.text);

    const result = await engine.runDirty(TODAY);
    expect(result.changes.length).toBeGreaterThan(0);
    const refreshed = web.reports?.stats.modelLoads;
    for (const [i, c] of CASES.entries()) {
      const got = await api(c);
      expect(got.source, c.req.kind).toBe('snapshots');
      expect(got.text, c.req.kind).toBe(await printed(c.req));
      // Tom's team, region and the org show the new figures (the leaderboard is of another team).
      if (['team', 'region', 'org'].includes(c.req.kind)) expect(got.text, c.req.kind).not.toBe(before[i]?.text);
    }
    expect(web.reports?.stats.modelLoads).toBe(refreshed);
    // An operator sees both in /metrics: builds by source, and the fallback while the key waited.
    const metrics = await (await web.app.request('/metrics', { headers: { authorization: `Bearer ${admin}` } })).text();
    const count = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
    expect(count('quota_tracker_report_builds_total\\{source="snapshots"\\}')).toBeGreaterThanOrEqual(14);
    expect(count('quota_tracker_report_builds_total\\{source="warehouse"\\}')).toBeGreaterThanOrEqual(1);
    expect(count('quota_tracker_report_snapshot_fallbacks_total')).toBe(1);
  }, 60_000);

  it('a rep who left: computed while the snapshots describe her as she was, then listed apart from the snapshots', async () => {
    // Emily (West Mid) left on June 1; nothing has recomputed since.
    await sql`update memberships set valid_to = '2026-06-01' where person_id = 3`.execute(t.db);
    const cases: typeof CASES = [
      { req: { kind: 'team', team: 'West Mid' }, query: { team: 'West Mid' } },
      { req: { kind: 'org' }, query: {} },
    ];
    for (const c of cases) {
      const got = await api(c);
      expect(got.source, c.req.kind).toBe('warehouse');
      expect(got.text, c.req.kind).toBe(await printed(c.req));
    }
    await engine.recomputeAll(TODAY);
    for (const c of cases) {
      const got = await api(c);
      expect(got.source, c.req.kind).toBe('snapshots');
      expect(got.text, c.req.kind).toBe(await printed(c.req));
      const doc = JSON.parse(got.text) as { leavers: { subject: { email: string }; leftOn: string }[] };
      expect(doc.leavers.map((l) => [l.subject.email, l.leftOn])).toEqual([['emily.white@example.com', '2026-05-31']]);
    }
  }, 60_000);
});
