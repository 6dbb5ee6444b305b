/**
 * Builds the connector for a configured connection through the registry, wired to the warehouse for what must
 * hold across workers: encrypted credentials (rotated refresh tokens, the shared session) and the
 * credential-refresh lock, and the CRM account's rate budget.
 */
import type { Kysely } from 'kysely';
import type { Config } from '../config/schema.ts';
import { connectorKind, crmLabel } from '../connectors/registry.ts';
import type { Connector, CredentialStore } from '../connectors/types.ts';
import type { Database } from '../db/schema.ts';
import { SECRET_KEY_ENV } from '../db/secrets.ts';
import { AppError } from '../errors.ts';
import type { Logger } from '../util/log.ts';
import { dbCredentialStore, pgRefreshLock } from './locks.ts';
import { ensureConnection } from './org-binding.ts';
import { pgRateBudget } from './rate-budget.ts';

type ConnectionConfig = Config['connections'][number];

// One sync builds a connector per step (read, write-back, alert tasks) and per connection; the missing key is one
// fact about the process, said once.
let warnedNoSecretKey = false;

/** The warning, one sentence for every connection of the process. */
export const NO_SECRET_KEY_WARNING = `${SECRET_KEY_ENV} is not set, so CRM logins are not stored: each process logs in anew, and a refresh token the CRM rotates cannot be kept.`;

export async function connectorFor(
  db: Kysely<Database>,
  conn: ConnectionConfig,
  config: Config,
  log: Logger,
  signal?: AbortSignal,
): Promise<Connector> {
  const kind = connectorKind(conn.type);
  if (!kind) {
    throw new AppError('NOT_BUILT', `${crmLabel(conn.type)} sync is not built yet (connection "${conn.id}")`, {
      where: `connections.${conn.id}`,
    });
  }
  await ensureConnection(db, conn.id, conn.type);
  let store: CredentialStore | undefined;
  if (process.env[SECRET_KEY_ENV]) store = dbCredentialStore(db, conn.id);
  else if (!warnedNoSecretKey) {
    warnedNoSecretKey = true;
    log.warn(NO_SECRET_KEY_WARNING);
  }
  return kind.create(conn, {
    log,
    refreshLock: pgRefreshLock(db, conn.id, kind.lockKeys.credentials(conn.id), signal ? { signal } : {}),
    defaultTimeZone: config.calendar.timezone,
    defaultCurrency: config.calendar.baseCurrency,
    fxFromFile: config.fx.source === 'file',
    rateBudget: pgRateBudget(db),
    ...(store ? { credentials: store } : {}),
    ...(signal ? { signal } : {}),
    onRotated: async () => {
      await db
        .updateTable('connections')
        .set({ refresh_token_rotated_at: new Date() }) // wall-clock: an audit stamp
        .where('id', '=', conn.id)
        .execute();
    },
  });
}

/**
 * Connections of the config that the CRM has been seen rotating the refresh token of, while no secret key is set to
 * keep the rotated token: each is a connection that stops logging in after the next restart.
 */
export async function rotationWithoutKey(db: Kysely<Database>, config: Config): Promise<string[]> {
  if (process.env[SECRET_KEY_ENV]) return [];
  const ids = config.connections.filter((c) => c.enabled && connectorKind(c.type)).map((c) => c.id);
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('connections')
    .select('id')
    .where('id', 'in', ids)
    .where('refresh_token_rotated_at', 'is not', null)
    .execute();
  return rows.map((r) => r.id);
}

/** Refuses to run a service (start, worker) that would lose a rotated refresh token at its next restart. */
export async function assertSecretKeyForRotation(db: Kysely<Database>, config: Config): Promise<void> {
  const [first, ...rest] = await rotationWithoutKey(db, config);
  if (first === undefined) return;
  throw new AppError(
    'SECRET_KEY_MISSING',
    `${rotationNeedsKeyMessage(config, first)}${rest.length ? ` (so does ${rest.map((r) => `"${r}"`).join(', ')})` : ''}`,
    { where: SECRET_KEY_ENV },
  );
}

/** What to do about a connection whose rotated credential cannot be kept, in its CRM's words. */
export function rotationNeedsKeyMessage(config: Config, connectionId: string): string {
  const conn = config.connections.find((c) => c.id === connectionId);
  const kind = conn ? connectorKind(conn.type) : undefined;
  return kind
    ? kind.rotationNeedsKey(connectionId)
    : `connection "${connectionId}" rotates its credentials and ${SECRET_KEY_ENV} is not set`;
}
