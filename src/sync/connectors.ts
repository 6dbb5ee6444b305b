/**
 * Builds the connector for a configured connection, wired to the warehouse for what must hold across workers:
 * encrypted credentials (rotated refresh tokens, the shared session) and the token-refresh lock.
 */
import type { Kysely } from 'kysely';
import type { Config } from '../config/schema.ts';
import { type CredentialStore, rotationNeedsKeyMessage } from '../connectors/salesforce/auth.ts';
import { SalesforceConnector } from '../connectors/salesforce/connector.ts';
import type { Database } from '../db/schema.ts';
import { SECRET_KEY_ENV } from '../db/secrets.ts';
import { AppError } from '../errors.ts';
import type { Logger } from '../util/log.ts';
import { dbCredentialStore, pgRefreshLock } from './locks.ts';
import { ensureConnection } from './org-binding.ts';

type ConnectionConfig = Config['connections'][number];

/**
 * Stream names users may type: the connector's own, plus the CRM-neutral names of the interface file
 * (`deals`, `activities`, ...), each standing for one or more Salesforce streams.
 */
export const STREAM_ALIASES: Readonly<Record<string, readonly string[]>> = {
  deals: ['opportunities'],
  deal_history: ['opportunity_history'],
  line_items: ['opportunity_line_items'],
  splits: ['opportunity_splits'],
  activities: ['tasks', 'events'],
  quotas: ['forecasting_quotas'],
  fx_rates: ['currency_types', 'dated_conversion_rates'],
  roles: ['user_roles'],
  periods: ['fiscal_periods'],
};

export function resolveStreams(known: readonly string[], requested: string | undefined): string[] {
  if (!requested) return [...known];
  if (known.includes(requested)) return [requested];
  const alias = STREAM_ALIASES[requested];
  if (alias) return alias.filter((s) => known.includes(s));
  throw new AppError(
    'USAGE',
    `unknown stream "${requested}"; known: ${[...known, ...Object.keys(STREAM_ALIASES)].join(', ')}`,
    {
      where: '--stream',
    },
  );
}

// One sync builds a connector per step (read, write-back, alert tasks); the missing key is said once per process.
const warnedNoSecretKey = new Set<string>();

export async function connectorFor(
  db: Kysely<Database>,
  conn: ConnectionConfig,
  config: Config,
  log: Logger,
  signal?: AbortSignal,
): Promise<SalesforceConnector> {
  if (conn.type !== 'salesforce') {
    throw new AppError('NOT_BUILT', `HubSpot sync is not built yet (connection "${conn.id}")`, {
      where: `connections.${conn.id}`,
    });
  }
  await ensureConnection(db, conn.id, 'salesforce');
  let store: CredentialStore | undefined;
  if (process.env[SECRET_KEY_ENV]) store = dbCredentialStore(db, conn.id);
  else if (!warnedNoSecretKey.has(conn.id)) {
    warnedNoSecretKey.add(conn.id);
    log.warn(
      { connection: conn.id },
      `${SECRET_KEY_ENV} is not set: a refresh token Salesforce rotates cannot be saved, and each process logs in anew`,
    );
  }
  return new SalesforceConnector({
    config: conn,
    log,
    lock: pgRefreshLock(db, conn.id, signal ? { signal } : {}),
    defaultTimeZone: config.calendar.timezone,
    defaultCurrency: config.calendar.baseCurrency,
    ...(store ? { store } : {}),
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
  const ids = config.connections.filter((c) => c.enabled && c.type === 'salesforce').map((c) => c.id);
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
    `${rotationNeedsKeyMessage(first)}${rest.length ? ` (so does ${rest.map((r) => `"${r}"`).join(', ')})` : ''}`,
    { where: SECRET_KEY_ENV },
  );
}
