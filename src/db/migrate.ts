/**
 * Schema migrations with kysely's Migrator. The migration list is a static import map rather than a folder scan
 * (`FileMigrationProvider` depends on how the loader resolves paths, which differs between tsx, the built copy and
 * tests). Migrator serializes concurrent runs with a PostgreSQL advisory lock, so several processes may call
 * `migrateToLatest` at once: one applies, the others find nothing to do.
 */
import {
  type Kysely,
  type KyselyPlugin,
  type Migration,
  type MigrationProvider,
  Migrator,
  type OperationNode,
  sql,
} from 'kysely';
import { AppError, isAppError } from '../errors.ts';
import type { Logger } from '../util/log.ts';
import * as m01 from './migrations/2026-11-25_01_connections_and_sync.ts';
import * as m02 from './migrations/2026-11-25_02_people_and_org.ts';
import * as m03 from './migrations/2026-11-25_03_crm_records.ts';
import * as m04 from './migrations/2026-11-25_04_metrics_and_alerts.ts';
import * as m05 from './migrations/2026-11-25_05_writeback_and_tokens.ts';
import * as m06 from './migrations/2026-12-06_01_alert_task_day.ts';
import * as m07 from './migrations/2026-12-07_11_alert_task_held_back.ts';
import * as m08 from './migrations/2026-12-07_12_sync_run_abandoned.ts';
import * as m09 from './migrations/2026-12-08_19_web_sessions.ts';
import * as m10 from './migrations/2026-12-08_20_refresh_token_rotation.ts';
import * as m11 from './migrations/2026-12-09_17_forecast_calibrations.ts';
import * as m12 from './migrations/2026-12-10_21_sync_sweep_seen.ts';
import * as m13 from './migrations/2026-12-11_12_writeback_run_lock.ts';
import * as m14 from './migrations/2026-12-11_13_snapshot_inputs_at.ts';
import * as m15 from './migrations/2026-12-11_14_writeback_unwritten_doubt.ts';
import * as m16 from './migrations/2026-12-12_01_crm_rate_budget.ts';
import * as m17 from './migrations/2026-12-12_21_drop_change_feed.ts';
import * as m18 from './migrations/2026-12-13_15_sync_run_skipped.ts';
import * as m19 from './migrations/2026-12-13_16_webhook_events.ts';
import * as m20 from './migrations/2026-12-13_18_report_deliveries.ts';
import * as m21 from './migrations/2026-12-14_01_person_bindings.ts';
import * as m22 from './migrations/2026-12-14_02_alert_tasks_open.ts';
import * as m23 from './migrations/2026-12-15_01_recompute_runs.ts';
import * as m24 from './migrations/2026-12-16_10_engine_state.ts';
import * as m25 from './migrations/2026-12-17_01_snapshot_attainment.ts';
import * as m27 from './migrations/2026-12-17_03_sync_run_totals.ts';
import * as m28 from './migrations/2026-12-17_04_synced_rows_unchecked_connection.ts';

/** Every migration, by name; names sort in the order they apply. Append new files here. */
export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '2026-11-25_01_connections_and_sync': m01,
  '2026-11-25_02_people_and_org': m02,
  '2026-11-25_03_crm_records': m03,
  '2026-11-25_04_metrics_and_alerts': m04,
  '2026-11-25_05_writeback_and_tokens': m05,
  '2026-12-06_01_alert_task_day': m06,
  '2026-12-07_11_alert_task_held_back': m07,
  '2026-12-07_12_sync_run_abandoned': m08,
  '2026-12-08_19_web_sessions': m09,
  '2026-12-08_20_refresh_token_rotation': m10,
  '2026-12-09_17_forecast_calibrations': m11,
  '2026-12-10_21_sync_sweep_seen': m12,
  '2026-12-11_12_writeback_run_lock': m13,
  '2026-12-11_13_snapshot_inputs_at': m14,
  '2026-12-11_14_writeback_unwritten_doubt': m15,
  '2026-12-12_01_crm_rate_budget': m16,
  '2026-12-12_21_drop_change_feed': m17,
  '2026-12-13_15_sync_run_skipped': m18,
  '2026-12-13_16_webhook_events': m19,
  '2026-12-13_18_report_deliveries': m20,
  '2026-12-14_01_person_bindings': m21,
  '2026-12-14_02_alert_tasks_open': m22,
  '2026-12-15_01_recompute_runs': m23,
  '2026-12-16_10_engine_state': m24,
  '2026-12-17_01_snapshot_attainment': m25,
  '2026-12-17_03_sync_run_totals': m27,
  '2026-12-17_04_synced_rows_unchecked_connection': m28,
};

const provider: MigrationProvider = { getMigrations: async () => ({ ...MIGRATIONS }) };

// biome-ignore lint/suspicious/noExplicitAny: the migrator works below the app's types
function migrator(db: Kysely<any>): Migrator {
  return new Migrator({ db, provider });
}

/** The newest migration this build knows: the schema version it expects. */
export function knownSchemaVersion(): string {
  const names = Object.keys(MIGRATIONS).sort();
  const last = names[names.length - 1];
  if (last === undefined) throw new AppError('INTERNAL', 'no migrations are registered');
  return last;
}

/** Attempts at the migrations when the connection to PostgreSQL is lost on the way (see `connectionLost`). */
export const MIGRATION_ATTEMPTS = 3;

/**
 * Whether an error is the connection to PostgreSQL going away (pg_terminate_backend, a server restart or
 * failover, a network cut) rather than something a migration got wrong. The pending migrations run in one
 * transaction, which the server rolls back with the session, so trying again is safe.
 */
export function connectionLost(e: unknown): boolean {
  for (let cur = e; cur instanceof Error; cur = (cur as { cause?: unknown }).cause) {
    const code = (cur as { code?: unknown }).code;
    // 57P01-57P03: administrator command, crash shutdown, cannot connect now; class 08: connection exceptions.
    if (typeof code === 'string' && (/^57P0[123]$/.test(code) || code.startsWith('08'))) return true;
    if (code === 'ECONNRESET' || code === 'ECONNREFUSED' || code === 'EPIPE') return true;
    // kysely's pg driver: the rollback after a failed statement (a COMMIT whose answer never came) finds the
    // connection marked broken by the client's error event and throws this instead of the first error.
    if (
      /Connection terminated|terminating connection|Client has encountered a connection error|Postgres connection has been discarded/i.test(
        cur.message,
      )
    ) {
      return true;
    }
  }
  return false;
}

export interface MigrateOptions {
  /** Where a lost connection and the next attempt are reported. */
  log?: Logger;
  /** The pause before another attempt; injected by tests. */
  sleep?: (ms: number) => Promise<void>;
}

export interface MigrateResult {
  /** Names applied by this call, in order (empty when the schema was current). */
  applied: string[];
  /**
   * Those of `applied` that an attempt whose connection was lost committed after all: its COMMIT reached the
   * server and only the answer was lost, so the retry found them applied.
   */
  committedUnanswered: string[];
  /**
   * Migrations a lost attempt had run whose transaction rolled back, and that another process applied before the
   * retry: not in `applied`, which holds only what this call did.
   */
  appliedByOthers: string[];
}

/** A row an attempt inserted into kysely's migration table: the name and the timestamp this process chose. */
interface MigrationInsert {
  name: string;
  timestamp: string;
}

/**
 * Records the rows a migration attempt inserted into kysely's migration table, once the server answered the insert
 * (inside the attempt's transaction). The timestamp is one this process made (kysely's Migrator sends
 * `new Date().toISOString()`), so after a lost connection the row found in the table tells "our COMMIT landed" (our
 * timestamp) from "ours rolled back and another process applied it" (its own, later timestamp: it could take the
 * migration lock only after our session ended).
 */
function recordInserts(into: Map<string, MigrationInsert>): KyselyPlugin {
  const pending = new Map<unknown, MigrationInsert>();
  return {
    transformQuery({ node, queryId }) {
      const row = migrationInsert(node);
      if (row !== undefined) pending.set(queryId, row);
      return node;
    },
    async transformResult({ result, queryId }) {
      const row = pending.get(queryId);
      if (row !== undefined) {
        pending.delete(queryId);
        into.set(row.name, row);
      }
      return result;
    },
  };
}

/** Name and timestamp of kysely's `insert into kysely_migration (name, timestamp) values (...)`, else undefined. */
function migrationInsert(node: OperationNode): MigrationInsert | undefined {
  const n = node as OperationNode & {
    into?: { table?: { identifier?: { name?: string } } };
    columns?: ReadonlyArray<{ column?: { name?: string } }>;
    values?: { values?: ReadonlyArray<{ kind: string; values?: ReadonlyArray<unknown> }> };
  };
  if (n.kind !== 'InsertQueryNode' || n.into?.table?.identifier?.name !== 'kysely_migration') return undefined;
  const row = n.values?.values?.[0];
  const values = row?.values;
  if (!row || !values) return undefined;
  const column = (c: string): unknown => {
    const at = n.columns?.findIndex((col) => col.column?.name === c) ?? -1;
    if (at < 0) return undefined;
    return row.kind === 'PrimitiveValueListNode' ? values[at] : (values[at] as { value?: unknown })?.value;
  };
  const name = column('name');
  const timestamp = column('timestamp');
  return typeof name === 'string' && typeof timestamp === 'string' ? { name, timestamp } : undefined;
}

/**
 * Applies every pending migration. Returns the names applied by this call (empty when the schema was current).
 * A connection lost on the way is tried again (MIGRATION_ATTEMPTS in all); when the lost attempt's COMMIT had
 * reached the server after all, the retry finds its migrations applied and reports them as applied by that
 * attempt (`committedUnanswered`), not "up to date"; when it had rolled back and another process applied them
 * meanwhile, it says so (`appliedByOthers`). Fails with MIGRATION_FAILED naming the migration (and, when
 * the connection was lost every time, saying so), or SCHEMA_UNKNOWN when the database was migrated by a newer build.
 */
export async function migrateToLatest(
  // biome-ignore lint/suspicious/noExplicitAny: the migrator works below the app's types
  db: Kysely<any>,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  /** Rows inserted by attempts whose connection was then lost. */
  const lostAttempts: Array<{ attempt: number; inserted: MigrationInsert[] }> = [];
  for (let attempt = 1; ; attempt++) {
    const inserted = new Map<string, MigrationInsert>();
    try {
      const { applied } = await migrateOnce(db.withPlugin(recordInserts(inserted)));
      const { ours, others } = await committedAfterAll(db, lostAttempts, applied);
      for (const e of ours) {
        options.log?.warn(
          { attempt: e.attempt, migrations: e.names },
          `attempt ${e.attempt} had applied ${e.names.join(', ')} after all: its COMMIT reached the server, only the answer was lost`,
        );
      }
      for (const e of others) {
        options.log?.warn(
          { attempt: e.attempt, migrations: e.names },
          `attempt ${e.attempt}'s transaction had rolled back; another process applied ${e.names.join(', ')} meanwhile`,
        );
      }
      const committedUnanswered = ours.flatMap((e) => e.names);
      return {
        applied: [...committedUnanswered, ...applied].sort(),
        committedUnanswered,
        appliedByOthers: others.flatMap((e) => e.names).sort(),
      };
    } catch (e) {
      if (!connectionLost(e)) throw e;
      lostAttempts.push({ attempt, inserted: [...inserted.values()] });
      const name = isAppError(e) ? e.where : undefined;
      const what = `the connection to PostgreSQL was lost during migration ${name ?? '(setup)'} (${rootMessage(e)})`;
      // Lost after the last insert, the COMMIT may have landed: the next attempt finds out.
      const maybe = inserted.size > 0 ? 'its transaction may or may not have committed' : undefined;
      if (attempt >= MIGRATION_ATTEMPTS) {
        throw new AppError(
          'MIGRATION_FAILED',
          `${what}, ${attempt} times; ${maybe ?? 'nothing of that migration was applied (the migrations run in one transaction)'}: check the database server, then run the command again`,
          { cause: e, ...(name !== undefined ? { where: name } : {}) },
        );
      }
      options.log?.warn(
        { attempt, of: MIGRATION_ATTEMPTS, migration: name ?? null },
        `${what}; ${maybe ?? 'nothing of it was applied'}, trying again (attempt ${attempt + 1} of ${MIGRATION_ATTEMPTS})`,
      );
      await sleep(500 * attempt);
    }
  }
}

type ByAttempt = Array<{ attempt: number; names: string[] }>;

/**
 * Of the rows lost attempts inserted, those the database has now that the last attempt did not apply itself:
 * `ours` when the row carries the attempt's own timestamp (its COMMIT landed), `others` when it carries another
 * (it rolled back, and another process applied the migration before the retry).
 */
async function committedAfterAll(
  // biome-ignore lint/suspicious/noExplicitAny: reads kysely's own bookkeeping table
  db: Kysely<any>,
  lost: ReadonlyArray<{ attempt: number; inserted: MigrationInsert[] }>,
  appliedNow: readonly string[],
): Promise<{ ours: ByAttempt; others: ByAttempt }> {
  const ours: ByAttempt = [];
  const others: ByAttempt = [];
  if (!lost.some((l) => l.inserted.length > 0)) return { ours, others };
  const rows = await sql<{ name: string; timestamp: string }>`select name, timestamp from kysely_migration`.execute(db);
  const present = new Map(rows.rows.map((r) => [r.name, r.timestamp]));
  const mine = new Set(appliedNow);
  const add = (to: ByAttempt, attempt: number, name: string) => {
    const e = to.find((x) => x.attempt === attempt);
    if (e) e.names.push(name);
    else to.push({ attempt, names: [name] });
  };
  // Each name once: two lost attempts may both have inserted it (the first rolled back, the second landed).
  const tried = new Map<string, Array<{ attempt: number; timestamp: string }>>();
  for (const l of lost) {
    for (const r of l.inserted)
      tried.set(r.name, [...(tried.get(r.name) ?? []), { attempt: l.attempt, timestamp: r.timestamp }]);
  }
  for (const [name, attempts] of tried) {
    const at = present.get(name);
    if (at === undefined || mine.has(name)) continue;
    const landed = attempts.find((a) => a.timestamp === at);
    if (landed) add(ours, landed.attempt, name);
    else add(others, attempts[attempts.length - 1]?.attempt ?? 0, name);
  }
  for (const e of [...ours, ...others]) e.names.sort();
  ours.sort((a, b) => a.attempt - b.attempt);
  others.sort((a, b) => a.attempt - b.attempt);
  return { ours, others };
}

function rootMessage(e: unknown): string {
  let cur = e;
  while (cur instanceof Error && (cur as { cause?: unknown }).cause instanceof Error) cur = (cur as Error).cause;
  return cur instanceof Error ? cur.message : String(cur);
}

// biome-ignore lint/suspicious/noExplicitAny: the migrator works below the app's types
async function migrateOnce(db: Kysely<any>): Promise<{ applied: string[] }> {
  await assertSchemaKnown(db);
  const { error, results } = await migrator(db).migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error !== undefined || failed !== undefined) {
    const name = failed?.migrationName;
    const reason = error instanceof Error ? error.message : String(error ?? 'unknown error');
    throw new AppError('MIGRATION_FAILED', `migration ${name ?? '(setup)'} failed: ${reason}`, {
      cause: error,
      ...(name !== undefined ? { where: name } : {}),
    });
  }
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}

export interface SchemaStatus {
  /** Names recorded in the database as applied. */
  applied: string[];
  /** Known to this build but not applied yet. */
  pending: string[];
  /** Applied by some other (newer) build and unknown to this one. */
  unknown: string[];
}

/** What the database has applied compared with what this build knows. No migration table means nothing applied. */
// biome-ignore lint/suspicious/noExplicitAny: reads kysely's own bookkeeping table
export async function schemaStatus(db: Kysely<any>): Promise<SchemaStatus> {
  const exists = await sql<{ t: string | null }>`select to_regclass('kysely_migration')::text as t`.execute(db);
  const applied: string[] = [];
  if (exists.rows[0]?.t) {
    const rows = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db);
    for (const row of rows.rows) applied.push(row.name);
  }
  const known = new Set(Object.keys(MIGRATIONS));
  const done = new Set(applied);
  return {
    applied,
    pending: [...known].filter((n) => !done.has(n)).sort(),
    unknown: applied.filter((n) => !known.has(n)),
  };
}

/**
 * For processes that must not migrate (workers): fails with SCHEMA_UNKNOWN when the database carries migrations
 * this build does not know, i.e. a newer build migrated it and this one would misread its tables.
 */
// biome-ignore lint/suspicious/noExplicitAny: reads kysely's own bookkeeping table
export async function assertSchemaKnown(db: Kysely<any>): Promise<void> {
  const { unknown } = await schemaStatus(db);
  if (unknown.length > 0) {
    throw new AppError(
      'SCHEMA_UNKNOWN',
      `the database has migrations this version does not know (${unknown.join(', ')}); this build knows up to ${knownSchemaVersion()}: upgrade quota-tracker`,
      { details: { unknown } },
    );
  }
}
