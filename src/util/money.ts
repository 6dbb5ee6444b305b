/**
 * Money and ratios: decimal.js everywhere, rounded only on output (money to cents, ratios to 4 places, half away
 * from zero), as the metric definitions require.
 */
import { Decimal } from 'decimal.js';

// A dedicated constructor so no other library's global Decimal settings can change our results.
export const Dec: typeof Decimal = Decimal.clone({
  precision: 40,
  rounding: Decimal.ROUND_HALF_UP,
  toExpNeg: -30,
  toExpPos: 40,
});
export type Dec = Decimal;

export const ZERO = new Dec(0);

export type DecimalInput = Decimal.Value;

export function dec(v: DecimalInput): Decimal {
  return new Dec(v);
}

export function sum(values: Iterable<Decimal>): Decimal {
  let total = new Dec(0);
  for (const v of values) total = total.plus(v);
  return total;
}

/** Money for JSON and the CRM: a string with exactly two places, half away from zero. */
export function formatMoney(v: Decimal): string {
  return v.toDecimalPlaces(2, Decimal.ROUND_HALF_UP).toFixed(2);
}

/** Money for people (reports, task descriptions): two places with thousands separators, `129,220.98`. */
export function formatMoneyGrouped(v: Decimal): string {
  return groupThousands(formatMoney(v));
}

/** `-522000.00` as `-522,000.00`: commas in the integer part of a decimal string. */
export function groupThousands(s: string): string {
  const neg = s.startsWith('-');
  const [int = '0', frac] = (neg ? s.slice(1) : s).split('.');
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${neg ? '-' : ''}${grouped}${frac === undefined ? '' : `.${frac}`}`;
}

/** A ratio for JSON: a decimal string with four places ("0.8700" for 87%). */
export function formatRatio(v: Decimal): string {
  return v.toDecimalPlaces(4, Decimal.ROUND_HALF_UP).toFixed(4);
}

export function formatMoneyOrNull(v: Decimal | null | undefined): string | null {
  return v == null ? null : formatMoney(v);
}

export function formatRatioOrNull(v: Decimal | null | undefined): string | null {
  return v == null ? null : formatRatio(v);
}
