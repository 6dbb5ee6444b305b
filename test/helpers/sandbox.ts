/**
 * The Salesforce sandbox as tests connect to it: the `connections:` entry of a config and a ready connector, so
 * each test says only what it does differently.
 */
import { sandboxLogin } from '../../src/cli/commands/sandbox.ts';
import { SalesforceConnector, type SalesforceConnectorConfig } from '../../src/connectors/salesforce/connector.ts';
import type { SalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { silentLogger } from '../../src/util/log.ts';

/** A config file's connection entry (refresh-token auth) pointing at the sandbox; `extra` adds or overrides keys. */
export function sandboxConnectionEntry(sb: SalesforceSandbox, extra: Record<string, unknown> = {}) {
  return { ...sandboxLogin(sb, 'sf'), ...extra };
}

/** A connector on the sandbox with fast retries (tests inject faults) and 2,000-record pages unless told. */
export function sandboxConnector(
  sb: SalesforceSandbox,
  sync: Partial<SalesforceConnectorConfig['sync']> = {},
): SalesforceConnector {
  return new SalesforceConnector({
    config: {
      ...sandboxLogin(sb, 'sf'),
      sync: { lookbackMinutes: 10, apiBudgetShare: 0.5, formulaRefreshEvery: '24h', batchSize: 2000, ...sync },
    },
    log: silentLogger,
    retry: { baseDelayMs: 5, maxDelayMs: 20, maxAttempts: 8 },
  });
}
