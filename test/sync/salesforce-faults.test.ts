/**
 * A full sync of every stream of a generated `small` org while the sandbox fails 20% of the data API calls (429
 * with Retry-After, 503, and connections dropped mid-response), compared with the sandbox oracle; and a bad custom
 * field mapping that Salesforce answers with 400 INVALID_FIELD: sent once, never retried, and the run fails
 * naming the field. What was sent is read from the sandbox's request log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { SalesforceConnector, type SalesforceConnectorConfig } from '../../src/connectors/salesforce/connector.ts';
import type { SalesforceFieldMapping } from '../../src/connectors/salesforce/streams.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import type { RequestLogEntry } from '../../src/sandbox/salesforce/request-log.ts';
import { runSync } from '../../src/sync/run.ts';
import { silentLogger } from '../../src/util/log.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { expectWarehouseEqualsOracle } from './helpers/oracle-compare.ts';

const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
let sb: SalesforceSandbox;
let t: TestDatabase;

function connector(id: string, fields?: SalesforceFieldMapping): SalesforceConnector {
  const c = sb.credentials;
  const config: SalesforceConnectorConfig = {
    id,
    loginUrl: sb.url,
    apiVersion: '62.0',
    auth: { kind: 'refresh_token', clientId: c.clientId, clientSecret: c.clientSecret, refreshToken: c.refreshToken },
    sync: { lookbackMinutes: 10, apiBudgetShare: 0.5, formulaRefreshEvery: '24h', batchSize: 2000 },
    ...(fields ? { fields } : {}),
  };
  // Short backoff so the test spends its time on Retry-After, which the policy must honour whatever its base; a
  // dropped connection leaves an answer half-sent, given up on after 2 s here (3 minutes by default).
  return new SalesforceConnector({
    config,
    log: silentLogger,
    retry: { baseDelayMs: 5, maxDelayMs: 40, maxAttempts: 8 },
    requestTimeoutMs: 2000,
  });
}

/** The same request again: same method, path and query (SOQL, or the locator in the path of a query-more). */
const sameRequest = (a: RequestLogEntry, b: RequestLogEntry) =>
  a.method === b.method && a.path === b.path && JSON.stringify(a.query) === JSON.stringify(b.query);

beforeAll(async () => {
  t = await createTestDatabase();
  sb = await startSalesforceSandbox({ seed: 11, size: 'small', anchorDate: '2026-03-02' });
  sb.store.advance(60 * 60_000);
}, 120_000);
afterAll(async () => {
  await sb?.close();
  await t?.drop();
});

describe('Salesforce sync under faults', () => {
  it('with 429, 503 and dropped connections on 20% of calls, a full sync of every stream equals the oracle', async () => {
    const c = connector('sf');
    sb.log.clear();
    // Each rule draws in turn: 1 - 0.928^3 = 20% of data API calls fail, a third of them each way.
    sb.faults.add({ kind: 'rate_limit_429', path: '/services/data/', probability: 0.072, retryAfterSeconds: 1 });
    sb.faults.add({ kind: 'unavailable_503', path: '/services/data/', probability: 0.072 });
    sb.faults.add({ kind: 'drop', path: '/services/data/', probability: 0.072 });
    try {
      for (const s of c.streams()) {
        const r = await runSync({
          db: t.db,
          connector: c,
          connectionId: 'sf',
          stream: s.name,
          calendar,
          now: () => sb.store.now(),
        });
        expect(r.status, `${s.name}: ${r.errorMessage}`).toBe('succeeded');
      }
    } finally {
      sb.faults.clear();
    }
    await expectWarehouseEqualsOracle(t.db, sb, 'sf');

    const entries = sb.log.entries().filter((e) => e.path.startsWith('/services/data/'));
    const faulted = entries.filter((e) => e.fault !== undefined);
    const kinds = new Set(faulted.map((e) => e.fault));
    expect([...kinds].sort()).toEqual(['drop', 'rate_limit_429', 'unavailable_503']);
    // Roughly a fifth of the calls failed (seeded, so this is a fixed number for this org and seed).
    expect(faulted.length / entries.length).toBeGreaterThan(0.1);
    expect(faulted.length / entries.length).toBeLessThan(0.3);

    // Every failed call was sent again, and a 429's retry waited at least its Retry-After.
    const limited = entries.filter((e) => e.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    for (const e of faulted) {
      const retry = entries.find((n) => n.seq > e.seq && sameRequest(n, e));
      expect(retry, `retry of ${e.method} ${e.path} (${e.fault})`).toBeDefined();
      if (e.status === 429) {
        expect(e.retryAfterSeconds).toBe(1);
        expect(retry!.startedAt - e.startedAt).toBeGreaterThanOrEqual(1000);
      }
    }
  }, 120_000);

  it('a bad custom field mapping gets one 400 INVALID_FIELD, never retried, and a failed run naming the field', async () => {
    // A relationship path is not in the object's describe, so only the query itself can refuse it.
    const c = connector('sf-bad', { segment: 'Account.Segmant__c' });
    sb.log.clear();
    const r = await runSync({
      db: t.db,
      connector: c,
      connectionId: 'sf-bad',
      stream: 'opportunities',
      calendar,
      now: () => sb.store.now(),
    });
    expect(r.status).toBe('failed');
    expect(r.errorMessage).toContain('Account.Segmant__c');
    const bad = sb.log.entries().filter((e) => e.status === 400);
    expect(bad).toHaveLength(1);
    expect(bad[0]!.errorCode).toBe('INVALID_FIELD');
    // Never sent again: the one query naming the field is the one that was refused.
    const sent = sb.log.entries().filter((e) => (e.soql ?? '').includes('Segmant__c'));
    expect(sent.map((e) => e.seq)).toEqual([bad[0]!.seq]);
    const run = await t.db
      .selectFrom('sync_runs')
      .select(['status', 'error_code', 'error_message'])
      .where('id', '=', r.runId)
      .executeTakeFirstOrThrow();
    expect(run.status).toBe('failed');
    expect(run.error_message).toContain('Account.Segmant__c');
  }, 60_000);
});
