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

  it('applies one named life change through the test API, as an out-of-process test would', async () => {
    const open = sb.store.all('Opportunity').find((r) => r.IsClosed === false && r.CloseDate);
    expect(open).toBeDefined();
    const res = await admin(sb, 'POST', 'life', { op: 'slip', oppId: open!.Id, days: 30 });
    expect(res.status).toBe(200);
    const after = sb.store.get('Opportunity', String(open!.Id))!;
    const expected = new Date(`${String(open!.CloseDate)}T00:00:00Z`);
    expected.setUTCDate(expected.getUTCDate() + 30);
    expect(after.CloseDate).toBe(expected.toISOString().slice(0, 10));
    expect(String(after.SystemModstamp) > String(open!.SystemModstamp)).toBe(true);
  });

  it('rejects a bad size or seed with a usage error', async () => {
    const bad = await startSalesforceSandbox({ seed: 1, size: 'huge' as never }).catch((e: unknown) => e);
    expect(isAppError(bad, 'USAGE')).toBe(true);
    const seed = await startSalesforceSandbox({ seed: 1.5, size: 'small' }).catch((e: unknown) => e);
    expect(isAppError(seed, 'USAGE')).toBe(true);
  });
});
