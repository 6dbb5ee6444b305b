import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../src/config/calendar.ts';
import { parseCsv } from '../../src/config/csv.ts';
import { parseFxFile } from '../../src/config/fx-file.ts';
import { loadOrgFile, parseOrgFile } from '../../src/config/org-file.ts';
import { parseQuotaFile } from '../../src/config/quota-file.ts';
import { type AppError, isAppError } from '../../src/errors.ts';
import { Dec } from '../../src/util/money.ts';

function failure(f: () => unknown): AppError {
  try {
    f();
  } catch (e) {
    if (isAppError(e)) return e;
    throw e;
  }
  throw new Error('expected an error');
}

const HEADER = 'email,name,team,region,manager_email,role';

describe('CSV reading', () => {
  it('handles quotes, embedded commas, doubled quotes, line breaks in a field, CRLF and a BOM', () => {
    const text = '\uFEFFa,b\r\n"x, y","say ""hi"""\r\n"two\r\nlines",z\r\n\r\nlast,row';
    const records = parseCsv(text, 't.csv');
    expect(records.map((r) => r.fields.map((f) => f.value))).toEqual([
      ['a', 'b'],
      ['x, y', 'say "hi"'],
      ['two\nlines', 'z'],
      ['last', 'row'],
    ]);
    // The record after the two-line field starts on line 3; the blank line 5 is skipped; `row` is at 6:6.
    expect(records.map((r) => r.line)).toEqual([1, 2, 3, 6]);
    expect(records[3]?.fields[1]).toEqual({ value: 'row', line: 6, column: 6 });
  });

  it('points at a stray quote and at an unclosed one', () => {
    expect(failure(() => parseCsv('a,b\nx,y"z\n', 't.csv')).where).toBe('t.csv:2:4');
    expect(failure(() => parseCsv('a,b\nx,"open\n', 't.csv')).where).toBe('t.csv:2:3');
  });
});

describe('org file', () => {
  it('reads a valid file with a quoted territory containing a comma', async () => {
    const text = [
      `${HEADER},start_date,territory,territory_index,quota_carrying`,
      'Maria@Example.com,Maria Lopez,Leadership,Global,,vp,,,,no',
      'dana@example.com,"Whitfield, Dana",West Enterprise,West,maria@example.com,Manager,2020-06-01,,,',
      'sarah@example.com,Sarah Chen,West Enterprise,West,DANA@example.com,rep,2022-01-10,"Pacific Northwest, Enterprise",1.10,true',
    ].join('\r\n');
    const dir = await mkdtemp(join(tmpdir(), 'qt-org-'));
    await writeFile(join(dir, 'org.csv'), text);
    const org = await loadOrgFile(join(dir, 'org.csv'));
    expect(org.rows).toHaveLength(3);
    const sarah = org.byEmail.get('sarah@example.com');
    expect(sarah).toMatchObject({
      name: 'Sarah Chen',
      team: 'West Enterprise',
      managerEmail: 'dana@example.com',
      territory: 'Pacific Northwest, Enterprise',
      startDate: '2022-01-10',
      quotaCarrying: true,
      line: 4,
    });
    expect(sarah?.territoryIndex?.toString()).toBe('1.1');
    expect(org.byEmail.get('dana@example.com')).toMatchObject({ name: 'Whitfield, Dana', role: 'manager' });
    expect(org.byEmail.get('maria@example.com')).toMatchObject({
      managerEmail: null,
      quotaCarrying: false,
      startDate: null,
    });
  });

  it('reports a bad row with its line and column', () => {
    const text = [
      `${HEADER},start_date`,
      'a@example.com,A,T1,R1,,manager,2020-01-01',
      'b@example.com,B,T1,R1,a@example.com,rep,2024-02-30',
    ].join('\n');
    const e = failure(() => parseOrgFile(text, 'org.csv'));
    expect(e.code).toBe('ORG_FILE_INVALID');
    // 2024-02-30 does not exist. The position is line:character, as editors read it: start_date starts at the
    // 41st character of line 3 (after "b@example.com,B,T1,R1,a@example.com,rep," = 40 characters).
    expect(e.toUserString()).toBe('start_date "2024-02-30" is not a date as YYYY-MM-DD (at org.csv:3:41)');
  });

  it('says when a row has more fields than the header, as an unquoted comma makes', () => {
    const text = `${HEADER}\na@example.com,Lopez, Maria,T1,R1,,vp\n`;
    expect(failure(() => parseOrgFile(text, 'org.csv')).toUserString()).toBe(
      'expected 6 fields like the header, found 7 (quote a value that contains a comma) (at org.csv:2:1)',
    );
  });

  it('reads the CRM id bindings, and refuses an id bound twice or one that is no id, naming line and column', () => {
    const head = `${HEADER},salesforce_user_id,hubspot_owner_id`;
    const ok = parseOrgFile(`${head}\na@x.com,A,T,R,,rep,005000000000001AAA,77\nb@x.com,B,T,R,,rep,,\n`, 'org.csv');
    expect(ok.byEmail.get('a@x.com')).toMatchObject({ salesforceUserId: '005000000000001AAA', hubspotOwnerId: '77' });
    expect(ok.byEmail.get('b@x.com')).toMatchObject({ salesforceUserId: null, hubspotOwnerId: null });
    const twice = `${head}\na@x.com,A,T,R,,rep,,77\nb@x.com,B,T,R,,rep,,77\n`;
    expect(failure(() => parseOrgFile(twice, 'org.csv')).toUserString()).toBe(
      'hubspot_owner_id 77 is bound to a@x.com already (line 2) (at org.csv:3:21)',
    );
    // The 15-character id and its 18-character form name one user.
    const sfTwice = `${head}\na@x.com,A,T,R,,rep,005000000000001AAA,\nb@x.com,B,T,R,,rep,005000000000001,\n`;
    expect(failure(() => parseOrgFile(sfTwice, 'org.csv')).message).toBe(
      'salesforce_user_id 005000000000001 is bound to a@x.com already (line 2)',
    );
    expect(
      failure(() => parseOrgFile(`${head}\na@x.com,A,T,R,,rep,not-an-id,x1\n`, 'org.csv')).details?.problems,
    ).toEqual([
      'org.csv:2:20: salesforce_user_id "not-an-id" is not a Salesforce user id (15 or 18 letters and digits)',
      'org.csv:2:30: hubspot_owner_id "x1" is not a HubSpot owner id (digits)',
    ]);
  });

  it('finds a cycle in the manager chain', () => {
    const text = [
      HEADER,
      'top@example.com,Top,T0,R,,vp',
      'a@example.com,A,T1,R,c@example.com,manager',
      'b@example.com,B,T1,R,a@example.com,manager',
      'c@example.com,C,T1,R,b@example.com,manager',
    ].join('\n');
    const e = failure(() => parseOrgFile(text, 'org.csv'));
    expect(e.message).toBe('the manager chain loops: a@example.com -> c@example.com -> b@example.com -> a@example.com');
    // manager_email starts at character 22 of line 3, after "a@example.com,A,T1,R,".
    expect(e.where).toBe('org.csv:3:22');
  });

  it('rejects duplicate emails, unknown managers and a team in two regions, listing every problem', () => {
    const text = [
      HEADER,
      'a@example.com,A,T1,East,,manager',
      'b@example.com,B,T1,West,a@example.com,rep',
      'A@example.com,A again,T1,East,,rep',
      'c@example.com,C,T2,East,ghost@example.com,rep',
    ].join('\n');
    const e = failure(() => parseOrgFile(text, 'org.csv'));
    expect(e.details?.problems).toEqual([
      'org.csv:4:1: duplicate email a@example.com (first on line 2)',
      'org.csv:3:20: team "T1" is in region "West" here but in "East" on line 2; a team belongs to one region',
      'org.csv:5:25: manager ghost@example.com of c@example.com is not in the file',
    ]);
    expect(e.message).toBe('duplicate email a@example.com (first on line 2) (and 2 more problems)');
  });

  it('rejects an unknown or missing column in the header', () => {
    expect(failure(() => parseOrgFile('email,name,team,region,role\n', 'org.csv')).toUserString()).toBe(
      'missing column manager_email (at org.csv:1:1)',
    );
    // `nickname` starts after the 42 characters of "email,name,team,region,manager_email,role,".
    expect(failure(() => parseOrgFile(`${HEADER},nickname\n`, 'org.csv')).where).toBe('org.csv:1:43');
  });
});

describe('quota file', () => {
  const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 2 });

  it('reads exact decimal amounts and validates periods against the calendar', () => {
    const text =
      'email,period,amount,currency\nSarah@example.com,FY2027-Q1,0.1,EUR\nsarah@example.com,FY2027-Q2,0.2,\n';
    const rows = parseQuotaFile(text, 'quotas.csv', calendar, 'USD');
    expect(rows.map((r) => [r.email, r.period.id, r.period.start, r.currency])).toEqual([
      ['sarah@example.com', 'FY2027-Q1', '2026-02-01', 'EUR'],
      ['sarah@example.com', 'FY2027-Q2', '2026-05-01', 'USD'],
    ]);
    // 0.1 + 0.2 is exactly 0.3 in decimal, unlike in floating point.
    expect(rows[0]?.amount.plus(rows[1]?.amount ?? 0).toString()).toBe('0.3');
  });

  it('reads an optional product_line column: a line quota beside the rep quota of the same period', () => {
    const text =
      'email,period,amount,currency,product_line\na@example.com,FY2027-Q1,600,USD,\na@example.com,FY2027-Q1,300,USD,Platform\n';
    const rows = parseQuotaFile(text, 'quotas.csv', calendar, 'USD');
    expect(rows.map((r) => [r.amount.toString(), r.productLine])).toEqual([
      ['600', null],
      ['300', 'Platform'],
    ]);
    // Without the column every row is the rep's quota.
    expect(
      parseQuotaFile('email,period,amount,currency\na@example.com,FY2027-Q1,600,USD\n', 'q', calendar, 'USD')[0]
        ?.productLine,
    ).toBeNull();
    const e = failure(() =>
      parseQuotaFile(`${text}a@example.com,FY2027-Q1,100,USD,Platform\n`, 'quotas.csv', calendar, 'USD'),
    );
    expect(e.message).toContain('a second quota for a@example.com in FY2027-Q1 for Platform (first on line 3)');
  });

  it.each([
    ['a@example.com,2026-Q1,100,USD', 'quotas.csv:2:15', 'is not a period id'],
    ['a@example.com,FY2026-Q1,1e5,USD', 'quotas.csv:2:25', 'amount "1e5" is not a non-negative number'],
    ['a@example.com,FY2026-Q1,100,usd', 'quotas.csv:2:29', 'currency "usd"'],
    ['a@example.com,FY2026-Q1,100,USD\na@example.com,FY2026-Q1,200,USD', 'quotas.csv:3:1', 'a second quota'],
  ])('rejects %j at its position', (rows, where, message) => {
    const e = failure(() => parseQuotaFile(`email,period,amount,currency\n${rows}\n`, 'quotas.csv', calendar, 'USD'));
    expect(e.code).toBe('QUOTA_FILE_INVALID');
    expect(e.where).toBe(where);
    expect(e.message).toContain(message);
  });
});

describe('FX rate file', () => {
  it('reads exact rates sorted by currency and date', () => {
    const text = 'currency,valid_from,rate\nGBP,2026-10-01,0.79\nEUR,2026-11-01,0.93\nEUR,2026-10-01,0.92\n';
    const rows = parseFxFile(text, 'fx.csv', 'USD');
    expect(rows.map((r) => [r.currency, r.validFrom, r.rate.toString(), r.line])).toEqual([
      ['EUR', '2026-10-01', '0.92', 4],
      ['EUR', '2026-11-01', '0.93', 3],
      ['GBP', '2026-10-01', '0.79', 2],
    ]);
    // 1,000 EUR at 0.92 EUR per USD is 1,086.956521739... USD, exactly as decimal division gives it.
    expect(
      new Dec(1000)
        .div(rows[0]?.rate ?? 1)
        .toDecimalPlaces(2)
        .toString(),
    ).toBe('1086.96');
  });

  it.each([
    ['USD,2026-10-01,1', 'fx.csv:2:1', 'USD is the base currency'],
    ['EUR,2026-13-01,0.9', 'fx.csv:2:5', 'valid_from "2026-13-01"'],
    ['EUR,2026-10-01,0', 'fx.csv:2:16', 'rate "0" is not a number above zero'],
    ['EUR,2026-10-01,0.9\nEUR,2026-10-01,0.91', 'fx.csv:3:1', 'a second EUR rate from 2026-10-01'],
  ])('rejects %j at its position', (rows, where, message) => {
    const e = failure(() => parseFxFile(`currency,valid_from,rate\n${rows}\n`, 'fx.csv', 'USD'));
    expect(e.where).toBe(where);
    expect(e.message).toContain(message);
  });
});
