/**
 * Salesforce's registry entry: how the rest of the program creates a Salesforce connector, names its streams,
 * checks a connection online, classifies its errors and keys its locks.
 */
import type { ConnectionConfig, SalesforceConnectionConfig } from '../../config/schema.ts';
import { AppError } from '../../errors.ts';
import type { ConnectorHost, ConnectorKind } from '../types.ts';
import { rotationNeedsKeyMessage } from './auth.ts';
import { SalesforceConnector } from './connector.ts';
import { checkSalesforceOnline, readLiveHierarchy, readUsers } from './online-check.ts';
import { SALESFORCE_RETRY_CODES } from './retry-codes.ts';
import { salesforceStreams } from './streams.ts';

function salesforceConfig(conn: ConnectionConfig): SalesforceConnectionConfig {
  if (conn.type !== 'salesforce') {
    throw new AppError('INTERNAL', `connection "${conn.id}" is ${conn.type}, not Salesforce`, {
      where: `connections.${conn.id}`,
    });
  }
  return conn;
}

function create(conn: ConnectionConfig, host: ConnectorHost): SalesforceConnector {
  return new SalesforceConnector({
    config: salesforceConfig(conn),
    log: host.log,
    defaultTimeZone: host.defaultTimeZone,
    defaultCurrency: host.defaultCurrency,
    ...(host.credentials ? { store: host.credentials } : {}),
    ...(host.refreshLock ? { lock: host.refreshLock } : {}),
    ...(host.signal ? { signal: host.signal } : {}),
    ...(host.onRotated ? { onRotated: host.onRotated } : {}),
  });
}

export const salesforceKind: ConnectorKind = {
  label: 'Salesforce',
  streams: (conn) => salesforceStreams(salesforceConfig(conn).fields),
  // The CRM-neutral names of the interface file, each standing for one or more Salesforce streams.
  streamAliases: {
    deals: ['opportunities'],
    deal_history: ['opportunity_history'],
    line_items: ['opportunity_line_items'],
    splits: ['opportunity_splits'],
    activities: ['tasks', 'events'],
    quotas: ['forecasting_quotas'],
    fx_rates: ['currency_types', 'dated_conversion_rates'],
    roles: ['user_roles'],
    periods: ['fiscal_periods'],
  },
  create,
  describe: (conn) => {
    const c = salesforceConfig(conn);
    return `${c.loginUrl}, API ${c.apiVersion}`;
  },
  online: (conn, host) => {
    const connector = create(conn, host);
    return {
      check: () => checkSalesforceOnline(connector),
      liveHierarchy: (quarter) => readLiveHierarchy(connector, quarter),
      users: () => readUsers(connector),
      apiCalls: () => connector.apiCalls(),
    };
  },
  writes: true,
  retryCodes: SALESFORCE_RETRY_CODES,
  lockKeys: {
    credentials: (connectionId) => `token-refresh:${connectionId}`,
  },
  rotationNeedsKey: rotationNeedsKeyMessage,
};
