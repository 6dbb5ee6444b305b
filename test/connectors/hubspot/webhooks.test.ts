/**
 * The HubSpot webhook receiver's pure parts: the v3 signature (computed here as HubSpot's docs state it, and by the
 * sandbox's sender), its five-minute window, the batch parser, and which streams events touch.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HUBSPOT_STREAMS } from '../../../src/connectors/hubspot/streams.ts';
import {
  checkSignatureV3,
  eventKey,
  parseWebhookBatch,
  streamsTouched,
  WEBHOOK_MAX_AGE_MS,
} from '../../../src/connectors/hubspot/webhooks.ts';
import { signatureV3 as sandboxSignature } from '../../../src/sandbox/hubspot/webhooks.ts';

const SECRET = 'app-client-secret';
const URI = 'https://qt.example.com/webhooks/hubspot';
const BODY = '[{"eventId":1,"subscriptionType":"deal.propertyChange","objectId":7}]';
const TS = 1_796_000_000_000;
// base64(HMAC-SHA256(secret, method + uri + body + timestamp)), as the docs give it.
const SIGNED = createHmac('sha256', SECRET).update(`POST${URI}${BODY}${TS}`).digest('base64');

const check = (o: Partial<Parameters<typeof checkSignatureV3>[0]> = {}) =>
  checkSignatureV3({
    secret: SECRET,
    method: 'POST',
    uris: [URI],
    body: BODY,
    signature: SIGNED,
    timestamp: String(TS),
    nowMs: TS + 1000,
    ...o,
  });

describe('signature v3', () => {
  it("accepts HubSpot's signature (the sandbox signs the same), on any of the URLs it may have signed", () => {
    expect(sandboxSignature(SECRET, 'POST', URI, BODY, String(TS))).toBe(SIGNED);
    expect(check()).toBe('ok');
    expect(check({ uris: ['http://10.0.0.5:8787/webhooks/hubspot', URI] })).toBe('ok');
  });

  it('refuses another secret, body, URL or method, and a missing or malformed header', () => {
    expect(check({ secret: 'other' })).toBe('bad-signature');
    expect(check({ body: BODY.replace('7', '8') })).toBe('bad-signature');
    expect(check({ uris: ['https://evil.example.com/webhooks/hubspot'] })).toBe('bad-signature');
    expect(check({ method: 'PUT' })).toBe('bad-signature');
    expect(check({ signature: null })).toBe('missing');
    expect(check({ timestamp: undefined })).toBe('missing');
    expect(check({ timestamp: 'yesterday' })).toBe('missing');
    expect(check({ signature: 'short' })).toBe('bad-signature');
  });

  it('refuses a signed request more than five minutes from now, either way', () => {
    expect(check({ nowMs: TS + WEBHOOK_MAX_AGE_MS })).toBe('ok');
    expect(check({ nowMs: TS + WEBHOOK_MAX_AGE_MS + 1 })).toBe('stale');
    expect(check({ nowMs: TS - WEBHOOK_MAX_AGE_MS - 1 })).toBe('stale');
  });
});

describe('event batches', () => {
  const known = HUBSPOT_STREAMS.map((s) => s.name);
  it('parses a batch; anything else is not one', () => {
    expect(parseWebhookBatch(BODY)).toEqual([{ eventId: 1, subscriptionType: 'deal.propertyChange', objectId: 7 }]);
    expect(parseWebhookBatch('{"eventId":1}')).toBeNull();
    expect(parseWebhookBatch('[{"eventId":"1","subscriptionType":"deal.creation"}]')).toBeNull();
    expect(parseWebhookBatch('not json')).toBeNull();
    expect(parseWebhookBatch('[]')).toEqual([]);
  });

  it('keys an event by what a redelivery repeats: not the attempt, and not the event id alone (not unique)', () => {
    const [a, retry, other] =
      parseWebhookBatch(
        JSON.stringify([
          {
            eventId: 9,
            subscriptionId: 3,
            objectId: 7,
            occurredAt: 100,
            attemptNumber: 0,
            subscriptionType: 'deal.creation',
          },
          {
            eventId: 9,
            subscriptionId: 3,
            objectId: 7,
            occurredAt: 100,
            attemptNumber: 4,
            subscriptionType: 'deal.creation',
          },
          {
            eventId: 9,
            subscriptionId: 3,
            objectId: 8,
            occurredAt: 160,
            attemptNumber: 0,
            subscriptionType: 'deal.creation',
          },
        ]),
      ) ?? [];
    if (!a || !retry || !other) throw new Error('three events expected');
    expect(eventKey(retry)).toBe(eventKey(a));
    expect(eventKey(other)).not.toBe(eventKey(a));
  });

  it('maps legacy and generic types to the streams that read them, both sides of an association, nothing else', () => {
    const touched = (events: Record<string, unknown>[]) =>
      streamsTouched(parseWebhookBatch(JSON.stringify(events.map((e, i) => ({ eventId: i, ...e })))) ?? [], known);
    expect(touched([{ subscriptionType: 'deal.propertyChange' }])).toEqual(['deals', 'deal_stage_history']);
    expect(touched([{ subscriptionType: 'object.creation', objectTypeId: '0-48' }])).toEqual(['calls']);
    expect(
      touched([{ subscriptionType: 'object.associationChange', fromObjectTypeId: '0-49', toObjectTypeId: '0-3' }]),
    ).toEqual(['deals', 'deal_stage_history', 'emails']);
    expect(
      touched([
        { subscriptionType: 'line_item.deletion' },
        { subscriptionType: 'object.restore', objectTypeId: '0-136' },
      ]),
    ).toEqual(['line_items', 'leads']);
    expect(
      touched([
        { subscriptionType: 'contact.propertyChange' },
        { subscriptionType: 'object.creation', objectTypeId: '0-5' },
      ]),
    ).toEqual([]);
    // A stream the connection does not read is never asked for.
    expect(streamsTouched([{ eventId: 1, subscriptionType: 'deal.creation' }], ['owners'])).toEqual([]);
  });
});
