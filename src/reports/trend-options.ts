/**
 * `report trends`' own options, `--by` and `--periods` (and the API's `by` and `periods`): parsed here, apart from
 * the report's code, so the command line checks them before it opens the config or the database.
 */
import { AppError } from '../errors.ts';

export const TREND_BY = ['region', 'team', 'segment', 'product-line'] as const;
export type TrendBy = (typeof TREND_BY)[number];

/** Periods `report trends` shows unless `--periods` says otherwise. */
export const DEFAULT_TREND_PERIODS = 4;
/** `--periods` at most: 5 years of quarters. */
export const MAX_TREND_PERIODS = 20;

/** `--periods N` as given on the command line or the query string: a whole number from 1 to 20. */
export function parseTrendPeriods(v: string | number | undefined, where: string): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v).trim();
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < 1 || n > MAX_TREND_PERIODS)
    throw new AppError('USAGE', `${where} must be a whole number from 1 to ${MAX_TREND_PERIODS}, got "${s}"`, {
      where,
    });
  return n;
}

export function parseTrendBy(v: string | undefined, where: string): TrendBy | undefined {
  if (v === undefined) return undefined;
  const s = v.trim().toLowerCase().replace(/_/g, '-');
  const by = s === 'productline' ? 'product-line' : s;
  if (!(TREND_BY as readonly string[]).includes(by))
    throw new AppError('USAGE', `${where} must be one of ${TREND_BY.join(', ')}, got "${v}"`, { where });
  return by as TrendBy;
}
