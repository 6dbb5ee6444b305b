/**
 * HubSpot's registry entry: how the rest of the program creates a HubSpot connector, names its streams, classifies
 * its errors and keys its locks, and makes what write-back needs in the portal (`setup`).
 */
import type { ConnectionConfig, HubspotConnectionConfig } from '../../config/schema.ts';
import { AppError } from '../../errors.ts';
import type { ConnectorHost, ConnectorKind, WebhookReceiver } from '../types.ts';
import { HubSpotConnector } from './connector.ts';
import { HUBSPOT_RETRY_CODES } from './retry-codes.ts';
import { checkHubspotOnline, hubspotUsers, setupHubspot } from './setup.ts';
import { HUBSPOT_STREAM_ALIASES, HUBSPOT_STREAMS, hubspotStreams } from './streams.ts';
import { checkSignatureV3, eventKey, parseWebhookBatch, streamsTouched } from './webhooks.ts';

function hubspotConfig(conn: ConnectionConfig): HubspotConnectionConfig {
  if (conn.type !== 'hubspot') {
    throw new AppError('INTERNAL', `connection "${conn.id}" is ${conn.type}, not HubSpot`, {
      where: `connections.${conn.id}`,
    });
  }
  return conn;
}

function create(conn: ConnectionConfig, host: ConnectorHost): HubSpotConnector {
  const c = hubspotConfig(conn);
  return new HubSpotConnector({
    config: {
      id: c.id,
      accessToken: c.accessToken,
      basePath: c.basePath,
      sync: c.sync,
      // A connection built in code may leave out the mapping the config schema defaults to {}.
      fields: {
        ...(c.fields?.segment ? { segment: c.fields.segment } : {}),
        ...(c.fields?.productLine ? { productLine: c.fields.productLine } : {}),
      },
    },
    log: host.log,
    defaultTimeZone: host.defaultTimeZone,
    defaultCurrency: host.defaultCurrency,
    ...(host.fxFromFile ? { fxFromFile: true } : {}),
    ...(host.signal ? { signal: host.signal } : {}),
    ...(host.rateBudget ? { budget: host.rateBudget } : {}),
  });
}

const webhooks: WebhookReceiver = {
  path: 'hubspot',
  verify: (conn, req) => {
    const secret = hubspotConfig(conn).webhookSecret;
    if (!secret) return 'no-secret';
    return checkSignatureV3({
      secret,
      method: req.method,
      uris: req.uris,
      body: req.body,
      signature: req.header('x-hubspot-signature-v3'),
      timestamp: req.header('x-hubspot-request-timestamp'),
      nowMs: req.nowMs,
    });
  },
  events: (_conn, body) => {
    const batch = parseWebhookBatch(body);
    if (!batch) return null;
    const known = HUBSPOT_STREAMS.map((s) => s.name);
    return batch.map((e) => ({
      id: eventKey(e),
      ...(e.portalId !== undefined ? { account: String(e.portalId) } : {}),
      streams: streamsTouched([e], known),
    }));
  },
};

export const hubspotKind: ConnectorKind = {
  label: 'HubSpot',
  streams: (conn) => hubspotStreams(hubspotConfig(conn).fields ?? {}),
  streamAliases: HUBSPOT_STREAM_ALIASES,
  create,
  describe: (conn) => hubspotConfig(conn).basePath,
  // No org id in the answer: HubSpot's teams come from the org file, so there is no live hierarchy to print.
  online: (conn, host) => {
    let calls = 0;
    return {
      check: async () => {
        const r = await checkHubspotOnline(hubspotConfig(conn), host.log, host.orgRows);
        calls += r.apiCalls;
        return { ok: r.ok, lines: r.lines };
      },
      users: async () => {
        const r = await hubspotUsers(hubspotConfig(conn), host.log);
        calls += r.apiCalls;
        return r.users;
      },
      liveHierarchy: async () => {
        throw new AppError('NOT_BUILT', `HubSpot has no live hierarchy; teams come from the org file`, {
          where: `connections.${conn.id}`,
        });
      },
      apiCalls: () => calls,
    };
  },
  setup: (conn, host) => setupHubspot(hubspotConfig(conn), host.log),
  writes: true,
  retryCodes: HUBSPOT_RETRY_CODES,
  lockKeys: {
    credentials: (connectionId) => `token-refresh:${connectionId}`,
  },
  // A private app's access token does not rotate; this is said only if a rotation were ever reported.
  rotationNeedsKey: (connectionId) =>
    `HubSpot connection "${connectionId}" reported a rotated credential, but a private app's token does not rotate`,
  webhooks,
};
