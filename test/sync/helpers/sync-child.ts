/**
 * A sync in its own process, for the SIGKILL test: syncs one stream of a sandbox connection into DATABASE_URL and
 * exits. The parent kills it at random points and starts it again.
 */

import { createFiscalCalendar } from '../../../src/config/calendar.ts';
import { SalesforceConnector } from '../../../src/connectors/salesforce/connector.ts';
import { connect } from '../../../src/db/index.ts';
import { runSync } from '../../../src/sync/run.ts';
import { silentLogger } from '../../../src/util/log.ts';

const env = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const creds = JSON.parse(env('QT_SB_CREDENTIALS')) as { clientId: string; clientSecret: string; refreshToken: string };
const db = await connect(env('DATABASE_URL'), 3);
const connector = new SalesforceConnector({
  config: {
    id: 'sf',
    loginUrl: env('QT_SB_URL'),
    apiVersion: '62.0',
    auth: { kind: 'client_credentials', clientId: creds.clientId, clientSecret: creds.clientSecret },
    sync: {
      lookbackMinutes: 10,
      apiBudgetShare: 0.9,
      formulaRefreshEvery: '24h',
      batchSize: Number(process.env.QT_BATCH ?? 1000),
    },
  },
  log: silentLogger,
});
const summary = await runSync({
  db,
  connector,
  connectionId: 'sf',
  stream: env('QT_STREAM'),
  calendar: createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 }),
  trigger: 'test',
  // One line per committed page, so a test can kill the run at a chosen point of its progress.
  onProgress: (p) => process.stdout.write(`page ${p.pages}\n`),
});
process.stdout.write(`${JSON.stringify(summary)}\n`);
await db.destroy();
