/**
 * The figures oracle: for the same generated org, the HubSpot rendering gives exactly the figures of the
 * Salesforce rendering (every rep, team, region and the org, stage and lead conversion); split across both CRMs
 * (`--crm both`), the two parts' records together give the same figures again. The oracle also follows the life
 * clock: a deal won through it raises its owner's actual.
 */
import { describe, expect, it } from 'vitest';
import { computeFigures, mergeRecords } from '../../../src/sandbox/figures.ts';
import { buildHubSpotStore } from '../../../src/sandbox/hubspot/index.ts';
import { lifeChanges } from '../../../src/sandbox/hubspot/life.ts';
import { hubspotFigures, hubspotRecords } from '../../../src/sandbox/hubspot/oracle.ts';
import { generateOrg, type OrgModel } from '../../../src/sandbox/org/index.ts';
import { splitOrg } from '../../../src/sandbox/org/split.ts';
import { salesforceFigures, salesforceRecords } from '../../../src/sandbox/salesforce/figures.ts';
import { populateSalesforce } from '../../../src/sandbox/salesforce/populate.ts';
import { SalesforceStore } from '../../../src/sandbox/salesforce/store.ts';
import { Dec } from '../../../src/util/money.ts';

const ANCHOR = '2026-11-15';

function salesforce(org: OrgModel, seed: number) {
  const store = new SalesforceStore({ seed, now: new Date(`${ANCHOR}T12:00:00.000Z`) });
  const { ids } = populateSalesforce(store, org);
  return { store, keys: new Map([...ids].map(([k, v]) => [v, k])) };
}

describe('figures oracle', () => {
  it.each([42, 7])(
    'seed %i: HubSpot figures equal the Salesforce figures for the same org',
    (seed) => {
      const org = generateOrg({ seed, size: 'small', anchorDate: ANCHOR });
      const sf = salesforce(org, seed);
      const { store } = buildHubSpotStore({ seed, anchorDate: ANCHOR, org, size: 'small' });
      const a = salesforceFigures(sf.store, org, { asOf: ANCHOR }, sf.keys);
      const b = hubspotFigures(store, org, { asOf: ANCHOR });
      expect(Object.keys(b.reps).length).toBeGreaterThan(8);
      expect(b.org.actual).not.toBe('0.00');
      expect(b).toEqual(a);
    },
    60_000,
  );

  it('one org split across both CRMs gives the single-CRM figures', () => {
    const org = generateOrg({ seed: 42, size: 'small', anchorDate: ANCHOR });
    const { first, second } = splitOrg(org);
    expect(first.deals.length + second.deals.length).toBe(org.deals.length);
    expect(first.deals.length).toBeGreaterThan(org.deals.length / 3);
    expect(first.activities.length + second.activities.length).toBe(org.activities.length);
    expect(first.people).toEqual(second.people);
    const sf = salesforce(first, 42);
    const { store } = buildHubSpotStore({ seed: 42, anchorDate: ANCHOR, org: second, size: 'small' });
    const whole = buildHubSpotStore({ seed: 42, anchorDate: ANCHOR, org, size: 'small' });
    const combined = computeFigures(org, mergeRecords([salesforceRecords(sf.store, sf.keys), hubspotRecords(store)]), {
      asOf: ANCHOR,
    });
    expect(combined).toEqual(hubspotFigures(whole.store, org, { asOf: ANCHOR }));
  }, 60_000);

  it("merging two CRMs takes a person and period's quota from the first that has one, never the sum", () => {
    const none = { deals: [], stageHistory: [], rates: [], activities: [], leads: [] };
    const q = (ownerId: string, amount: number) => ({
      ownerId,
      start: '2026-10-01',
      amount: new Dec(amount),
      currency: 'USD',
    });
    const merged = mergeRecords([
      { ...none, quotas: [q('a@x.com', 100)] },
      { ...none, quotas: [q('a@x.com', 900), q('b@x.com', 200)] },
    ]);
    expect(merged.quotas.map((x) => [x.ownerId, x.amount.toString()])).toEqual([
      ['a@x.com', '100'],
      ['b@x.com', '200'],
    ]);
  });

  it('follows the life clock: a deal won today adds its home amount to its owner', () => {
    const org = generateOrg({ seed: 42, size: 'small', anchorDate: ANCHOR });
    const { store } = buildHubSpotStore({ seed: 42, anchorDate: ANCHOR, org, size: 'small' });
    const before = hubspotFigures(store, org, { asOf: ANCHOR });
    const owners = new Map([...store.owners.values()].map((o) => [String(o.id), o.email]));
    const deal = [...store.scan('deals')].find(
      (d) =>
        d.props.hs_is_closed === 'false' &&
        d.props.deal_currency_code === 'USD' &&
        d.props.amount &&
        before.reps[owners.get(d.props.hubspot_owner_id ?? '') ?? ''],
    )!;
    const email = owners.get(deal.props.hubspot_owner_id ?? '') as string;
    lifeChanges(store).closeWon(String(deal.id));
    const after = hubspotFigures(store, org, { asOf: ANCHOR });
    const delta = Number(after.reps[email]!.actual) - Number(before.reps[email]!.actual);
    expect(delta).toBeCloseTo(Number(deal.props.amount), 2);
  }, 60_000);
});
