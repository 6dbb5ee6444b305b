/** Quotas, fiscal periods and currency rates: the planning data the metrics are measured against. */
import { addDays, addMonths } from '../../../util/date.ts';
import type { CrmFiscalPeriodRow, FxRateRow, QuotaRow } from '../../types.ts';
import {
  bool,
  currency,
  date,
  decimal,
  type NormalizeContext,
  type RawRecord,
  reqDate,
  reqStr,
  str,
  Unnormalizable,
} from './fields.ts';

/**
 * Static rates (CurrencyType) have no start: they hold from the beginning of time until replaced. The warehouse
 * key (connection, source, currency, valid_from) needs a date, and a rate lookup `valid_from <= day` then needs
 * no special case for them: 1970-01-01 stands for "always".
 */
export const STATIC_RATE_FROM = '1970-01-01';

/**
 * A ForecastingQuota. Its period ends where its Period ends; without a Period the quota is taken as one fiscal
 * quarter long (the default forecast period). Quantity quotas are not revenue and are quarantined.
 */
export function normalizeForecastingQuota(raw: RawRecord, ctx: NormalizeContext): QuotaRow {
  if (bool(raw, 'IsQuantity')) throw new Unnormalizable('QUANTITY_QUOTA', 'IsQuantity quotas are not revenue quotas');
  const amount = decimal(raw, 'QuotaAmount');
  if (amount === null) throw new Unnormalizable('MISSING_AMOUNT', 'QuotaAmount is missing');
  if (amount.startsWith('-')) throw new Unnormalizable('BAD_NUMBER', `QuotaAmount is negative: ${amount}`);
  const start = reqDate(raw, 'StartDate', ctx.timeZone, 'MISSING_START_DATE');
  const end = date(raw, 'Period.EndDate', ctx.timeZone) ?? addDays(addMonths(start, 3), -1);
  return {
    owner_external_id: reqStr(raw, 'QuotaOwnerId', 'MISSING_OWNER'),
    period_start: start,
    period_end: end,
    amount,
    currency: currency(raw, ctx),
    product_line: str(raw, 'ProductFamily'),
  };
}

/**
 * A Period row: Year, Quarter, Month (and Week) as the org defines them. Fiscal years come as its Year periods,
 * so FiscalYearSettings is not read: its rows would only repeat them.
 */
export function normalizePeriod(raw: RawRecord, ctx: NormalizeContext): CrmFiscalPeriodRow {
  const year = str(raw, 'FiscalYearSettings.Name');
  const n = raw.Number;
  return {
    period_type: reqStr(raw, 'Type', 'MISSING_TYPE'),
    start_date: reqDate(raw, 'StartDate', ctx.timeZone, 'MISSING_START_DATE'),
    end_date: reqDate(raw, 'EndDate', ctx.timeZone, 'MISSING_END_DATE'),
    fiscal_year: year && /^\d{4}$/.test(year) ? Number(year) : null,
    number: typeof n === 'number' && Number.isInteger(n) ? n : null,
  };
}

function rate(raw: RawRecord): string {
  const r = decimal(raw, 'ConversionRate');
  if (r === null) throw new Unnormalizable('MISSING_RATE', 'ConversionRate is missing');
  if (!/^[0-9.]+$/.test(r) || /^0*\.?0*$/.test(r)) throw new Unnormalizable('BAD_RATE', `ConversionRate is ${r}`);
  return r;
}

function isoCode(raw: RawRecord): string {
  const c = reqStr(raw, 'IsoCode', 'MISSING_CURRENCY');
  if (!/^[A-Z]{3}$/.test(c)) throw new Unnormalizable('BAD_CURRENCY', `IsoCode is not ISO 4217: "${c}"`);
  return c;
}

export function normalizeCurrencyType(raw: RawRecord): FxRateRow {
  return {
    currency: isoCode(raw),
    rate: rate(raw),
    valid_from: STATIC_RATE_FROM,
    valid_to: null,
    source: 'crm_static',
  };
}

/**
 * Salesforce marks a dated rate's open ends with sentinel dates: the first range of a currency starts on
 * 0000-12-30 (a year PostgreSQL has no date for) and the last one runs to 9999-12-31. They are stored as the open
 * ends PostgreSQL has for dates, `-infinity` and `infinity`, so a deal of any date finds its rate.
 */
export const OPEN_RANGE_START = '0000-12-30';
export const OPEN_RANGE_END = '9999-12-31';

/** NextStartDate is exclusive, as valid_to is. */
export function normalizeDatedRate(raw: RawRecord, ctx: NormalizeContext): FxRateRow {
  const startRaw = raw.StartDate;
  const from =
    startRaw === OPEN_RANGE_START ? '-infinity' : reqDate(raw, 'StartDate', ctx.timeZone, 'MISSING_START_DATE');
  const to = raw.NextStartDate === OPEN_RANGE_END ? 'infinity' : date(raw, 'NextStartDate', ctx.timeZone);
  return {
    currency: isoCode(raw),
    rate: rate(raw),
    valid_from: from,
    valid_to: to,
    source: 'crm_dated',
  };
}
