/** The configuration module's public surface: load the file, read typed settings, build the fiscal calendar. */
export {
  businessDaysBetween,
  createFiscalCalendar,
  type FiscalCalendar,
  type FiscalPeriod,
  formatPeriodId,
  isBusinessDay,
  type PeriodKind,
  parsePeriodId,
} from './calendar.ts';
export { type FxRateRow, loadFxFile, parseFxFile } from './fx-file.ts';
export { configJsonSchema } from './json-schema.ts';
export {
  type ConfigFlags,
  configHash,
  DEFAULT_CONFIG_FILE,
  ENV_FALLBACKS,
  isConfigError,
  type LoadConfigOptions,
  type LoadedConfig,
  loadConfig,
  validateConfig,
} from './load.ts';
export { loadOrgFile, type OrgFile, type OrgRow, parseOrgFile } from './org-file.ts';
export { loadQuotaFile, parseQuotaFile, type QuotaRow } from './quota-file.ts';
export { REDACTED, redactConfig, redactUrl, redactValue } from './redact.ts';
export type {
  AlertRuleName,
  CalendarConfig,
  Config,
  ConfigInput,
  ConnectionConfig,
  HubspotConnectionConfig,
  PacingConfig,
  SalesforceConnectionConfig,
  StatusBand,
} from './schema.ts';
export { durationToSeconds, windowDays } from './schema.ts';
