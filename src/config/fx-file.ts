/**
 * Exchange rates from RevOps' file (`fx: { source: file, path: fx.csv }`), columns `currency,valid_from,rate`,
 * for orgs whose CRM has no dated rates. `rate` follows Salesforce's ConversionRate convention: units of
 * `currency` per one unit of the base currency (base USD, `EUR,2026-10-01,0.92` means 1 USD = 0.92 EUR), so an
 * amount converts to the base currency as `amount / rate`. A rate is in force from `valid_from` until the next
 * row of the same currency.
 */
import { readFile } from 'node:fs/promises';
import type { Decimal } from 'decimal.js';
import { AppError } from '../errors.ts';
import { isPlainDate, type PlainDate } from '../util/date.ts';
import { Dec } from '../util/money.ts';
import { readCsvTable } from './csv.ts';

export interface FxRateRow {
  readonly currency: string;
  readonly validFrom: PlainDate;
  /** Units of `currency` per one unit of the base currency; above zero. */
  readonly rate: Decimal;
  readonly line: number;
}

const RATE_RE = /^\d+(\.\d+)?$/;

/** Reads and validates an FX file. */
export async function loadFxFile(path: string, baseCurrency: string): Promise<FxRateRow[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new AppError('CONFIG_FILE', `cannot read the FX rate file ${path}: ${(cause as Error).message}`, {
      where: path,
      cause,
    });
  }
  return parseFxFile(text, path, baseCurrency);
}

/** Validates FX file text, sorted by currency then date; `file` is the name used in messages. */
export function parseFxFile(text: string, file: string, baseCurrency: string): FxRateRow[] {
  const { rows: records, fail } = readCsvTable(text, file, 'CONFIG_FILE', ['currency', 'valid_from', 'rate']);

  const rows: FxRateRow[] = [];
  const seen = new Map<string, number>();
  for (const record of records) {
    const get = record.cell;
    const currency = get('currency');
    if (!/^[A-Z]{3}$/.test(currency.value)) {
      fail(currency.line, currency.column, `currency "${currency.value}" is not a 3-letter ISO 4217 code like EUR`);
    }
    if (currency.value === baseCurrency) {
      fail(currency.line, currency.column, `${baseCurrency} is the base currency; its rate is always 1`);
    }
    const validFrom = get('valid_from');
    if (!isPlainDate(validFrom.value)) {
      fail(validFrom.line, validFrom.column, `valid_from "${validFrom.value}" is not a date as YYYY-MM-DD`);
    }
    const rate = get('rate');
    if (!RATE_RE.test(rate.value) || new Dec(rate.value).lte(0)) {
      fail(rate.line, rate.column, `rate "${rate.value}" is not a number above zero like 0.92`);
    }
    const key = `${currency.value} ${validFrom.value}`;
    const first = seen.get(key);
    if (first !== undefined) {
      fail(record.line, 1, `a second ${currency.value} rate from ${validFrom.value} (first on line ${first})`);
    }
    seen.set(key, record.line);
    rows.push({ currency: currency.value, validFrom: validFrom.value, rate: new Dec(rate.value), line: record.line });
  }
  return rows.sort((a, b) =>
    a.currency === b.currency ? (a.validFrom < b.validFrom ? -1 : 1) : a.currency < b.currency ? -1 : 1,
  );
}
