/**
 * Property: for random sequences of warehouse changes (deal edits, owner and period moves, deletes, quota edits,
 * rate changes, team moves), each marked as the sync marks it (old and new owner x old and new period), the engine
 * recomputes exactly the subject-periods the change touches (the reps in the current quarter when the period lies
 * within the quarter's trailing windows, plus every team and region they counted for and the org), and afterwards
 * a full recompute from scratch, in a new engine, finds nothing to change.
 *
 * The expected set is derived here from the test's own org model, not from the engine's.
 */
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.ts';
import { MetricsEngine } from '../../../src/metrics/engine/engine.ts';
import type { DirtyKey } from '../../../src/metrics/engine/types.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.ts';
import { insertQuotaRep } from './rep-rows.ts';

const AS_OF = '2026-06-12';
const CURRENT = 'FY2026-Q2';
/** Quarters whose dates the current quarter's figures read as of D (trailing 12 months and 180 days). */
const IN_WINDOW = new Set(['FY2025-Q2', 'FY2025-Q3', 'FY2025-Q4', 'FY2026-Q1', 'FY2026-Q2']);
const CLOSE_DATES = [
  '2025-03-10',
  '2025-11-10',
  '2026-02-20',
  '2026-05-10',
  '2026-06-05',
  '2026-06-20',
  '2026-08-10',
] as const;
const REPS = ['005A', '005B', '005C', '005D'] as const;
/** Teams 3 and 4 are in region 2, team 5 in region 6. */
const TEAMS = { 3: 2, 4: 2, 5: 6 } as const;
type TeamId = keyof typeof TEAMS;

function quarterOf(d: string): string {
  const y = Number(d.slice(0, 4));
  const q = Math.floor((Number(d.slice(5, 7)) - 1) / 3) + 1;
  return `FY${y}-Q${q}`;
}

let t: TestDatabase;
const config = validateConfig({ calendar: { timezone: 'UTC' }, forecast: { trials: 200 } });

interface TestState {
  deals: Map<string, { owner: string; close: string; deleted: boolean }>;
  /** Per rep: [team, from] in order; the last is current. */
  teams: Map<string, { team: TeamId; from: string }[]>;
}

async function reset(): Promise<TestState> {
  await sql`truncate persons, reps, org_units, memberships, deals, activities, quotas, fx_rates, metric_snapshots,
    metric_snapshot_history, alert_tasks, alerts, dirty_keys, config_state`.execute(t.db);
  // writeback_audit refuses TRUNCATE, and a cascade from connections would reach it; it holds no rows here.
  await sql`delete from connections`.execute(t.db);
  const db = t.db;
  await db.insertInto('connections').values({ id: 'sf', kind: 'salesforce' }).execute();
  const state: TestState = { deals: new Map(), teams: new Map() };
  await db
    .insertInto('org_units')
    .values({ id: 1, kind: 'org', name: 'Org', parent_id: null, source: 'file' } as never)
    .execute();
  for (const [id, name] of [
    [2, 'North'],
    [6, 'South'],
  ] as const)
    await db
      .insertInto('org_units')
      .values({ id, kind: 'region', name, parent_id: 1, source: 'file' } as never)
      .execute();
  for (const [team, region] of Object.entries(TEAMS))
    await db
      .insertInto('org_units')
      .values({ id: Number(team), kind: 'team', name: `Team ${team}`, parent_id: region, source: 'file' } as never)
      .execute();
  for (const [i, ext] of REPS.entries()) {
    const team: TeamId = i < 2 ? 3 : 4;
    await insertQuotaRep(db, { person: i + 1, externalId: ext, teamId: team, quota: '300000' });
    state.teams.set(ext, [{ team, from: '2020-01-01' }]);
  }
  await db
    .insertInto('fx_rates')
    .values({
      connection_id: 'sf',
      currency: 'EUR',
      rate: '0.9',
      valid_from: '2020-01-01',
      valid_to: null,
      source: 'crm_dated',
    })
    .execute();
  for (let n = 0; n < 12; n++) {
    const owner = REPS[n % 4] as string;
    const close = CLOSE_DATES[n % CLOSE_DATES.length] as string;
    const open = close >= AS_OF;
    await db
      .insertInto('deals')
      .values({
        connection_id: 'sf',
        external_id: `006${n}`,
        content_hash: 'h',
        name: `Deal ${n}`,
        owner_external_id: owner,
        amount: String(10000 + n * 7000),
        currency: n % 5 === 0 ? 'EUR' : 'USD',
        stage: open ? 'Proposal' : n % 3 === 0 ? 'Closed Lost' : 'Closed Won',
        stage_category: open ? 'open' : n % 3 === 0 ? 'lost' : 'won',
        probability: open ? '0.5' : n % 3 === 0 ? '0' : '1',
        close_date: close,
        created_date: '2025-01-01',
      })
      .execute();
    state.deals.set(`006${n}`, { owner, close, deleted: false });
  }
  return state;
}

type Change =
  | { kind: 'edit'; deal: number; amount: number }
  | { kind: 'owner'; deal: number; rep: number }
  | { kind: 'period'; deal: number; close: number }
  | { kind: 'delete'; deal: number }
  | { kind: 'quota'; rep: number; amount: number }
  | { kind: 'rate'; rate: number }
  | { kind: 'team'; rep: number; team: TeamId; from: number };

const change: fc.Arbitrary<Change> = fc.oneof(
  fc.record({ kind: fc.constant('edit' as const), deal: fc.nat(11), amount: fc.integer({ min: 1, max: 500 }) }),
  fc.record({ kind: fc.constant('owner' as const), deal: fc.nat(11), rep: fc.nat(3) }),
  fc.record({ kind: fc.constant('period' as const), deal: fc.nat(11), close: fc.nat(CLOSE_DATES.length - 1) }),
  fc.record({ kind: fc.constant('delete' as const), deal: fc.nat(11) }),
  fc.record({ kind: fc.constant('quota' as const), rep: fc.nat(3), amount: fc.integer({ min: 1, max: 900 }) }),
  fc.record({ kind: fc.constant('rate' as const), rate: fc.integer({ min: 50, max: 150 }) }),
  fc.record({
    kind: fc.constant('team' as const),
    rep: fc.nat(3),
    team: fc.constantFrom<TeamId>(3, 4, 5),
    from: fc.integer({ min: 1, max: 40 }),
  }),
);

/** Applies a change to the warehouse and returns the dirty keys the sync (or the org, quota and rate loaders) would mark. */
async function apply(state: TestState, c: Change): Promise<DirtyKey[]> {
  const db = t.db;
  const key = (rep: string, period: string): DirtyKey => ({
    subjectKey: `sf:${rep}`,
    periodId: period,
    reason: c.kind,
  });
  if (c.kind === 'quota') {
    const rep = REPS[c.rep] as string;
    await db
      .updateTable('quotas')
      .set({ amount: String(c.amount * 1000) })
      .where('external_id', '=', `Q${rep}`)
      .execute();
    return [key(rep, CURRENT)];
  }
  if (c.kind === 'rate') {
    await db
      .updateTable('fx_rates')
      .set({ rate: String(c.rate / 100) })
      .where('currency', '=', 'EUR')
      .execute();
    return REPS.map((r) => key(r, CURRENT));
  }
  if (c.kind === 'team') {
    const rep = REPS[c.rep] as string;
    const list = state.teams.get(rep) ?? [];
    const last = list[list.length - 1] as { team: TeamId; from: string };
    // A move on a day after the current membership began (days into 2026-05), never after D.
    const from = `2026-05-${String(Math.min(c.from, 31)).padStart(2, '0')}`;
    if (last.team === c.team || from <= last.from) return [];
    const person = c.rep + 1;
    await db
      .updateTable('memberships')
      .set({ valid_to: from })
      .where('person_id', '=', person)
      .where('valid_to', 'is', null)
      .execute();
    await db
      .insertInto('memberships')
      .values({ person_id: person, org_unit_id: c.team, valid_from: from, valid_to: null, source: 'file' })
      .execute();
    list.push({ team: c.team, from });
    return [key(rep, CURRENT)];
  }
  const id = `006${c.deal}`;
  const d = state.deals.get(id);
  if (!d || d.deleted) return [];
  const before = { ...d };
  if (c.kind === 'edit')
    await db
      .updateTable('deals')
      .set({ amount: String(c.amount * 1000) })
      .where('external_id', '=', id)
      .execute();
  else if (c.kind === 'owner') {
    d.owner = REPS[c.rep] as string;
    await db.updateTable('deals').set({ owner_external_id: d.owner }).where('external_id', '=', id).execute();
  } else if (c.kind === 'period') {
    d.close = CLOSE_DATES[c.close] as string;
    const open = d.close >= AS_OF;
    await db
      .updateTable('deals')
      .set({
        close_date: d.close,
        ...(open
          ? { stage: 'Proposal', stage_category: 'open', probability: '0.5' }
          : { stage: 'Closed Won', stage_category: 'won', probability: '1' }),
      })
      .where('external_id', '=', id)
      .execute();
  } else {
    d.deleted = true;
    await db.updateTable('deals').set({ is_deleted: true }).where('external_id', '=', id).execute();
  }
  const keys = new Map<string, DirtyKey>();
  for (const owner of [before.owner, d.owner])
    for (const close of [before.close, d.close]) keys.set(`${owner}|${quarterOf(close)}`, key(owner, quarterOf(close)));
  return [...keys.values()];
}

/** What a set of dirty keys touches, from the test's own org model. */
function expected(state: TestState, dirty: readonly DirtyKey[]): string[] {
  const out = new Set<string>();
  for (const k of dirty) {
    if (!IN_WINDOW.has(k.periodId)) continue;
    const rep = k.subjectKey.slice(3);
    const person = REPS.indexOf(rep as (typeof REPS)[number]) + 1;
    out.add(`rep:person:${person}@${CURRENT}`);
    for (const m of state.teams.get(rep) ?? []) {
      out.add(`team:${m.team}@${CURRENT}`);
      out.add(`region:${TEAMS[m.team]}@${CURRENT}`);
    }
    out.add(`org:org@${CURRENT}`);
  }
  return [...out].sort();
}

beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

describe('incremental recompute', () => {
  it('recomputes exactly what each change touches, and ends equal to a full recompute', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(change, { minLength: 1, maxLength: 6 }), async (changes) => {
        const state = await reset();
        const engine = new MetricsEngine({ db: t.db, config });
        await engine.recomputeAll(AS_OF);
        for (const c of changes) {
          const dirty = await apply(state, c);
          const result = await engine.recompute(dirty, AS_OF);
          expect(result.recomputed).toEqual(expected(state, dirty));
        }
        const before = await t.db
          .selectFrom('metric_snapshots')
          .select(['subject_kind', 'subject_id', 'period_id', 'value_hash'])
          .orderBy('subject_kind')
          .orderBy('subject_id')
          .execute();
        const full = await new MetricsEngine({ db: t.db, config }).recomputeAll(AS_OF);
        expect(full.changes.map((x) => `${x.subject.kind}:${x.subject.id}: ${x.changedFields.join(',')}`)).toEqual([]);
        const after = await t.db
          .selectFrom('metric_snapshots')
          .select(['subject_kind', 'subject_id', 'period_id', 'value_hash'])
          .orderBy('subject_kind')
          .orderBy('subject_id')
          .execute();
        expect(after).toEqual(before);
      }),
      { numRuns: 12, seed: 20261125, endOnFailure: true },
    );
  }, 240_000);
});
