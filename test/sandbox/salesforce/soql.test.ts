import { describe, expect, it } from 'vitest';
import { runQuery } from '../../../src/sandbox/salesforce/soql/evaluate.ts';
import { SoqlError } from '../../../src/sandbox/salesforce/soql/lexer.ts';
import { parseSoql } from '../../../src/sandbox/salesforce/soql/parser.ts';
import { SalesforceStore } from '../../../src/sandbox/salesforce/store.ts';

const T0 = new Date('2026-03-10T12:00:00.000Z');

/** Three reps under one manager and five deals with hand-picked values. */
function fixture() {
  const s = new SalesforceStore({ now: T0, opportunityHistory: false });
  const mgr = s.insert('User', { Username: 'm@x.io', Email: 'mgr@x.io', LastName: 'Mgr', IsActive: true });
  const ann = s.insert('User', {
    Username: 'a@x.io',
    Email: 'ann@x.io',
    LastName: 'Ann',
    IsActive: true,
    ManagerId: mgr.Id,
  });
  const bob = s.insert('User', {
    Username: 'b@x.io',
    Email: 'bob@x.io',
    LastName: 'Bob',
    IsActive: false,
    ManagerId: mgr.Id,
  });
  const opp = (name: string, owner: unknown, amount: number | null, stage: string, close: string, at: string) =>
    s.insert(
      'Opportunity',
      { Name: name, OwnerId: owner, Amount: amount, StageName: stage, CloseDate: close, Probability: 50 },
      { stamp: new Date(at) },
    );
  opp('o1', ann.Id, 100, 'Closed Won', '2026-01-15', '2026-01-01T00:00:00Z');
  opp('o2', ann.Id, 300, 'Prospecting', '2026-03-31', '2026-02-01T00:00:00Z');
  opp("O'3", bob.Id, null, 'Closed Lost', '2026-02-10', '2026-02-01T00:00:00Z');
  opp('o4', null, 200, 'Closed Won', '2026-03-01', '2026-03-09T23:00:00Z');
  opp('o5_x', bob.Id, 300, 'Negotiation/Review', '2026-04-30', '2026-03-10T01:00:00Z');
  return { s, mgr, ann, bob };
}

const names = (s: SalesforceStore, q: string, includeDeleted = false) =>
  runQuery(s, q, { includeDeleted, apiVersion: '62.0' }).records.map((r) => r.Name);

const errorOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    if (e instanceof SoqlError) return e.errorCode;
    throw e;
  }
  return 'no error';
};

describe('SOQL parser', () => {
  it('refuses AND and OR mixed at one level, as Salesforce does', () => {
    expect(() => parseSoql('SELECT Id FROM Opportunity WHERE Amount = 1 AND Amount = 2 OR Amount = 3')).toThrow(
      /unexpected token: 'OR'/,
    );
    expect(errorOf(() => parseSoql('SELECT Id FROM'))).toBe('MALFORMED_QUERY');
    expect(errorOf(() => parseSoql("SELECT Id FROM Lead WHERE Name = 'a\\q'"))).toBe('MALFORMED_QUERY');
  });
});

describe('SOQL evaluator', () => {
  it('groups with parentheses and binds NOT to the next condition only', () => {
    const { s } = fixture();
    // (won AND amount > 150) OR prospecting -> o2, o4
    expect(
      names(
        s,
        "SELECT Name FROM Opportunity WHERE (StageName = 'Closed Won' AND Amount > 150) OR StageName = 'Prospecting'",
      ),
    ).toEqual(['o2', 'o4']);
    // won AND (amount > 150 OR prospecting) -> o4 only
    expect(
      names(
        s,
        "SELECT Name FROM Opportunity WHERE StageName = 'Closed Won' AND (Amount > 150 OR StageName = 'Prospecting')",
      ),
    ).toEqual(['o4']);
    // NOT applies to the first condition: (NOT won) AND amount >= 300 -> o2, o5_x
    expect(names(s, "SELECT Name FROM Opportunity WHERE NOT StageName = 'Closed Won' AND Amount >= 300")).toEqual([
      'o2',
      'o5_x',
    ]);
    expect(names(s, "SELECT Name FROM Opportunity WHERE NOT (StageName = 'Closed Won' OR Amount >= 300)")).toEqual([
      "O'3",
    ]);
  });

  it('treats null with two-valued logic: != and NOT IN match nulls, < and > never do', () => {
    const { s } = fixture();
    expect(names(s, 'SELECT Name FROM Opportunity WHERE Amount = null')).toEqual(["O'3"]);
    expect(names(s, 'SELECT Name FROM Opportunity WHERE Amount != 300')).toEqual(['o1', "O'3", 'o4']);
    expect(names(s, 'SELECT Name FROM Opportunity WHERE Amount < 1000')).toEqual(['o1', 'o2', 'o4', 'o5_x']);
    expect(names(s, 'SELECT Name FROM Opportunity WHERE Amount NOT IN (100, 200)')).toEqual(['o2', "O'3", 'o5_x']);
    expect(names(s, 'SELECT Name FROM Opportunity WHERE OwnerId = null')).toEqual(['o4']);
  });

  it('compares datetimes in both literal forms, dates, strings with escapes, booleans and LIKE', () => {
    const { s } = fixture();
    expect(names(s, 'SELECT Name FROM Opportunity WHERE SystemModstamp >= 2026-02-01T00:00:00Z')).toEqual([
      'o2',
      "O'3",
      'o4',
      'o5_x',
    ]);
    expect(names(s, 'SELECT Name FROM Opportunity WHERE SystemModstamp > 2026-02-01T00:00:00.000+0000')).toEqual([
      'o4',
      'o5_x',
    ]);
    // 2026-03-09T23:00 in UTC is 2026-03-10T01:00+02:00, so "> that" excludes o4 exactly.
    expect(names(s, 'SELECT Name FROM Opportunity WHERE SystemModstamp > 2026-03-10T01:00:00+02:00')).toEqual(['o5_x']);
    expect(names(s, 'SELECT Name FROM Opportunity WHERE CloseDate < 2026-03-01')).toEqual(['o1', "O'3"]);
    expect(names(s, "SELECT Name FROM Opportunity WHERE Name = 'o\\'3'")).toEqual(["O'3"]);
    expect(names(s, "SELECT Name FROM Opportunity WHERE Name LIKE 'o_'")).toEqual(['o1', 'o2', 'o4']);
    expect(names(s, "SELECT Name FROM Opportunity WHERE Name LIKE '%\\_x'")).toEqual(['o5_x']);
    expect(names(s, "SELECT Name FROM Opportunity WHERE StageName IN ('closed won', 'Prospecting')")).toEqual([
      'o1',
      'o2',
      'o4',
    ]);
    expect(names(s, 'SELECT Name FROM User WHERE IsActive = false')).toEqual(['Bob']);
    // Date literals against the sandbox clock (2026-03-10): TODAY and LAST_N_DAYS:1 on a datetime field.
    expect(names(s, 'SELECT Name FROM Opportunity WHERE SystemModstamp = TODAY')).toEqual(['o5_x']);
    expect(names(s, 'SELECT Name FROM Opportunity WHERE SystemModstamp = LAST_N_DAYS:1')).toEqual(['o4', 'o5_x']);
  });

  it('orders by several fields with DESC and NULLS FIRST/LAST, keeping insertion order on ties', () => {
    const { s } = fixture();
    // Nulls first by default even with DESC; ties (300, 300) keep insertion order.
    expect(names(s, 'SELECT Name FROM Opportunity ORDER BY Amount DESC')).toEqual(["O'3", 'o2', 'o5_x', 'o4', 'o1']);
    expect(names(s, 'SELECT Name FROM Opportunity ORDER BY Amount DESC NULLS LAST, Name DESC')).toEqual([
      'o5_x',
      'o2',
      'o4',
      'o1',
      "O'3",
    ]);
    expect(names(s, 'SELECT Name FROM Opportunity ORDER BY Owner.Email ASC NULLS LAST, CloseDate')).toEqual([
      'o1',
      'o2',
      "O'3",
      'o5_x',
      'o4',
    ]);
    expect(names(s, 'SELECT Name FROM Opportunity ORDER BY CloseDate LIMIT 2 OFFSET 1')).toEqual(["O'3", 'o4']);
  });

  it('nests relationship fields with attributes, or null for an empty lookup', () => {
    const { s, ann } = fixture();
    const res = runQuery(
      s,
      "SELECT name, owner.email, Owner.Manager.Email FROM opportunity WHERE Name IN ('o1', 'o4')",
      {
        includeDeleted: false,
        apiVersion: '62.0',
      },
    );
    expect(res.records[0]).toEqual({
      attributes: {
        type: 'Opportunity',
        url: expect.stringMatching(/^\/services\/data\/v62\.0\/sobjects\/Opportunity\/006/),
      },
      Name: 'o1',
      Owner: {
        attributes: { type: 'User', url: `/services/data/v62.0/sobjects/User/${ann.Id}` },
        Email: 'ann@x.io',
        Manager: { attributes: expect.objectContaining({ type: 'User' }), Email: 'mgr@x.io' },
      },
    });
    expect(res.records[1]).toMatchObject({ Name: 'o4', Owner: null });
  });

  it('counts with COUNT() and hides deleted rows unless queryAll', () => {
    const { s } = fixture();
    const o2 = s.all('Opportunity').find((r) => r.Name === 'o2')!;
    s.softDelete('Opportunity', String(o2.Id));
    expect(runQuery(s, 'SELECT COUNT() FROM Opportunity', { includeDeleted: false, apiVersion: '62.0' })).toMatchObject(
      {
        countOnly: true,
        totalSize: 4,
        records: [],
      },
    );
    expect(names(s, 'SELECT Name FROM Opportunity WHERE IsDeleted = true', true)).toEqual(['o2']);
  });

  it('answers INVALID_FIELD and INVALID_TYPE for unknown names, and type mismatches in filters', () => {
    const { s } = fixture();
    const run = (q: string) => () => runQuery(s, q, { includeDeleted: false, apiVersion: '62.0' });
    expect(errorOf(run('SELECT Id, Nope__c FROM Opportunity'))).toBe('INVALID_FIELD');
    expect(() => run('SELECT Id, Nope__c FROM Opportunity')()).toThrow(
      /No such column 'Nope__c' on entity 'Opportunity'/,
    );
    expect(errorOf(run('SELECT Id FROM Nope__c'))).toBe('INVALID_TYPE');
    expect(errorOf(run('SELECT Boss.Email FROM User'))).toBe('INVALID_FIELD');
    expect(errorOf(run("SELECT Id FROM Opportunity WHERE CloseDate > '2026-01-01'"))).toBe('INVALID_FIELD');
    expect(errorOf(run('SELECT Id, id FROM Opportunity'))).toBe('MALFORMED_QUERY');
  });

  it('runs a semi-join on Ids, and refuses one that selects a non-Id, nests, or limits', () => {
    const { s } = fixture();
    const won = `SELECT OwnerId FROM Opportunity WHERE StageName = 'Closed Won'`;
    expect(names(s, `SELECT Name FROM User WHERE Id IN (${won}) ORDER BY Name`)).toEqual(['Ann']);
    expect(names(s, `SELECT Name FROM User WHERE Id NOT IN (${won}) AND IsActive = false`)).toEqual(['Bob']);
    expect(
      names(
        s,
        `SELECT Name FROM Opportunity WHERE OwnerId IN (SELECT Id FROM User WHERE Email = 'bob@x.io') ORDER BY Name`,
      ),
    ).toEqual(["O'3", 'o5_x']);
    const run = (q: string) => () => runQuery(s, q, { includeDeleted: false, apiVersion: '62.0' });
    expect(errorOf(run(`SELECT Id FROM User WHERE Email IN (SELECT OwnerId FROM Opportunity)`))).toBe(
      'MALFORMED_QUERY',
    );
    expect(errorOf(run(`SELECT Id FROM User WHERE Id IN (SELECT Name FROM Opportunity)`))).toBe('MALFORMED_QUERY');
    expect(errorOf(run(`SELECT Id FROM User WHERE Id IN (SELECT OwnerId FROM Opportunity LIMIT 1)`))).toBe(
      'MALFORMED_QUERY',
    );
    expect(
      errorOf(
        run(
          `SELECT Id FROM User WHERE Id IN (SELECT OwnerId FROM Opportunity WHERE AccountId IN (SELECT Id FROM Account))`,
        ),
      ),
    ).toBe('MALFORMED_QUERY');
    expect(errorOf(run(`SELECT Id FROM User WHERE Id IN (SELECT Id FROM Nope__c)`))).toBe('INVALID_TYPE');
  });
});
