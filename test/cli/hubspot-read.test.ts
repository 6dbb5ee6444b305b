/**
 * A `type: hubspot` connection: `config check` says where its scores go, `sync` reads it (owners, deals, stage
 * history) beside Salesforce and exits 0 with --no-writeback, and a sync that writes back to it makes the Quota
 * scorecard object and writes the scores there (test/e2e/hubspot-writeback.test.ts checks the values).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { hubspotSandboxConnection } from '../../src/cli/commands/sandbox.ts';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { repeatPass } from '../helpers/ci-pass.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnectionEntry } from '../helpers/sandbox.ts';
import { configFile, runBin } from './helpers.ts';

let sb: SalesforceSandbox;
let hs: HubSpotSandbox;
let fresh: TestDatabase;
let config: string;

beforeAll(async () => {
  sb = await startSalesforceSandbox({ seed: 3, size: 'small', anchorDate: '2026-11-20' });
  // The 10-second limit is the retry policy's to wait out (hubspot-faults.test.ts); this reads faster.
  hs = await startHubSpotSandbox({
    seed: 3,
    size: 'small',
    anchorDate: '2026-11-20',
    rateLimits: { tenSecondly: 100_000, searchPerSecond: 10_000 },
  });
  fresh = await createTestDatabase({ poolSize: 2 });
  config = await configFile(
    stringify({
      database: { url: fresh.url },
      connections: [sandboxConnectionEntry(sb), hubspotSandboxConnection(hs, 'hs-main')],
    }),
  );
}, 60_000);

afterAll(async () => {
  await sb?.close();
  await hs?.close();
  await fresh?.drop();
});

const env = { QUOTA_TRACKER_NOW: '2026-11-20T15:00:00Z' };

it.skipIf(repeatPass)('config check validates the HubSpot connection and says where its scores go', async () => {
  const r = await runBin(['config', 'check', '--config', config], { env });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toContain(`connection hs-main: hubspot at ${hs.url}`);
  expect(r.stdout).toMatch(/write-back: scores to the Quota scorecard custom object/);
  // Beside Salesforce the owners may be its users, dated there: only the warehouse can tell (see below).
  expect(r.stdout).not.toContain('ramp cannot apply');
});

it.skipIf(repeatPass)(
  'sync --no-writeback reads HubSpot beside Salesforce and exits 0',
  { timeout: 180_000 },
  async () => {
    const r = await runBin(['sync', '--no-writeback', '--stream', 'users', '--config', config], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^sf\/users: succeeded/m);
    expect(r.stdout).toMatch(/^hs-main\/owners: succeeded/m);
    // Two connections, one process: the missing key is one fact, said once.
    expect(r.stderr.split('QUOTA_TRACKER_SECRET_KEY is not set').length - 1).toBe(1);
    const d = await runBin(['sync', '--no-writeback', '--connection', 'hs-main', '--config', config], { env });
    expect(d.code, d.stderr).toBe(0);
    // The HubSpot owners are the Salesforce users (matched by email), dated by them: ramp applies, nothing is said.
    expect(d.stderr).not.toContain('ramp cannot apply');
    expect(d.stdout).toMatch(/^hs-main\/deals: succeeded/m);
    expect(d.stdout).toMatch(/^hs-main\/deal_stage_history: succeeded/m);
    for (const stream of ['line_items', 'calls', 'emails', 'meetings', 'tasks', 'leads']) {
      expect(d.stdout).toMatch(new RegExp(`^hs-main/${stream}: succeeded`, 'm'));
    }
    const deals = await fresh.db
      .selectFrom('deals')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('connection_id', '=', 'hs-main')
      .executeTakeFirstOrThrow();
    expect(Number(deals.n)).toBeGreaterThan(0);
  },
);

it.skipIf(repeatPass)(
  'a sync that writes back to HubSpot makes the scorecard object and upserts the scores there',
  {
    timeout: 180_000,
  },
  async () => {
    hs.log.clear();
    const r = await runBin(['sync', '--connection', 'hs-main', '--stream', 'users', '--config', config], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^hs-main\/owners: succeeded/m);
    expect(r.stdout).toMatch(/^hs-main: write-back run #\d+: /m);
    const posts = hs.log.entries().filter((e) => e.method === 'POST' && !e.path.endsWith('/search'));
    expect(posts.some((e) => e.path === '/crm/v3/schemas' && e.status === 201)).toBe(true);
    expect(posts.some((e) => /\/batch\/upsert$/.test(e.path) && e.status === 200)).toBe(true);
  },
);

it.skipIf(repeatPass)(
  '--stream takes each name a sync prints, and a name for the same data in both CRMs',
  {
    timeout: 240_000,
  },
  async () => {
    const sync = (...args: string[]) => runBin(['sync', '--no-writeback', ...args, '--config', config], { env });
    const streamsOf = (out: string) => [...out.matchAll(/^(\S+\/\S+): succeeded/gm)].map((m) => m[1]);
    // A name both CRMs have data for: what it stands for is said first, in the names the summaries print.
    const quotas = await sync('--stream', 'quotas');
    expect(quotas.code, quotas.stderr).toBe(0);
    expect(streamsOf(quotas.stdout)).toEqual(['sf/forecasting_quotas', 'hs-main/goal_targets']);
    expect(quotas.stderr).toContain('--stream quotas: sf/forecasting_quotas, hs-main/goal_targets\n');
    // Each printed name, pasted back: that stream alone (the connection/stream form picks the connection too).
    for (const printed of streamsOf(quotas.stdout)) {
      const again = await sync('--stream', printed as string);
      expect(again.code, again.stderr).toBe(0);
      expect(streamsOf(again.stdout)).toEqual([printed]);
      expect(again.stderr).not.toContain('--stream');
    }
    // A name only one CRM has syncs that connection, not a usage error for the other.
    const goals = await sync('--stream', 'GOAL_TARGETS');
    expect(goals.code, goals.stderr).toBe(0);
    expect(streamsOf(goals.stdout)).toEqual(['hs-main/goal_targets']);
    const activities = await sync('--stream', 'activities');
    expect(streamsOf(activities.stdout)).toEqual([
      'sf/tasks',
      'sf/events',
      'hs-main/calls',
      'hs-main/emails',
      'hs-main/meetings',
      'hs-main/tasks',
    ]);
    // Progress and summary counts share one format.
    expect(activities.stdout).toMatch(/^hs-main\/emails: succeeded; \d{1,3}(,\d{3})* read, /m);
    expect(activities.stdout).not.toMatch(/\d{4} (read|changed|API)/);

    const nope = await sync('--stream', 'nope');
    expect(nope.code).toBe(2);
    expect(nope.stderr).toMatch(
      /^unknown stream "nope"; sf: users, user_roles, opportunities, .*; hs-main: owners, deals, .*goal_targets.*; or a name for the same data in either CRM: activities, deal_history, deals, fx_rates, line_items, periods, quotas, roles, splits, users \(at --stream\)\n$/,
    );
    const clash = await sync('--stream', 'sf/opportunities', '--connection', 'hs-main');
    expect(clash.code).toBe(2);
    expect(clash.stderr).toBe(
      '--stream sf/opportunities names connection sf, but --connection is hs-main (at --stream)\n',
    );
  },
);

it.skipIf(repeatPass)(
  'HubSpot alone without start dates: config check and sync each say once that ramp cannot apply',
  {
    timeout: 240_000,
  },
  async () => {
    const alone = await createTestDatabase({ poolSize: 2 });
    try {
      const path = await configFile(
        stringify({ database: { url: alone.url }, connections: [hubspotSandboxConnection(hs, 'hs-main')] }),
      );
      const check = await runBin(['config', 'check', '--config', path], { env });
      expect(check.code, check.stderr).toBe(0);
      expect(check.stdout.match(/ramp cannot apply/g)).toHaveLength(1);
      expect(check.stdout).toContain(
        'note: ramp cannot apply to the reps of connection hs-main: HubSpot owners have no start date and there is no org file, so their quotas count in full from their first day; add a start_date column to the org file (org: { file }).',
      );
      const sync = await runBin(['sync', '--no-writeback', '--config', path], { env });
      expect(sync.code, sync.stderr).toBe(0);
      expect((sync.stdout + sync.stderr).match(/ramp cannot apply/g)).toHaveLength(1);
      expect(sync.stderr).toMatch(
        /^ramp cannot apply: none of the \d+ reps with a quota has a start date \(HubSpot owners have none\), so their quotas count in full from their first day; add a start_date column to the org file \(org: \{ file \}\)\.$/m,
      );
    } finally {
      await alone.drop();
    }
  },
);
