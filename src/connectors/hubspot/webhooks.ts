/**
 * HubSpot webhooks as the receiver sees them: the v3 signature and its timestamp, and which streams a batch of
 * events touches. Polling stays the source of truth; an event only says "sync this stream now", so what an event
 * carries (property values) is never stored.
 *
 * - Signature v3 (https://developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests):
 *   base64(HMAC-SHA256(app client secret, method + URI + body + timestamp)) in `X-HubSpot-Signature-v3`, the
 *   timestamp (ms) in `X-HubSpot-Request-Timestamp`; a request older than 5 minutes is refused (replay).
 * - Event types: legacy `deal.*` / `line_item.*` and the generic `object.*` with `objectTypeId`
 *   (https://developers.hubspot.com/changelog/public-beta-generic-webhook-subscriptions), and association changes
 *   (https://developers.hubspot.com/changelog/new-subscription-types-for-webhooks), which name both sides' types.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** HubSpot refuses nothing older; neither do we accept it (docs: "reject the request if the timestamp is older"). */
export const WEBHOOK_MAX_AGE_MS = 5 * 60 * 1000;

export type SignatureCheck = 'ok' | 'missing' | 'bad-signature' | 'stale';

export function signatureV3(secret: string, method: string, uri: string, body: string, timestamp: string): string {
  return createHmac('sha256', secret).update(`${method}${uri}${body}${timestamp}`, 'utf8').digest('base64');
}

/**
 * Checks one request against one app secret. `uris` are the URLs HubSpot may have signed (the public URL it posts
 * to, and the URL as this server saw it, which differ behind a proxy); any one matching is enough.
 */
export function checkSignatureV3(o: {
  secret: string;
  method: string;
  uris: readonly string[];
  body: string;
  signature: string | null | undefined;
  timestamp: string | null | undefined;
  nowMs: number;
}): SignatureCheck {
  if (!o.signature || !o.timestamp || !/^\d+$/.test(o.timestamp)) return 'missing';
  const given = Buffer.from(o.signature, 'utf8');
  const matches = o.uris.some((uri) => {
    const want = Buffer.from(signatureV3(o.secret, o.method, uri, o.body, o.timestamp as string), 'utf8');
    return want.length === given.length && timingSafeEqual(want, given);
  });
  if (!matches) return 'bad-signature';
  // A signed request outside the window is a replay (or a clock far off): refused all the same.
  return Math.abs(o.nowMs - Number(o.timestamp)) > WEBHOOK_MAX_AGE_MS ? 'stale' : 'ok';
}

/** One event of a webhook batch, as much of it as the receiver reads. */
export interface HubSpotWebhookEvent {
  eventId: number;
  subscriptionId?: number;
  objectId?: number;
  occurredAt?: number;
  portalId?: number;
  subscriptionType: string;
  objectTypeId?: string;
  propertyName?: string;
  fromObjectTypeId?: string;
  toObjectTypeId?: string;
}

/**
 * The key a redelivery repeats and a new event does not: HubSpot says of `eventId` "this value is not guaranteed to
 * be unique" (https://developers.hubspot.com/docs/api/webhooks, event payload), so it is taken with the subscription,
 * the object and the instant; `attemptNumber`, the one field a retry changes, is left out.
 */
export function eventKey(e: HubSpotWebhookEvent): string {
  return `${e.eventId}:${e.subscriptionId ?? ''}:${e.objectId ?? ''}:${e.occurredAt ?? ''}`;
}

/** The streams each object type feeds (deals also feed their stage history). */
const STREAMS_BY_TYPE: Readonly<Record<string, readonly string[]>> = {
  '0-3': ['deals', 'deal_stage_history'],
  deal: ['deals', 'deal_stage_history'],
  '0-8': ['line_items'],
  line_item: ['line_items'],
  '0-48': ['calls'],
  call: ['calls'],
  '0-49': ['emails'],
  email: ['emails'],
  '0-47': ['meetings'],
  meeting: ['meetings'],
  '0-27': ['tasks'],
  task: ['tasks'],
  '0-136': ['leads'],
  lead: ['leads'],
  '0-74': ['goal_targets'],
  goal_target: ['goal_targets'],
};

/** Parses a webhook body: an array of events, each with a numeric id and a type; null when it is not one. */
export function parseWebhookBatch(body: string): HubSpotWebhookEvent[] | null {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    return null;
  }
  if (!Array.isArray(data)) return null;
  const out: HubSpotWebhookEvent[] = [];
  for (const e of data) {
    if (e === null || typeof e !== 'object') return null;
    const r = e as Record<string, unknown>;
    if (typeof r.eventId !== 'number' || !Number.isSafeInteger(r.eventId) || typeof r.subscriptionType !== 'string')
      return null;
    const str = (k: string) => (typeof r[k] === 'string' ? { [k]: r[k] as string } : {});
    out.push({
      eventId: r.eventId,
      subscriptionType: r.subscriptionType,
      ...(typeof r.portalId === 'number' ? { portalId: r.portalId } : {}),
      ...(typeof r.subscriptionId === 'number' ? { subscriptionId: r.subscriptionId } : {}),
      ...(typeof r.objectId === 'number' ? { objectId: r.objectId } : {}),
      ...(typeof r.occurredAt === 'number' ? { occurredAt: r.occurredAt } : {}),
      ...str('objectTypeId'),
      ...str('propertyName'),
      ...str('fromObjectTypeId'),
      ...str('toObjectTypeId'),
    });
  }
  return out;
}

/**
 * The streams a batch touches, among `known` (the connection's streams): an event's object type, and for an
 * association change both sides' (a call linked to a deal is read again by the calls stream, whose relink pass
 * takes the link). Types this product does not read (contacts, companies, tickets...) touch nothing.
 */
export function streamsTouched(events: readonly HubSpotWebhookEvent[], known: readonly string[]): string[] {
  const touched = new Set<string>();
  for (const e of events) {
    const [prefix = ''] = e.subscriptionType.split('.');
    const types =
      prefix === 'object'
        ? [e.objectTypeId, e.fromObjectTypeId, e.toObjectTypeId]
        : [prefix, e.fromObjectTypeId, e.toObjectTypeId];
    for (const t of types) for (const s of (t && STREAMS_BY_TYPE[t]) || []) touched.add(s);
  }
  return known.filter((s) => touched.has(s));
}
