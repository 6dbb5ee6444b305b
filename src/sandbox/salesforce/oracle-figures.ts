/**
 * The profiles' figures oracle: each rep's quota and bookings for a period, in the base currency, worked out from
 * the sandbox's store as its API shows it (profiles.ts) by plain arithmetic, nothing of quota-tracker's (not even
 * its metric math, which `../figures.ts` reuses to compare one org across CRMs), so that the profiles' end-to-end
 * tests compare the reports with an independent answer to the cent, quotas from a quota file included.
 *
 * The rules it applies (those of docs/metrics.md): actual = won opportunities the rep owns with a close date in
 * [period start, as-of], each converted at the rate in force on its close date; quota = the rep's revenue quotas
 * starting inside the period (ForecastingQuota, or the quota file's rows when the org has none), converted at the
 * rate in force on the period's first day. Rates: the dated conversion rates when the org shows them (a range from
 * its StartDate, inclusive, to its NextStartDate, exclusive; Salesforce's sentinel dates are open ends), else the
 * static CurrencyType rates; the corporate currency is 1, and an amount in a currency without a rate is left out.
 * Money is rounded to cents half away from zero, only at the end.
 */
import { Dec } from '../../util/money.ts';
import type { SalesforceStore } from './store.ts';

export interface FigureOracleOptions {
  start: string;
  end: string;
  asOf: string;
  /** The quota file's rows, for an org whose quotas are not in the CRM. */
  fileQuotas?: ReadonlyArray<{ email: string; start: string; amount: string; currency: string }>;
  /** Only the won opportunities this keeps count (a segment's, for the reports' `bySegment`). */
  only?: (opportunity: Readonly<Record<string, unknown>>) => boolean;
}

export interface RepFigures {
  email: string;
  quota: string | null;
  actual: string;
}

const cents = (d: InstanceType<typeof Dec>) => d.toDecimalPlaces(2, Dec.ROUND_HALF_UP).toFixed(2);

export function expectedRepFigures(store: SalesforceStore, o: FigureOracleOptions): Map<string, RepFigures> {
  const org = store.apiView('Organization', store.get('Organization', store.orgId) ?? {});
  const currencyTypes = store.apiHasObject('CurrencyType') ? store.all('CurrencyType') : [];
  const corporate = String(
    currencyTypes.find((c) => c.IsCorporate === true)?.IsoCode ?? org.DefaultCurrencyIsoCode ?? 'USD',
  );
  const dated = store.apiHasObject('DatedConversionRate') ? store.all('DatedConversionRate') : [];
  // A currency the org has no rate for cannot be converted: such a deal is left out (the report names the issue).
  const rateOn = (currency: string, day: string): InstanceType<typeof Dec> | null => {
    if (currency === corporate) return new Dec(1);
    for (const r of dated) {
      if (r.IsoCode !== currency) continue;
      const from = String(r.StartDate);
      const to = r.NextStartDate === null || r.NextStartDate === undefined ? '9999-12-31' : String(r.NextStartDate);
      if (from <= day && (day < to || to === '9999-12-31')) return new Dec(String(r.ConversionRate));
    }
    const fixed = currencyTypes.find((c) => c.IsoCode === currency);
    return fixed ? new Dec(String(fixed.ConversionRate)) : null;
  };
  const multi = store.apiHasField('Opportunity', 'CurrencyIsoCode');
  const currencyOf = (v: unknown) => (multi && typeof v === 'string' ? v : corporate);

  const users = store.all('User');
  const emailOf = new Map(users.map((u) => [String(u.Id), String(u.Email ?? '').toLowerCase()]));
  const out = new Map<string, { quota: InstanceType<typeof Dec> | null; actual: InstanceType<typeof Dec> }>();
  const entry = (email: string) => {
    let e = out.get(email);
    if (!e) {
      e = { quota: null, actual: new Dec(0) };
      out.set(email, e);
    }
    return e;
  };
  for (const d of store.all('Opportunity')) {
    if (d.IsWon !== true || d.Amount === null || d.Amount === undefined) continue;
    if (o.only && !o.only(d)) continue;
    const close = String(d.CloseDate ?? '');
    if (close < o.start || close > o.asOf) continue;
    const email = emailOf.get(String(d.OwnerId));
    if (!email) continue;
    const e = entry(email);
    const rate = rateOn(currencyOf(d.CurrencyIsoCode), close);
    if (rate !== null) e.actual = e.actual.plus(new Dec(String(d.Amount)).div(rate));
  }
  const quotas = store.apiHasObject('ForecastingQuota')
    ? store
        .all('ForecastingQuota')
        .filter((q) => q.IsQuantity !== true && (q.ProductFamily === null || q.ProductFamily === undefined))
        .map((q) => ({
          email: emailOf.get(String(q.QuotaOwnerId)) ?? '',
          start: String(q.StartDate),
          amount: String(q.QuotaAmount),
          currency: currencyOf(q.CurrencyIsoCode),
        }))
    : (o.fileQuotas ?? []);
  for (const q of quotas) {
    if (q.start < o.start || q.start > o.end || q.email === '') continue;
    const e = entry(q.email);
    const rate = rateOn(q.currency, o.start);
    if (rate !== null) e.quota = (e.quota ?? new Dec(0)).plus(new Dec(q.amount).div(rate));
  }
  const result = new Map<string, RepFigures>();
  for (const [email, e] of out)
    result.set(email, { email, quota: e.quota === null ? null : cents(e.quota), actual: cents(e.actual) });
  return result;
}
