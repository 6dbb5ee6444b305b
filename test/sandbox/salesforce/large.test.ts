/**
 * The large org's machinery at a size that takes seconds (the same code with 20 reps, 1,000 deals and 2,000
 * activities): lazy tables behave as the store's tables do, the org is the same for the same seed, and the
 * streaming figures oracle agrees with the profiles' oracle, which reads the store row by row.
 * The full size (5,000 reps, 1,000,000 deals, 5,000,000 activities) runs with QT_HEAVY=1 (memory and timings).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lazyFigures } from '../../../src/sandbox/org/lazy-figures.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../../src/sandbox/salesforce/index.ts';
import { lazyId } from '../../../src/sandbox/salesforce/large.ts';
import { expectedRepFigures } from '../../../src/sandbox/salesforce/oracle-figures.ts';
import { SOBJECTS } from '../../../src/sandbox/salesforce/schema.ts';
import { runQuery, selectRows } from '../../../src/sandbox/salesforce/soql/evaluate.ts';
import { Dec } from '../../../src/util/money.ts';
import { connect } from './helpers.ts';

const counts = { reps: 20, deals: 1_000, activities: 2_000 };
const anchorDate = '2026-03-10';
let sb: SalesforceSandbox;

beforeAll(async () => {
  sb = await startSalesforceSandbox({ seed: 11, size: 'large', anchorDate, largeCounts: counts });
});

afterAll(async () => {
  await sb?.close();
});

describe('the large org, lazily', () => {
  it('has the asked-for counts, teams of ten reps, every fifth activity a meeting', () => {
    const s = sb.store;
    expect(s.count('Opportunity')).toBe(1_000);
    expect(s.count('Task') + s.count('Event')).toBe(2_000);
    expect(s.count('Event')).toBe(400);
    expect(s.count('OpportunityHistory')).toBeGreaterThan(1_000);
    expect(sb.model?.people.filter((p) => p.role === 'rep')).toHaveLength(20);
    expect(sb.model?.teams).toHaveLength(2);
    // Every history row points at its opportunity, and the last one carries the opportunity's stage.
    const opp = s.get('Opportunity', lazyId('006', 17))!;
    const rows = [...s.scan('OpportunityHistory')].filter((h) => h.OpportunityId === opp.Id);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.at(-1)!.StageName).toBe(opp.StageName);
    expect(rows.at(-1)!.SystemModstamp).toBe(opp.SystemModstamp);
  });

  it('is the same org for the same seed, down to each generated row', async () => {
    const again = await startSalesforceSandbox({ seed: 11, size: 'large', anchorDate, largeCounts: counts });
    try {
      for (const [type, prefix, i] of [
        ['Opportunity', '006', 999],
        ['Task', '00T', 1_321],
        ['Event', '00U', 7],
      ] as const) {
        expect(again.store.get(type, lazyId(prefix, i))).toEqual(sb.store.get(type, lazyId(prefix, i)));
      }
    } finally {
      await again.close();
    }
  });

  it('takes API writes on generated rows: an update is read back, history is written, a delete goes to the bin', async () => {
    const conn = connect(sb);
    const id = lazyId('006', 42);
    const before = sb.store.count('OpportunityHistory');
    await conn.sobject('Opportunity').update({ Id: id, StageName: 'Negotiation/Review' });
    const row = (await conn.sobject('Opportunity').retrieve(id)) as unknown as Record<string, unknown>;
    expect(row.StageName).toBe('Negotiation/Review');
    expect(sb.store.count('OpportunityHistory')).toBe(before + 1);
    const task = lazyId('00T', 9);
    await conn.sobject('Task').destroy(task);
    expect(sb.store.get('Task', task)).toBeUndefined();
    expect(sb.store.get('Task', task, { includeDeleted: true })?.IsDeleted).toBe(true);
    const q = await conn.query(`SELECT Id, StageName FROM Opportunity WHERE Id = '${id}'`);
    expect(q.records[0]?.StageName).toBe('Negotiation/Review');
  });

  it('serves its tables through SOQL and a Bulk API job read in pages', async () => {
    const conn = connect(sb);
    const owner = sb.large!.userIds.get(sb.large!.lazy.reps[3]!.key)!;
    const soql = await conn.query(`SELECT COUNT() FROM Opportunity WHERE OwnerId = '${owner}'`);
    expect(soql.totalSize).toBe(1_000 / 20);
    await conn.query('SELECT Id FROM User LIMIT 1');
    const base = `${sb.url}/services/data/v62.0/jobs/query`;
    const headers = { authorization: `Bearer ${conn.accessToken}`, 'content-type': 'application/json' };
    const created = (await (
      await fetch(base, {
        method: 'POST',
        headers,
        body: JSON.stringify({ operation: 'query', query: 'SELECT Id FROM Task' }),
      })
    ).json()) as { id: string };
    for (let i = 0; i < 2; i++) await fetch(`${base}/${created.id}`, { headers });
    const seen = new Set<string>();
    let locator = '';
    do {
      const res = await fetch(`${base}/${created.id}/results?maxRecords=500${locator ? `&locator=${locator}` : ''}`, {
        headers,
      });
      for (const line of (await res.text()).trimEnd().split('\n').slice(1)) seen.add(line);
      locator = res.headers.get('sforce-locator') ?? 'null';
    } while (locator !== 'null');
    expect(seen.size).toBe(sb.store.count('Task'));
  });

  it("streams figures that agree, rep by rep and team by team, with the profiles' oracle reading the store", () => {
    const period = { start: '2026-01-01', end: '2026-03-31', asOf: anchorDate };
    // The write test above reopened deal 42 in the store; the generator's deal is unchanged, so its owner is left out.
    const streamed = lazyFigures(sb.large!.lazy, period);
    const fromStore = expectedRepFigures(sb.store, period);
    const touchedOwner = sb.large!.lazy.dealOwner(42).email.toLowerCase();
    let compared = 0;
    for (const [email, rep] of streamed.reps) {
      if (email === touchedOwner) continue;
      const other = fromStore.get(email);
      expect({ email, quota: rep.quota, actual: rep.actual }).toEqual({
        email,
        quota: other?.quota ?? null,
        actual: other?.actual ?? '0.00',
      });
      compared++;
    }
    expect(compared).toBe(19);
    // Teams are their reps' sums; some reps booked something.
    for (const team of streamed.teams.values()) {
      const members = [...streamed.reps.values()].filter((r) => r.teamKey === team.key);
      const sum = members.reduce((s, r) => s.plus(r.quota ?? 0), new Dec(0));
      expect(Math.abs(sum.minus(team.quota).toNumber())).toBeLessThan(0.01 * members.length);
    }
    expect([...streamed.reps.values()].filter((r) => r.actual !== '0.00').length).toBeGreaterThan(10);
    expect(streamed.dealsRead).toBe(1_000);
  });
});

describe('counts and condition-free reads of the lazy tables', () => {
  it('agree with reading every row, before and after API writes, in and out of the recycle bin', async () => {
    const small = await startSalesforceSandbox({
      seed: 5,
      size: 'large',
      anchorDate,
      largeCounts: { reps: 10, deals: 300, activities: 500 },
    });
    try {
      const s = small.store;
      const types = ['Opportunity', 'OpportunityHistory', 'Task', 'Event'] as const;
      const check = () => {
        for (const type of types) {
          for (const includeDeleted of [false, true]) {
            // The reference: every row made and looked at, through a condition every row meets.
            const read = [...s.scan(type, { includeDeleted })];
            expect(s.count(type, { includeDeleted }), `${type} ${includeDeleted}`).toBe(read.length);
            const all = runQuery(s, `SELECT COUNT() FROM ${type}`, { includeDeleted, apiVersion: '62.0' });
            expect(all.totalSize).toBe(read.length);
            const limited = runQuery(s, `SELECT COUNT() FROM ${type} LIMIT 7 OFFSET 3`, {
              includeDeleted,
              apiVersion: '62.0',
            });
            expect(limited.totalSize).toBe(Math.max(0, Math.min(read.length, 10) - 3));
            const ids = (soql: string) => {
              const sel = selectRows(s, soql, { includeDeleted });
              return Array.from({ length: sel.size }, (_, k) => sel.values(sel.rowAt(k))[0]);
            };
            const plain = ids(`SELECT Id FROM ${type}`);
            expect(plain).toEqual(ids(`SELECT Id FROM ${type} WHERE Id != null`));
            expect(new Set(plain)).toEqual(new Set(read.map((r) => r.Id)));
          }
        }
      };
      // Fresh: OpportunityHistory is counted before any deal was made.
      check();
      s.update('Opportunity', lazyId('006', 4), { StageName: 'Negotiation/Review' });
      s.softDelete('Opportunity', lazyId('006', 5));
      s.hardDelete('Opportunity', lazyId('006', 6));
      s.softDelete('Task', lazyId('00T', 9));
      s.hardDelete('Task', lazyId('00T', 9));
      s.softDelete('Event', lazyId('00U', 3));
      const added = s.insert('Opportunity', { Name: 'New', StageName: 'Prospecting', CloseDate: '2026-06-30' });
      s.softDelete('Opportunity', added.Id as string);
      s.insert('Opportunity', { Name: 'Kept', StageName: 'Prospecting', CloseDate: '2026-06-30' });
      check();
      expect(s.count('Opportunity')).toBe(300 - 2 + 1);
      expect(s.count('Opportunity', { includeDeleted: true })).toBe(300 - 1 + 2);
    } finally {
      await small.close();
    }
  });

  it('answers a condition on fields the made rows never carry as reading every row does, for every field', async () => {
    const small = await startSalesforceSandbox({
      seed: 6,
      size: 'large',
      anchorDate,
      largeCounts: { reps: 10, deals: 120, activities: 200 },
    });
    try {
      const s = small.store;
      const ids = (soql: string) => {
        const sel = selectRows(s, soql, { includeDeleted: false });
        return Array.from({ length: sel.size }, (_, k) => sel.rowAt(k).Id);
      };
      for (const type of ['Opportunity', 'OpportunityHistory', 'Task', 'Event'] as const) {
        // Each stored field: alone (the table may answer without making rows, when no made row carries it) and
        // beside `Id != null` (every row made and tested). A made row carrying a field the table does not list
        // would make the two differ for `= null` or `!= null`.
        for (const f of SOBJECTS[type]!.fields.filter((x) => !x.compute && s.apiHasField(type, x.name))) {
          for (const op of ['=', '!='])
            expect(ids(`SELECT Id FROM ${type} WHERE ${f.name} ${op} null`), `${type}.${f.name} ${op}`).toEqual(
              ids(`SELECT Id FROM ${type} WHERE ${f.name} ${op} null AND Id != null`),
            );
        }
      }
      // After a write the table no longer answers for its made rows: the written row is tested as it is.
      s.update('Task', lazyId('00T', 3), { Quota_Alert_Key__c: 'k1' });
      expect(ids('SELECT Id FROM Task WHERE Quota_Alert_Key__c = null')).toHaveLength(s.count('Task') - 1);
      expect(ids("SELECT Id FROM Task WHERE Quota_Alert_Key__c = 'k1'")).toEqual([lazyId('00T', 3)]);
    } finally {
      await small.close();
    }
  });
});
