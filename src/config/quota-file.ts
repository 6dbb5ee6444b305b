/**
 * Quotas from RevOps' file (`quotas: { source: file, path: quotas.csv }`), columns `email,period,amount,currency`
 * and an optional `product_line`: a row with a product line is that line's quota (the reports' `byProductLine`), not
 * part of the rep's quota.
 * Amounts are read straight into decimal.js (never through a JS number) and periods must be ids of the configured
 * fiscal calendar, so a quota for `FY2026-Q5` or `2026-Q1` is an error at its line and column, not a silent gap.
 */
import { readFile } from 'node:fs/promises';
import type { Decimal } from 'decimal.js';
import { AppError, isAppError } from '../errors.ts';
import { Dec } from '../util/money.ts';
import type { FiscalCalendar, FiscalPeriod } from './calendar.ts';
import { readCsvTable } from './csv.ts';

export interface QuotaRow {
  /** Lower-cased rep email. */
  readonly email: string;
  readonly period: FiscalPeriod;
  readonly amount: Decimal;
  /** ISO 4217 code; the base currency when the row leaves it empty. */
  readonly currency: string;
  /** The product line (family) the quota is for; null for the rep's quota. */
  readonly productLine: string | null;
  readonly line: number;
}

const AMOUNT_RE = /^\d+(\.\d+)?$/;

/** Reads and validates a quota file against the fiscal calendar. */
export async function loadQuotaFile(path: string, calendar: FiscalCalendar, baseCurrency: string): Promise<QuotaRow[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new AppError('QUOTA_FILE_INVALID', `cannot read the quota file ${path}: ${(cause as Error).message}`, {
      where: path,
      cause,
    });
  }
  return parseQuotaFile(text, path, calendar, baseCurrency);
}

/** Validates quota file text; `file` is the name used in messages. */
export function parseQuotaFile(text: string, file: string, calendar: FiscalCalendar, baseCurrency: string): QuotaRow[] {
  const { rows: records, fail } = readCsvTable(
    text,
    file,
    'QUOTA_FILE_INVALID',
    ['email', 'period', 'amount', 'currency'],
    ['product_line'],
  );

  const rows: QuotaRow[] = [];
  const seen = new Map<string, number>();
  for (const record of records) {
    const get = record.cell;
    const email = get('email');
    if (!/^[^\s@]+@[^\s@]+$/.test(email.value))
      fail(email.line, email.column, `"${email.value}" is not an email address`);

    const periodField = get('period');
    let period: FiscalPeriod;
    try {
      period = calendar.periodById(periodField.value);
    } catch (e) {
      if (!isAppError(e, 'CALENDAR_INVALID')) throw e;
      return fail(periodField.line, periodField.column, e.message);
    }

    const amount = get('amount');
    if (!AMOUNT_RE.test(amount.value)) {
      fail(amount.line, amount.column, `amount "${amount.value}" is not a non-negative number like 150000.00`);
    }

    const currency = get('currency');
    if (currency.value !== '' && !/^[A-Z]{3}$/.test(currency.value)) {
      fail(currency.line, currency.column, `currency "${currency.value}" is not a 3-letter ISO 4217 code like USD`);
    }

    const productLine = get('product_line').value || null;
    const key = `${email.value.toLowerCase()} ${period.id} ${productLine ?? ''}`;
    const first = seen.get(key);
    if (first !== undefined) {
      fail(
        record.line,
        email.column,
        `a second quota for ${email.value} in ${period.id}${productLine === null ? '' : ` for ${productLine}`} (first on line ${first})`,
      );
    }
    seen.set(key, record.line);
    rows.push({
      email: email.value.toLowerCase(),
      period,
      amount: new Dec(amount.value),
      currency: currency.value || baseCurrency,
      productLine,
      line: record.line,
    });
  }
  return rows;
}
