/**
 * The life clock and webhooks of the HubSpot sandbox: changes are visible through list, search and webhooks alike;
 * hs_lastmodifieddate moves as HubSpot's does (shared milliseconds, late commits, archive keeping the stamp); a
 * receiver verifies every delivery's v3 signature with the documented algorithm, and the bad-signature and
 * stale-timestamp modes fail it; failed deliveries are retried on the documented schedule (compressed here).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@hubspot/api-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HubSpotSandbox, startHubSpotSandbox } from '../../../src/sandbox/hubspot/index.ts';
import { createHubSpotLifeClock } from '../../../src/sandbox/hubspot/life.ts';
import { retryDeadline } from '../../../src/sandbox/hubspot/webhooks.ts';

const ANCHOR = '2026-11-15';
const SCALE = 1e-5; // 24 hours of retries in under a second

interface Received {
  path: string;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  at: number;
}

/** HubSpot's v3 check, as its docs give it: reject older than 5 minutes, HMAC-SHA256 of method+URI+body+timestamp. */
function verifyV3(secret: string, method: string, uri: string, r: Received): boolean {
  const ts = String(r.headers['x-hubspot-request-timestamp'] ?? '');
  const sig = String(r.headers['x-hubspot-signature-v3'] ?? '');
  if (!/^\d+$/.test(ts) || Date.now() - Number(ts) > 5 * 60_000) return false;
  const expected = createHmac('sha256', secret).update(`${method}${uri}${r.body}${ts}`, 'utf8').digest('base64');
  const a = Buffer.from(expected);
  const b = Buffer.from(sig);
  return a.length === b.length && timingSafeEqual(a, b);
}

let sb: HubSpotSandbox;
let receiver: Server;
let base = '';
const received: Received[] = [];
let failFirst = 0;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        path: req.url ?? '',
        body: Buffer.concat(chunks).toString('utf8'),
        headers: req.headers,
        at: Date.now(),
      });
      if (req.url === '/flaky' && failFirst > 0) {
        failFirst--;
        res.writeHead(503).end();
        return;
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  sb = await startHubSpotSandbox({
    seed: 11,
    size: 'small',
    anchorDate: ANCHOR,
    rateLimits: { searchPerSecond: 100 },
    webhooks: { batchMs: 20, timeScale: SCALE, timeoutMs: 2000 },
  });
}, 60_000);
afterAll(async () => {
  await sb?.close();
  await new Promise<void>((r) => receiver.close(() => r()));
});

async function settle(): Promise<void> {
  await expect.poll(() => sb.webhooks.idle(), { timeout: 15_000, interval: 20 }).toBe(true);
}

function openDeal(): string {
  for (const d of sb.store.scan('deals'))
    if (d.props.hs_is_closed === 'false' && d.props.closedate) return String(d.id);
  throw new Error('no open deal');
}

describe('life and webhooks', () => {
  it('delivers batched, signed events for life changes; every valid delivery verifies, bad modes fail', async () => {
    for (const [path, mode] of [
      ['/valid', 'valid'],
      ['/bad', 'bad-signature'],
      ['/stale', 'stale-timestamp'],
    ] as const) {
      sb.webhooks.subscribe({
        url: `${base}${path}`,
        mode,
        types: ['deal.creation', 'deal.propertyChange', 'deal.deletion', 'deal.restore', 'object.creation'],
      });
    }
    const clock = createHubSpotLifeClock(sb.store, { seed: 3 });
    const deal = openDeal();
    clock.changes.advanceStage(deal);
    clock.changes.archive('deals', deal);
    clock.changes.restore('deals', deal);
    for (let i = 0; i < 40; i++) clock.tick();
    await settle();
    const valid = received.filter((r) => r.path === '/valid');
    expect(valid.length).toBeGreaterThan(0);
    for (const r of valid) expect(verifyV3(sb.credentials.clientSecret, 'POST', `${base}/valid`, r)).toBe(true);
    const events = valid.flatMap(
      (r) => JSON.parse(r.body) as { subscriptionType: string; objectId: number; eventId: number; portalId: number }[],
    );
    expect(Math.max(...valid.map((r) => (JSON.parse(r.body) as unknown[]).length))).toBeLessThanOrEqual(100);
    expect(events.every((e) => e.portalId === sb.portalId)).toBe(true);
    const kinds = new Set(events.filter((e) => String(e.objectId) === deal).map((e) => e.subscriptionType));
    expect(kinds).toEqual(new Set(['deal.propertyChange', 'deal.deletion', 'deal.restore']));
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
    const bad = received.filter((r) => r.path === '/bad' || r.path === '/stale');
    expect(bad.length).toBeGreaterThan(1);
    for (const r of bad) expect(verifyV3(sb.credentials.clientSecret, 'POST', `${base}${r.path}`, r)).toBe(false);
    sb.webhooks.clear();
  }, 30_000);

  it('retries a failed delivery with attemptNumber rising, on the doubling schedule inside 24 hours', async () => {
    failFirst = 3;
    sb.webhooks.subscribe({ url: `${base}/flaky`, types: ['deal.propertyChange:amount'] });
    const deal = openDeal();
    createHubSpotLifeClock(sb.store, { seed: 4 }).changes.setAmount(deal, '12345');
    await settle();
    const tries = received.filter((r) => r.path === '/flaky');
    expect(tries).toHaveLength(4);
    const attempts = tries.map((r) => (JSON.parse(r.body) as { attemptNumber: number }[])[0]!.attemptNumber);
    expect(attempts).toEqual([0, 1, 2, 3]);
    for (const r of tries) expect(verifyV3(sb.credentials.clientSecret, 'POST', `${base}/flaky`, r)).toBe(true);
    // Retry n comes after retry n-1's latest time on the (compressed) schedule.
    for (let n = 2; n < tries.length; n++) {
      expect(tries[n]!.at - tries[0]!.at).toBeGreaterThanOrEqual(Math.floor(retryDeadline(n - 1) * SCALE) - 5);
    }
    expect(retryDeadline(10)).toBe(24 * 3_600_000);
    sb.webhooks.clear();
  }, 30_000);

  it('shows life changes through list and search, with shared milliseconds and late commits', async () => {
    const client = new Client({ accessToken: sb.credentials.accessToken, basePath: sb.url, numberOfApiCallRetries: 0 });
    const clock = createHubSpotLifeClock(sb.store, { seed: 5 });
    sb.store.advance(60_000);
    const since = sb.store.nowMs();
    const deals = [...sb.store.scan('deals')]
      .filter((d) => d.props.hs_is_closed === 'false' && d.props.closedate)
      .slice(0, 3)
      .map((d) => String(d.id));
    const won = clock.changes.closeWon(deals[0]!);
    const tieStamp = clock.changes.tie('deals', [deals[1]!, deals[2]!], { dealname: 'Tied' });
    // A write that commits now but is stamped before the ones above: a reader past `since` never sees it move.
    const late = clock.changes.lateCommit('deals', { dealname: 'Late' }, new Date(since - 30_000), deals[0]!);
    expect(late.updatedAt).toBe(since - 30_000);

    const search = await client.crm.deals.searchApi.doSearch({
      filterGroups: [
        { filters: [{ propertyName: 'hs_lastmodifieddate', operator: 'GTE' as never, value: String(since) }] },
      ],
      sorts: ['hs_object_id'],
      properties: ['dealstage', 'hs_is_closed_won', 'hs_lastmodifieddate'],
      limit: 200,
      after: '0',
    });
    const ids = search.results.map((r) => r.id);
    expect(ids).toEqual(expect.arrayContaining([deals[1], deals[2]]));
    expect(ids).not.toContain(deals[0]);
    const tied = search.results
      .filter((r) => r.id === deals[1] || r.id === deals[2])
      .map((r) => r.properties.hs_lastmodifieddate);
    expect(new Set(tied)).toEqual(new Set([tieStamp.toISOString()]));

    const read = await client.crm.deals.basicApi.getById(
      deals[0]!,
      ['dealstage', 'hs_is_closed_won', 'dealname'],
      ['dealstage'],
    );
    expect(read.properties.hs_is_closed_won).toBe('true');
    expect(read.properties.dealname).toBe('Late');
    expect(read.properties.dealstage).toBe(won.props.dealstage);
    expect(read.propertiesWithHistory!.dealstage![0]!.value).toBe(won.props.dealstage);

    // A tick's changes are visible in the list too.
    const before = sb.store.count('deals');
    let events = clock.tick();
    for (let i = 0; i < 60 && !events.some((e) => e.kind === 'new_deal'); i++) events = clock.tick();
    const created = events.find((e) => e.kind === 'new_deal');
    expect(created).toBeDefined();
    expect(sb.store.count('deals')).toBeGreaterThan(before - 2);
    const fetched = await client.crm.deals.basicApi.getById(created!.id, [
      'amount_in_home_currency',
      'amount',
      'deal_currency_code',
    ]);
    expect(fetched.properties.amount).toBeTruthy();
  });
});
