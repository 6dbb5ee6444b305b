/**
 * The connector registry: connection type -> what the rest of the program needs from that CRM (see
 * `ConnectorKind` in types.ts). Outside src/connectors/, code reaches a CRM only through here and the neutral
 * types; adding a CRM is its folder plus one line below.
 */
import type { ConnectionConfig } from '../config/schema.ts';
import { hubspotKind } from './hubspot/index.ts';
import { salesforceKind } from './salesforce/index.ts';
import type { ConnectorKind } from './types.ts';

export type ConnectionType = ConnectionConfig['type'];

const kinds = new Map<ConnectionType, ConnectorKind>([
  ['salesforce', salesforceKind],
  ['hubspot', hubspotKind],
]);

/** Names for messages about a type whose connector is not built yet. */
const LABELS: Readonly<Record<ConnectionType, string>> = { salesforce: 'Salesforce', hubspot: 'HubSpot' };

/** The registry entry of a connection type; undefined while that CRM's connector is not built. */
export function connectorKind(type: ConnectionType): ConnectorKind | undefined {
  return kinds.get(type);
}

/** Every connection type whose CRM pushes changes we receive, with its receiver. */
export function webhookReceivers(): { type: ConnectionType; receiver: NonNullable<ConnectorKind['webhooks']> }[] {
  return [...kinds].flatMap(([type, kind]) => (kind.webhooks ? [{ type, receiver: kind.webhooks }] : []));
}

/** The CRM's name in messages (`HubSpot sync is not built yet`). */
export function crmLabel(type: ConnectionType): string {
  return kinds.get(type)?.label ?? LABELS[type];
}

/**
 * Puts `kind` in the registry under `type` until the returned function is called, which restores what was there.
 * For tests that run the pipeline with a stand-in CRM.
 */
export function registerConnectorKind(type: ConnectionType, kind: ConnectorKind): () => void {
  const before = kinds.get(type);
  kinds.set(type, kind);
  return () => {
    if (before) kinds.set(type, before);
    else kinds.delete(type);
  };
}

/** The stream names of a connection, in sync order; none while its CRM is not built. */
export function streamNamesOf(conn: ConnectionConfig): string[] {
  return (
    connectorKind(conn.type)
      ?.streams(conn)
      .map((s) => s.name) ?? []
  );
}

/**
 * The streams of one connection a `--stream NAME` stands for: all of them without a name, the stream itself (as a
 * sync prints it), or the streams of a CRM-neutral alias (`deals`, `activities`, ...); null when this connection
 * has no stream of that name. Case does not matter.
 */
export function matchStreams(
  known: readonly string[],
  requested: string | undefined,
  aliases: Readonly<Record<string, readonly string[]>>,
): string[] | null {
  if (!requested) return [...known];
  const name = requested.trim().toLowerCase();
  if (known.includes(name)) return [name];
  const alias = aliases[name];
  if (alias) return alias.filter((s) => known.includes(s));
  return null;
}
