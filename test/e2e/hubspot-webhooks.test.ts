/**
 * HubSpot webhooks into the running service: the HubSpot sandbox posts signed event batches (v3 signature) to
 * `POST /webhooks/hubspot` on a real web server whose job queue is the service's. A bad signature and a stale
 * timestamp are refused with 401 and change nothing; a good batch becomes one incremental sync of the streams it
 * touches, so a deal won in HubSpot reaches the org's figures long before the 15-minute schedule would (the test
 * prints the seconds) and the rep's Quota scorecard record in HubSpot through write-back (the seconds printed, a
 * generous bound asserted: speed goes to the benches); a replayed batch does nothing the second time.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspotSandboxConnection } from '../../src/cli/commands/sandbox.ts';
import { clockStartingAt, setClock } from '../../src/clock.ts';
import { type Config, configSchema } from '../../src/config/schema.ts';
import { type Service, startService } from '../../src/jobs/service.ts';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { signatureV3 } from '../../src/sandbox/hubspot/webhooks.ts';
import { writeOrgCsv } from '../../src/sandbox/org/org-csv.ts';
import { silentLogger } from '../../src/util/log.ts';
import { Dec } from '../../src/util/money.ts';
import { type RunningWebServer, startWebServer } from '../../src/web/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const ANCHOR = '2026-11-20';

function until<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = async () => {
      try {
        const v = await check();
        if (v !== undefined) return resolve(v);
      } catch (e) {
        return reject(e);
      }
      if (Date.now() - start > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 100);
    };
    void tick();
  });
}

let sb: HubSpotSandbox;
let t: TestDatabase;
let service: Service;
let web: RunningWebServer;
let config: Config;
let hook: string;
/** The syncs the web server queued for webhooks: what a request did, read without waiting on time. */
const queued: Array<{ stream: string }> = [];

const syncRuns = async () =>
  Number(
    (
      await t.db
        .selectFrom('sync_runs')
        .select((e) => e.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );
const seenEvents = async () =>
  Number(
    (
      await t.db
        .selectFrom('webhook_events')
        .select((e) => e.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );
const orgActual = async () => {
  const row = await t.db
    .selectFrom('metric_snapshots')
    .select((e) =>
      e
        .ref('metrics', '->>')
        .key('actual' as never)
        .as('actual'),
    )
    .where('subject_kind', '=', 'org')
    .where('period_id', '=', 'FY2026-Q4')
    .executeTakeFirst();
  return row?.actual === undefined || row.actual === null ? undefined : Number(row.actual);
};

/** A batch signed as HubSpot signs it, at `timestampMs`, with `secret`. */
function post(body: string, o: { secret?: string; timestampMs?: number } = {}) {
  // wall-clock: the receiver checks the timestamp against real time
  const timestamp = String(o.timestampMs ?? Date.now());
  return fetch(hook, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-hubspot-request-timestamp': timestamp,
      'x-hubspot-signature-v3': signatureV3(o.secret ?? sb.credentials.clientSecret, 'POST', hook, body, timestamp),
    },
    body,
  });
}

beforeAll(async () => {
  setClock(clockStartingAt(ANCHOR));
  sb = await startHubSpotSandbox({
    seed: 3,
    size: 'small',
    anchorDate: ANCHOR,
    rateLimits: { tenSecondly: 100_000, searchPerSecond: 10_000 },
    webhooks: { batchMs: 100 },
  });
  if (!sb.org) throw new Error('the sandbox serves no org model');
  const dir = await mkdtemp(join(tmpdir(), 'qt-hs-webhooks-'));
  await writeOrgCsv(sb.org, join(dir, 'org.csv'));
  t = await createTestDatabase({ poolSize: 12 });
  config = configSchema.parse({
    calendar: {
      type: 'calendar',
      fiscalYearStartMonth: 1,
      timezone: sb.org.timezone,
      baseCurrency: sb.org.corporateCurrency,
    },
    forecast: { trials: 200, backtest: { enabled: false } },
    org: { file: join(dir, 'org.csv') },
    connections: [{ ...hubspotSandboxConnection(sb, 'hs'), webhookSecret: sb.credentials.clientSecret }],
  });
  service = await startService({
    config,
    db: { db: t.db, url: t.url, embedded: false, close: async () => {} },
    log: silentLogger,
    migrateQueue: true,
    reconcileSchedulers: true,
    backend: 'postgres',
  });
  const enqueue = service.runtime.enqueue;
  web = await startWebServer({
    db: t.db,
    config,
    port: 0,
    enqueue: (name, payload, opts) => {
      if (name === 'sync') queued.push({ stream: (payload as { stream: string }).stream });
      return enqueue(name, payload, opts);
    },
  });
  hook = `${web.url}/webhooks/hubspot`;
  // The schedulers' first round: every stream synced once and the figures computed.
  await until(orgActual, 120_000, 'the first round of syncs and the org figures');
}, 180_000);

afterAll(async () => {
  await web?.close();
  await service?.runtime.reconcileSchedulers([]).catch(() => {});
  await service?.close();
  await sb?.close();
  await t?.drop();
  setClock(undefined);
}, 60_000);

describe('POST /webhooks/hubspot', () => {
  it('refuses a bad signature and a stale timestamp with 401, and nothing is recorded or synced', async () => {
    const body = JSON.stringify([
      { eventId: 9_000_001, subscriptionType: 'deal.propertyChange', objectId: 1, propertyName: 'amount' },
    ]);
    const bad = await post(body, { secret: 'not-the-app-secret' });
    expect(bad.status).toBe(401);
    // Signed right, six minutes old: a replay.
    const stale = await post(body, { timestampMs: Date.now() - 6 * 60_000 }); // wall-clock: real age
    expect(stale.status).toBe(401);
    const unsigned = await fetch(hook, { method: 'POST', body });
    expect(unsigned.status).toBe(401);
    expect(await seenEvents()).toBe(0);
    expect(queued).toEqual([]);
  });

  it('a deal won in HubSpot reaches the figures through the webhook; replaying its batch does nothing', async () => {
    const before = (await orgActual()) as number;
    // An open deal of this quarter, won now.
    const stages = new Map<string, { won: boolean; closed: boolean }>();
    let wonStage = '';
    for (const p of sb.store.pipelines.get('deals') ?? [])
      for (const s of p.stages) {
        const closed = s.metadata.isClosed === 'true';
        stages.set(`${p.id}|${s.id}`, { won: closed && Number(s.metadata.probability) === 1, closed });
        if (p.id === 'default' && closed && Number(s.metadata.probability) === 1) wonStage = s.id;
      }
    // Owned by a rep with a quota this quarter, so the scorecard has an attainment to move.
    const withQuota = new Set(
      (
        await sql<{ external_id: string }>`select r.external_id from reps r join metric_snapshots m
          on m.subject_id = 'person:' || r.person_id and m.subject_kind = 'rep' and m.period_id = 'FY2026-Q4'
          where r.connection_id = 'hs' and m.metrics->>'quota' is not null`.execute(t.db)
      ).rows.map((r) => r.external_id),
    );
    const deal = [...sb.store.scan('deals')].find(
      (r) =>
        (r.props.pipeline ?? 'default') === 'default' &&
        withQuota.has(String(r.props.hubspot_owner_id)) &&
        stages.get(`default|${r.props.dealstage}`)?.closed === false &&
        Number(r.props.amount) > 0 &&
        r.props.deal_currency_code === sb.org?.corporateCurrency &&
        r.props.hubspot_owner_id,
    );
    expect(deal, 'an open deal in the home currency').toBeDefined();
    if (!deal) return;
    sb.webhooks.subscribe({ url: hook, types: ['deal.propertyChange', 'deal.creation', 'deal.deletion'] });
    const runs = await syncRuns();
    // The rep's scorecard in HubSpot (written back by the service's first round, or made by this change's).
    const cardKey = `${deal.props.hubspot_owner_id}:FY2026-Q4`;
    const card = () =>
      sb.store.typeName('quota_scorecard')
        ? [...sb.store.scan('quota_scorecard')].find((r) => r.props.qt_key === cardKey)
        : undefined;
    const cardBefore = Number(card()?.props.qt_attainment ?? -1);
    // wall-clock: the test measures real seconds from the change to the figures
    const changedAt = Date.now();
    sb.store.update('deals', deal.id, { dealstage: wonStage, closedate: `${ANCHOR}T12:00:00.000Z` });
    const after = await until(
      async () => {
        const a = await orgActual();
        return a !== undefined && a > before ? a : undefined;
      },
      60_000,
      'the org actual to grow by the won deal',
    );
    const seconds = (Date.now() - changedAt) / 1000; // wall-clock: see above
    console.log(`webhook: a deal won in HubSpot reached the org's figures in ${seconds.toFixed(1)} s`);
    expect(after - before).toBeCloseTo(Number(deal.props.amount), 2);
    // ... and the rep's scorecard record in HubSpot, through the write-back the recompute queues: the rep's
    // attainment with the won deal, as a percent.
    const repNow = await sql<{ attainment: string | null }>`select m.metrics->>'attainment' as attainment
      from reps r join metric_snapshots m on m.subject_id = 'person:' || r.person_id
      where r.connection_id = 'hs' and r.external_id = ${String(deal.props.hubspot_owner_id)}
        and m.subject_kind = 'rep' and m.period_id = 'FY2026-Q4'`.execute(t.db);
    const expected = Number(new Dec(repNow.rows[0]?.attainment ?? '0').times(100).toDecimalPlaces(2));
    expect(expected).toBeGreaterThan(0);
    const written = await until(
      async () => {
        const v = card()?.props.qt_attainment;
        return v && Number(v) === expected ? Number(v) : undefined;
      },
      60_000,
      `the scorecard ${cardKey} to show the won deal`,
    );
    const toCard = (Date.now() - changedAt) / 1000; // wall-clock: see above
    console.log(
      `webhook: the won deal reached the rep's HubSpot scorecard in ${toCard.toFixed(1)} s (attainment ${cardBefore} -> ${written})`,
    );
    expect(await syncRuns()).toBeGreaterThan(runs);
    const delivered = sb.webhooks.deliveries.filter((d) => d.status === 200);
    expect(delivered.length).toBeGreaterThan(0);

    expect(queued.map((q) => q.stream).sort()).toEqual(['deal_stage_history', 'deals']);

    // The same batch again, as sent (a redelivery, or a replay signed anew within the five minutes): acknowledged,
    // nothing queued.
    const first = delivered[0];
    if (!first) throw new Error('no delivery');
    const queuedBefore = queued.length;
    const replay = await post(first.body);
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual({
      connections: { hs: { accepted: 0, duplicates: first.eventIds.length, syncs: [] } },
    });
    expect(queued.length).toBe(queuedBefore);
    // An event of another portal the app is installed on is not this connection's.
    const other = JSON.stringify([
      {
        eventId: 77,
        subscriptionId: 1,
        objectId: 5,
        occurredAt: 1,
        portalId: sb.portalId + 1,
        subscriptionType: 'deal.creation',
      },
    ]);
    expect(await (await post(other)).json()).toEqual({
      connections: { hs: { accepted: 0, duplicates: 0, syncs: [] } },
    });
    expect(queued.length).toBe(queuedBefore);
  }, 120_000);
});
