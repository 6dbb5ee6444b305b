/**
 * A field not every org has is chosen through describe and, when missing, reported once by name and never fatal:
 * Organization.DefaultCurrencyIsoCode in a multi-currency org (the corporate currency is then the CurrencyType with
 * IsCorporate), and User.Start_Date__c hidden by field-level security. The query used to select the Organization
 * field regardless and fail the whole sync with INVALID_FIELD.
 */
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { sandboxLogin } from '../../../src/cli/commands/sandbox.ts';
import { createFiscalCalendar } from '../../../src/config/calendar.ts';
import { SalesforceConnector } from '../../../src/connectors/salesforce/connector.ts';
import { checkSalesforceOnline } from '../../../src/connectors/salesforce/online-check.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../../src/sandbox/salesforce/index.ts';
import { runSync } from '../../../src/sync/run.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.ts';

const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
const open: Array<{ sb: SalesforceSandbox; t: TestDatabase }> = [];
afterAll(async () => {
  for (const o of open) {
    await o.sb.close();
    await o.t.drop();
  }
});

async function run(profile: string) {
  const sb = await startSalesforceSandbox({ seed: 2, size: 'small', anchorDate: '2026-11-20', profile });
  const t = await createTestDatabase();
  open.push({ sb, t });
  const warnings: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line).msg as string) });
  const connector = new SalesforceConnector({
    config: {
      ...sandboxLogin(sb, 'sf'),
      sync: { lookbackMinutes: 10, apiBudgetShare: 0.5, formulaRefreshEvery: '24h', batchSize: 2000 },
    },
    log,
  });
  for (const stream of ['users', 'opportunities', 'users']) {
    const r = await runSync({
      db: t.db,
      connector,
      connectionId: 'sf',
      stream,
      calendar,
      log,
      now: () => sb.store.now(),
    });
    expect(r.status, r.errorMessage).toBe('succeeded');
  }
  return { sb, connector, warnings: warnings.filter((w) => w.includes('not in this org')) };
}

describe('fields not every org has', () => {
  it('a multi-currency org without Organization.DefaultCurrencyIsoCode: corporate currency from CurrencyType, said once', async () => {
    const { connector, warnings } = await run('dated-rates');
    expect((await connector.orgFacts()).corporateCurrency).toBe('USD');
    expect(warnings).toEqual([
      'salesforce: Organization.DefaultCurrencyIsoCode is not in this org or hidden from the integration user; the corporate currency comes from CurrencyType',
    ]);
  }, 120_000);

  it('an optional field hidden by field-level security: synced without it, said once, and named by the online check', async () => {
    const { connector, warnings } = await run('restricted');
    expect(warnings).toEqual([
      'salesforce: User.Start_Date__c is not in this org or hidden from the integration user; synced without it',
    ]);
    const check = await checkSalesforceOnline(connector);
    expect(check.ok).toBe(true);
    expect(check.lines.map((l) => l.text)).toContainEqual(
      expect.stringMatching(/^User: \d+ fields readable; optional, not in this org or hidden: Start_Date__c$/),
    );
  }, 120_000);
});
