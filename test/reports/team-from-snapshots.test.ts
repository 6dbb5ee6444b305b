/**
 * A one-shot report on a team (the CLI's `report team`) from current snapshots reads the people and that team's
 * members' rows only, and ranks its reps in their region and the org, and the team among the org's teams, from the
 * attainments the engine stored beside the snapshots at full precision: the same bytes as computed from the
 * warehouse, also where two reps tie to the four places a document prints and not exactly.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock, setClock } from '../../src/clock.ts';
import { validateConfig } from '../../src/config/load.ts';
import type { FiguresDocument } from '../../src/metrics/document.ts';
import { MetricsEngine } from '../../src/metrics/engine/engine.ts';
import { storeSnapshots } from '../../src/metrics/engine/snapshots.ts';
import { ReportReader } from '../../src/reports/read-model.ts';
import { renderReport } from '../../src/reports/render.ts';
import { buildReport, type ReportRequest } from '../../src/reports/report.ts';
import { Dec } from '../../src/util/money.ts';
import { goldenWarehouse } from '../fixtures/warehouse/load.ts';
import type { TestDatabase } from '../helpers/db.ts';

const TODAY = '2026-06-12';
const PERIOD = 'FY2026-Q2';
const config = validateConfig({ calendar: { timezone: 'America/New_York' }, forecast: { trials: 2000 } });
const TEAM: ReportRequest = { kind: 'team', team: 'West Enterprise' };
// Sarah Chen (West Enterprise): 522,000 won of 600,000, exactly 0.87. Emily White (West Mid, the same region):
// 450,000 won, her quota set so that she prints 0.8700 too, just above or just below.
const SARAH = 'person:1';
const EMILY = 'person:3';
let t: TestDatabase;

beforeAll(async () => {
  setClock(fixedClock(`${TODAY}T16:00:00Z`));
  t = await goldenWarehouse();
});
afterAll(async () => {
  setClock(undefined);
  await t.drop();
});

/** Emily's quota for the quarter, and a full recompute that stores every snapshot. */
async function emilysQuota(amount: string): Promise<void> {
  const r = await sql`update quotas set amount = ${amount} where period_start >= '2026-04-01'
    and period_end <= '2026-06-30' and not is_deleted and (person_id = 3 or (connection_id, owner_external_id) in
    (select connection_id, external_id from reps where person_id = 3))`.execute(t.db);
  expect(Number(r.numAffectedRows)).toBeGreaterThan(0);
  await new MetricsEngine({ db: t.db, config }).recomputeAll(TODAY);
}

async function computed(req: ReportRequest): Promise<string> {
  return renderReport('json', req.kind, await buildReport(t.db, new MetricsEngine({ db: t.db, config }), req));
}

/** The CLI's read (one-shot), with the text and parameters of every statement it issued. */
async function oneShot(req: ReportRequest) {
  const issued: { text: string; values: unknown[] }[] = [];
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const [q, v] = args as [string | { text: string; values?: unknown[] }, unknown[] | undefined];
    if (typeof q === 'string') issued.push({ text: q, values: v ?? [] });
    else if (q && typeof q.text === 'string') issued.push({ text: q.text, values: q.values ?? v ?? [] });
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  try {
    const answer = await new ReportReader({ db: t.db, config, oneShot: true }).read(req, 'one-shot');
    return { answer, issued };
  } finally {
    pg.Client.prototype.query = query;
  }
}

type Rank = { rank: number | null; of: number };
type RepRow = { subject: { id: string }; attainment: string; rank: { team: Rank; region: Rank; org: Rank } };

async function exactOf(id: string): Promise<{ exact: string | null; printed: string }> {
  const r = await sql<{ exact: string | null; printed: string }>`select exact_attainment::text as exact,
    metrics->>'attainment' as printed from metric_snapshots where subject_kind = 'rep' and subject_id = ${id}
    and period_id = ${PERIOD}`.execute(t.db);
  return r.rows[0] as { exact: string | null; printed: string };
}

describe('report team from the stored snapshots', () => {
  it("reads its own members' deals only, and ranks by the stored exact attainment: ahead by 0.000004", async () => {
    await emilysQuota('517238.99');
    // Both print 0.8700; Emily's is 0.8700039...
    expect(await exactOf(SARAH)).toEqual({ exact: '0.87', printed: '0.8700' });
    const emily = await exactOf(EMILY);
    expect(emily.printed).toBe('0.8700');
    expect(new Dec(emily.exact as string).gt('0.87')).toBe(true);

    const { answer, issued } = await oneShot(TEAM);
    expect(answer.source).toBe('snapshots');
    expect(answer.json).toBe(await computed(TEAM));
    const sarah = (answer.doc.reps as unknown as RepRow[]).find((r) => r.subject.id === SARAH) as RepRow;
    expect(sarah.attainment).toBe('0.8700');
    expect(sarah.rank.region).toMatchObject({ rank: 2, of: 3 });
    expect(sarah.rank.org).toMatchObject({ rank: 2, of: 3 });

    // The model behind it holds no other team's rows: Emily (West Mid) has none, Sarah her won deals.
    expect(answer.model.repRows(EMILY).credits).toHaveLength(0);
    expect(answer.model.repRows(SARAH).credits.length).toBeGreaterThan(0);
    // Every statement that read deals named its owners: the team's members' users, not a whole read.
    const members = await sql<{ ext: string }>`select r.external_id as ext from reps r
      where r.person_id in (1, 2, 4)`.execute(t.db);
    const allowed = new Set(members.rows.map((r) => r.ext));
    const dealReads = issued.filter((s) => /\bfrom deals d\b/.test(s.text));
    expect(dealReads.length).toBeGreaterThan(0);
    for (const s of dealReads) {
      expect(s.text).toContain('unnest(');
      const owners = s.values.filter(Array.isArray).flat() as string[];
      expect(owners.length).toBeGreaterThan(0);
      const emilyUsers = await sql<{ ext: string }>`select external_id as ext from reps where person_id = 3`.execute(
        t.db,
      );
      for (const u of emilyUsers.rows) expect(owners).not.toContain(u.ext);
      expect(owners.some((o) => allowed.has(o))).toBe(true);
    }
  }, 120_000);

  it('ranks by the stored exact attainment: behind by 0.0000001', async () => {
    await emilysQuota('517241.38');
    const emily = await exactOf(EMILY);
    expect(emily.printed).toBe('0.8700');
    expect(new Dec(emily.exact as string).lt('0.87')).toBe(true);
    const { answer } = await oneShot(TEAM);
    expect(answer.source).toBe('snapshots');
    expect(answer.json).toBe(await computed(TEAM));
    const sarah = (answer.doc.reps as unknown as RepRow[]).find((r) => r.subject.id === SARAH) as RepRow;
    expect(sarah.rank.region).toMatchObject({ rank: 1, of: 3 });
    // The region's report (its teams' members only) and the org's rank the same way as computed.
    for (const req of [{ kind: 'region', region: 'West' }, { kind: 'org' }] as ReportRequest[]) {
      const r = await oneShot(req);
      expect(r.answer.source, req.kind).toBe('snapshots');
      expect(r.answer.json, req.kind).toBe(await computed(req));
    }
  }, 120_000);

  it('computes while a snapshot of the period has no exact attainment stored (written before the column)', async () => {
    await sql`update metric_snapshots set exact_stored = false, exact_attainment = null
      where subject_kind = 'rep' and subject_id = ${EMILY} and period_id = ${PERIOD}`.execute(t.db);
    const { answer } = await oneShot(TEAM);
    expect(answer.source).toBe('warehouse');
    expect(answer.json).toBe(await computed(TEAM));
    // The next recompute stores it again, though the document did not move: not reported as a change.
    const before = await sql<{ at: string }>`select computed_at::text as at from metric_snapshots
      where subject_kind = 'rep' and subject_id = ${EMILY} and period_id = ${PERIOD}`.execute(t.db);
    const doc = await sql<{ m: FiguresDocument }>`select metrics as m from metric_snapshots
      where subject_kind = 'rep' and subject_id = ${EMILY} and period_id = ${PERIOD}`.execute(t.db);
    const engine = new MetricsEngine({ db: t.db, config });
    const stored = await storeSnapshots(
      t.db,
      [
        {
          subject: { kind: 'rep', id: EMILY },
          periodId: PERIOD,
          doc: doc.rows[0]?.m as FiguresDocument,
          exact: new Dec('0.8699999'),
        },
      ],
      TODAY,
      engine.settings.configHash,
      '2100-01-01T00:00:00Z',
    );
    expect(stored.changes).toEqual([]);
    expect(stored.superseded).toEqual([]);
    const after = await sql<{ at: string; exact: string; stored: boolean }>`select computed_at::text as at,
      exact_attainment::text as exact, exact_stored as stored from metric_snapshots
      where subject_kind = 'rep' and subject_id = ${EMILY} and period_id = ${PERIOD}`.execute(t.db);
    expect(after.rows[0]).toMatchObject({ exact: '0.8699999', stored: true });
    // Its stamp moves all the same: another worker reloads a rep whose stored row moved (by computed_at), or it
    // would sum its teams from the old exact value.
    expect(after.rows[0]?.at).not.toBe(before.rows[0]?.at);
  }, 120_000);
});
