import { describe, expect, it } from 'vitest';
import { generateOrgWithNotes } from '../../../src/sandbox/org/index.ts';
import { populateSalesforce } from '../../../src/sandbox/salesforce/populate.ts';
import { SalesforceStore } from '../../../src/sandbox/salesforce/store.ts';

const ANCHOR = '2026-11-15';
const { org, notes } = generateOrgWithNotes({ seed: 42, size: 'small', anchorDate: ANCHOR });
const store = new SalesforceStore({ seed: 42, now: new Date(`${ANCHOR}T12:00:00.000Z`) });
const { ids } = populateSalesforce(store, org);
const sfDate = (s: unknown): string => String(s).replace('+0000', 'Z');

describe('populateSalesforce (seed 42, small)', () => {
  it('writes one record per model record', () => {
    // The store starts with its own admin and integration users; the model's admin is the store's admin.
    expect(store.count('User')).toBe(org.people.length + 1);
    expect(store.count('Opportunity')).toBe(org.deals.length);
    expect(store.count('OpportunityHistory')).toBe(org.deals.reduce((n, d) => n + d.history.length, 0));
    expect(store.count('OpportunityLineItem')).toBe(org.deals.reduce((n, d) => n + d.lineItems.length, 0));
    expect(store.count('OpportunitySplit')).toBe(org.deals.reduce((n, d) => n + d.splits.length, 0));
    expect(store.count('Task') + store.count('Event')).toBe(org.activities.length);
    expect(store.count('Event')).toBe(org.activities.filter((a) => a.type === 'meeting').length);
    expect(store.count('Lead')).toBe(org.leads.length);
    expect(store.count('ForecastingQuota')).toBe(org.quotas.length);
    expect(store.count('CurrencyType')).toBe(4);
    expect(store.count('DatedConversionRate')).toBe(org.currencies.reduce((n, c) => n + c.dated.length, 0));
    // Four fiscal years (2024..2027: eight quarters of history), each a year, four quarters and twelve months.
    expect(store.count('Period')).toBe(4 * 17);
    expect(store.count('UserRole')).toBe(1 + org.regions.length + 2 * org.teams.length);
  });

  it('makes users with their manager, role, start date, territory and active flag', () => {
    const leader = org.people.find((p) => p.key === notes.leaverKey)!;
    const leaver = store.get('User', ids.get(leader.key)!)!;
    expect(leaver.IsActive).toBe(false);
    expect(leaver.Start_Date__c).toBe(leader.startDate);
    expect(leaver.ManagerId).toBe(ids.get(leader.managerKey!));
    expect(leaver.Territory__c).toBe(leader.territory);
    expect(sfDate(leaver.SystemModstamp)).toBe(`${leader.endDate}T14:00:00.000Z`);
    const mover = org.people.find((p) => p.key === notes.moverKey)!;
    const moverUser = store.get('User', ids.get(mover.key)!)!;
    const team = org.teams.find((t) => t.key === mover.teamKey)!;
    expect(moverUser.ManagerId).toBe(ids.get(team.managerKey));
    const role = store.get('UserRole', String(moverUser.UserRoleId))!;
    expect(role.Name).toBe(`${team.name} Rep`);
    const parent = store.get('UserRole', String(role.ParentRoleId))!;
    expect(parent.Name).toBe(`${team.name} Manager`);
  });

  it('replays each opportunity through its stage history with the model stamps', () => {
    const deal = org.deals.find((d) => d.stage === 'Closed Won' && d.history.length >= 4 && d.lineItems.length > 0)!;
    const opp = store.get('Opportunity', ids.get(deal.key)!)!;
    expect(opp).toMatchObject({
      StageName: 'Closed Won',
      IsClosed: true,
      IsWon: true,
      Probability: 100,
      ForecastCategoryName: 'Closed',
      Amount: Number(deal.amount),
      CurrencyIsoCode: deal.currency,
      CloseDate: deal.closeDate,
      Segment__c: deal.segment,
    });
    expect(sfDate(opp.CreatedDate)).toBe(deal.createdAt);
    expect(sfDate(opp.SystemModstamp)).toBe(deal.modifiedAt);
    const history = store
      .all('OpportunityHistory')
      .filter((h) => h.OpportunityId === opp.Id)
      .map((h) => [h.StageName, sfDate(h.CreatedDate), h.CloseDate]);
    expect(history).toEqual(deal.history.map((h) => [h.stage, h.at, h.closeDate]));
    const items = store.all('OpportunityLineItem').filter((li) => li.OpportunityId === opp.Id);
    expect(items.reduce((s, li) => s + Number(li.TotalPrice), 0)).toBe(Number(deal.amount));
    const product = store.get('Product2', String(items[0]?.Product2Id))!;
    expect(product.Family).toBe(deal.lineItems[0]?.productFamily);
  });

  it('keeps the dirty records as they are: no amount, an undefined currency, a null close date', () => {
    const get = (kind: string) => store.get('Opportunity', ids.get(org.deals.find((d) => d.dirty === kind)!.key)!)!;
    expect(get('no_amount').Amount).toBeNull();
    expect(get('unknown_currency').CurrencyIsoCode).toBe('CHF');
    expect(get('null_close_date').CloseDate).toBeNull();
  });

  it('writes tasks with subtypes, events for meetings, converted leads linked to their opportunity', () => {
    const subtypes = new Set(store.all('Task').map((t) => `${t.TaskSubtype}/${t.Type}`));
    expect(subtypes).toEqual(new Set(['Call/Call', 'Email/Email', 'ListEmail/Email', 'Task/Other', 'Task/Proposal']));
    const lead = org.leads.find((l) => l.convertedDealKey !== null)!;
    const row = store.get('Lead', ids.get(lead.key)!)!;
    expect(row).toMatchObject({
      IsConverted: true,
      ConvertedDate: lead.convertedDate,
      ConvertedOpportunityId: ids.get(lead.convertedDealKey!),
      Status: 'Closed - Converted',
    });
  });

  it('stamps nothing after the anchor and leaves many ties in SystemModstamp', () => {
    const end = `${ANCHOR}T12:00:00.000Z`;
    const stamps = new Map<string, number>();
    for (const type of ['Opportunity', 'OpportunityLineItem', 'OpportunitySplit', 'Task', 'ForecastingQuota']) {
      for (const r of store.all(type)) {
        const s = sfDate(r.SystemModstamp);
        expect(s <= end).toBe(true);
        stamps.set(`${type}|${s}`, (stamps.get(`${type}|${s}`) ?? 0) + 1);
      }
    }
    const tied = [...stamps.values()].filter((n) => n > 1).length;
    expect(tied).toBeGreaterThan(20);
  });

  it('refuses a store whose clock is before the end of the generated history', () => {
    const early = new SalesforceStore({ seed: 1, now: new Date('2026-11-14T00:00:00.000Z') });
    expect(() => populateSalesforce(early, org)).toThrow(/before the end of the generated history/);
  });
});
