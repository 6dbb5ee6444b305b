/**
 * Org profiles: the ways real Salesforce orgs differ from the sandbox's default org, each generated from the same
 * seed and checked by the same oracle (`sandbox --profile NAME`, `startSalesforceSandbox({ profile })`). The
 * quirks each one models, and the Salesforce documentation they come from, are in this folder's README.md.
 *
 * A profile is one entry of `SALESFORCE_PROFILES`: how the generated model is reshaped before it is written
 * (`model`), how populate writes the role tree and the planning objects (`populate`), what the API then hides
 * (`hide`), which sandbox options it sets (`options`), and whether quotas come from a file (`quotasFile`). Add a
 * profile by adding an entry.
 */
import { Dec } from '../../util/money.ts';
import type { OrgModel } from '../org/index.ts';
import type { SalesforceStore } from './store.ts';

/** How the role tree is laid out (see docs/metrics.md, "Teams and regions from the CRM"). */
export type HierarchyLayout = 'parent-role' | 'shared-role' | 'manager-only';

export interface PopulateShape {
  hierarchy: HierarchyLayout;
  /** Advanced currency management's open-range sentinels: the first range from 0000-12-30, the last to 9999-12-31. */
  datedRateSentinels: boolean;
  /** Collaborative Forecasting on: ForecastingQuota rows and Quarter periods. */
  forecasting: boolean;
  /**
   * Product-family forecasts on as well: beside each rep's revenue quota, one ForecastingQuota per product family
   * (`ProductFamily` set) splitting it by `PRODUCT_FAMILY_QUOTA_SHARES`.
   */
  productFamilyQuotas?: boolean;
}

export const DEFAULT_POPULATE_SHAPE: PopulateShape = {
  hierarchy: 'parent-role',
  datedRateSentinels: false,
  forecasting: true,
};

/**
 * How the product-family-forecasts profile splits a rep's quota across the families of the sandbox's products
 * (the shares add up to 1, so the family quotas add up to the rep's).
 */
export const PRODUCT_FAMILY_QUOTA_SHARES: ReadonlyArray<readonly [family: string, share: string]> = [
  ['Platform', '0.5'],
  ['Analytics', '0.25'],
  ['Services', '0.15'],
  ['Support', '0.1'],
];

export interface SalesforceProfile {
  name: string;
  /** One line: what the profile models. */
  summary: string;
  model?: (org: OrgModel) => OrgModel;
  populate?: Partial<PopulateShape>;
  hide?: (store: SalesforceStore) => void;
  /** Sandbox options the profile turns on (e.g. refresh-token rotation). */
  options?: { rotateRefreshTokens?: boolean; sessionTtlMs?: number };
  /** Quotas are not in the CRM: the sandbox writes them as a quota file (`quotas: { source: file }`). */
  quotasFile?: boolean;
}

/** Objects that carry CurrencyIsoCode in the sandbox schema and that the connector reads. */
const CURRENCY_FIELDS: ReadonlyArray<[string, string]> = [
  ['Opportunity', 'CurrencyIsoCode'],
  ['OpportunityLineItem', 'CurrencyIsoCode'],
  ['OpportunitySplit', 'CurrencyIsoCode'],
  ['ForecastingQuota', 'CurrencyIsoCode'],
  ['Account', 'CurrencyIsoCode'],
  ['Lead', 'CurrencyIsoCode'],
  ['User', 'CurrencyIsoCode'],
  ['User', 'DefaultCurrencyIsoCode'],
];

/** Every amount in the corporate currency, at the currency's latest rate (a single-currency org has no other). */
function inCorporateCurrency(org: OrgModel): OrgModel {
  const rates = new Map(org.currencies.map((c) => [c.code, new Dec(c.rate)]));
  const corporate = org.corporateCurrency;
  const convert = (amount: string | null, currency: string): string | null => {
    if (amount === null) return null;
    const rate = rates.get(currency);
    return rate === undefined || currency === corporate ? amount : new Dec(amount).div(rate).toFixed(2);
  };
  return {
    ...org,
    currencies: org.currencies.filter((c) => c.code === corporate),
    teams: org.teams.map((t) => ({ ...t, currency: corporate })),
    people: org.people.map((p) => ({ ...p, currency: corporate })),
    quotas: org.quotas.map((q) => ({ ...q, amount: convert(q.amount, q.currency) as string, currency: corporate })),
    deals: org.deals.map((d) => ({
      ...d,
      amount: convert(d.amount, d.currency),
      history: d.history.map((h) => ({ ...h, amount: convert(h.amount, d.currency) })),
      lineItems: d.lineItems.map((li) => ({
        ...li,
        unitPrice: convert(li.unitPrice, d.currency) as string,
        totalPrice: convert(li.totalPrice, d.currency) as string,
      })),
      currency: corporate,
      dirty: d.dirty === 'unknown_currency' ? null : d.dirty,
    })),
  };
}

export const SALESFORCE_PROFILES: Readonly<Record<string, SalesforceProfile>> = {
  'single-currency': {
    name: 'single-currency',
    summary: 'one currency: no CurrencyType or DatedConversionRate, no CurrencyIsoCode fields, Organization names it',
    model: inCorporateCurrency,
    hide(store) {
      store.hideObject('CurrencyType');
      store.hideObject('DatedConversionRate');
      for (const [obj, field] of CURRENCY_FIELDS) store.hideField(obj, field);
    },
  },
  'dated-rates': {
    name: 'dated-rates',
    summary:
      'multi-currency with advanced currency management: open ranges from 0000-12-30 and to 9999-12-31, rates changing mid-quarter, no Organization.DefaultCurrencyIsoCode',
    populate: { datedRateSentinels: true },
    hide(store) {
      store.hideField('Organization', 'DefaultCurrencyIsoCode');
    },
  },
  'parent-role': {
    name: 'parent-role',
    summary: "the default org's layout: each team's manager holds the role its reps' role reports to",
  },
  'shared-role': {
    name: 'shared-role',
    summary: "a team's manager shares the reps' role; ManagerId names the manager; the region is the role above",
    populate: { hierarchy: 'shared-role' },
  },
  'manager-only': {
    name: 'manager-only',
    summary: 'no roles at all: teams and regions only through User.ManagerId',
    populate: { hierarchy: 'manager-only' },
  },
  'product-family-forecasts': {
    name: 'product-family-forecasts',
    summary:
      "product-family forecasts on: each rep's revenue ForecastingQuota and one per product family (ProductFamily set), which the reports' byProductLine read",
    populate: { productFamilyQuotas: true },
  },
  'no-forecasting': {
    name: 'no-forecasting',
    summary: 'Collaborative Forecasting off: no ForecastingQuota, no Quarter periods; quotas from a quota file',
    populate: { forecasting: false },
    quotasFile: true,
    hide(store) {
      store.hideObject('ForecastingQuota');
    },
  },
  restricted: {
    name: 'restricted',
    summary: 'field-level security hides the optional User.Start_Date__c from the integration user',
    hide(store) {
      store.hideField('User', 'Start_Date__c');
    },
  },
  'rotating-refresh': {
    name: 'rotating-refresh',
    summary:
      'the default org behind a connected app that rotates refresh tokens: each refresh returns a new refresh token and revokes the one it used, so the connection must keep the new one (QUOTA_TRACKER_SECRET_KEY)',
    options: { rotateRefreshTokens: true },
  },
};

export const PROFILE_NAMES: readonly string[] = Object.keys(SALESFORCE_PROFILES);

/** The profile named `name`, or undefined for an unknown name (the caller says what is known). */
export function salesforceProfile(name: string): SalesforceProfile | undefined {
  return Object.hasOwn(SALESFORCE_PROFILES, name) ? SALESFORCE_PROFILES[name] : undefined;
}

/**
 * The quota file of a profile whose quotas are not in the CRM: `email,period,amount,currency`, one row per quota of
 * the generated model, with period ids of a calendar-year fiscal calendar (the sandbox's).
 */
export function quotaFileText(org: OrgModel): string {
  const email = new Map(org.people.map((p) => [p.key, p.email]));
  const lines = ['email,period,amount,currency'];
  for (const q of org.quotas) lines.push([email.get(q.personKey), q.periodId, q.amount, q.currency].join(','));
  return `${lines.join('\n')}\n`;
}
