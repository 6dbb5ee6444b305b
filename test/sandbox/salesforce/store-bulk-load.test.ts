import { describe, expect, it } from 'vitest';
import { SalesforceStore } from '../../../src/sandbox/salesforce/store.ts';

const T0 = new Date('2026-03-02T10:00:00.000Z');
const at = (iso: string): { stamp: Date } => ({ stamp: new Date(iso) });

/** One deal's life: created, advanced, resized and pushed out, then a rename, which touches no tracked field. */
function writeDeal(store: SalesforceStore, bulk: boolean): string {
  const insert = bulk
    ? (t: string, f: Record<string, unknown>, o: { stamp: Date }) => store.load(t, f, o)
    : (t: string, f: Record<string, unknown>, o: { stamp: Date }) => String(store.insert(t, f, o).Id);
  const update = bulk
    ? (t: string, id: string, f: Record<string, unknown>, o: { stamp: Date }) => store.loadUpdate(t, id, f, o)
    : (t: string, id: string, f: Record<string, unknown>, o: { stamp: Date }) => {
        store.update(t, id, f, o);
      };
  const id = insert(
    'Opportunity',
    { Name: 'Big', StageName: 'Prospecting', CloseDate: '2026-03-31', Amount: 1000, Probability: 10 },
    at('2026-01-05T14:00:00.000Z'),
  );
  insert('OpportunityLineItem', { OpportunityId: id, Quantity: 2, UnitPrice: 500 }, at('2026-01-05T14:00:00.000Z'));
  update('Opportunity', id, { StageName: 'Qualification', Probability: 20 }, at('2026-01-20T15:30:00.000Z'));
  update('Opportunity', id, { Amount: 1250, CloseDate: '2026-04-15' }, at('2026-02-03T16:00:00.000Z'));
  update('Opportunity', id, { Name: 'Big (renewal)' }, at('2026-02-10T11:00:00.000Z'));
  return id;
}

function snapshot(store: SalesforceStore): unknown {
  const types = ['Opportunity', 'OpportunityHistory', 'OpportunityLineItem'];
  return types.map((t) => ({
    rows: store.all(t, { includeDeleted: true }),
    log: store.updatedLog(t).map((u) => [u.id, u.at.toISOString()]),
  }));
}

describe('the store bulk-load path (load / loadUpdate)', () => {
  it('leaves exactly the rows, Ids, stamps, history rows and update log that insert / update leave', () => {
    const api = new SalesforceStore({ seed: 3, now: T0 });
    const bulk = new SalesforceStore({ seed: 3, now: T0 });
    expect(writeDeal(bulk, true)).toBe(writeDeal(api, false));
    expect(snapshot(bulk)).toEqual(snapshot(api));

    const history = bulk.all('OpportunityHistory');
    // Created, then two tracked changes; the rename adds no row.
    expect(history.map((h) => [h.StageName, h.Amount, h.CloseDate, h.PrevAmount, h.CreatedDate])).toEqual([
      ['Prospecting', 1000, '2026-03-31', null, '2026-01-05T14:00:00.000+0000'],
      ['Qualification', 1000, '2026-03-31', 1000, '2026-01-20T15:30:00.000+0000'],
      ['Qualification', 1250, '2026-04-15', 1000, '2026-02-03T16:00:00.000+0000'],
    ]);
    const opp = bulk.all('Opportunity')[0];
    expect(opp?.CreatedDate).toBe('2026-01-05T14:00:00.000+0000');
    expect(opp?.SystemModstamp).toBe('2026-02-10T11:00:00.000+0000');
  });

  it('rejects bad values as insert does, naming the field', () => {
    const store = new SalesforceStore({ seed: 3, now: T0 });
    expect(() => store.load('Opportunity', { Name: 'x', Amount: 'lots' }, at('2026-01-05T14:00:00.000Z'))).toThrow(
      /Opportunity\.Amount: expected a number, got "lots"/,
    );
  });
});
