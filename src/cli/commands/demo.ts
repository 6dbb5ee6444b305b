/**
 * `quota-tracker demo [--seed N]`: the README's main job on embedded defaults, with nothing installed but
 * `npm install`: a generated sales org behind the Salesforce sandbox, the embedded PostgreSQL server, BullMQ on its
 * PostgreSQL backend, and one full pipeline through the real job workers (sync every stream, recompute the
 * metrics, write the scores back to the reps' User records, alert tasks for their managers), then the team
 * dashboard: the text of `report team` for the team with the most quota-carrying reps (ties by name), or of
 * `report org` when no team has any.
 *
 * `--crm both` puts one org split across the Salesforce and the HubSpot sandbox (`sandbox --crm both`) behind two
 * connections synced at once, with the org file HubSpot's hierarchy comes from; every report then says which
 * connection each figure's quota and deals came from (reports/sources.ts).
 *
 * The demo uses a database of its own (`quota_tracker_demo`), emptied at each run, so it never mixes with a real
 * warehouse and a different `--seed` (a different org) starts clean. `QUOTA_TRACKER_DEMO_SEED` sets the seed too.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { type Config, configSchema } from '../../config/schema.ts';
import type { Database } from '../../db/schema.ts';
import { SECRET_KEY_ENV } from '../../db/secrets.ts';
import { AppError } from '../../errors.ts';
import type { JsonObject } from '../../metrics/document.ts';
import type { SubjectDoc } from '../../reports/layout.ts';
import { createLogger, type Logger } from '../../util/log.ts';
import type { CommandContext } from '../program.ts';
import { hubspotSandboxConnection, sandboxConnection, sandboxProfileKeys } from './sandbox.ts';

export const DEMO_DATABASE = 'quota_tracker_demo';

/** The CRMs `demo --crm` runs on: the Salesforce sandbox, or one org split across both (`sandbox --crm both`). */
export const DEMO_CRMS = ['salesforce', 'both'] as const;
export type DemoCrm = (typeof DEMO_CRMS)[number];

export interface DemoOptions {
  seed: number;
  /** Which sandbox CRMs (default salesforce). */
  crm?: DemoCrm;
  /** A sandbox org profile (src/sandbox/salesforce/profiles.ts); default the default org. */
  profile?: string;
  log: Logger;
  /** PostgreSQL server to put the demo database on; default the embedded server. */
  databaseUrl?: string;
  /** Embedded server data directory (default ./.quota-tracker/pg). */
  dataDir?: string;
  /** Progress lines (stderr in the CLI). */
  progress?: (line: string) => void;
  /** The database to (re)create for the demo; default `quota_tracker_demo` (tests running side by side pass their own). */
  database?: string;
  /** Keep the database and sandbox open and hand them to the caller (tests compare with reports). */
  keepOpen?: boolean;
}

export interface DemoResult {
  asOf: string;
  /** The dashboard text printed. */
  text: string;
  /** The report document the dashboard was printed from, by team name (`(org)` for the org report). */
  teams: Map<string, JsonObject>;
  summary: { records: number; snapshots: number; written: number; writebackCalls: number; tasks: number };
  db?: Kysely<Database>;
  /** With `keepOpen`: the demo's config (for a web server over its database). */
  config?: Config;
  close(): Promise<void>;
}

async function recreateDatabase(adminUrl: string, name: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
}

/**
 * Waits until nobody is connected to `name` any more. A pg pool's end() resolves once it has asked its clients to
 * close, before the server has seen them go; stopping the server right then terminates those backends, and each
 * client reports it ("terminating connection due to administrator command") in the middle of the demo's output.
 */
async function waitForDisconnects(adminUrl: string, name: string, timeoutMs = 5000): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    const deadline = Date.now() + timeoutMs; // wall-clock: a timeout
    for (;;) {
      const r = await c.query<{ n: string }>(
        'select count(*) as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
        [name],
      );
      // wall-clock: a timeout
      if (Number(r.rows[0]?.n ?? 0) === 0 || Date.now() > deadline) return;
      await sleep(20);
    }
  } finally {
    await c.end();
  }
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the whole demo and returns the dashboard. */
export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const started = Date.now(); // wall-clock: the pipeline's duration
  const say = o.progress ?? (() => {});
  const database = o.database ?? DEMO_DATABASE;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) {
    throw new AppError('USAGE', `the demo database name must be a plain identifier, got "${database}"`);
  }
  const { startSalesforceSandbox } = await import('../../sandbox/salesforce/index.ts');
  const { startEmbeddedServer } = await import('../../db/embedded.ts');
  const { connect } = await import('../../db/index.ts');
  const { migrateToLatest } = await import('../../db/migrate.ts');
  const { startService } = await import('../../jobs/service.ts');
  const { streamsOf } = await import('../../jobs/schedules.ts');
  const { MetricsEngine } = await import('../../metrics/engine/engine.ts');
  const { buildReport } = await import('../../reports/report.ts');
  const { reportText } = await import('../../reports/text.ts');
  const { subjectDocs } = await import('../../reports/layout.ts');
  const { today } = await import('../../util/date.ts');

  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    closers.length = 0;
  };
  // The demo's database is emptied at each run, so a key made up for this run loses nothing and lets the sandbox's
  // rotated refresh tokens be stored like in production (instead of a warning that the key is not set).
  process.env[SECRET_KEY_ENV] ||= randomBytes(32).toString('base64');
  const crm = o.crm ?? 'salesforce';
  try {
    // One generated org: behind the Salesforce sandbox alone, or split across it and the HubSpot one (the same people
    // in each; each deal, activity and quota in one) with the org file HubSpot's hierarchy comes from.
    let sb: Awaited<ReturnType<typeof startSalesforceSandbox>> | null = null;
    let hs: import('../../sandbox/hubspot/index.ts').HubSpotSandbox | null = null;
    let orgFile: string | null = null;
    if (crm === 'salesforce') {
      sb = await startSalesforceSandbox({
        seed: o.seed,
        size: 'small',
        ...(o.profile !== undefined ? { profile: o.profile } : {}),
      });
    } else {
      if (o.profile !== undefined)
        throw new AppError('USAGE', '--profile names a Salesforce org profile: it goes with --crm salesforce only', {
          where: '--profile',
        });
      const { generateOrg } = await import('../../sandbox/org/index.ts');
      const { splitOrg } = await import('../../sandbox/org/split.ts');
      const { writeOrgCsv } = await import('../../sandbox/org/org-csv.ts');
      const { startHubSpotSandbox } = await import('../../sandbox/hubspot/index.ts');
      const { now } = await import('../../clock.ts');
      const org = generateOrg({ seed: o.seed, size: 'small', anchorDate: now().toISOString().slice(0, 10) });
      const parts = splitOrg(org);
      const dir = join('.quota-tracker', 'sandbox');
      await mkdir(dir, { recursive: true });
      orgFile = resolve(dir, `demo-org-${o.seed}.csv`);
      await writeOrgCsv(org, orgFile);
      const first = await startSalesforceSandbox({ seed: o.seed, size: 'small', org: parts.first });
      sb = first;
      closers.push(() => first.close());
      hs = await startHubSpotSandbox({ seed: o.seed, size: 'small', org: parts.second });
      const portal = hs;
      closers.push(() => portal.close());
    }
    if (crm === 'salesforce' && sb) {
      const only = sb;
      closers.push(() => only.close());
    }
    if (sb && sb.store.count('Opportunity') === 0) {
      throw new AppError('INTERNAL', 'the sandbox org generator is not available in this build: the demo org is empty');
    }
    if (sb)
      say(
        `Salesforce sandbox (seed ${o.seed}) at ${sb.url}: ${sb.store.count('User')} users, ${sb.store.count('Opportunity')} opportunities`,
      );
    if (hs)
      say(
        `HubSpot sandbox (seed ${o.seed}) at ${hs.url}: ${hs.store.owners.size} owners, ${[...hs.store.scan('deals')].length} deals (the same people as Salesforce, the other half of the deals)`,
      );

    let adminUrl: string;
    if (o.databaseUrl) {
      adminUrl = withDatabase(o.databaseUrl, 'postgres');
    } else {
      const server = await startEmbeddedServer({ dataDir: o.dataDir ?? '.quota-tracker/pg', logger: o.log });
      closers.push(() => server.stop());
      adminUrl = server.adminUrl;
      // Closers run last to first: this one runs after the pools below are closed, before the server stops.
      if (server.started) closers.push(() => waitForDisconnects(server.adminUrl, database));
    }
    await recreateDatabase(adminUrl, database);
    const url = withDatabase(adminUrl, database);
    const db = await connect(url, 10, o.log);
    closers.push(() => db.destroy());
    await migrateToLatest(db);
    say(`PostgreSQL ${o.databaseUrl ? 'at DATABASE_URL' : '(embedded)'}: database ${database} migrated`);

    const config = configSchema.parse({
      queue: { prefix: 'quota-tracker-demo' },
      writeback: { enabled: true, mode: 'live' },
      connections: [...(sb ? [sandboxConnection(sb)] : []), ...(hs ? [hubspotSandboxConnection(hs)] : [])],
      ...(orgFile ? { org: { file: orgFile } } : {}),
      ...(sb && crm === 'salesforce'
        ? await sandboxProfileKeys(sb, join('.quota-tracker', 'sandbox', `${o.profile ?? 'default'}-seed${o.seed}`))
        : {}),
    });
    if (config.connections.length === 0) throw new AppError('INTERNAL', 'the demo config has no connection');
    const written = { records: 0, calls: 0 };
    const service = await startService({
      config,
      db: { db, url, embedded: !o.databaseUrl, close: async () => {} },
      log: o.log,
      migrateQueue: true,
      reconcileSchedulers: false,
      backend: 'postgres',
      onWriteback: (out) => {
        if (out.status === 'done') {
          written.records += out.push.recordsWritten;
          written.calls += out.push.apiCalls;
        }
      },
    });
    closers.push(() => service.close());
    say('BullMQ on PostgreSQL: workers started; running sync -> metrics -> write-back -> alert tasks');

    const syncIds: string[] = [];
    for (const conn of config.connections)
      for (const stream of streamsOf(conn)) {
        const id = await service.runtime.enqueue('sync', { v: 1, connectionId: conn.id, stream, trigger: 'cli' });
        if (id) syncIds.push(id);
      }
    // Settled: every sync finished and the queue has been empty for a moment (recompute, write-back and delivery
    // are queued by the jobs before them).
    const q = service.runtime.queue;
    let quietSince = 0;
    for (;;) {
      // wall-clock: a timeout
      if (Date.now() - started > 120_000) {
        throw new AppError('INTERNAL', 'the demo pipeline did not settle within two minutes');
      }
      const states = await Promise.all(syncIds.map(async (id) => (await q.getJob(id))?.getState()));
      const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed');
      const busy = (counts.waiting ?? 0) + (counts.active ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0);
      const syncsDone = states.every((s) => s === 'completed' || s === 'failed' || s === undefined);
      if (syncsDone && busy === 0) {
        // wall-clock: how long the queue has been quiet
        if (quietSince === 0) quietSince = Date.now();
        if (Date.now() - quietSince > 600) break; // wall-clock: see above
      } else quietSince = 0;
      await sleep(150);
    }
    const failed = await q.getFailed();
    for (const f of failed) say(`job ${f.name} failed: ${f.failedReason}`);

    const records = await db
      .selectFrom('sync_runs')
      .select((eb) => eb.fn.sum<string>('records_read').as('n'))
      .executeTakeFirst();
    const snapshots = await db
      .selectFrom('metric_snapshots')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirst();
    const tasks = await db
      .selectFrom('alert_tasks')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('crm_task_id', 'is not', null)
      .executeTakeFirst();
    const summary = {
      records: Number(records?.n ?? 0),
      snapshots: Number(snapshots?.n ?? 0),
      written: written.records,
      writebackCalls: written.calls,
      tasks: Number(tasks?.n ?? 0),
    };

    const asOf = today(config.calendar.timezone);
    const engine = new MetricsEngine({ db, config, logger: o.log });
    const org = await buildReport(db, engine, { kind: 'org', asOf });
    const teamNames = subjectDocs(org.teams)
      .map((t) => t.subject.name)
      .sort();
    // One team's dashboard, as a manager would open it: the team with the most reps who carry a quota.
    let shown: { name: string; doc: JsonObject; carrying: number } | undefined;
    for (const name of teamNames) {
      const doc = await buildReport(db, engine, { kind: 'team', team: name, asOf });
      const carrying = subjectDocs(doc.reps).filter((r) => quotaCarrying(r)).length;
      if (carrying > (shown?.carrying ?? 0)) shown = { name, doc, carrying };
    }
    const teams = new Map<string, JsonObject>();
    const parts: string[] = [];
    if (shown) {
      teams.set(shown.name, shown.doc);
      parts.push(reportText('team', shown.doc));
    } else {
      // No team with a quota yet (no org file and no role tree in this org): the org report is the dashboard.
      teams.set('(org)', org);
      parts.push(reportText('org', org));
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1); // wall-clock: a duration
    const where = config.connections.map((c) => `${c.id} (${c.type === 'salesforce' ? 'Salesforce' : 'HubSpot'})`);
    const header = [
      `quota-tracker demo: seed ${o.seed}, as of ${asOf}, pipeline done in ${seconds} s`,
      `  connections: ${where.join(', ')}${where.length > 1 ? "; each figure's Sources say which connection its quota and deals came from" : ''}`,
      `  synced ${summary.records} records; ${summary.snapshots} metric snapshots; wrote scores to ${summary.written} ${crm === 'salesforce' ? 'User records' : 'records (Salesforce User fields, HubSpot scorecards)'} in ${summary.writebackCalls} API calls; ${summary.tasks} alert tasks for managers`,
      shown
        ? `  ${teamNames.length} teams; showing ${shown.name}, the one with the most quota-carrying reps (${shown.carrying})`
        : `  no team has a quota-carrying rep yet; showing the whole org`,
      '',
    ];
    const text = [...header, parts.join('\n\n')].join('\n');
    if (!o.keepOpen) await closeAll();
    return { asOf, text, teams, summary, ...(o.keepOpen ? { db, config } : {}), close: closeAll };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

/** A rep line of a report carries a quota when it has one above zero for the period. */
function quotaCarrying(rep: SubjectDoc): boolean {
  return rep.quota !== null && Number(rep.quota) > 0;
}

/**
 * The command: the demo, then on a terminal (or with `--serve`) the dashboard over its database until Ctrl-C
 * (`stopped`); without a terminal (scripts, CI) it exits 0 once the dashboard text is printed, as before.
 */
export async function runDemoCommand(
  ctx: CommandContext,
  stopped: Promise<void> | (() => Promise<void>),
  /** Tests running side by side give their own database. */
  overrides: Pick<DemoOptions, 'database'> = {},
): Promise<number> {
  const raw = ctx.options.seed ?? process.env.QUOTA_TRACKER_DEMO_SEED ?? 1;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new AppError('USAGE', `--seed expects a whole number, got "${String(raw)}"`, { where: '--seed' });
  }
  const port = ctx.options.port === undefined ? DEMO_PORT : Number(ctx.options.port);
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535)
    throw new AppError(
      'USAGE',
      `--port expects a port number (0 for any free one), got "${String(ctx.options.port)}"`,
      {
        where: '--port',
      },
    );
  const serve = ctx.options.serve === true || process.stdout.isTTY === true;
  const log = createLogger({ level: ctx.globals.verbose ? 'debug' : 'warn' });
  const url = process.env.DATABASE_URL;
  const profile = ctx.options.profile as string | undefined;
  const crm = (ctx.options.crm as string | undefined) ?? 'salesforce';
  if (!(DEMO_CRMS as readonly string[]).includes(crm))
    throw new AppError('USAGE', `--crm must be ${DEMO_CRMS.join(' or ')}, got "${crm}"`, { where: '--crm' });
  const result = await runDemo({
    seed,
    crm: crm as DemoCrm,
    ...(profile !== undefined ? { profile } : {}),
    log,
    ...(url && url.trim() !== '' ? { databaseUrl: url } : {}),
    progress: (line) => ctx.io.stderr(line),
    keepOpen: serve,
    ...overrides,
  });
  ctx.io.stdout(result.text);
  if (!serve) return 0;
  try {
    const { startWebServer } = await import('../../web/server.ts');
    const { createApiToken } = await import('../../web/tokens.ts');
    const db = result.db as Kysely<Database>;
    // The demo's own database, emptied at each run: a token made for this run opens its dashboard and nothing else.
    const token = await createApiToken(db, { role: 'admin' });
    const web = await startWebServer({ db, config: result.config as Config, port, logger: log });
    try {
      const team = [...result.teams.keys()].find((k) => k !== '(org)');
      ctx.io.stdout(
        [
          '',
          `Dashboard: ${web.url}/${team ? `  (the team above: ${web.url}/teams/${encodeURIComponent(team)})` : ''}`,
          `Sign in there with this run's admin token: ${token.token}`,
          'Serving until Ctrl-C.',
        ].join('\n'),
      );
      await (typeof stopped === 'function' ? stopped() : stopped);
    } finally {
      await web.close();
    }
  } finally {
    await result.close();
  }
  return 0;
}

/** `web.port`'s default: the dashboard where `start` would serve it. */
const DEMO_PORT = 8787;

export async function run(ctx: CommandContext): Promise<number> {
  // Listened for only once the dashboard is served: during the pipeline, Ctrl-C stops the demo at once, as it always
  // has (a handler installed earlier would swallow it and let the demo run on to the end).
  const stopped = () =>
    new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
  return runDemoCommand(ctx, stopped);
}
