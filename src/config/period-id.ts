/**
 * The syntax of a fiscal period id (`FY2026`, `FY2026-Q4`, `FY2026-M11`), in a module of its own so the command
 * line can check `--period` before anything heavier loads (the calendar module pulls in the config schema).
 */
export const PERIOD_ID_RE = /^FY(\d{4})(?:-(Q([1-4])|M([1-9]|1[0-2])))?$/;

export const PERIOD_ID_EXPECTED = 'expected FY2026 (year), FY2026-Q4 (quarter) or FY2026-M11 (fiscal month)';
