/**
 * Every sandbox org profile (src/sandbox/salesforce/profiles.ts) synced through the product (jsforce, connector,
 * runner, PostgreSQL) and compared with the oracle, which sees the org as its API shows it: an org without
 * Organization.DefaultCurrencyIsoCode, one with Salesforce's open-range rate sentinels, one without currencies,
 * three role layouts, one without Collaborative Forecasting and one where field-level security hides a field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { PROFILE_NAMES } from '../../src/sandbox/salesforce/profiles.ts';
import { runSync } from '../../src/sync/run.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnector } from '../helpers/sandbox.ts';
import { expectWarehouseEqualsOracle } from './helpers/oracle-compare.ts';

const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });

describe.each(PROFILE_NAMES)('the %s profile', (profile) => {
  let sb: SalesforceSandbox;
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
    sb = await startSalesforceSandbox({ seed: 3, size: 'small', anchorDate: '2026-11-20', profile });
  }, 120_000);
  afterAll(async () => {
    await sb?.close();
    await t?.drop();
  });

  it('syncs every stream and equals the oracle', async () => {
    const connector = sandboxConnector(sb);
    for (const s of connector.streams()) {
      const r = await runSync({
        db: t.db,
        connector,
        connectionId: 'sf',
        stream: s.name,
        calendar,
        now: () => sb.store.now(),
      });
      expect(r.status, `${s.name}: ${r.errorMessage}`).toBe('succeeded');
    }
    await expectWarehouseEqualsOracle(t.db, sb, 'sf');
    const quarantined = await t.db.selectFrom('quarantine').select(['stream', 'reason_code']).execute();
    expect(quarantined.filter((q) => q.reason_code === 'UNSTORABLE_VALUE')).toEqual([]);
  }, 180_000);
});
