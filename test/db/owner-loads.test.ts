/**
 * A load of a few reps' rows (a shard of a full recompute, the cold path's changed reps, a team report) reads them
 * through the owner indexes, whatever the table's size: the deals and activities statements of `loadForReps` are
 * planned with sequential scans priced out, and every read of deals, activities and splits must be bounded by an
 * owner or a deal key in its index condition. (The owner filter used to be `IN (...) OR false`: an IN under an OR is
 * a filter applied to every row, and the plan read the whole close-date or activity-date index instead; a team's
 * ten reps read all 1,500,000 activities of a 5,000-rep org, 246 ms against 5 ms.)
 */
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { loadForReps } from '../../src/metrics/engine/load.ts';
import { goldenWarehouse } from '../fixtures/warehouse/load.ts';
import type { TestDatabase } from '../helpers/db.ts';
import { type PlanNode, planWithoutScans } from '../helpers/plans.ts';

const AS_OF = '2026-06-12';
const BOUNDED = new Set(['deals', 'activities', 'deal_splits']);

let t: TestDatabase;
const seen = new Map<string, unknown[]>();
let recording = false;
const query = pg.Client.prototype.query;

beforeAll(async () => {
  t = await goldenWarehouse();
  // Other owners' rows, as an org at size has them: on the fixture's few rows alone any plan is cheap, and the
  // planner reads whole indexes it would never read at 1,000,000 deals.
  for (const [table, keys] of [
    ['deals', `'owner_external_id', 'other' || (g % 500)`],
    ['activities', `'owner_external_id', 'other' || (g % 500)`],
  ] as const)
    await sql
      // Lateral: (f(...)).* would call f once a column.
      .raw(`insert into ${table} select p.* from (select * from ${table} limit 1) r, generate_series(1, 20000) g,
          lateral jsonb_populate_record(null::${table}, to_jsonb(r) || jsonb_build_object('external_id', 'x' || g, ${keys})) p`)
      .execute(t.db);
  // The fixture has no splits: the other owners' splits of their deals.
  await sql`insert into deal_splits (connection_id, external_id, content_hash, deal_external_id, owner_external_id,
      split_percent) select 'sf', 's' || g, 'h', 'x' || g, 'other' || (g % 500), 100 from generate_series(1, 20000) g`.execute(
    t.db,
  );
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const [q, v] = args as [unknown, unknown];
    const text = typeof q === 'string' ? q : (q as { text?: unknown } | null)?.text;
    const values = typeof q === 'string' ? v : ((q as { values?: unknown }).values ?? v);
    if (recording && typeof text === 'string' && /\bfrom (deals|activities) [ad]\b/.test(text))
      seen.set(text, Array.isArray(values) ? values : []);
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
}, 120_000);

afterAll(async () => {
  pg.Client.prototype.query = query;
  await t?.drop();
});

/** The reads of the bounded tables in a plan that no owner or deal key bounds. */
function unbounded(node: PlanNode, out: string[] = []): string[] {
  const table = node['Relation Name'] ?? (node['Index Name'] ?? '').replace(/_(pkey|[a-z_]+_idx)$/, '');
  if (BOUNDED.has(table) && /Scan/.test(node['Node Type'])) {
    const cond = node['Index Cond'] ?? '';
    if (!/owner_external_id =|external_id =|deal_external_id =/.test(cond))
      out.push(
        `${node['Node Type']} on ${table}${node['Index Name'] ? ` via ${node['Index Name']}` : ''} (${cond || 'no index condition'})`,
      );
  }
  for (const p of node.Plans ?? []) unbounded(p, out);
  return out;
}

describe('loads of a few reps', () => {
  for (const splits of [false, true])
    it(`read their deals and activities by owner${splits ? ', with the deals they hold a split of' : ''}`, async () => {
      const config = validateConfig({
        calendar: { timezone: 'America/New_York' },
        ...(splits ? { booking: { splits: 'revenue' } } : {}),
      });
      const engine = new MetricsEngine({ db: t.db, config });
      const periods = engine.activePeriods(AS_OF);
      const rep = await t.db.selectFrom('reps').select('person_id').orderBy('person_id').executeTakeFirstOrThrow();
      seen.clear();
      recording = true;
      try {
        const data = await loadForReps(t.db, new Set([`person:${rep.person_id}`]), engine.loadOptions(AS_OF, periods));
        expect(data.deals.length).toBeGreaterThan(0);
      } finally {
        recording = false;
      }
      expect(seen.size).toBe(2);
      const client = new pg.Client({ connectionString: t.url });
      await client.connect();
      const found: string[] = [];
      try {
        await client.query('analyze');
        for (const [text, values] of seen) {
          const plan = await planWithoutScans(client, text, values);
          found.push(...unbounded(plan).map((x) => `${x}: ${text.replace(/\s+/g, ' ').slice(0, 90)}`));
        }
      } finally {
        await client.end();
      }
      expect(found).toEqual([]);
    }, 60_000);
});
