import { describe, expect, it } from 'vitest';
import { generateOrg } from '../../../src/sandbox/org/index.ts';
import { applyLifeChange, createLifeClock } from '../../../src/sandbox/salesforce/life.ts';
import { populateSalesforce } from '../../../src/sandbox/salesforce/populate.ts';
import type { SRecord } from '../../../src/sandbox/salesforce/schema.ts';
import { SalesforceStore } from '../../../src/sandbox/salesforce/store.ts';

const ANCHOR = '2026-11-15';
const org = generateOrg({ seed: 42, size: 'small', anchorDate: ANCHOR });
const iso = (v: unknown): string => new Date(String(v).replace('+0000', 'Z')).toISOString();

function populated() {
  const store = new SalesforceStore({ seed: 42, now: new Date(`${ANCHOR}T12:00:00.000Z`) });
  populateSalesforce(store, org);
  return store;
}

const history = (store: SalesforceStore, oppId: unknown): SRecord[] =>
  store.all('OpportunityHistory').filter((h) => h.OpportunityId === oppId);

describe('life changes', () => {
  const store = populated();
  const life = createLifeClock(store, org, { seed: 1 });
  const openOpp = (stage: string): SRecord => {
    const o = store.all('Opportunity').find((x) => x.StageName === stage && x.CloseDate !== null);
    if (!o) throw new Error(`no open ${stage} deal`);
    return o;
  };

  it('advanceStage moves to the next stage with a history row stamped now', () => {
    store.advance(60_000);
    const opp = openOpp('Qualification');
    const before = history(store, opp.Id).length;
    const after = life.changes.advanceStage(String(opp.Id));
    expect(after).toMatchObject({ StageName: 'Needs Analysis', Probability: 20, ForecastCategoryName: 'Pipeline' });
    expect(iso(after.SystemModstamp)).toBe(store.now().toISOString());
    const rows = history(store, opp.Id);
    expect(rows).toHaveLength(before + 1);
    expect(rows.at(-1)).toMatchObject({ StageName: 'Needs Analysis', CloseDate: opp.CloseDate });
    expect(iso(rows.at(-1)?.CreatedDate)).toBe(store.now().toISOString());
  });

  it('closeWon closes on the given date; slip moves the close date and records the previous one', () => {
    store.advance(60_000);
    const won = life.changes.closeWon(String(openOpp('Negotiation/Review').Id), '2026-11-15');
    expect(won).toMatchObject({
      StageName: 'Closed Won',
      IsWon: true,
      IsClosed: true,
      Probability: 100,
      CloseDate: '2026-11-15',
    });
    const opp = openOpp('Prospecting');
    const slipped = life.changes.slip(String(opp.Id), 14);
    const expected = new Date(`${opp.CloseDate}T00:00:00Z`);
    expected.setUTCDate(expected.getUTCDate() + 14);
    expect(slipped.CloseDate).toBe(expected.toISOString().slice(0, 10));
    expect(history(store, opp.Id).at(-1)).toMatchObject({ CloseDate: slipped.CloseDate, PrevCloseDate: opp.CloseDate });
  });

  it('moveOwner changes the owner and bumps the stamp without a history row', () => {
    store.advance(60_000);
    const opp = openOpp('Prospecting');
    const other = store.all('User').find((u) => u.IsActive === true && u.Id !== opp.OwnerId && u.Start_Date__c);
    const before = history(store, opp.Id).length;
    const after = life.changes.moveOwner(String(opp.Id), String(other?.Id));
    expect(after.OwnerId).toBe(other?.Id);
    expect(iso(after.SystemModstamp)).toBe(store.now().toISOString());
    expect(history(store, opp.Id)).toHaveLength(before);
  });

  it('lateCommit writes a record stamped before records already visible; tie gives records one stamp', () => {
    store.advance(60_000);
    const past = new Date(store.now().getTime() - 3_600_000);
    const rep = store.all('User').find((u) => u.IsActive === true && u.Start_Date__c);
    // A call logged now is visible first; the late transaction then commits with an older stamp.
    life.changes.logActivity(String(rep?.Id), 'call');
    const late = life.changes.lateCommit(
      'Task',
      { Subject: 'Late call', Status: 'Completed', Priority: 'Normal', OwnerId: rep?.Id, TaskSubtype: 'Call' },
      past,
    );
    expect(iso(late.SystemModstamp)).toBe(past.toISOString());
    const newest = store
      .all('Task')
      .map((t) => iso(t.SystemModstamp))
      .sort()
      .at(-1) as string;
    expect(newest > past.toISOString()).toBe(true);
    expect(() => life.changes.lateCommit('Task', {}, new Date(store.now().getTime() + 1))).toThrow(
      /stamped in the past/,
    );

    store.advance(60_000);
    const ids = store
      .all('Opportunity')
      .slice(0, 5)
      .map((o) => String(o.Id));
    const stamp = life.changes.tie('Opportunity', ids);
    const stamps = new Set(ids.map((id) => iso(store.get('Opportunity', id)?.SystemModstamp)));
    expect([...stamps]).toEqual([stamp.toISOString()]);
  });

  it('through the test API, names a missing argument or an unknown op', () => {
    expect(() => applyLifeChange(store, { op: 'slip', days: 3 })).toThrow(/slip: "oppId" must be a string/);
    expect(() => applyLifeChange(store, { op: 'explode' })).toThrow(/unknown life change op "explode"/);
    const opp = openOpp('Prospecting');
    expect(applyLifeChange(store, { op: 'setAmount', oppId: opp.Id, amount: 4200 })).toMatchObject({ Amount: 4200 });
  });
});

describe('life clock ticks', () => {
  it('advance the clock, change the org, and do the same for the same seed', () => {
    const runs = [populated(), populated()].map((store) => {
      const clock = createLifeClock(store, { seed: 9, advanceMs: 60_000 });
      const start = store.now().getTime();
      const events = Array.from({ length: 30 }, () => clock.tick()).flat();
      expect(store.now().getTime()).toBe(start + 30 * 60_000);
      return { store, events };
    });
    const [a, b] = runs;
    expect(a?.events).toEqual(b?.events);
    const kinds = new Set(a?.events.map((e) => e.kind));
    expect(kinds.has('activity')).toBe(true);
    expect(kinds.has('advance')).toBe(true);
    expect(a?.events.length).toBeGreaterThan(30);
    // Every change is stamped after the generated history ended, and no later than the clock.
    const end = `${ANCHOR}T12:00:00.000Z`;
    for (const e of a?.events ?? []) {
      const row = a?.store.get(e.type, e.id);
      const stamp = iso(row?.SystemModstamp);
      expect(stamp > end && stamp <= (a?.store.now().toISOString() ?? '')).toBe(true);
    }
  });

  it('runs on a timer when given tickMs, and stops', async () => {
    const store = populated();
    const clock = createLifeClock(store, { seed: 3, tickMs: 5, advanceMs: 1000 });
    const t0 = store.now().getTime();
    await new Promise((r) => setTimeout(r, 60));
    clock.stop();
    const moved = store.now().getTime() - t0;
    expect(moved).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 30));
    expect(store.now().getTime() - t0).toBe(moved);
  });
});
