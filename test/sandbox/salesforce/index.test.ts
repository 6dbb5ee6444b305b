import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../../../src/errors.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../../src/sandbox/salesforce/index.ts';
import { admin, connect } from './helpers.ts';

let sb: SalesforceSandbox;
beforeAll(async () => {
  sb = await startSalesforceSandbox({ seed: 1, size: 'small', anchorDate: '2026-03-10' });
}, 120_000);
afterAll(async () => sb.close());

describe('startSalesforceSandbox with the generated org', () => {
  it('serves every populated deal through jsforce, with owners and managers resolved', async () => {
    const conn = connect(sb);
    const res = await conn.query(
      'SELECT Id, SystemModstamp, Owner.Email, Owner.Manager.Email FROM Opportunity WHERE SystemModstamp >= 2000-01-01T00:00:00Z ORDER BY SystemModstamp ASC, Id ASC',
      { scanAll: true, autoFetch: true, maxFetch: 1_000_000 } as never,
    );
    const stored = sb.store.count('Opportunity', { includeDeleted: true });
    expect(stored).toBeGreaterThan(100);
    expect(res.totalSize).toBe(stored);
    expect(res.records).toHaveLength(stored);
    const withOwner = res.records.filter((r) => (r as { Owner: unknown }).Owner !== null);
    expect(withOwner.length).toBeGreaterThan(stored / 2);
    // SystemModstamp ascending, ties broken by Id: the keyset order an incremental reader relies on.
    const keys = res.records.map((r) => `${(r as { SystemModstamp: string }).SystemModstamp}|${r.Id}`);
    expect(new Set(keys).size).toBe(stored);
    expect(keys).toEqual([...keys].sort());
  });

  it('exposes the oracle through the test API', async () => {
    const res = await admin(sb, 'GET', 'oracle?stream=opportunities');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { streams: Record<string, { rows: unknown[] }> };
    expect(Object.keys(body.streams)).toEqual(['opportunities']);
    expect(body.streams.opportunities!.rows.length).toBeGreaterThan(100);
  });

  it('rejects a bad size or seed with a usage error', async () => {
    const bad = await startSalesforceSandbox({ seed: 1, size: 'large' as never }).catch((e: unknown) => e);
    expect(isAppError(bad, 'USAGE')).toBe(true);
    const seed = await startSalesforceSandbox({ seed: 1.5, size: 'small' }).catch((e: unknown) => e);
    expect(isAppError(seed, 'USAGE')).toBe(true);
  });
});
