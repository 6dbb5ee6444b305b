import { describe, expect, it } from 'vitest';
import { isAppError } from '../../../src/errors.ts';
import {
  formatSfDateTime,
  idChecksum,
  isSalesforceId,
  SalesforceStore,
} from '../../../src/sandbox/salesforce/store.ts';

const T0 = new Date('2026-03-02T10:00:00.000Z');

describe('SalesforceStore', () => {
  it('computes the documented 18-character checksum', () => {
    // Salesforce's own example: 001A0000006Vm9r -> 001A0000006Vm9rIAC (help article "What is an 18-character Id").
    expect(idChecksum('001A0000006Vm9r')).toBe('IAC');
    expect(isSalesforceId('001A0000006Vm9rIAC')).toBe(true);
    expect(isSalesforceId('001A0000006Vm9rIAD')).toBe(false);
  });

  it('writes datetimes as Salesforce does, to the millisecond, in any year', () => {
    const cases: Array<[string, string]> = [
      ['1970-01-01T00:00:00.000Z', '1970-01-01T00:00:00.000+0000'],
      ['2026-11-15T09:05:07.004Z', '2026-11-15T09:05:07.004+0000'],
      ['2026-11-15T23:59:59.999Z', '2026-11-15T23:59:59.999+0000'],
      ['2028-02-29T12:30:00.090Z', '2028-02-29T12:30:00.090+0000'],
      ['1969-12-31T23:59:59.500Z', '1969-12-31T23:59:59.500+0000'],
      ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999+0000'],
    ];
    // Twice over, so the second pass reads each day from the store's cache of day prefixes.
    for (const [iso, expected] of [...cases, ...cases]) expect(formatSfDateTime(new Date(iso))).toBe(expected);
    expect(formatSfDateTime(new Date(Date.UTC(10000, 0, 1, 8)))).toBe('+010000-01-01T08:00:00.000+0000');
    expect(() => formatSfDateTime(new Date(Number.NaN))).toThrow(RangeError);
  });

  it('assigns Ids with the key prefix and audit fields from the clock', () => {
    const s = new SalesforceStore({ seed: 7, now: T0 });
    const opp = s.insert('Opportunity', {
      Name: 'Big',
      StageName: 'Prospecting',
      CloseDate: '2026-03-31',
      Amount: 1000,
      Probability: 10,
    });
    expect(opp.Id).toMatch(/^006[0-9A-Za-z]{15}$/);
    expect(isSalesforceId(String(opp.Id))).toBe(true);
    expect(opp.CreatedDate).toBe('2026-03-02T10:00:00.000+0000');
    expect(opp.SystemModstamp).toBe('2026-03-02T10:00:00.000+0000');
    expect(opp.IsDeleted).toBe(false);
    expect(opp.IsClosed).toBe(false);
    expect(opp.Expected_Revenue_Formula__c).toBe(100);
    expect(s.orgId).toMatch(/^00D/);
    expect(new SalesforceStore({ seed: 7, now: T0 }).orgId).toBe(s.orgId);
  });

  it('bumps SystemModstamp on update and records OpportunityHistory rows', () => {
    const s = new SalesforceStore({ now: T0 });
    const opp = s.insert('Opportunity', { Name: 'A', StageName: 'Prospecting', CloseDate: '2026-03-31', Amount: 500 });
    s.advance(60_000);
    const up = s.update(
      'Opportunity',
      String(opp.Id),
      { StageName: 'Closed Won', Amount: 600 },
      { by: s.integrationUserId },
    );
    expect(up.SystemModstamp).toBe('2026-03-02T10:01:00.000+0000');
    expect(up.LastModifiedById).toBe(s.integrationUserId);
    expect(up.IsWon).toBe(true);
    const hist = s.all('OpportunityHistory');
    expect(hist.map((h) => [h.StageName, h.Amount, h.PrevAmount])).toEqual([
      ['Prospecting', 500, null],
      ['Closed Won', 600, 500],
    ]);
    expect(s.updatedLog('Opportunity').map((e) => e.at.toISOString())).toEqual([
      '2026-03-02T10:00:00.000Z',
      '2026-03-02T10:01:00.000Z',
    ]);
  });

  it('allows a late commit with a stamp in the past', () => {
    const s = new SalesforceStore({ now: T0 });
    const t = s.insert(
      'Task',
      { Subject: 'Call', Status: 'Completed', Priority: 'Normal' },
      { stamp: new Date('2026-03-01T00:00:00Z') },
    );
    expect(t.SystemModstamp).toBe('2026-03-01T00:00:00.000+0000');
  });

  it('soft delete keeps the row for includeDeleted, hard delete removes it; both are in the deleted log', () => {
    const s = new SalesforceStore({ now: T0 });
    const a = s.insert('Lead', { LastName: 'A', Company: 'X', Status: 'Open - Not Contacted' });
    const b = s.insert('Lead', { LastName: 'B', Company: 'Y', Status: 'Open - Not Contacted' });
    s.advance(1000);
    s.softDelete('Lead', String(a.Id));
    s.hardDelete('Lead', String(b.Id));
    expect(s.all('Lead')).toHaveLength(0);
    expect(s.all('Lead', { includeDeleted: true }).map((r) => [r.Id, r.IsDeleted])).toEqual([[a.Id, true]]);
    s.hardDelete('Lead', String(a.Id));
    expect(s.all('Lead', { includeDeleted: true })).toHaveLength(0);
    expect(s.deletedLog('Lead').map((e) => e.id)).toEqual([a.Id, b.Id]);
    expect(s.hardDeletedRow('Lead', String(b.Id))).toMatchObject({ LastName: 'B', IsDeleted: false });
    expect(s.hardDeletedRow('Lead', String(a.Id))).toMatchObject({ LastName: 'A', IsDeleted: true });
  });

  it('rejects unknown fields, bad types and duplicate external ids with the Salesforce status code', () => {
    const s = new SalesforceStore({ now: T0 });
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        if (isAppError(e)) return e.details?.statusCode;
      }
      return 'no error';
    };
    expect(code(() => s.insert('Task', { Nope__c: 1 }))).toBe('INVALID_FIELD');
    expect(code(() => s.insert('Opportunity', { Amount: 'lots' }))).toBe('INVALID_TYPE_ON_FIELD_IN_RECORD');
    expect(code(() => s.insert('Opportunity', { IsWon: true }))).toBe('INVALID_FIELD_FOR_INSERT_UPDATE');
    s.insert('Task', { Quota_Alert_Key__c: 'k1' });
    expect(code(() => s.insert('Task', { Quota_Alert_Key__c: 'k1' }))).toBe('DUPLICATE_VALUE');
  });
});
