import { describe, expect, it } from 'vitest';
import { preferredQuotaRows } from '../../../src/metrics/engine/model.ts';

const row = (connectionId: string | null, start: string, end: string, amount: number) => ({
  connectionId,
  start,
  end,
  amount,
});
const sum = (rows: readonly { amount: number }[]) => rows.reduce((s, r) => s + r.amount, 0);

describe('preferredQuotaRows: one quota per stretch of days across CRMs', () => {
  it('takes the preferred connection where both hold the same days, never the sum', () => {
    const rows = [row('hs', '2026-10-01', '2026-12-31', 777_000), row('sf', '2026-10-01', '2026-12-31', 600_000)];
    expect(sum(preferredQuotaRows(rows, ['sf', 'hs']))).toBe(600_000);
    expect(sum(preferredQuotaRows(rows, ['hs', 'sf']))).toBe(777_000);
  });

  it('keeps the other connection for days the preferred one leaves uncovered', () => {
    // Salesforce holds October, HubSpot November and December: the quarter is all three months.
    const rows = [
      row('sf', '2026-10-01', '2026-10-31', 200_000),
      row('hs', '2026-11-01', '2026-11-30', 210_000),
      row('hs', '2026-12-01', '2026-12-31', 220_000),
    ];
    expect(sum(preferredQuotaRows(rows, ['sf', 'hs']))).toBe(630_000);
    expect(sum(preferredQuotaRows(rows, ['hs', 'sf']))).toBe(630_000);
  });

  it('drops a less preferred row that overlaps a preferred one, whatever their windows', () => {
    const rows = [row('sf', '2026-10-01', '2026-12-31', 600_000), row('hs', '2026-11-01', '2026-11-30', 210_000)];
    expect(sum(preferredQuotaRows(rows, ['sf', 'hs']))).toBe(600_000);
    // HubSpot preferred: its November stands, and Salesforce's quarter overlaps it, so only November counts.
    expect(sum(preferredQuotaRows(rows, ['hs', 'sf']))).toBe(210_000);
  });

  it('sums one connection’s own rows, and always takes rows without a connection', () => {
    const rows = [
      row('sf', '2026-10-01', '2026-10-31', 100),
      row('sf', '2026-11-01', '2026-11-30', 200),
      row(null, '2026-10-01', '2026-12-31', 5),
    ];
    expect(sum(preferredQuotaRows(rows, ['sf']))).toBe(305);
  });
});
