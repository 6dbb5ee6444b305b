/**
 * Conversion to the org's base currency at the dated rates the definitions name: closed deals at the rate in force
 * on their close date, open deals at the rate in force on D, quotas at the rate in force on the period's first day.
 *
 * A missing rate is never a silent 1.0: it comes back as an issue naming the record, and the record stays out of
 * every sum until the rate arrives (which marks the subject for recompute).
 */
import type { PlainDate } from '../../util/date.ts';
import { Dec } from '../../util/money.ts';
import { pushTo } from '../../util/multimap.ts';
import type { Deal, FxRate, Period, Quota } from './types.ts';

/** Why a record could not be converted. */
export interface ConversionIssue {
  kind: 'unknown_currency' | 'no_rate_on_date' | 'missing_amount';
  recordId: string;
  currency: string;
  date: PlainDate;
  message: string;
}

/** Rates indexed by currency, each list sorted by `validFrom`, for lookups in O(log n). */
export interface FxTable {
  base: string;
  byCurrency: ReadonlyMap<string, readonly FxRate[]>;
}

export function buildFxTable(base: string, rates: readonly FxRate[]): FxTable {
  const byCurrency = new Map<string, FxRate[]>();
  for (const r of rates) {
    pushTo(byCurrency, r.currency, r);
  }
  for (const list of byCurrency.values())
    list.sort((a, b) => (a.validFrom < b.validFrom ? -1 : a.validFrom > b.validFrom ? 1 : 0));
  return { base, byCurrency };
}

export type RateLookup = { rate: Dec; issue: null } | { rate: null; issue: 'unknown_currency' | 'no_rate_on_date' };

/** Units of `currency` per 1 base unit on `date`; the base currency is always 1. */
export function rateOn(table: FxTable, currency: string, date: PlainDate): RateLookup {
  if (currency === table.base) return { rate: new Dec(1), issue: null };
  const list = table.byCurrency.get(currency);
  if (!list || list.length === 0) return { rate: null, issue: 'unknown_currency' };
  // Last rate starting on or before the date.
  let lo = 0;
  let hi = list.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as FxRate).validFrom <= date) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  const r = list[found];
  if (!r || (r.validTo !== null && date >= r.validTo)) return { rate: null, issue: 'no_rate_on_date' };
  return { rate: r.rate, issue: null };
}

/** The date whose rate converts a deal: its close date when closed, D when open. */
export function conversionDate(deal: Deal, asOf: PlainDate): PlainDate {
  return deal.stageCategory === 'open' ? asOf : deal.closeDate;
}

export type Converted = { amount: Dec; issue: null } | { amount: null; issue: ConversionIssue };

/** A native amount in base currency on `date`: native / rate. */
export function convertAmount(
  table: FxTable,
  amount: Dec | null,
  currency: string,
  date: PlainDate,
  recordId: string,
): Converted {
  if (amount === null)
    return {
      amount: null,
      issue: { kind: 'missing_amount', recordId, currency, date, message: `${recordId} has no amount` },
    };
  const r = rateOn(table, currency, date);
  if (r.rate === null) {
    const message =
      r.issue === 'unknown_currency'
        ? `${recordId} is in ${currency}, a currency with no conversion rate to ${table.base}`
        : `${recordId} is in ${currency}, which has no rate to ${table.base} in force on ${date}`;
    return { amount: null, issue: { kind: r.issue, recordId, currency, date, message } };
  }
  if (r.rate.lte(0)) {
    return {
      amount: null,
      issue: {
        kind: 'no_rate_on_date',
        recordId,
        currency,
        date,
        message: `${recordId}: the ${currency} rate on ${date} is ${r.rate.toString()}, not a positive number`,
      },
    };
  }
  return { amount: amount.div(r.rate), issue: null };
}

/** A quota in base currency at the rate in force on the period's first day. */
export function convertQuota(table: FxTable, quota: Quota, period: Period): Converted {
  return convertAmount(table, quota.amount, quota.currency, period.start, `quota ${quota.subjectId} ${quota.periodId}`);
}
