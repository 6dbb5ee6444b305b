/**
 * `populateSalesforce`: the CRM-neutral org model as Salesforce records in the sandbox store. Every record is
 * written with the stamp its history implies (CreatedDate at creation, SystemModstamp at its last change), and
 * opportunities are replayed change by change so the store writes their OpportunityHistory rows itself.
 *
 * Ties are frequent, as in a real org: line items share their opportunity's creation stamp, splits its last
 * change, all quotas of a quarter were loaded in one import, rates in one currency update.
 *
 * Simplifications: Salesforce creates a 100% revenue split for every opportunity once splits are enabled; the
 * sandbox writes split rows only for deals that are actually split. The model's deal types map onto this org's
 * Type picklist (New Business / Existing Business). Accounts are created only as the opportunities' parents.
 */

import { AppError } from '../../errors.ts';
import { addDays, addMonths } from '../../util/date.ts';
import { Dec } from '../../util/money.ts';
import { anchorInstant, type GenerateOrgOptions, generateOrg, type OrgModel, type Person } from '../org/index.ts';
import { DEFAULT_POPULATE_SHAPE, type PopulateShape, PRODUCT_FAMILY_QUOTA_SHARES } from './profiles.ts';
import type { SalesforceStore } from './store.ts';

export interface PopulateResult {
  org: OrgModel;
  /** Salesforce Id of every model record by its key (people, deals, line items, splits, activities, leads, quotas). */
  ids: Map<string, string>;
  /** Ids of the UserRoles by region key / team key (`<teamKey>:manager`, `<teamKey>:rep`). */
  roleIds: Map<string, string>;
}

const at = (instant: string): { stamp: Date } => ({ stamp: new Date(instant) });

function isModel(x: OrgModel | GenerateOrgOptions): x is OrgModel {
  return Array.isArray((x as OrgModel).deals);
}

/** Maps the model's deal type onto the sandbox org's Opportunity.Type picklist. */
export function opportunityType(modelType: string): string {
  return modelType === 'New Customer' ? 'New Business' : 'Existing Business';
}

/** TaskSubtype / Type of each model activity type (meetings are Events). */
export const TASK_KIND = {
  call: { subtype: 'Call', type: 'Call' },
  email: { subtype: 'Email', type: 'Email' },
  task: { subtype: 'Task', type: 'Other' },
  // Proposals are ordinary tasks whose Type this org's admin added; the connector maps Type 'Proposal' to proposal.
  proposal: { subtype: 'Task', type: 'Proposal' },
} as const;

/**
 * Writes the org into `store`. Accepts the model itself, or the generator options (seed, size, anchorDate) to
 * generate it first, which is how `startSalesforceSandbox` calls it.
 */
export function populateSalesforce(
  store: SalesforceStore,
  orgOrOptions: OrgModel | GenerateOrgOptions,
  shape: PopulateShape = DEFAULT_POPULATE_SHAPE,
): PopulateResult {
  const org = isModel(orgOrOptions) ? orgOrOptions : generateOrg(orgOrOptions);
  const end = new Date(anchorInstant(org.anchorDate));
  if (store.now().getTime() < end.getTime()) {
    throw new AppError(
      'INTERNAL',
      `the store clock (${store.now().toISOString()}) is before the end of the generated history (${end.toISOString()})`,
      { where: 'populateSalesforce' },
    );
  }
  const ids = new Map<string, string>();
  const roleIds = new Map<string, string>();
  const id = (key: string): string => {
    const v = ids.get(key);
    if (v === undefined)
      throw new AppError('INTERNAL', `populate: ${key} was not written before it was referenced`, { where: key });
    return v;
  };
  const firstDay = org.quarters[0]?.start ?? org.anchorDate;
  const setupStamp = at(`${addDays(firstDay, -200)}T11:00:00.000Z`);

  // Organization settings, currencies and fiscal periods: set up long before any deal.
  store.loadUpdate(
    'Organization',
    store.orgId,
    {
      Name: org.orgName,
      DefaultCurrencyIsoCode: org.corporateCurrency,
      FiscalYearStartMonth: org.fiscalYearStartMonth,
    },
    setupStamp,
  );
  for (const c of org.currencies) {
    store.load(
      'CurrencyType',
      {
        IsoCode: c.code,
        ConversionRate: c.rate,
        DecimalPlaces: c.decimalPlaces,
        IsActive: true,
        IsCorporate: c.isCorporate,
      },
      setupStamp,
    );
    for (const [i, r] of c.dated.entries()) {
      // A rate is entered when its range begins (the first one with the currency).
      const stamp = r.startDate > firstDay ? at(`${r.startDate}T11:00:00.000Z`) : setupStamp;
      // With the sentinels, the open ends are written as Salesforce writes them: the first range starts on
      // 0000-12-30 and the last runs to 9999-12-31.
      const sentinels = shape.datedRateSentinels;
      store.load(
        'DatedConversionRate',
        {
          IsoCode: c.code,
          ConversionRate: r.rate,
          StartDate: sentinels && i === 0 ? '0000-12-30' : r.startDate,
          NextStartDate: sentinels && r.nextStartDate === null ? '9999-12-31' : r.nextStartDate,
        },
        stamp,
      );
    }
  }
  writePeriods(store, org, ids, setupStamp, shape.forecasting);
  writeRoles(store, org, roleIds, setupStamp, shape);

  for (const p of org.people) writeUser(store, org, p, ids, roleIds);

  // Products and accounts, created as the opportunities first need them.
  const productIds = new Map<string, string>();
  const accountIds = new Map<string, string>();
  const splitTypes = {
    Revenue: store.load(
      'OpportunitySplitType',
      {
        MasterLabel: 'Revenue',
        DeveloperName: 'Revenue',
        SplitField: 'Amount',
        IsTotalValidated: true,
        IsActive: true,
      },
      setupStamp,
    ),
    Overlay: store.load(
      'OpportunitySplitType',
      {
        MasterLabel: 'Overlay',
        DeveloperName: 'Overlay',
        SplitField: 'Amount',
        IsTotalValidated: false,
        IsActive: true,
      },
      setupStamp,
    ),
  };

  for (const q of shape.forecasting ? org.quotas : []) {
    const rowId = store.load(
      'ForecastingQuota',
      {
        QuotaOwnerId: id(q.personKey),
        QuotaAmount: q.amount,
        StartDate: q.start,
        PeriodId: ids.get(`period:${q.start}:Quarter`) ?? null,
        CurrencyIsoCode: q.currency,
        IsQuantity: false,
        ForecastingTypeId: 'OpportunityRevenue',
      },
      at(q.createdAt),
    );
    ids.set(q.key, rowId);
    // Product-family forecasts keep a quota per family beside the revenue one, ProductFamily naming it:
    // https://developer.salesforce.com/docs/platform/object-reference/references/standard-objects/object-forecastingquota.html
    // (ProductFamily: the product family the quota is for, with product family forecasts enabled).
    for (const [family, share] of shape.productFamilyQuotas ? PRODUCT_FAMILY_QUOTA_SHARES : [])
      store.load(
        'ForecastingQuota',
        {
          QuotaOwnerId: id(q.personKey),
          QuotaAmount: new Dec(q.amount).times(share).toFixed(2),
          StartDate: q.start,
          PeriodId: ids.get(`period:${q.start}:Quarter`) ?? null,
          CurrencyIsoCode: q.currency,
          IsQuantity: false,
          ForecastingTypeId: 'OpportunityRevenueProductFamily',
          ProductFamily: family,
        },
        at(q.createdAt),
      );
  }

  for (const d of org.deals) {
    let accountId = accountIds.get(d.accountName);
    if (accountId === undefined) {
      accountId = store.load(
        'Account',
        { Name: d.accountName, OwnerId: id(d.ownerKey), CurrencyIsoCode: d.currency },
        at(d.createdAt),
      );
      accountIds.set(d.accountName, accountId);
    }
    const [first, ...changes] = d.history;
    if (!first) throw new AppError('INTERNAL', `deal ${d.key} has no history`, { where: d.key });
    // The opportunity and its line items are written at the same instant: parsed once.
    const opened = at(first.at);
    const oppId = store.load(
      'Opportunity',
      {
        Name: d.name,
        AccountId: accountId,
        OwnerId: id(d.ownerKey),
        Type: opportunityType(d.type),
        LeadSource: d.leadSource,
        Segment__c: d.segment,
        CurrencyIsoCode: d.currency,
        StageName: first.stage,
        Amount: first.amount,
        CloseDate: first.closeDate,
        Probability: first.probability,
        ForecastCategoryName: first.forecastCategory,
      },
      opened,
    );
    ids.set(d.key, oppId);
    for (const li of d.lineItems) {
      let productId = productIds.get(li.productName);
      if (productId === undefined) {
        productId = store.load(
          'Product2',
          { Name: li.productName, ProductCode: devName(li.productName), Family: li.productFamily, IsActive: true },
          setupStamp,
        );
        productIds.set(li.productName, productId);
      }
      const rowId = store.load(
        'OpportunityLineItem',
        {
          OpportunityId: oppId,
          Product2Id: productId,
          Quantity: li.quantity,
          UnitPrice: li.unitPrice,
          CurrencyIsoCode: d.currency,
        },
        opened,
      );
      ids.set(li.key, rowId);
    }
    for (const h of changes) {
      store.loadUpdate(
        'Opportunity',
        oppId,
        {
          StageName: h.stage,
          Amount: h.amount,
          CloseDate: h.closeDate,
          Probability: h.probability,
          ForecastCategoryName: h.forecastCategory,
        },
        at(h.at),
      );
    }
    for (const s of d.splits) {
      const rowId = store.load(
        'OpportunitySplit',
        {
          OpportunityId: oppId,
          SplitOwnerId: id(s.personKey),
          SplitPercentage: s.percent,
          SplitAmount: d.amount === null ? null : (Number(d.amount) * s.percent) / 100,
          SplitTypeId: splitTypes[s.kind],
          CurrencyIsoCode: d.currency,
        },
        at(d.modifiedAt),
      );
      ids.set(s.key, rowId);
    }
  }

  for (const a of org.activities) {
    const whatId = a.dealKey === null ? null : id(a.dealKey);
    // One parse of the creation instant per activity: it is the write's stamp, a meeting's start and a completed
    // task's completion time (the store only reads these Dates).
    const created = at(a.createdAt);
    if (a.type === 'meeting') {
      const start = created.stamp;
      const endAt = new Date(start.getTime() + (a.durationMinutes ?? 30) * 60_000);
      const rowId = store.load(
        'Event',
        {
          Subject: a.subject,
          OwnerId: id(a.ownerKey),
          WhatId: whatId,
          ActivityDate: a.date,
          ActivityDateTime: start,
          StartDateTime: start,
          EndDateTime: endAt,
          DurationInMinutes: a.durationMinutes ?? 30,
          Type: 'Meeting',
          EventSubtype: 'Event',
        },
        created,
      );
      ids.set(a.key, rowId);
      continue;
    }
    const kind = TASK_KIND[a.type];
    const rowId = store.load(
      'Task',
      {
        Subject: a.subject,
        Status: a.completed ? 'Completed' : 'Not Started',
        Priority: 'Normal',
        OwnerId: id(a.ownerKey),
        WhatId: whatId,
        ActivityDate: a.date,
        TaskSubtype: a.type === 'email' && a.bulk ? 'ListEmail' : kind.subtype,
        Type: kind.type,
        CompletedDateTime: a.completed ? created.stamp : null,
        CallDurationInSeconds: a.type === 'call' && a.durationMinutes !== null ? a.durationMinutes * 60 : null,
      },
      created,
    );
    ids.set(a.key, rowId);
  }

  for (const l of org.leads) {
    const leadId = store.load(
      'Lead',
      {
        FirstName: l.firstName,
        LastName: l.lastName,
        Company: l.company,
        Email: l.email,
        Status: l.convertedDate === null ? l.status : 'Working - Contacted',
        OwnerId: id(l.ownerKey),
        LeadSource: l.source,
        IsConverted: false,
        CurrencyIsoCode: org.corporateCurrency,
      },
      at(l.createdAt),
    );
    ids.set(l.key, leadId);
    if (l.convertedDealKey !== null) {
      store.loadUpdate(
        'Lead',
        leadId,
        {
          Status: 'Closed - Converted',
          IsConverted: true,
          ConvertedDate: l.convertedDate,
          ConvertedOpportunityId: id(l.convertedDealKey),
          ConvertedAccountId: store.peek('Opportunity', id(l.convertedDealKey))?.AccountId ?? null,
        },
        at(l.modifiedAt),
      );
    } else if (l.modifiedAt !== l.createdAt) {
      store.loadUpdate('Lead', leadId, { Status: l.status }, at(l.modifiedAt));
    }
  }
  return { org, ids, roleIds };
}

/**
 * The role tree in one of the three layouts real orgs use: the VP at the root and a role per region in the first
 * two; then a manager role with a rep role below it per team (parent-role), or one role per team that the manager
 * shares with the reps (shared-role, named "<team> Team"); manager-only writes no roles at all.
 */
function writeRoles(
  store: SalesforceStore,
  org: OrgModel,
  roleIds: Map<string, string>,
  setupStamp: { stamp: Date },
  shape: PopulateShape,
): void {
  if (shape.hierarchy === 'manager-only') return;
  const root = store.load('UserRole', { Name: 'VP Sales', DeveloperName: 'VP_Sales', ParentRoleId: null }, setupStamp);
  roleIds.set('root', root);
  for (const r of org.regions) {
    const role = store.load(
      'UserRole',
      { Name: `Director ${r.name}`, DeveloperName: devName(r.name), ParentRoleId: root },
      setupStamp,
    );
    roleIds.set(r.key, role);
  }
  for (const t of org.teams) {
    if (shape.hierarchy === 'shared-role') {
      const shared = store.load(
        'UserRole',
        { Name: `${t.name} Team`, DeveloperName: `${devName(t.name)}_Team`, ParentRoleId: roleIds.get(t.regionKey) },
        setupStamp,
      );
      roleIds.set(`${t.key}:manager`, shared);
      roleIds.set(`${t.key}:rep`, shared);
      continue;
    }
    const mgr = store.load(
      'UserRole',
      {
        Name: `${t.name} Manager`,
        DeveloperName: `${devName(t.name)}_Manager`,
        ParentRoleId: roleIds.get(t.regionKey),
      },
      setupStamp,
    );
    const rep = store.load(
      'UserRole',
      { Name: `${t.name} Rep`, DeveloperName: `${devName(t.name)}_Rep`, ParentRoleId: mgr },
      setupStamp,
    );
    roleIds.set(`${t.key}:manager`, mgr);
    roleIds.set(`${t.key}:rep`, rep);
  }
}

function devName(s: string): string {
  return s.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, '');
}

function writeUser(
  store: SalesforceStore,
  org: OrgModel,
  p: Person,
  ids: Map<string, string>,
  roleIds: Map<string, string>,
): void {
  const team = org.teams.find((t) => t.key === p.teamKey);
  const roleId =
    p.role === 'vp'
      ? roleIds.get('root')
      : p.role === 'director'
        ? roleIds.get(p.regionKey ?? '')
        : team
          ? roleIds.get(`${team.key}:${p.role === 'manager' ? 'manager' : 'rep'}`)
          : undefined;
  const fields = {
    Username: p.username,
    Email: p.email,
    FirstName: p.firstName,
    LastName: p.lastName,
    Alias: `${p.firstName.slice(0, 1)}${p.lastName.replace(/[^A-Za-z]/g, '').slice(0, 4)}`.toLowerCase(),
    IsActive: p.isActive,
    ManagerId: p.managerKey === null ? null : (ids.get(p.managerKey) ?? null),
    UserRoleId: roleId ?? null,
    Title: p.title,
    Department: 'Sales',
    Division: org.regions.find((r) => r.key === p.regionKey)?.name ?? null,
    TimeZoneSidKey: org.timezone,
    DefaultCurrencyIsoCode: p.currency,
    CurrencyIsoCode: p.currency,
    UserType: 'Standard',
    Start_Date__c: p.startDate,
    Territory__c: p.territory,
  };
  if (p.role === 'admin') {
    // The model's admin is the store's own admin user (the default author of every record).
    store.loadUpdate('User', store.adminUserId, { ...fields, ManagerId: null }, { stamp: new Date(p.createdAt) });
    ids.set(p.key, store.adminUserId);
    return;
  }
  const rowId = store.load('User', fields, { stamp: new Date(p.createdAt) });
  ids.set(p.key, rowId);
  // A rep who moved team, or left, had their User edited on that day.
  const moved = p.teamHistory.length > 1 ? p.teamHistory[p.teamHistory.length - 1]?.from : undefined;
  if (moved) store.loadUpdate('User', rowId, { Title: p.title }, { stamp: new Date(`${moved}T14:00:00.000Z`) });
  if (p.endDate !== null)
    store.loadUpdate('User', rowId, { IsActive: false }, { stamp: new Date(`${p.endDate}T14:00:00.000Z`) });
}

/** Standard fiscal years (January start): Year, Quarter and Month periods for every year the org's quarters touch. */
function writePeriods(
  store: SalesforceStore,
  org: OrgModel,
  ids: Map<string, string>,
  stamp: { stamp: Date },
  forecasting: boolean,
): void {
  const years = [...new Set(org.quarters.map((q) => q.fiscalYear))].sort();
  for (const y of years) {
    const start = `${y}-01-01`;
    const fyId = store.load(
      'FiscalYearSettings',
      {
        Name: String(y),
        StartDate: start,
        EndDate: `${y}-12-31`,
        IsStandardYear: true,
        YearType: 'Standard',
        QuarterLabelScheme: 'NumberByYear',
        PeriodLabelScheme: 'NumberByYear',
        WeekStartDay: 1,
      },
      stamp,
    );
    ids.set(`fiscalYear:${y}`, fyId);
    const period = (type: 'Year' | 'Quarter' | 'Month', s: string, e: string, n: number, label: string): void => {
      const rowId = store.load(
        'Period',
        {
          FiscalYearSettingsId: fyId,
          Type: type,
          StartDate: s,
          EndDate: e,
          IsForecastPeriod: type === 'Quarter',
          Number: n,
          QuarterLabel: type === 'Quarter' ? `Q${n}` : null,
          PeriodLabel: type === 'Month' ? String(n) : null,
          FullyQualifiedLabel: label,
        },
        stamp,
      );
      ids.set(`period:${s}:${type}`, rowId);
    };
    period('Year', start, `${y}-12-31`, 1, `FY ${y}`);
    // Without Collaborative Forecasting the org has no forecast (Quarter) periods.
    for (let q = 0; q < (forecasting ? 4 : 0); q++) {
      const qs = addMonths(start, q * 3);
      period('Quarter', qs, addDays(addMonths(qs, 3), -1), q + 1, `Q${q + 1} FY ${y}`);
    }
    for (let m = 0; m < 12; m++) {
      const ms = addMonths(start, m);
      period('Month', ms, addDays(addMonths(ms, 1), -1), m + 1, `M${m + 1} FY ${y}`);
    }
  }
}
