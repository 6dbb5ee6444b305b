/**
 * HubSpot write-back end to end through the CLI (real @hubspot/api-client over HTTP to the sandbox, real
 * PostgreSQL): a portal with no scorecard object, `migrate` then `sync` makes the Quota scorecard object and writes
 * every rep with a quota in ceil(N/100) successful batch upserts, values equal to `report rep --format json` in the
 * properties' units (percents ×100); a second sync makes no write call; after one open deal's amount changes, one
 * call carrying only that rep's changed values. Alert tasks: exactly one per at-risk rep with a manager, owned by
 * the manager, naming the rep, through a 503 on the first scorecard write and a 207 failing one task of the first
 * create; none duplicated by the next runs. `setup hubspot` is idempotent; `writeback.target: off` writes nothing.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspotSandboxConnection } from '../../src/cli/commands/sandbox.ts';
import { clockStartingAt, setClock } from '../../src/clock.ts';
import { validateConfig } from '../../src/config/load.ts';
import { HubSpotClient } from '../../src/connectors/hubspot/client.ts';
import { hubspotWritePort } from '../../src/connectors/hubspot/write.ts';
import { createPipeline } from '../../src/jobs/pipeline.ts';
import type { JobContext } from '../../src/jobs/runtime.ts';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { lifeChanges } from '../../src/sandbox/hubspot/life.ts';
import type { HsRecord } from '../../src/sandbox/hubspot/store.ts';
import { writeOrgCsv } from '../../src/sandbox/org/org-csv.ts';
import { silentLogger } from '../../src/util/log.ts';
import { Dec } from '../../src/util/money.ts';
import { repeatPass } from '../helpers/ci-pass.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { orgCalendar, runCliCaptured, TABLE_WITH_ADMIN, writeConfig } from './run-cli.ts';

// `migrate` as the binary runs it (the shared test table leaves it out).

const ANCHOR = '2026-11-20';
const NOW = '2026-11-20T15:00:00Z';
const PERIOD = 'FY2026-Q4';

let sb: HubSpotSandbox;
let t: TestDatabase;
let dir: string;
let orgModel: HubSpotSandbox['org'];

async function cli(
  args: string[],
  o: { target?: 'custom_object' | 'off'; db?: TestDatabase } = {},
): Promise<{ code: number; out: string; err: string }> {
  const db = o.db ?? t;
  const configPath = join(dir, `config-${o.target ?? 'default'}.yaml`);
  const org = orgModel!;
  await writeConfig(configPath, {
    database: { url: db.url },
    logLevel: 'warn',
    calendar: orgCalendar(org),
    forecast: { trials: 100, backtest: { enabled: false } },
    connections: [{ ...hubspotSandboxConnection(sb, 'hs'), ...(o.target ? { writeback: { target: o.target } } : {}) }],
    org: { file: join(dir, 'org.csv') },
  });
  return runCliCaptured(['--config', configPath, ...args], {
    now: NOW,
    databaseUrl: db.url,
    table: TABLE_WITH_ADMIN,
  });
}

const upserts = () =>
  sb.log.entries().filter((e) => e.method === 'POST' && /^\/crm\/v3\/objects\/2-\d+\/batch\/upsert$/.test(e.path));
const scorecards = (): HsRecord[] => [...sb.store.scan('quota_scorecard')];
const tasksWithKey = (): HsRecord[] => [...sb.store.scan('tasks')].filter((r) => r.props.quota_alert_key);

beforeAll(async () => {
  sb = await startHubSpotSandbox({
    seed: 42,
    size: 'small',
    anchorDate: ANCHOR,
    // The 10-second and search limits are the retry policy's to wait out (hubspot-faults); these runs read faster.
    rateLimits: { tenSecondly: 100_000, searchPerSecond: 10_000 },
  });
  orgModel = sb.org;
  dir = await mkdtemp(join(tmpdir(), 'qt-hs-write-'));
  await writeOrgCsv(sb.org!, join(dir, 'org.csv'));
  t = await createTestDatabase({ poolSize: 4 });
}, 120_000);

afterAll(async () => {
  await t?.drop();
  await sb?.close();
});

describe.skipIf(repeatPass)('HubSpot write-back', () => {
  it('setup hubspot makes the scorecard object and the task property once; a second run makes nothing', async () => {
    const other = await startHubSpotSandbox({ seed: 42, size: 'small', anchorDate: ANCHOR, populate: false });
    const saved = sb;
    sb = other;
    try {
      const first = await cli(['setup', 'hubspot']);
      expect(first.code, first.err).toBe(0);
      expect(first.out).toMatch(/created custom object quota_scorecard \(2-\d+\)/);
      expect(first.out).toMatch(/created task property quota_alert_key/);
      const second = await cli(['setup', 'hubspot']);
      expect(second.code, second.err).toBe(0);
      expect(second.out).toMatch(/nothing to make/);
      expect(second.out).not.toMatch(/created/);
    } finally {
      sb = saved;
      await other.close();
    }
  }, 60_000);

  it('writes every rep with a quota in ceil(N/100) calls, then nothing, then one call for one changed rep', async () => {
    const m = await cli(['migrate']);
    expect(m.code, `${m.out}\n${m.err}`).toBe(0);
    // The fault run: the first scorecard write answers 503 (retried), the first task create a 207 failing one task.
    sb.faults.add({ kind: 'unavailable_503', method: 'POST', path: '/batch/upsert', count: 1 });
    sb.faults.add({ kind: 'input_error_207', method: 'POST', path: '/crm/v3/objects/tasks/batch/create', count: 1 });
    sb.log.clear();
    const first = await cli(['sync']);
    expect(first.code, `${first.out}\n${first.err}`).toBe(0);
    const withQuota = await t.db
      .selectFrom('metric_snapshots')
      .select(['subject_id'])
      .where('subject_kind', '=', 'rep')
      .where('period_id', '=', PERIOD)
      .where(sql`metrics->>'quota'`, 'is not', null)
      .execute();
    // Every rep still here with a quota this quarter has a scorecard (someone who left is never written).
    const active = await t.db
      .selectFrom('reps')
      .select(['external_id', 'person_id'])
      .where('connection_id', '=', 'hs')
      .where('is_active', '=', true)
      .where('is_deleted', '=', false)
      .execute();
    const quotaSubjects = new Set(withQuota.map((w) => w.subject_id));
    const owed = active.filter((r) =>
      quotaSubjects.has(r.person_id === null ? `hs:${r.external_id}` : `person:${r.person_id}`),
    );
    const cards = scorecards();
    expect(owed.length).toBeGreaterThan(0);
    const carded = new Set(cards.map((c) => c.props.hubspot_owner_id));
    expect(owed.filter((r) => !carded.has(r.external_id))).toEqual([]);
    const ok = upserts().filter((e) => e.status === 200);
    expect(ok.length).toBe(Math.ceil(cards.length / 100));
    expect(upserts().filter((e) => e.status === 503).length).toBe(1);
    // Each scorecard is the rep's own, keyed ownerId:period, and named after the rep and the period.
    for (const c of cards) expect(c.props.qt_key).toBe(`${c.props.hubspot_owner_id}:${PERIOD}`);
    const names = new Map(
      (await t.db.selectFrom('reps').select(['external_id', 'name']).where('connection_id', '=', 'hs').execute()).map(
        (r) => [r.external_id, r.name],
      ),
    );
    for (const c of cards) {
      const name = names.get(c.props.hubspot_owner_id ?? '');
      expect(name, c.props.qt_key ?? '').toMatch(/\S \S/);
      expect(c.props.qt_name).toBe(`${name} · ${PERIOD}`);
    }

    // Values equal the rep report's, in the properties' units.
    const reps = await t.db
      .selectFrom('reps')
      .select(['external_id', 'email'])
      .where('connection_id', '=', 'hs')
      .execute();
    const pct = (v: string) => Number(new Dec(v).toDecimalPlaces(4, Dec.ROUND_HALF_UP).times(100).toDecimalPlaces(2));
    let compared = 0;
    for (const c of cards.slice(0, 3)) {
      const email = reps.find((r) => r.external_id === c.props.hubspot_owner_id)?.email;
      expect(email).toBeTruthy();
      const r = await cli(['report', 'rep', '--rep', email!, '--format', 'json', '--as-of', ANCHOR]);
      expect(r.code, r.err).toBe(0);
      const doc = JSON.parse(r.out) as { attainment: string | null; paceIndex: string | null; status: string };
      if (doc.attainment !== null) expect(Number(c.props.qt_attainment)).toBe(pct(doc.attainment));
      if (doc.paceIndex !== null) expect(Number(c.props.qt_pace)).toBe(pct(doc.paceIndex));
      expect(c.props.qt_status).toBe(doc.status);
      compared++;
    }
    expect(compared).toBe(3);

    // A second sync: nothing changed, no write call.
    sb.log.clear();
    const second = await cli(['sync']);
    expect(second.code, second.err).toBe(0);
    expect(upserts().length).toBe(0);

    // One open deal's amount changes: one call, that rep's changed values only.
    const deal = [...sb.store.scan('deals')].find(
      (d) =>
        d.props.hs_is_closed === 'false' &&
        (d.props.closedate ?? '') >= '2026-11-21' &&
        (d.props.closedate ?? '') < '2026-12-31' &&
        d.props.amount &&
        cards.some((c) => c.props.hubspot_owner_id === d.props.hubspot_owner_id),
    );
    expect(deal).toBeTruthy();
    lifeChanges(sb.store).setAmount(String(deal!.id), String(Number(deal!.props.amount) * 3));
    sb.log.clear();
    const third = await cli(['sync']);
    expect(third.code, third.err).toBe(0);
    const calls = upserts();
    expect(calls.length).toBe(1);
    const inputs = (calls[0]!.requestBody as { inputs: Array<{ id: string; properties: Record<string, string> }> })
      .inputs;
    expect(inputs.map((i) => i.id)).toEqual([`${deal!.props.hubspot_owner_id}:${PERIOD}`]);
    // Attainment, pace and rank do not move with an open deal's amount.
    expect(Object.keys(inputs[0]!.properties)).not.toContain('qt_attainment');
    expect(Object.keys(inputs[0]!.properties)).not.toContain('qt_rank');

    // Tasks: exactly one per at-risk rep with a manager, owned by the manager, naming the rep, no key twice.
    const keyed = tasksWithKey();
    const keys = keyed.map((k) => k.props.quota_alert_key);
    expect(new Set(keys).size).toBe(keys.length);
    const rows = await t.db
      .selectFrom('alert_tasks as at')
      .innerJoin('alerts as a', 'a.id', 'at.alert_id')
      .select(['at.crm_task_id', 'at.assignee_external_id', 'a.rule', 'a.subject_id'])
      .where('at.connection_id', '=', 'hs')
      .execute();
    const atRisk = rows.filter((r) => r.rule === 'at_risk_rep');
    console.log(
      `HubSpot write-back: ${cards.length} scorecards, ${keyed.length} alert tasks (${atRisk.length} at risk)`,
    );
    expect(atRisk.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.crm_task_id !== null)).toBe(true);
    // The recipient is the manager org.csv names for the rep's team, as the owner they are in HubSpot.
    const people = await t.db
      .selectFrom('reps')
      .select(['external_id', 'person_id', 'email', 'name'])
      .where('connection_id', '=', 'hs')
      .execute();
    const byPerson = new Map(people.map((p) => [`person:${p.person_id}`, p]));
    const ownerByEmail = new Map(people.map((p) => [p.email?.toLowerCase(), p.external_id]));
    const model = new Map(orgModel!.people.map((p) => [p.email.toLowerCase(), p]));
    const keyOf = new Map(orgModel!.people.map((p) => [p.key, p]));
    for (const r of atRisk) {
      const rep = byPerson.get(r.subject_id);
      expect(rep, r.subject_id).toBeTruthy();
      const manager = keyOf.get(model.get(rep!.email!.toLowerCase())?.managerKey ?? '');
      expect(manager, `manager of ${rep!.email}`).toBeTruthy();
      const task = keyed.find((k) => String(k.id) === r.crm_task_id);
      expect(task, `task ${r.crm_task_id}`).toBeTruthy();
      expect(task!.props.hubspot_owner_id).toBe(ownerByEmail.get(manager!.email.toLowerCase()));
      expect(task!.props.hs_task_subject).toContain(`At risk: ${rep!.name} (FY2026-Q4)`);
      expect(task!.props.hs_task_status).toBe('NOT_STARTED');
    }
    // One task per at-risk rep: no rep has two at-risk tasks.
    expect(new Set(atRisk.map((r) => r.subject_id)).size).toBe(atRisk.length);
    expect(keyed.length).toBe(rows.length);
    // Another run (a restart): nothing duplicated.
    const again = await cli(['sync']);
    expect(again.code, again.err).toBe(0);
    expect(tasksWithKey().length).toBe(keyed.length);
  }, 600_000);

  it('the write port sends 250 scorecards in 3 calls and reads a 207 per input', async () => {
    const client = new HubSpotClient({ accessToken: sb.credentials.accessToken, basePath: sb.url, log: silentLogger });
    const port = hubspotWritePort(
      client,
      {
        log: silentLogger,
        writeback: { target: 'custom_object', fields: {} },
        periodBounds: () => ({ start: '2027-01-01', end: '2027-03-31' }),
      },
      'hs',
    );
    const intents = Array.from({ length: 250 }, (_, i) => ({
      targetObject: 'quota_scorecard',
      targetRecordId: `${900_000 + i}:FY2027-Q1`,
      fields: { qt_attainment: i, qt_status: 'on_track' },
    }));
    const seen: Array<number | null> = [];
    const guard = { beforeCall: async () => {}, afterCall: (s: number | null) => void seen.push(s) };
    sb.log.clear();
    sb.faults.add({ kind: 'input_error_207', method: 'POST', path: '/batch/upsert', skip: 1, count: 1 });
    const results = await port.write(intents, guard);
    expect(upserts().map((e) => e.status)).toEqual([200, 207, 200]);
    expect(seen).toEqual([200, 207, 200]);
    // The second call's first input (the 101st) failed, alone; the others were written.
    const failed = results.filter((r) => !r.ok);
    expect(failed.map((r) => [r.targetRecordId, r.errorCode])).toEqual([['900100:FY2027-Q1', 'VALIDATION_ERROR']]);
    expect(results.filter((r) => r.ok).length).toBe(249);
    expect(scorecards().filter((c) => c.props.qt_period === 'FY2027-Q1').length).toBe(249);
  }, 60_000);

  it('a batch refused whole (400) for one bad input is sent again in halves: the others are written, that one fails', async () => {
    const client = new HubSpotClient({ accessToken: sb.credentials.accessToken, basePath: sb.url, log: silentLogger });
    const port = hubspotWritePort(
      client,
      {
        log: silentLogger,
        writeback: { target: 'custom_object', fields: {} },
        periodBounds: () => ({ start: '2027-04-01', end: '2027-06-30' }),
      },
      'hs',
    );
    const intents = Array.from({ length: 8 }, (_, i) => ({
      targetObject: 'quota_scorecard',
      targetRecordId: `${910_000 + i}:FY2027-Q2`,
      fields: { qt_attainment: i, qt_status: 'on_track' },
    }));
    sb.log.clear();
    // The first input of the batch is the one HubSpot will not take.
    sb.faults.add({ kind: 'poison_input_400', method: 'POST', path: '/batch/upsert' });
    try {
      const results = await port.write(intents, { beforeCall: async () => {}, afterCall: () => {} });
      const failed = results.filter((r) => !r.ok);
      expect(failed.map((r) => [r.targetRecordId, r.retryable])).toEqual([['910000:FY2027-Q2', false]]);
      expect(results.filter((r) => r.ok).length).toBe(7);
      expect(scorecards().filter((c) => c.props.qt_period === 'FY2027-Q2').length).toBe(7);
      // 8 refused, 4 refused + 4 written, 2 refused + 2 written, 1 refused + 1 written: log2(8) + 1 rounds.
      expect(upserts().map((e) => e.status)).toEqual([400, 400, 400, 400, 200, 200, 200]);
    } finally {
      sb.faults.clear();
    }
  }, 60_000);

  it('writeback.target off: no write-back job is queued and no scorecard call reaches HubSpot; tasks still go', async () => {
    const db = await createTestDatabase({ poolSize: 4 });
    try {
      sb.log.clear();
      const r = await cli(['sync'], { target: 'off', db });
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/write-back skipped: writeback.target is off/);
      // The service: the daily recompute queues write-back for every connection whose scores have somewhere to go,
      // and alert delivery for those receiving tasks.
      const config = validateConfig({
        database: { url: db.url },
        calendar: {
          type: 'calendar',
          fiscalYearStartMonth: 1,
          timezone: orgModel!.timezone,
          baseCurrency: orgModel!.corporateCurrency,
        },
        forecast: { trials: 100, backtest: { enabled: false } },
        alerts: { maxTasksPerManagerPerDay: 1000 },
        connections: [{ ...hubspotSandboxConnection(sb, 'hs'), writeback: { target: 'off' } }],
        org: { file: join(dir, 'org.csv') },
      });
      const queued: Array<{ name: string; payload: unknown }> = [];
      const job = {
        jobId: 'test',
        attempt: 1,
        log: silentLogger,
        enqueue: async (name: string, payload: unknown) => {
          queued.push({ name, payload });
          return 'id';
        },
      } as unknown as JobContext;
      setClock(clockStartingAt(NOW));
      const pipeline = createPipeline({ db: db.db, config, log: silentLogger });
      await pipeline.handlers['daily-recompute']({ v: 1 }, job);
      expect(queued.filter((q) => q.name === 'writeback')).toEqual([]);
      const delivered = (await pipeline.handlers['deliver-alerts']({ v: 1 }, job)) as Record<string, unknown>;
      expect(Object.keys(delivered)).toEqual(['hs']);
      // A write-back job queued before the setting changed finds nothing to do and calls nobody.
      const before = sb.log.entries().length;
      expect(await pipeline.handlers.writeback({ v: 1, connectionId: 'hs' }, job)).toEqual({
        skipped: 'writeback.target is off (scores stay in the reports)',
      });
      expect(sb.log.entries().length).toBe(before);
      const scorecardCalls = sb.log
        .entries()
        .filter((e) => /\/crm\/v3\/(schemas|objects\/(2-\d+|quota_scorecard|p\d+_quota_scorecard))/.test(e.path));
      expect(scorecardCalls).toEqual([]);
      expect(await db.db.selectFrom('writeback_runs').select('id').execute()).toEqual([]);
      // The managers' tasks still went, to HubSpot.
      const taskCalls = sb.log
        .entries()
        .filter((e) => e.method === 'POST' && e.path.startsWith('/crm/v3/objects/tasks'));
      const tasks = await db.db.selectFrom('alert_tasks').select('crm_task_id').execute();
      console.log(
        `HubSpot target off: ${sb.log.entries().length} calls, 0 to the scorecard, ${taskCalls.length} task calls, ${tasks.length} tasks`,
      );
      expect(tasks.length).toBeGreaterThan(0);
      expect(taskCalls.length).toBeGreaterThan(0);
    } finally {
      setClock(undefined);
      await db.drop();
    }
  }, 300_000);
});
