/**
 * One person, two CRMs (`sandbox --crm both`): one generated org split across a Salesforce sandbox and a HubSpot
 * sandbox (the same people in both, each deal, activity and lead in one, each rep's quotas in one), synced through
 * the CLI with one config holding both connections (real jsforce and @hubspot/api-client over HTTP, real
 * PostgreSQL). Then:
 * - every quota-carrying rep, team and region and the org report exactly the figures oracle's (computed from both
 *   sandboxes' stores merged, `mergeRecords`), to the cent;
 * - no deal id is in two reps' sums (the won deals of `actual`, the open deals of the pipeline), and some rep's
 *   actual adds deals of both CRMs;
 * - write-back reaches both CRMs: each active rep with a quota has its Salesforce User fields and its HubSpot
 *   scorecard, both holding the report's values;
 * - each alert is one task in one CRM: the first connection listed (Salesforce), where every manager is a user,
 *   none in HubSpot; a second sync makes none again.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspotSandboxConnection, sandboxConnection } from '../../src/cli/commands/sandbox.ts';
import { computeFigures, type Figures, mergeRecords } from '../../src/sandbox/figures.ts';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { hubspotRecords } from '../../src/sandbox/hubspot/oracle.ts';
import type { HsRecord } from '../../src/sandbox/hubspot/store.ts';
import { generateOrg, type OrgModel } from '../../src/sandbox/org/index.ts';
import { orgCsv } from '../../src/sandbox/org/org-csv.ts';
import { splitOrg } from '../../src/sandbox/org/split.ts';
import { salesforceRecords } from '../../src/sandbox/salesforce/figures.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { Dec } from '../../src/util/money.ts';
import { repeatPass } from '../helpers/ci-pass.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { differences, orgOn } from './oracle-paths.ts';
import { orgCalendar, runCliCaptured, TABLE_WITH_ADMIN, writeConfig } from './run-cli.ts';

const SEED = 3;
const AS_OF = '2026-11-20';
const NOW = '2026-11-20T15:00:00Z';
const PERIOD = 'FY2026-Q4';
const TRIALS = 200;

let org: OrgModel;
let sf: SalesforceSandbox;
let hs: HubSpotSandbox;
let oracle: Figures;
let dir: string;
let t: TestDatabase;

async function cli(
  args: string[],
  o: { now?: string; orgFile?: string; db?: TestDatabase; extra?: Record<string, unknown> } = {},
): Promise<{ code: number; out: string; err: string }> {
  const db = o.db ?? t;
  const configPath = join(dir, 'quota-tracker.yaml');
  await writeConfig(configPath, {
    database: { url: db.url },
    logLevel: 'warn',
    calendar: orgCalendar(org),
    // The oracle draws with the CRM's stage probabilities: keep the engine from calibrating them on history.
    forecast: { trials: TRIALS, calibration: { minWins: 1_000_000 }, backtest: { enabled: false } },
    // Every alert's task goes out today: the cap's holding back is another test's (alert-cap).
    alerts: { maxTasksPerManagerPerDay: 1000 },
    connections: [sandboxConnection(sf, 'sf'), hubspotSandboxConnection(hs, 'hs')],
    org: { file: o.orgFile ?? join(dir, 'org.csv') },
    ...o.extra,
  });
  return runCliCaptured(['--config', configPath, ...args], {
    now: o.now ?? NOW,
    databaseUrl: db.url,
    table: TABLE_WITH_ADMIN,
  });
}

async function json<T>(args: string[]): Promise<T> {
  const r = await cli([...args, '--format', 'json']);
  expect(r.code, r.err).toBe(0);
  return JSON.parse(r.out) as T;
}

const sfTasks = () => sf.store.all('Task').filter((r) => r.Quota_Alert_Key__c);
const hsTasks = (): HsRecord[] => [...hs.store.scan('tasks')].filter((r) => r.props.quota_alert_key);
const pct = (v: string) => Number(new Dec(v).toDecimalPlaces(4, Dec.ROUND_HALF_UP).times(100).toDecimalPlaces(2));

let firstSync = '';

/**
 * Syncs both CRMs into `db` as a service would have over the quarter: org.csv has no dates, and the warehouse dates
 * a move by the day it first sees the file say so (hubspot-reports), so the first sync reads the file as it stood at
 * the quarter's start and each move's day recomputes with that day's file. Then today's sync with today's file:
 * recompute, write-back to both CRMs, alert tasks. Returns that sync's output.
 */
async function warehouse(db: TestDatabase, csvOn: (date: string) => string): Promise<string> {
  const m = await cli(['migrate'], { db });
  expect(m.code, m.err).toBe(0);
  const file = async (date: string): Promise<string> => {
    const path = join(dir, `org-${date}.csv`);
    await writeFile(path, csvOn(date));
    return path;
  };
  const r = await cli(['sync', '--no-writeback'], { db, orgFile: await file(oracle.period.start) });
  expect(r.code, `${r.out}\n${r.err}`).toBe(0);
  const moveDays = [
    ...new Set(
      org.people.flatMap((p) =>
        p.teamHistory.slice(1).flatMap((s) => (s.from > oracle.period.start && s.from <= AS_OF ? [s.from] : [])),
      ),
    ),
  ].sort();
  for (const day of moveDays) {
    const x = await cli(['recompute'], { db, now: `${day}T15:00:00Z`, orgFile: await file(day) });
    expect(x.code, x.err).toBe(0);
  }
  sf.log.clear();
  hs.log.clear();
  const s = await cli(['sync'], { db, orgFile: await file(AS_OF) });
  expect(s.code, `${s.out}\n${s.err}`).toBe(0);
  return s.out;
}
/** The first write-back's calls, as each sandbox logged them. */
let writeCalls = { sfComposite: 0, hsUpserts: 0 };

beforeAll(async () => {
  org = generateOrg({ seed: SEED, size: 'small', anchorDate: AS_OF });
  const parts = splitOrg(org);
  sf = await startSalesforceSandbox({ seed: SEED, size: 'small', org: parts.first });
  hs = await startHubSpotSandbox({
    seed: SEED,
    size: 'small',
    anchorDate: AS_OF,
    org: parts.second,
    rateLimits: { tenSecondly: 100_000, searchPerSecond: 10_000 },
  });
  // Deals by the ids the warehouse keys them by (each CRM's own), so the forecast's seeded draws repeat the engine's.
  const sfIds = new Map(sf.store.all('Opportunity').map((o) => [String(o.Id), String(o.Id)]));
  oracle = computeFigures(org, mergeRecords([salesforceRecords(sf.store, sfIds), hubspotRecords(hs.store, 'crm')]), {
    asOf: AS_OF,
    forecastTrials: TRIALS,
  });
  dir = await mkdtemp(join(tmpdir(), 'qt-both-'));
  await writeFile(join(dir, 'org.csv'), orgCsv(org));
  t = await createTestDatabase({ poolSize: 4 });
  firstSync = await warehouse(t, (date) => orgCsv(orgOn(org, date)));
  writeCalls = {
    sfComposite: sf.log.entries().filter((e) => e.path.includes('/composite/sobjects') && e.method === 'PATCH').length,
    hsUpserts: hs.log
      .entries()
      .filter((e) => e.method === 'POST' && /^\/crm\/v3\/objects\/2-\d+\/batch\/upsert$/.test(e.path)).length,
  };
}, 300_000);

afterAll(async () => {
  await t?.drop();
  await hs?.close();
  await sf?.close();
});

describe.skipIf(repeatPass)('one org split across Salesforce and HubSpot', () => {
  it('the split puts deals and quotas in both CRMs and the same people in each', () => {
    expect(sf.store.all('Opportunity').length).toBeGreaterThan(100);
    expect([...hs.store.scan('deals')].length).toBeGreaterThan(100);
    expect(sf.store.all('ForecastingQuota').length).toBeGreaterThan(0);
    expect([...hs.store.scan('goal_targets')].length).toBeGreaterThan(0);
    expect(Object.keys(oracle.reps).length).toBeGreaterThan(10);
  });

  it('every rep, team and region and the org equal the oracle of both CRMs merged', async () => {
    const diffs: Record<string, unknown> = {};
    for (const [email, expected] of Object.entries(oracle.reps)) {
      const d = differences(expected, await json(['report', 'rep', '--rep', email]));
      if (Object.keys(d).length) diffs[email] = d;
    }
    for (const team of org.teams) {
      const doc = await json<{ totals: unknown }>(['report', 'team', '--team', team.name]);
      const d = differences(oracle.teams[team.key] ?? {}, doc.totals);
      if (Object.keys(d).length) diffs[`team ${team.name}`] = d;
    }
    for (const region of org.regions) {
      const doc = await json<{ totals: unknown }>(['report', 'region', '--region', region.name]);
      const d = differences(oracle.regions[region.key] ?? {}, doc.totals);
      if (Object.keys(d).length) diffs[`region ${region.name}`] = d;
    }
    const d = differences(oracle.org, (await json<{ totals: unknown }>(['report', 'org'])).totals);
    if (Object.keys(d).length) diffs.org = d;
    expect(diffs).toEqual({});
  }, 300_000);

  it('no deal id is in two reps sums, and a rep adds up deals of both CRMs', async () => {
    const owner = new Map<string, string>();
    const twice: string[] = [];
    const sfIds = new Set(sf.store.all('Opportunity').map((o) => String(o.Id)));
    const hsIds = new Set([...hs.store.scan('deals')].map((d) => String(d.id)));
    let mixed = 0;
    let summed = 0;
    for (const email of Object.keys(oracle.reps)) {
      type Sums = { sums?: Array<{ deals: string[] }> };
      const doc = await json<{ explain: { figures: Record<string, Sums> } }>([
        'report',
        'rep',
        '--rep',
        email,
        '--explain',
      ]);
      const actual = (doc.explain.figures.actual?.sums ?? []).flatMap((s) => s.deals);
      const open = (doc.explain.figures['pipeline.open']?.sums ?? []).flatMap((s) => s.deals);
      for (const id of new Set([...actual, ...open])) {
        const first = owner.get(id);
        if (first !== undefined && first !== email) twice.push(`${id}: ${first} and ${email}`);
        owner.set(id, email);
        summed++;
      }
      if (actual.some((id) => sfIds.has(id)) && actual.some((id) => hsIds.has(id))) mixed++;
      expect(actual.every((id) => sfIds.has(id) || hsIds.has(id))).toBe(true);
    }
    console.log(
      `both CRMs: ${summed} deals in ${Object.keys(oracle.reps).length} reps' sums, ${mixed} reps mixing both`,
    );
    expect(twice).toEqual([]);
    expect(mixed).toBeGreaterThan(0);
  }, 300_000);

  it('write-back reaches both CRMs: User fields in Salesforce, a scorecard in HubSpot, the report values in each', async () => {
    expect(firstSync).toMatch(/sf: write-back run #\d+: [1-9]/);
    expect(firstSync).toMatch(/hs: write-back run #\d+: [1-9]/);
    const users = new Map(sf.store.all('User').map((u) => [String(u.Email).toLowerCase(), u]));
    const owners = new Map([...hs.store.owners.values()].map((o) => [o.email.toLowerCase(), String(o.id)]));
    const cards = new Map([...hs.store.scan('quota_scorecard')].map((c) => [c.props.qt_key, c]));
    const active = org.people.filter((p) => p.endDate === null || p.endDate > AS_OF);
    let checked = 0;
    for (const p of active) {
      const email = p.email.toLowerCase();
      if (!oracle.reps[email]?.quota) continue;
      const doc = await json<{ attainment: string | null; status: string }>(['report', 'rep', '--rep', email]);
      const user = users.get(email);
      const card = cards.get(`${owners.get(email)}:${PERIOD}`);
      expect(user, email).toBeTruthy();
      expect(card, email).toBeTruthy();
      expect(user!.Quota_Status__c, email).toBe(doc.status);
      expect(card!.props.qt_status, email).toBe(doc.status);
      if (doc.attainment !== null) {
        expect(Number(user!.Quota_Attainment__c), email).toBe(pct(doc.attainment));
        expect(Number(card!.props.qt_attainment), email).toBe(pct(doc.attainment));
      }
      checked++;
    }
    console.log(
      `both CRMs: ${checked} reps written to Salesforce User fields (${writeCalls.sfComposite} composite calls) and to HubSpot scorecards (${writeCalls.hsUpserts} batch upserts)`,
    );
    expect(checked).toBeGreaterThan(10);
    expect(writeCalls.sfComposite).toBeGreaterThan(0);
    expect(writeCalls.hsUpserts).toBe(1);
  }, 300_000);

  it('each alert is one task in one CRM: the first connection, Salesforce', async () => {
    const rows = await t.db
      .selectFrom('alert_tasks as at')
      .innerJoin('alerts as a', 'a.id', 'at.alert_id')
      .select(['at.connection_id', 'at.task_external_key', 'at.crm_task_id', 'a.subject_id'])
      .execute();
    const open = await t.db
      .selectFrom('alerts')
      .select(['id'])
      .where('subject_kind', '=', 'rep')
      .where('status', 'in', ['open', 'escalated'])
      .execute();
    expect(rows.length).toBeGreaterThan(0);
    expect(new Set(rows.map((r) => r.connection_id))).toEqual(new Set(['sf']));
    expect(rows.every((r) => r.crm_task_id !== null)).toBe(true);
    const keys = sfTasks().map((x) => String(x.Quota_Alert_Key__c));
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.sort()).toEqual(rows.map((r) => r.task_external_key).sort());
    expect(hsTasks()).toEqual([]);
    console.log(`both CRMs: ${open.length} open alerts, ${rows.length} tasks, all in Salesforce, none in HubSpot`);
    expect(rows.length).toBeGreaterThanOrEqual(open.length);
    // A second sync (a restart): no task again, in either CRM.
    const again = await cli(['sync']);
    expect(again.code, again.err).toBe(0);
    expect(sfTasks().length).toBe(keys.length);
    expect(hsTasks()).toEqual([]);
  }, 300_000);
});

describe.skipIf(repeatPass)('org.csv binds a person whose emails differ across the CRMs', () => {
  let t2: TestDatabase;
  let email = '';
  let ownerId = '';
  let sync = '';
  let upsertIds: Array<{ id: string; properties: Record<string, string> }> = [];

  beforeAll(async () => {
    // The rep with the most HubSpot deals; HubSpot now knows them by another address.
    const owners = [...hs.store.owners.values()];
    const dealsOf = (id: number) => [...hs.store.scan('deals')].filter((d) => d.props.hubspot_owner_id === String(id));
    const owner = owners
      .filter((o) => oracle.reps[o.email.toLowerCase()]?.quota && !o.archived)
      .sort((a, b) => dealsOf(b.id).length - dealsOf(a.id).length)[0]!;
    email = owner.email.toLowerCase();
    ownerId = String(owner.id);
    owner.email = email.replace('@', '.hs@');
    owner.updatedAt = hs.store.now().getTime();
    // org.csv binds that owner id to the person's row; every other row is matched by email as before.
    const bind = (csv: string) =>
      csv
        .trimEnd()
        .split('\n')
        .map((line, i) =>
          i === 0 ? `${line},hubspot_owner_id` : line.startsWith(`${email},`) ? `${line},${ownerId}` : `${line},`,
        )
        .join('\n');
    expect(bind(orgCsv(org))).toContain(`,${ownerId}`);
    t2 = await createTestDatabase({ poolSize: 4 });
    sync = await warehouse(t2, (date) => bind(orgCsv(orgOn(org, date))));
    upsertIds = hs.log
      .entries()
      .filter((e) => e.method === 'POST' && /^\/crm\/v3\/objects\/2-\d+\/batch\/upsert$/.test(e.path))
      .flatMap((e) => (e.requestBody as { inputs: Array<{ id: string; properties: Record<string, string> }> }).inputs);
  }, 300_000);

  afterAll(async () => {
    await t2?.drop();
  });

  it('is one person: their figures and their team the oracle, HubSpot deals included, no second person', async () => {
    const rep = await cli(['report', 'rep', '--rep', email, '--format', 'json', '--explain'], { db: t2 });
    expect(rep.code, rep.err).toBe(0);
    const doc = JSON.parse(rep.out) as {
      attainment: string | null;
      subject: { team: string };
      explain: { deals: Array<{ id: string }> };
    };
    expect(differences(oracle.reps[email]!, doc)).toEqual({});
    const hsIds = new Set([...hs.store.scan('deals')].map((d) => String(d.id)));
    expect(doc.explain.deals.filter((d) => hsIds.has(d.id)).length).toBeGreaterThan(0);
    const team = org.teams.find((x) => x.name === doc.subject.team)!;
    const teamDoc = await cli(['report', 'team', '--team', team.name, '--format', 'json'], { db: t2 });
    expect(teamDoc.code, teamDoc.err).toBe(0);
    expect(differences(oracle.teams[team.key]!, (JSON.parse(teamDoc.out) as { totals: unknown }).totals)).toEqual({});
    const persons = await t2.db.selectFrom('persons').select('email').execute();
    expect(persons.filter((p) => p.email.toLowerCase() === email.replace('@', '.hs@'))).toEqual([]);
    // The person's scorecard in HubSpot is the bound owner's, with the person's figures.
    expect(sync).toMatch(/hs: write-back run #\d+: [1-9]/);
    const card = upsertIds.find((i) => i.id === `${ownerId}:${PERIOD}`);
    expect(card, `${ownerId}:${PERIOD}`).toBeTruthy();
    if (doc.attainment !== null) expect(Number(card!.properties.qt_attainment)).toBe(pct(doc.attainment));
  }, 300_000);
});

describe.skipIf(repeatPass)('a person with a quota in both CRMs: quotas.preferConnection says whose counts', () => {
  let email = '';
  const HS_AMOUNT = '777000.00';

  beforeAll(async () => {
    // A rep whose quota this quarter is in Salesforce, in the org's own currency; HubSpot gets one too, another amount.
    const users = new Map(sf.store.all('User').map((u) => [String(u.Id), String(u.Email).toLowerCase()]));
    const sfQuota = sf.store
      .all('ForecastingQuota')
      .find(
        (q) =>
          q.StartDate === oracle.period.start &&
          q.CurrencyIsoCode === org.corporateCurrency &&
          !q.ProductFamily &&
          [...hs.store.owners.values()].some((o) => o.email.toLowerCase() === users.get(String(q.QuotaOwnerId))) &&
          oracle.reps[users.get(String(q.QuotaOwnerId)) ?? '']?.quota === new Dec(String(q.QuotaAmount)).toFixed(2),
      )!;
    email = users.get(String(sfQuota.QuotaOwnerId))!;
    const owner = [...hs.store.owners.values()].find((o) => o.email.toLowerCase() === email)!;
    const model = [...hs.store.scan('goal_targets')].find(
      (g) => g.props.hs_start_datetime?.slice(0, 10) === oracle.period.start,
    )!;
    hs.store.create('goal_targets', {
      ...model.props,
      hs_goal_name: `${PERIOD} quota: ${email}`,
      hs_assignee_user_id: String(owner.userIdIncludingInactive),
      hs_target_amount: HS_AMOUNT,
      hs_goal_target_currency_code: org.corporateCurrency,
      hs_target_amount_in_home_currency: HS_AMOUNT,
    });
    expect(HS_AMOUNT).not.toBe(oracle.reps[email]!.quota);
    const r = await cli(['sync']);
    expect(r.code, `${r.out}\n${r.err}`).toBe(0);
  }, 300_000);

  const quota = async (extra: Record<string, unknown>) => {
    const r = await cli(['recompute'], { extra });
    expect(r.code, r.err).toBe(0);
    const doc = await cli(['report', 'rep', '--rep', email, '--format', 'json'], { extra });
    expect(doc.code, doc.err).toBe(0);
    return (JSON.parse(doc.out) as { quota: string | null }).quota;
  };

  it('the first connection listed by default, the one named when set; never both added', async () => {
    expect(await quota({})).toBe(oracle.reps[email]!.quota);
    expect(await quota({ quotas: { source: 'crm', preferConnection: 'sf' } })).toBe(oracle.reps[email]!.quota);
    expect(await quota({ quotas: { source: 'crm', preferConnection: 'hs' } })).toBe(HS_AMOUNT);
    console.log(
      `both CRMs: ${email}: quota ${oracle.reps[email]!.quota} from sf (default), ${HS_AMOUNT} with preferConnection: hs`,
    );
  }, 300_000);

  it('an unknown connection id is a config error naming the key', async () => {
    const r = await cli(['recompute'], { extra: { quotas: { source: 'crm', preferConnection: 'nope' } } });
    expect(r.code).toBe(2);
    expect(r.err).toContain('quotas.preferConnection');
    expect(r.err).toContain('there is no connection "nope" (connections: sf, hs)');
  });
});
