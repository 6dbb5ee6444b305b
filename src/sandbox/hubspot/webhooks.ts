/**
 * Webhooks as HubSpot sends them: each change the store makes (the life clock's, the API's) becomes an event for
 * every subscription that wants it; events are sent in batches (a JSON array, at most 100 a request) signed with
 * `X-HubSpot-Signature-v3` = base64(HMAC-SHA256(client secret, method + URI + body + timestamp)) and
 * `X-HubSpot-Request-Timestamp` (plus the v1 signature, sha256 hex of secret + body, for old receivers). A delivery
 * that fails (no connection, no answer within the timeout, a status other than 2xx) is retried up to 10 times over
 * 24 hours, each retry at a random time between the previous retry's latest time and its own, on a schedule that
 * doubles; `timeScale` compresses that schedule for tests. Modes: `bad-signature` signs with a wrong secret,
 * `stale-timestamp` stamps the request 6 minutes in the past (receivers reject older than 5).
 */
import { createHash, createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Rng } from '../org/index.ts';
import type { ChangeEvent, HubSpotStore } from './store.ts';

export type WebhookMode = 'valid' | 'bad-signature' | 'stale-timestamp';

export interface SubscriptionInput {
  url: string;
  /** Event types (`deal.creation`, `deal.propertyChange`, `deal.propertyChange:dealstage`, `object.creation`...); absent: all. */
  types?: string[];
  mode?: WebhookMode;
  /** HubSpot's per-app concurrency limit for deliveries (default 10). */
  maxConcurrentRequests?: number;
}

export interface Subscription extends Required<Omit<SubscriptionInput, 'types'>> {
  id: number;
  types: string[] | null;
}

export interface WebhookEvent {
  eventId: number;
  subscriptionId: number;
  portalId: number;
  appId: number;
  occurredAt: number;
  subscriptionType: string;
  attemptNumber: number;
  objectId: number;
  objectTypeId?: string;
  propertyName?: string;
  propertyValue?: string;
  changeSource: string;
  changeFlag?: string;
}

export interface Delivery {
  subscriptionId: number;
  attemptNumber: number;
  events: number;
  eventIds: number[];
  status: number | null;
  error?: string;
  /** Real time it was sent. */
  sentAt: number;
  timestamp: string;
  signatureV3: string;
  /** The body as sent, for tests that replay a delivery. */
  body: string;
}

/** Retries after the first attempt. */
export const MAX_RETRIES = 10;
export const RETRY_WINDOW_MS = 24 * 3_600_000;
export const BATCH_MAX_EVENTS = 100;
export const STALE_MS = 6 * 60_000;

/** The latest time (ms after the first failure) of retry n (1..10): doubling steps that end at 24 hours. */
export function retryDeadline(n: number): number {
  return (RETRY_WINDOW_MS * (2 ** n - 1)) / (2 ** MAX_RETRIES - 1);
}

/** The v3 signature of a request. */
export function signatureV3(secret: string, method: string, uri: string, body: string, timestamp: string): string {
  return createHmac('sha256', secret).update(`${method}${uri}${body}${timestamp}`, 'utf8').digest('base64');
}

const LEGACY_TYPES: Readonly<Record<string, string>> = { deals: 'deal', contacts: 'contact', companies: 'company' };

export class WebhookDispatcher {
  private subs: Subscription[] = [];
  private queue = new Map<number, WebhookEvent[]>();
  private seq = 0;
  private nextSub = 1;
  private timer: NodeJS.Timeout | null = null;
  private pendingTimers = new Set<NodeJS.Timeout>();
  private inflight = new Map<number, number>();
  readonly deliveries: Delivery[] = [];
  private readonly rng: Rng;
  private readonly unlisten: () => void;

  constructor(
    private readonly store: HubSpotStore,
    private readonly o: {
      appId: number;
      clientSecret: string;
      seed: number;
      /** How often queued events are sent (real ms; default 1000). */
      batchMs?: number;
      /** Real ms per scheduled ms of the retry schedule (default 1: 24 hours). */
      timeScale?: number;
      /** A receiver that does not answer within this is a failure (default 5000 real ms). */
      timeoutMs?: number;
    },
  ) {
    this.rng = new Rng(o.seed ^ 0x77e6b00c);
    this.unlisten = store.onChange((e) => this.enqueue(e));
  }

  subscribe(input: SubscriptionInput): Subscription {
    if (typeof input.url !== 'string' || !/^https?:\/\//.test(input.url))
      throw new Error('a subscription needs an http(s) url');
    const sub: Subscription = {
      id: this.nextSub++,
      url: input.url,
      types: input.types && input.types.length > 0 ? input.types : null,
      mode: input.mode ?? 'valid',
      maxConcurrentRequests: input.maxConcurrentRequests ?? 10,
    };
    this.subs.push(sub);
    this.start();
    return sub;
  }

  subscriptions(): Subscription[] {
    return this.subs.map((s) => ({ ...s }));
  }

  clear(): void {
    this.subs = [];
    this.queue.clear();
  }

  private start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.flush(), this.o.batchMs ?? 1000);
    this.timer.unref();
  }

  close(): void {
    this.unlisten();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const t of this.pendingTimers) clearTimeout(t);
    this.pendingTimers.clear();
  }

  private typeOf(e: ChangeEvent): { subscriptionType: string; objectTypeId?: string } {
    const legacy = LEGACY_TYPES[e.type];
    if (legacy) return { subscriptionType: `${legacy}.${e.kind}` };
    return { subscriptionType: `object.${e.kind}`, objectTypeId: this.store.typeDef(e.type).objectTypeId };
  }

  private wants(sub: Subscription, subscriptionType: string, propertyName?: string): boolean {
    if (!sub.types) return true;
    return sub.types.some((t) => {
      const [type, prop] = t.split(':');
      return type === subscriptionType && (prop === undefined || prop === propertyName);
    });
  }

  private enqueue(e: ChangeEvent): void {
    if (this.subs.length === 0) return;
    const { subscriptionType, objectTypeId } = this.typeOf(e);
    for (const sub of this.subs) {
      if (!this.wants(sub, subscriptionType, e.propertyName)) continue;
      const ev: WebhookEvent = {
        eventId: ++this.seq,
        subscriptionId: sub.id,
        portalId: this.store.portalId,
        appId: this.o.appId,
        occurredAt: e.occurredAt,
        subscriptionType,
        attemptNumber: 0,
        objectId: e.id,
        ...(objectTypeId ? { objectTypeId } : {}),
        ...(e.propertyName !== undefined ? { propertyName: e.propertyName, propertyValue: e.propertyValue ?? '' } : {}),
        changeSource: e.source,
        ...(e.kind === 'creation' ? { changeFlag: 'CREATED' } : e.kind === 'deletion' ? { changeFlag: 'DELETED' } : {}),
      };
      const q = this.queue.get(sub.id) ?? [];
      q.push(ev);
      this.queue.set(sub.id, q);
    }
  }

  /** Sends what is queued now (the timer calls it; tests may too). */
  flush(): void {
    for (const sub of this.subs) {
      const q = this.queue.get(sub.id);
      if (!q || q.length === 0) continue;
      while (q.length > 0 && (this.inflight.get(sub.id) ?? 0) < sub.maxConcurrentRequests) {
        const batch = q.splice(0, BATCH_MAX_EVENTS);
        void this.deliver(sub, batch, 0, 0);
      }
    }
  }

  /** Every event has been delivered or given up on, and nothing is in flight or scheduled. */
  idle(): boolean {
    let queued = 0;
    for (const q of this.queue.values()) queued += q.length;
    let inflight = 0;
    for (const n of this.inflight.values()) inflight += n;
    return queued === 0 && inflight === 0 && this.pendingTimers.size === 0;
  }

  private async deliver(
    sub: Subscription,
    events: WebhookEvent[],
    attempt: number,
    firstFailureAt: number,
  ): Promise<void> {
    this.inflight.set(sub.id, (this.inflight.get(sub.id) ?? 0) + 1);
    const body = JSON.stringify(events.map((e) => ({ ...e, attemptNumber: attempt })));
    // wall-clock: receivers check the request timestamp against their real clock
    const sentAt = Date.now();
    const timestamp = String(sub.mode === 'stale-timestamp' ? sentAt - STALE_MS : sentAt);
    const secret = sub.mode === 'bad-signature' ? `${this.o.clientSecret}-not` : this.o.clientSecret;
    const v3 = signatureV3(secret, 'POST', sub.url, body, timestamp);
    const v1 = createHash('sha256').update(`${secret}${body}`, 'utf8').digest('hex');
    const delivery: Delivery = {
      subscriptionId: sub.id,
      attemptNumber: attempt,
      events: events.length,
      eventIds: events.map((e) => e.eventId),
      status: null,
      sentAt,
      timestamp,
      signatureV3: v3,
      body,
    };
    this.deliveries.push(delivery);
    try {
      delivery.status = await post(
        sub.url,
        body,
        {
          'content-type': 'application/json',
          'user-agent': 'HubSpot Connect 2.0 (http://dev.hubspot.com/) (sandbox)',
          'x-hubspot-signature-v3': v3,
          'x-hubspot-request-timestamp': timestamp,
          'x-hubspot-signature': v1,
          'x-hubspot-signature-version': 'v1',
        },
        this.o.timeoutMs ?? 5000,
      );
    } catch (e) {
      delivery.error = e instanceof Error ? e.message : String(e);
    } finally {
      this.inflight.set(sub.id, (this.inflight.get(sub.id) ?? 1) - 1);
    }
    const ok = delivery.status !== null && delivery.status >= 200 && delivery.status < 300;
    if (ok || attempt >= MAX_RETRIES || !this.subs.includes(sub)) return;
    const n = attempt + 1;
    const start = firstFailureAt || sentAt;
    // The n-th retry goes at a random time between the previous retry's deadline and its own (scheduled time).
    const at = retryDeadline(n - 1) + this.rng.next() * (retryDeadline(n) - retryDeadline(n - 1));
    // wall-clock: the wait until the retry is real time (compressed by timeScale)
    const wait = Math.max(0, at * (this.o.timeScale ?? 1) - (Date.now() - start));
    const t = setTimeout(() => {
      this.pendingTimers.delete(t);
      void this.deliver(sub, events, n, start);
    }, wait);
    t.unref();
    this.pendingTimers.add(t);
  }
}

function post(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
