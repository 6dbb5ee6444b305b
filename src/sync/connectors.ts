/**
 * Builds the connector for a configured connection through the registry, wired to the warehouse for what must
 * hold across workers: encrypted credentials (rotated refresh tokens, the shared session) and the
 * credential-refresh lock.
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

type ConnectionConfig = Config['connections'][number];

// One sync builds a connector per step (read, write-back, alert tasks); the missing key is said once per process.
const warnedNoSecretKey = new Set<string>();

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
  else if (!warnedNoSecretKey.has(conn.id)) {
    warnedNoSecretKey.add(conn.id);
    log.warn(
      { connection: conn.id },
      `${SECRET_KEY_ENV} is not set: a refresh token ${kind.label} rotates cannot be saved, and each process logs in anew`,
    );
  }
  return kind.create(conn, {
    log,
    refreshLock: pgRefreshLock(db, conn.id, kind.lockKeys.credentials(conn.id), signal ? { signal } : {}),
    defaultTimeZone: config.calendar.timezone,
    defaultCurrency: config.calendar.baseCurrency,
    ...(store ? { credentials: store } : {}),
    ...(signal ? { signal } : {}),
  });
}
