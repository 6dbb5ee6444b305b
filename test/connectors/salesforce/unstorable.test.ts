/**
 * Values a Salesforce org can hold and the warehouse cannot: Salesforce's open-range sentinels on dated rates are
 * stored as open ends, and any other such value (a year-0 date, a NUL in text) quarantines its record with a reason
 * naming the record and the field, instead of failing the page's transaction as INTERNAL.
 */
import { describe, expect, it } from 'vitest';
import { normalizeDatedRate } from '../../../src/connectors/salesforce/normalize/planning.ts';
import { normalizeRecords } from '../../../src/connectors/salesforce/read.ts';
import { salesforceStreams } from '../../../src/connectors/salesforce/streams.ts';

const ctx = { timeZone: 'UTC', corporateCurrency: 'USD', multiCurrency: true, fields: {} };

describe('values the warehouse cannot hold', () => {
  it('stores the open-range sentinels 0000-12-30 and 9999-12-31 as -infinity and infinity', () => {
    const first = normalizeDatedRate(
      { IsoCode: 'EUR', ConversionRate: 0.9, StartDate: '0000-12-30', NextStartDate: '2026-10-01' },
      ctx,
    );
    expect([first.valid_from, first.valid_to]).toEqual(['-infinity', '2026-10-01']);
    const last = normalizeDatedRate(
      { IsoCode: 'EUR', ConversionRate: 0.95, StartDate: '2026-11-01', NextStartDate: '9999-12-31' },
      ctx,
    );
    expect([last.valid_from, last.valid_to]).toEqual(['2026-11-01', 'infinity']);
  });

  it('quarantines a year-0 close date and NUL text, naming record and field', () => {
    const opp = salesforceStreams().find((s) => s.name === 'opportunities')!.objects[0]!;
    const base = {
      Id: '006000000000001AAA',
      SystemModstamp: '2026-11-01T10:00:00.000+0000',
      Name: 'Deal',
      OwnerId: '005000000000001AAA',
      Amount: 100,
      StageName: 'Prospecting',
      IsClosed: false,
      IsWon: false,
      CloseDate: '2026-12-01',
      CreatedDate: '2026-10-01T10:00:00.000+0000',
    };
    const out = normalizeRecords(
      [
        { attributes: { type: 'Opportunity' }, ...base, CloseDate: '0000-06-01' },
        { attributes: { type: 'Opportunity' }, ...base, Id: '006000000000002AAA', Name: 'a\u0000b' },
        { attributes: { type: 'Opportunity' }, ...base, Id: '006000000000003AAA' },
      ] as never,
      opp,
      ctx,
      'SystemModstamp',
    );
    expect(out.records.map((r) => r.externalId)).toEqual(['006000000000003AAA']);
    expect(out.quarantined.map((q) => [q.reasonCode, q.reason])).toEqual([
      ['UNSTORABLE_VALUE', 'Opportunity 006000000000001AAA: CloseDate is 0000-06-01, which the warehouse cannot store'],
      [
        'UNSTORABLE_VALUE',
        'Opportunity 006000000000002AAA: Name contains a NUL character, which the warehouse cannot store',
      ],
    ]);
  });
});
