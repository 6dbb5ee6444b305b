/**
 * Who receives a rep's alert tasks (metrics/engine/task-routing.ts), as delivery and `config check --online` both
 * route them: the org file's team manager, falling back to the CRM's manager when the file's is a user in no CRM.
 */
import { describe, expect, it } from 'vitest';
import { taskRoutingLines } from '../../../src/cli/commands/config-online.ts';
import type { OrgRow } from '../../../src/config/org-file.ts';
import { pickTeamManagers, type RoutingUser, taskRecipient } from '../../../src/metrics/engine/task-routing.ts';

const row = (email: string, team: string, managerEmail: string | null, role = 'rep', line = 2): OrgRow => ({
  email,
  name: email.split('@')[0] as string,
  team,
  region: 'West',
  managerEmail,
  role,
  startDate: null,
  territory: null,
  territoryIndex: null,
  quotaCarrying: null,
  salesforceUserId: null,
  hubspotOwnerId: null,
  line,
});

const u = (connectionId: string, externalId: string, person: string, managerExternalId: string | null = null) =>
  ({ connectionId, externalId, person, active: true, managerExternalId }) satisfies RoutingUser<string>;

describe('taskRecipient', () => {
  const users = [u('sf', 'R1', 'rep', 'M1'), u('sf', 'M1', 'crm-boss'), u('hs', 'H9', 'file-boss')];
  const route = (fileManager: string | null, repUsers = [users[0] as RoutingUser<string>]) =>
    taskRecipient({
      order: ['sf', 'hs'],
      repUsers,
      fileManager,
      hierarchyManager: null,
      usersOf: (p) => users.filter((x) => x.person === p),
      personOfUser: (c, id) => users.find((x) => x.connectionId === c && x.externalId === id)?.person ?? null,
    });

  it("gives the task to the rep's CRM ManagerId user when the org file's manager is a user in no CRM", () => {
    expect(route('new-hire')).toMatchObject({ connectionId: 'sf', managerExternalId: 'M1', via: 'crm' });
  });

  it("the file's manager wins when they are a user in one of the rep's connections", () => {
    expect(route('crm-boss')).toMatchObject({ managerExternalId: 'M1', via: 'file' });
  });

  it('no task only when no manager of the rep is a user anywhere', () => {
    expect(route('new-hire', [u('hs', 'R2', 'rep2')])).toBeNull();
  });
});

describe('config check --online routing lines', () => {
  const rows = [row('nobody@x.io', 'T1', null, 'manager'), row('a@x.io', 'T1', 'nobody@x.io', 'rep', 3)];
  const connections = [
    {
      id: 'sf',
      kind: 'salesforce',
      label: 'Salesforce',
      users: [
        { id: '005A', email: 'a@x.io', active: true, managerId: '005M' },
        { id: '005M', email: 'boss@x.io', active: true, managerId: null },
      ],
    },
  ];

  it("says the team's tasks go to the CRM's manager because the file's manager is in no CRM", () => {
    const text = taskRoutingLines(rows, connections)
      .map((l) => l.text)
      .join('\n');
    expect(text).toContain("T1's tasks go to boss@x.io (sf Salesforce user 005M) because nobody@x.io is in no CRM");
    expect(text).not.toContain('no known manager');
  });
});

describe('a team manager by votes', () => {
  it('counts no vote for a manager email that is nobody, in the file or a CRM', () => {
    const rows = [
      row('zed@x.io', 'North', null, 'manager'),
      row('a@x.io', 'T', 'ghost@x.io', 'rep', 3),
      row('b@x.io', 'T', 'ghost@x.io', 'rep', 4),
      row('c@x.io', 'T', 'zed@x.io', 'rep', 5),
    ];
    const users = ['A:a', 'B:b', 'C:c', 'Z:zed'].map((x) => {
      const [id, name] = x.split(':') as [string, string];
      return { id, email: `${name}@x.io`, active: true, managerId: null };
    });
    const text = taskRoutingLines(rows, [{ id: 'sf', kind: 'salesforce', label: 'Salesforce', users }])
      .map((l) => l.text)
      .join('\n');
    expect(text).toContain('T: zed@x.io (sf Salesforce user Z)');
  });
});

describe('pickTeamManagers', () => {
  it('gives a tie to the manager with a row in the org file over one without, whatever their person ids', () => {
    // Person 1 has no row; person 7 is on row 3: the warehouse once ranked the id 1 against the row 3.
    const fileRow = new Map([[7, 3]]);
    const picked = pickTeamManagers(
      [
        { team: 'T', manager: 1 },
        { team: 'T', manager: 7 },
      ],
      (id) => fileRow.get(id),
      (a, b) => a - b,
    );
    expect(picked.get('T')).toBe(7);
  });

  it('of two managers without a row, the lowest person id', () => {
    const picked = pickTeamManagers(
      [
        { team: 'T', manager: 9 },
        { team: 'T', manager: 4 },
      ],
      () => undefined,
      (a, b) => a - b,
    );
    expect(picked.get('T')).toBe(4);
  });
});

describe('config check --online routing lines when a connection cannot be read', () => {
  it('says they are incomplete, naming the connection whose users it could not read', () => {
    const rows = [row('m@x.io', 'T', null, 'manager'), row('a@x.io', 'T', 'm@x.io', 'rep', 3)];
    const users = [{ id: 'A', email: 'a@x.io', active: true, managerId: null }];
    const lines = taskRoutingLines(rows, [{ id: 'sf', kind: 'salesforce', label: 'Salesforce', users }], ['hs']);
    expect(lines[0]).toEqual({
      ok: null,
      text: 'incomplete: the users of hs could not be read, so a manager named below as in no CRM may be a user there',
    });
  });
});
