/**
 * A HubSpot portal that cannot hold custom objects (the sandbox's `no-custom-objects` profile): `config check
 * --online` says so and asks for `writeback.target: off` (exit 1), and passes with it; a sync with the default target
 * fails naming the setting, and with `target: off` the scores still reach the reports. Alert tasks through the task
 * sink against the sandbox: created once (a second send finds them by `quota_alert_key`), associated with their
 * deal, completed when closed, a deleted one counting as closed.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspotSandboxConnection } from '../../src/cli/commands/sandbox.ts';
import { parseOrgFile } from '../../src/config/org-file.ts';
import { HubSpotClient } from '../../src/connectors/hubspot/client.ts';
import { HubSpotTaskWriter } from '../../src/connectors/hubspot/tasks.ts';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { writeOrgCsv } from '../../src/sandbox/org/org-csv.ts';
import { silentLogger } from '../../src/util/log.ts';
import { repeatPass } from '../helpers/ci-pass.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { orgCalendar, runCliCaptured, TABLE_WITH_ADMIN, writeConfig } from './run-cli.ts';

const ANCHOR = '2026-11-20';
const NOW = '2026-11-20T15:00:00Z';

let sb: HubSpotSandbox;
let t: TestDatabase;
let dir: string;

async function cli(args: string[], target?: 'off'): Promise<{ code: number; out: string; err: string }> {
  const org = sb.org!;
  const configPath = join(dir, `config-${target ?? 'default'}.yaml`);
  await writeConfig(configPath, {
    database: { url: t.url },
    logLevel: 'warn',
    calendar: orgCalendar(org),
    forecast: { trials: 100, backtest: { enabled: false } },
    connections: [{ ...hubspotSandboxConnection(sb, 'hs'), ...(target ? { writeback: { target } } : {}) }],
    org: { file: join(dir, 'org.csv') },
  });
  return runCliCaptured(['--config', configPath, ...args], { now: NOW, table: TABLE_WITH_ADMIN });
}

beforeAll(async () => {
  sb = await startHubSpotSandbox({
    seed: 42,
    size: 'small',
    anchorDate: ANCHOR,
    // The 10-second and search limits are the retry policy's to wait out (hubspot-faults); these runs read faster.
    rateLimits: { tenSecondly: 100_000, searchPerSecond: 10_000 },
    profile: 'no-custom-objects',
  });
  dir = await mkdtemp(join(tmpdir(), 'qt-hs-nco-'));
  await writeOrgCsv(sb.org!, join(dir, 'org.csv'));
  t = await createTestDatabase({ poolSize: 4 });
}, 120_000);

afterAll(async () => {
  await t?.drop();
  await sb?.close();
});

describe.skipIf(repeatPass)('a HubSpot portal without custom objects', () => {
  it('config check --online asks for writeback.target: off, and passes with it', async () => {
    const asked = await cli(['config', 'check', '--online']);
    expect(asked.code).toBe(1);
    expect(asked.out).toMatch(/FAIL .*cannot hold custom objects.*set connections\.hs\.writeback\.target: off/);
    const off = await cli(['config', 'check', '--online'], 'off');
    expect(off.code, off.out).toBe(0);
    expect(off.out).toMatch(/ok {3}.*writeback\.target is off/);
  }, 60_000);

  it('config check --online lists the teams without a known manager (they get no alert task)', async () => {
    const path = join(dir, 'org.csv');
    const text = await readFile(path, 'utf8');
    const file = parseOrgFile(text, path);
    // The teams with reps (a leadership team, whose members carry no quota, gets no alerts to send anywhere).
    const teams = [...new Set(file.rows.filter((r) => r.role === 'rep').map((r) => r.team))].sort();
    expect(teams.length).toBeGreaterThan(2);
    const whole = await cli(['config', 'check', '--online'], 'off');
    expect(whole.code, whole.out).toBe(0);
    expect(whole.out).toContain(`ok   every team's manager in the org file is a HubSpot owner (${teams.length} teams)`);
    // One team's manager is nobody in the portal, another's members name none.
    const [first, second] = teams;
    const csv = [
      'email,name,team,region,manager_email,role',
      ...file.rows.map((r) =>
        [
          r.email,
          r.name,
          r.team,
          r.region,
          r.team === first ? 'nobody@example.com' : r.team === second ? '' : (r.managerEmail ?? ''),
          r.role,
        ].join(','),
      ),
      // A manager the file knows and the portal does not.
      `nobody@example.com,Nobody Here,${first},${file.rows.find((r) => r.team === first)?.region ?? ''},,manager`,
    ].join('\n');
    await writeFile(path, `${csv}\n`);
    try {
      const listed = await cli(['config', 'check', '--online'], 'off');
      expect(listed.code, `${listed.out}\n${listed.err}`).toBe(0);
      expect(listed.out).toContain(
        `??   2 teams have no known manager and get no alert task: ${first} (nobody@example.com is no HubSpot owner), ${second} (no manager_email)`,
      );
    } finally {
      await writeFile(path, text);
    }
  }, 60_000);

  it('sync with the default target fails naming the setting; with target off the scores reach the reports', async () => {
    const failed = await cli(['sync']);
    expect(failed.code).not.toBe(0);
    expect(`${failed.out}\n${failed.err}`).toMatch(/writeback\.target: off/);
    const off = await cli(['sync'], 'off');
    expect(off.code, off.err).toBe(0);
    expect(off.out).toMatch(/write-back skipped: writeback\.target is off/);
    expect(sb.log.entries().some((e) => /\/batch\/upsert$/.test(e.path))).toBe(false);
    const rep = sb.org!.people.find((p) => p.role === 'rep' && p.isActive && p.quotaCarrying)!;
    const report = await cli(['report', 'rep', '--rep', rep.email, '--format', 'json'], 'off');
    expect(report.code, report.err).toBe(0);
    expect(JSON.parse(report.out).quota).not.toBeNull();
  }, 300_000);
});

describe('HubSpot alert tasks', () => {
  it('are created once, found again by key, completed when closed; a deleted one counts as closed', async () => {
    const client = new HubSpotClient({ accessToken: sb.credentials.accessToken, basePath: sb.url, log: silentLogger });
    const sink = new HubSpotTaskWriter(client, silentLogger);
    const deal = [...sb.store.scan('deals')].find((d) => d.props.hs_is_closed === 'false')!;
    const owner = String(deal.props.hubspot_owner_id);
    const task = (key: string) => ({
      externalKey: key,
      ownerExternalId: owner,
      subject: `At risk: someone (${key})`,
      description: 'numbers',
      dueDate: '2026-11-23',
      relatedToExternalId: String(deal.id),
    });
    const first = await sink.upsertTasks([task('k1'), task('k2')]);
    expect(first.map((r) => [r.ok, r.created])).toEqual([
      [true, true],
      [true, true],
    ]);
    const again = await sink.upsertTasks([task('k1'), task('k2')]);
    expect(again.map((r) => r.crmTaskId)).toEqual(first.map((r) => r.crmTaskId));
    expect(again.every((r) => r.created === false)).toBe(true);
    const made = sb.store.get('tasks', first[0]!.crmTaskId!)!;
    expect(made.props.hubspot_owner_id).toBe(owner);
    expect(sb.store.associations('tasks', made.id, 'deals').map((l) => String(l.toId))).toEqual([String(deal.id)]);
    expect(await sink.findTasks(['k1', 'k2', 'k3'])).toEqual(
      new Map([
        ['k1', first[0]!.crmTaskId],
        ['k2', first[1]!.crmTaskId],
      ]),
    );
    sb.store.archive('tasks', first[1]!.crmTaskId!, { source: 'CRM_UI' });
    const closed = await sink.closeTasks(first.map((r) => ({ externalKey: r.externalKey, crmTaskId: r.crmTaskId! })));
    expect(closed.map((r) => r.ok)).toEqual([true, true]);
    expect(sb.store.get('tasks', first[0]!.crmTaskId!)!.props.hs_task_status).toBe('COMPLETED');

    // A portal that refuses a whole batch update for one deleted task (404, nothing applied): one batch read says
    // which tasks still exist, the deleted one counts as closed, and the others are completed in one more call.
    const keys = ['k4', 'k5', 'k6', 'k7', 'k8'];
    const more = await sink.upsertTasks(keys.map(task));
    sb.store.archive('tasks', more[2]!.crmTaskId!, { source: 'CRM_UI' });
    const toClose = more.map((r) => ({ externalKey: r.externalKey, crmTaskId: r.crmTaskId! }));
    const calls = () =>
      sb.log
        .entries()
        .filter((e) => /\/tasks\/batch\/(update|read)$/.test(e.path))
        .map((e) => `${e.path.split('/').at(-1)} ${e.status}`);
    // First a 404 about the call, not a task (a proxy, a path not served): nothing is counted closed.
    let fault = sb.faults.add({ kind: 'not_found_404', path: '/crm/v3/objects/tasks/batch/' });
    sb.log.clear();
    try {
      const refused = await sink.closeTasks(toClose);
      expect(refused.map((r) => [r.ok, r.retryable])).toEqual(keys.map(() => [false, true]));
      expect(calls()).toEqual(['update 404', 'read 404']);
    } finally {
      sb.faults.remove(fault);
    }
    fault = sb.faults.add({ kind: 'missing_refuses_batch_404', path: '/tasks/batch/update' });
    sb.log.clear();
    try {
      const results = await sink.closeTasks(toClose);
      expect(results.map((r) => [r.externalKey, r.ok]).sort()).toEqual(keys.map((k) => [k, true]));
      expect(calls()).toEqual(['update 404', 'read 207', 'update 200']);
    } finally {
      sb.faults.remove(fault);
    }
    for (const i of [0, 1, 3, 4])
      expect(sb.store.get('tasks', more[i]!.crmTaskId!)!.props.hs_task_status, keys[i]).toBe('COMPLETED');

    // One task HubSpot will not take, in a batch of tasks that all exist: found by halves, the others close.
    const last = await sink.upsertTasks(['k9', 'k10', 'k11', 'k12'].map(task));
    fault = sb.faults.add({ kind: 'poison_input_400', path: '/tasks/batch/update' });
    sb.log.clear();
    try {
      const results = await sink.closeTasks(last.map((r) => ({ externalKey: r.externalKey, crmTaskId: r.crmTaskId! })));
      expect(results.filter((r) => !r.ok).map((r) => [r.externalKey, r.retryable])).toEqual([['k9', false]]);
      expect(
        results
          .filter((r) => r.ok)
          .map((r) => r.externalKey)
          .sort(),
      ).toEqual(['k10', 'k11', 'k12']);
      expect(calls()).toEqual([
        'update 400',
        'read 200',
        'update 400',
        'update 400',
        'update 200',
        'update 400',
        'update 200',
      ]);
    } finally {
      sb.faults.remove(fault);
    }
  }, 60_000);
});
