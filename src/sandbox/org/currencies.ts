/**
 * Currencies with dated conversion rates that move month by month (a small random walk), as an org with
 * advanced currency management keeps them. Rates are units of the currency per 1 unit of the corporate currency.
 */
import { addMonths, type PlainDate } from '../../util/date.ts';
import { Dec } from '../../util/money.ts';
import type { Currency, DatedRate } from './model.ts';
import type { Rng } from './random.ts';

const BASE_RATES: Readonly<Record<string, { rate: number; places: number }>> = {
  USD: { rate: 1, places: 2 },
  EUR: { rate: 0.92, places: 2 },
  GBP: { rate: 0.79, places: 2 },
  JPY: { rate: 151.2, places: 0 },
  CAD: { rate: 1.36, places: 2 },
  AUD: { rate: 1.52, places: 2 },
};

/**
 * The first dated range begins at this date. Salesforce opens the first range at the beginning of time
 * (0001-01-01); the sandbox starts it here because no generated record is older. A simplification.
 */
export const FIRST_RATE_DATE: PlainDate = '2000-01-01';

/** A rate as Salesforce stores ConversionRate: up to six decimal places. */
function rateString(x: number): string {
  return new Dec(x).toDecimalPlaces(6).toString();
}

/**
 * Dated rates changing on the first of each month from `from` (a month start) through `through`, preceded by one
 * range from FIRST_RATE_DATE. The corporate currency is always 1.
 */
export function generateCurrencies(
  rng: Rng,
  codes: readonly string[],
  from: PlainDate,
  through: PlainDate,
): Currency[] {
  return codes.map((code, i) => {
    const base = BASE_RATES[code];
    if (!base) throw new RangeError(`no base rate for ${code}`);
    const dated: DatedRate[] = [];
    if (i === 0) {
      dated.push({ rate: '1', startDate: FIRST_RATE_DATE, nextStartDate: null });
    } else {
      let rate = base.rate;
      dated.push({ rate: rateString(rate), startDate: FIRST_RATE_DATE, nextStartDate: from });
      for (let m = from; m <= through; m = addMonths(m, 1)) {
        rate *= Math.exp(rng.normal(0, 0.018));
        const next = addMonths(m, 1);
        dated.push({ rate: rateString(rate), startDate: m, nextStartDate: next > through ? null : next });
      }
    }
    const latest = dated[dated.length - 1] as DatedRate;
    return { code, decimalPlaces: base.places, isCorporate: i === 0, rate: latest.rate, dated };
  });
}

/** The dated rate in force on a date. */
export function rateOn(currency: Currency, d: PlainDate): string {
  for (const r of currency.dated)
    if (r.startDate <= d && (r.nextStartDate === null || d < r.nextStartDate)) return r.rate;
  return currency.rate;
}
