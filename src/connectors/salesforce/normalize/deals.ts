/** Opportunities and what hangs off them (history, line items, splits), and leads. */
import { Dec } from '../../../util/money.ts';
import type { DealLineItemRow, DealRow, DealSplitRow, DealStageHistoryRow, LeadRow } from '../../types.ts';
import {
  bool,
  currency,
  date,
  decimal,
  instant,
  type NormalizeContext,
  percentAsRatio,
  type RawRecord,
  reqDate,
  reqStr,
  stageCategory,
  str,
  Unnormalizable,
} from './fields.ts';

export function normalizeOpportunity(raw: RawRecord, ctx: NormalizeContext): DealRow {
  const f = ctx.fields;
  return {
    name: str(raw, 'Name'),
    owner_external_id: str(raw, 'OwnerId'),
    amount: decimal(raw, f.amount ?? 'Amount'),
    currency: currency(raw, ctx),
    stage: reqStr(raw, 'StageName', 'MISSING_STAGE'),
    stage_category: stageCategory(bool(raw, 'IsClosed'), bool(raw, 'IsWon')),
    forecast_category: str(raw, f.forecastCategory ?? 'ForecastCategoryName'),
    probability: percentAsRatio(raw, 'Probability'),
    close_date: reqDate(raw, 'CloseDate', ctx.timeZone, 'MISSING_CLOSE_DATE'),
    created_date: reqDate(raw, 'CreatedDate', ctx.timeZone, 'MISSING_CREATED_DATE'),
    deal_type: str(raw, f.dealType ?? 'Type'),
    // Unmapped, the product line is derived from the line items in the warehouse (src/sync/derive.ts).
    ...(f.productLine ? { product_line: str(raw, f.productLine) } : {}),
    segment: f.segment ? str(raw, f.segment) : null,
    account_external_id: str(raw, 'AccountId'),
    account_name: str(raw, 'Account.Name'),
  };
}

/**
 * OpportunityHistory has no IsWon/IsClosed: a row is won when its forecast category is Closed (Salesforce sets it
 * from the stage's won flag), lost when its stage is a closed one that is not won, else open.
 */
export function historyStageCategory(stage: string, forecastCategory: string | null): 'open' | 'won' | 'lost' {
  if (forecastCategory === 'Closed' || stage === 'Closed Won') return 'won';
  if (/^closed\b/i.test(stage)) return 'lost';
  return 'open';
}

export function normalizeOpportunityHistory(raw: RawRecord, ctx: NormalizeContext): DealStageHistoryRow {
  const stage = reqStr(raw, 'StageName', 'MISSING_STAGE');
  const forecast = str(raw, 'ForecastCategory');
  const changedAt = instant(raw, 'CreatedDate');
  if (changedAt === null) throw new Unnormalizable('MISSING_CREATED_DATE', 'CreatedDate is missing');
  return {
    deal_external_id: reqStr(raw, 'OpportunityId', 'MISSING_PARENT'),
    stage,
    stage_category: historyStageCategory(stage, forecast),
    amount: decimal(raw, 'Amount'),
    close_date: date(raw, 'CloseDate', ctx.timeZone),
    probability: percentAsRatio(raw, 'Probability'),
    forecast_category: forecast,
    changed_at: changedAt,
  };
}

export function normalizeLineItem(raw: RawRecord): DealLineItemRow {
  return {
    deal_external_id: reqStr(raw, 'OpportunityId', 'MISSING_PARENT'),
    // The product's own name; the line item's Name is Salesforce's "<opportunity> <product>" compound.
    product_name: str(raw, 'Product2.Name') ?? str(raw, 'Name'),
    product_family: str(raw, 'Product2.Family'),
    quantity: decimal(raw, 'Quantity'),
    amount: decimal(raw, 'TotalPrice'),
  };
}

/** An overlay split is one whose type is not validated to total 100% (Salesforce's overlay split types). */
export function normalizeSplit(raw: RawRecord): DealSplitRow {
  const pct = decimal(raw, 'SplitPercentage');
  if (pct === null) throw new Unnormalizable('MISSING_SPLIT_PERCENT', 'SplitPercentage is missing');
  if (new Dec(pct).lt(0)) throw new Unnormalizable('BAD_PERCENT', `SplitPercentage is negative: ${pct}`);
  const validated = raw.SplitType && typeof raw.SplitType === 'object' ? bool(raw, 'SplitType.IsTotalValidated') : true;
  return {
    deal_external_id: reqStr(raw, 'OpportunityId', 'MISSING_PARENT'),
    owner_external_id: reqStr(raw, 'SplitOwnerId', 'MISSING_OWNER'),
    split_percent: pct,
    split_amount: decimal(raw, 'SplitAmount'),
    split_type: str(raw, 'SplitType.MasterLabel'),
    is_overlay: !validated,
  };
}

export function normalizeLead(raw: RawRecord, ctx: NormalizeContext): LeadRow {
  return {
    owner_external_id: str(raw, 'OwnerId'),
    created_date: reqDate(raw, 'CreatedDate', ctx.timeZone, 'MISSING_CREATED_DATE'),
    status: str(raw, 'Status'),
    is_converted: bool(raw, 'IsConverted'),
    converted_date: date(raw, 'ConvertedDate', ctx.timeZone),
    converted_deal_external_id: str(raw, 'ConvertedOpportunityId'),
  };
}
