/**
 * Writes one page of a stream into the warehouse, inside the caller's transaction: upserts only rows whose content
 * hash (or deleted flag) changed, flags deletes, records the change feed, queues the dirty rep-periods (old and
 * new owner x old and new fiscal quarter), quarantines what could not be normalized, and stores the cursor. If the
 * process dies, the transaction rolls back and the previous page's cursor is where the next run resumes.
 */

import { type Kysely, sql, type Transaction } from 'kysely';
import { now } from '../clock.ts';
import type { ColumnValue, NormalizedRecord, Page, StreamSpec } from '../connectors/types.ts';
import type { Database } from '../db/schema.ts';
import { toJsonb } from '../db/schema.ts';
import { dirtyKeysFor, markDirty, raiseRatesChanged } from '../dirty/queue.ts';
import { contentHash } from '../util/hash.ts';
import { lockDerivations, runDerivations } from './derive.ts';
import { type SanityRules, screenPage } from './sanity.ts';

/** The calendar piece the sync needs: which fiscal quarter a date falls in. */
export interface PeriodLookup {
  periodContaining(date: string, kind: 'quarter'): { id: string };
}

export interface ApplyContext {
  connectionId: string;
  stream: StreamSpec & { scope?: { column: string; value: string } };
  runId: number;
  calendar: PeriodLookup;
  /** The run's date (YYYY-MM-DD): the current quarter a rep-wide derived change marks dirty. */
  today?: string;
  /** The connection's `sync.sanity` bounds (default 1e12 and 32,768 characters). */
  sanity?: SanityRules | undefined;
}

export interface PageCounts {
  read: number;
  changed: number;
  deleted: number;
  quarantined: number;
}

// Rows of every synced table are addressed by name here; the column sets come from the normalizers' row types.
// biome-ignore lint/suspicious/noExplicitAny: the table is chosen at run time; its columns are checked by types.ts
type AnyDb = Kysely<any>;

interface Existing {
  external_id: string;
  content_hash: string | null;
  is_deleted: boolean;
  stamp?: string | null;
  owner: string | null;
  day: string | null;
}

/** What changed for one record, for the change feed and the dirty keys. */
interface Change {
  externalId: string;
  change: 'added' | 'changed' | 'deleted';
  owners: Array<string | null>;
  days: Array<string | null>;
}

/** The hash of a normalized row: its own columns only, so a stamp bump with no real change writes nothing. */
export function rowHash(row: object): string {
  return contentHash(row);
}

function runDay(ctx: ApplyContext): string {
  return ctx.today ?? now().toISOString().slice(0, 10);
}

async function loadExisting(
  trx: AnyDb,
  table: string,
  ctx: ApplyContext,
  ids: readonly string[],
): Promise<Map<string, Existing>> {
  if (ids.length === 0) return new Map();
  if (table === 'fx_rates') {
    // fx_rates stores no hash: compute it from the stored columns, as the normalizer's row has them.
    const rates = await trx
      .selectFrom('fx_rates')
      .select([
        'external_id',
        'currency',
        'rate',
        sql<string>`valid_from::text`.as('valid_from'),
        sql<string | null>`valid_to::text`.as('valid_to'),
        'source',
      ])
      .where('connection_id', '=', ctx.connectionId)
      .where('external_id', 'in', ids)
      .execute();
    return new Map(
      rates.map((r) => {
        const { external_id, ...row } = r as { external_id: string } & Record<string, unknown>;
        return [external_id, { external_id, content_hash: rowHash(row), is_deleted: false, owner: null, day: null }];
      }),
    );
  }
  const d = ctx.stream.dirty;
  const rows = (await trx
    .selectFrom(table)
    .select([
      'external_id',
      table === 'fx_rates' ? sql<null>`null`.as('content_hash') : 'content_hash',
      table === 'fx_rates' ? sql<boolean>`false`.as('is_deleted') : 'is_deleted',
      sql<string | null>`to_char(source_modified_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`.as('stamp'),
      d ? sql.ref(d.ownerColumn).as('owner') : sql<null>`null`.as('owner'),
      d?.dateColumn ? sql`${sql.ref(d.dateColumn)}::text`.as('day') : sql<null>`null`.as('day'),
    ])
    .where('connection_id', '=', ctx.connectionId)
    .where('external_id', 'in', ids)
    .execute()) as Existing[];
  return new Map(rows.map((r) => [r.external_id, r]));
}

function columnText(row: object, column: string | undefined): string | null {
  if (!column) return null;
  const v = (row as Record<string, ColumnValue>)[column];
  return v === null || v === undefined ? null : String(v);
}

async function upsertRecord(trx: AnyDb, table: string, ctx: ApplyContext, rec: NormalizedRecord, hash: string) {
  const base = {
    connection_id: ctx.connectionId,
    external_id: rec.externalId,
    source_modified_at: rec.sourceModifiedAt,
    synced_at: new Date(), // wall-clock: an audit stamp
  };
  if (table === 'fx_rates') {
    // fx_rates is keyed by (connection, source, currency, valid_from) and keeps no hash or deleted flag.
    const values = { ...base, ...rec.row };
    delete (values as { synced_at?: Date }).synced_at;
    await trx
      .insertInto('fx_rates')
      .values(values)
      .onConflict((oc) =>
        oc.columns(['connection_id', 'source', 'currency', 'valid_from']).doUpdateSet({
          external_id: rec.externalId,
          rate: (rec.row as { rate: string }).rate,
          valid_to: (rec.row as { valid_to: string | null }).valid_to,
          source_modified_at: rec.sourceModifiedAt,
          synced_at: new Date(), // wall-clock: an audit stamp
        }),
      )
      .execute();
    return;
  }
  await upsertSynced(trx, table, ctx, [{ rec, hash }]);
}

/** Upserts synced rows in batches: one statement per few hundred rows, not one per record. */
async function upsertSynced(
  trx: AnyDb,
  table: string,
  ctx: ApplyContext,
  items: ReadonlyArray<{ rec: NormalizedRecord; hash: string }>,
): Promise<void> {
  const stamp = new Date(); // wall-clock: an audit stamp
  const values = items.map(({ rec, hash }) => ({
    connection_id: ctx.connectionId,
    external_id: rec.externalId,
    source_modified_at: rec.sourceModifiedAt,
    synced_at: stamp,
    ...rec.row,
    content_hash: hash,
    is_deleted: rec.isDeleted,
    deleted_at: rec.isDeleted ? stamp : null,
    last_seen_run_id: ctx.runId,
    ...(table === 'quotas' ? { source: 'crm' } : {}),
  }));
  const first = values[0];
  if (!first) return;
  const updateColumns = Object.keys(first).filter((k) => k !== 'connection_id' && k !== 'external_id');
  for (let i = 0; i < values.length; i += UPSERT_CHUNK) {
    await trx
      .insertInto(table)
      .values(values.slice(i, i + UPSERT_CHUNK))
      .onConflict((oc) => {
        const target =
          table === 'quotas'
            ? oc.columns(['connection_id', 'external_id']).where('external_id', 'is not', null)
            : oc.columns(['connection_id', 'external_id']);
        return target.doUpdateSet(Object.fromEntries(updateColumns.map((c) => [c, sql.ref(`excluded.${c}`)])));
      })
      .execute();
  }
}

const UPSERT_CHUNK = 500;

/**
 * Links reps to persons by email (one human across CRMs), and keeps the person following the CRM: a renamed user
 * renames the person (unless the org file named them: the file wins where it says), and a user whose email changed
 * takes their person along to the new address (same human, same history), unless another CRM user still has the
 * old one or a person already has the new one.
 */
async function linkPersons(trx: AnyDb, ctx: ApplyContext, records: readonly NormalizedRecord[]): Promise<void> {
  for (const rec of records) {
    const row = rec.row as { email?: string | null; name?: string };
    if (!row.email) continue;
    await sql`UPDATE persons p SET email = ${row.email}, updated_at = now() -- wall-clock: an audit stamp
      FROM reps r
      WHERE r.connection_id = ${ctx.connectionId} AND r.external_id = ${rec.externalId} AND p.id = r.person_id
        AND lower(p.email) <> lower(${row.email})
        AND NOT EXISTS (SELECT 1 FROM persons o WHERE lower(o.email) = lower(${row.email}))
        AND NOT EXISTS (SELECT 1 FROM reps s WHERE s.person_id = p.id AND NOT s.is_deleted
          AND NOT (s.connection_id = r.connection_id AND s.external_id = r.external_id)
          AND lower(s.email) = lower(p.email))`.execute(trx);
    await sql`INSERT INTO persons (email, name) VALUES (${row.email}, ${row.name ?? null})
      ON CONFLICT ((lower(email))) DO UPDATE SET name = excluded.name, updated_at = now() -- wall-clock: an audit stamp
      WHERE excluded.name IS NOT NULL AND persons.name IS DISTINCT FROM excluded.name
        AND (persons.source = 'crm' OR coalesce(persons.name, '') = '')`.execute(trx);
    await sql`UPDATE reps SET person_id = (SELECT id FROM persons WHERE lower(email) = lower(${row.email}))
      WHERE connection_id = ${ctx.connectionId} AND external_id = ${rec.externalId}`.execute(trx);
  }
}

async function markDeleted(
  trx: AnyDb,
  table: string,
  ctx: ApplyContext,
  filter: { ids?: readonly string[]; notIn?: readonly string[]; notSwept?: boolean },
): Promise<Change[]> {
  const d = ctx.stream.dirty;
  const unswept = sql<boolean>`NOT EXISTS (SELECT 1 FROM sync_sweep_seen s WHERE s.connection_id = ${ctx.connectionId}
    AND s.stream = ${ctx.stream.name} AND s.external_id = ${sql.ref(`${table}.external_id`)})`;
  if (table === 'fx_rates') {
    let q = trx.deleteFrom('fx_rates').where('connection_id', '=', ctx.connectionId);
    if (ctx.stream.scope) q = q.where(ctx.stream.scope.column, '=', ctx.stream.scope.value);
    if (filter.ids) q = q.where('external_id', 'in', filter.ids.length ? filter.ids : ['\u0000']);
    if (filter.notIn) q = q.where(sql<boolean>`NOT (external_id = ANY(${[...filter.notIn]}::text[]))`);
    if (filter.notSwept) q = q.where(unswept);
    const rows = (await q.returning('external_id').execute()) as Array<{ external_id: string }>;
    return rows.map((r) => ({ externalId: r.external_id, change: 'deleted', owners: [], days: [] }));
  }
  let q = trx
    .updateTable(table)
    .set({ is_deleted: true, deleted_at: new Date(), last_seen_run_id: ctx.runId, synced_at: new Date() }) // wall-clock: audit stamps
    .where('connection_id', '=', ctx.connectionId)
    .where('is_deleted', '=', false);
  if (ctx.stream.scope) q = q.where(ctx.stream.scope.column, '=', ctx.stream.scope.value);
  if (filter.ids) q = q.where('external_id', 'in', filter.ids.length ? filter.ids : ['\u0000']);
  if (filter.notIn) q = q.where(sql<boolean>`NOT (external_id = ANY(${[...filter.notIn]}::text[]))`);
  if (filter.notSwept) q = q.where(unswept);
  const rows = (await q
    .returning([
      'external_id',
      d ? sql.ref(d.ownerColumn).as('owner') : sql<null>`null`.as('owner'),
      d?.dateColumn ? sql`${sql.ref(d.dateColumn)}::text`.as('day') : sql<null>`null`.as('day'),
    ])
    .execute()) as Array<{ external_id: string; owner: string | null; day: string | null }>;
  return rows.map((r) => ({
    externalId: r.external_id,
    change: 'deleted',
    owners: [r.owner],
    days: d && !d.dateColumn ? [runDay(ctx)] : [r.day],
  }));
}

/**
 * One page of a paged sweep: the ids it saw go to sync_sweep_seen (unnest of one array per page, never the whole
 * stream); at the end, rows not seen are flagged deleted by an anti-join against that table, which is then emptied.
 */
async function sweepPage(
  trx: AnyDb,
  table: string,
  ctx: ApplyContext,
  sweep: NonNullable<Page['sweep']>,
): Promise<Change[]> {
  if (sweep.begin) {
    await sql`DELETE FROM sync_sweep_seen WHERE connection_id = ${ctx.connectionId} AND stream = ${ctx.stream.name}`.execute(
      trx,
    );
  }
  if (sweep.seenIds.length > 0) {
    await sql`INSERT INTO sync_sweep_seen (connection_id, stream, external_id)
      SELECT ${ctx.connectionId}, ${ctx.stream.name}, id FROM unnest(${sweep.seenIds}::text[]) AS v(id)
      ON CONFLICT DO NOTHING`.execute(trx);
  }
  if (!sweep.end) return [];
  const changes = await markDeleted(trx, table, ctx, { notSwept: true });
  await sql`DELETE FROM sync_sweep_seen WHERE connection_id = ${ctx.connectionId} AND stream = ${ctx.stream.name}`.execute(
    trx,
  );
  return changes;
}

/** Applies one page inside `trx`; returns what it counted. */
export async function applyPage(
  trxTyped: Transaction<Database>,
  ctx: ApplyContext,
  unscreened: Page,
  cursorJson: unknown,
): Promise<PageCounts> {
  const trx = trxTyped as unknown as AnyDb;
  const table = ctx.stream.table;
  // Pages feeding the same derived column commit one at a time (see lockDerivations).
  await lockDerivations(trx, ctx.connectionId, ctx.stream.derives ?? []);
  // Records outside the sanity bounds, or naming an owner or currency nobody knows, join the page's quarantine.
  const page = await screenPage(trxTyped, ctx, unscreened);
  const counts: PageCounts = { read: unscreened.records.length, changed: 0, deleted: 0, quarantined: 0 };
  const changes: Change[] = [];

  // Last record wins when a page holds the same id twice (it cannot with keyset paging, but a CRM may).
  const byId = new Map(page.records.map((r) => [r.externalId, r]));
  const existing = await loadExisting(trx, table, ctx, [...byId.keys()]);
  const written: NormalizedRecord[] = [];
  const batch: Array<{ rec: NormalizedRecord; hash: string }> = [];
  const restamp: NormalizedRecord[] = [];
  for (const rec of byId.values()) {
    const hash = rowHash(rec.row);
    const old = existing.get(rec.externalId);
    if (old && old.content_hash === hash && old.is_deleted === rec.isDeleted) {
      // Same content, newer stamp (an unmapped field changed, or the delete feed flagged it first): keep the
      // CRM's stamp current without counting a change.
      if (table !== 'fx_rates' && rec.sourceModifiedAt && old.stamp !== rec.sourceModifiedAt) restamp.push(rec);
      continue;
    }
    if (table === 'fx_rates') await upsertRecord(trx, table, ctx, rec, hash);
    else batch.push({ rec, hash });
    written.push(rec);
    const d = ctx.stream.dirty;
    changes.push({
      externalId: rec.externalId,
      change: !old ? 'added' : rec.isDeleted && !old.is_deleted ? 'deleted' : 'changed',
      owners: [
        old?.owner ?? null,
        d?.ownerColumn === 'external_id' ? rec.externalId : columnText(rec.row, d?.ownerColumn),
      ],
      days: d && !d.dateColumn ? [runDay(ctx)] : [old?.day ?? null, columnText(rec.row, d?.dateColumn)],
    });
  }
  await upsertSynced(trx, table, ctx, batch);
  if (restamp.length > 0) {
    await sql`UPDATE ${sql.table(table)} AS t SET source_modified_at = v.stamp::timestamptz
      FROM unnest(${restamp.map((r) => r.externalId)}::text[], ${restamp.map((r) => r.sourceModifiedAt)}::text[]) AS v(id, stamp)
      WHERE t.connection_id = ${ctx.connectionId} AND t.external_id = v.id`.execute(trx);
  }
  if (table === 'reps' && written.length > 0) await linkPersons(trx, ctx, written);

  // Formula-field patches: merge into the stored row and rewrite only when the hash moves.
  for (const patch of page.patches ?? []) {
    const row = (await trx
      .selectFrom(table)
      .selectAll()
      .where('connection_id', '=', ctx.connectionId)
      .where('external_id', '=', patch.externalId)
      .executeTakeFirst()) as Record<string, unknown> | undefined;
    if (!row || row.content_hash === undefined) continue;
    const merged = { ...row, ...patch.columns };
    const derived = derivedColumns(ctx.stream);
    const pick = Object.fromEntries(
      Object.keys(row)
        .filter((k) => !SYSTEM_COLUMNS.has(k) && !derived.has(k))
        .map((k) => [k, merged[k] instanceof Date ? (merged[k] as Date).toISOString() : merged[k]]),
    );
    const hash = rowHash(pick);
    if (hash === row.content_hash) continue;
    await trx
      .updateTable(table)
      .set({ ...patch.columns, content_hash: hash, synced_at: new Date() }) // wall-clock: an audit stamp
      .where('connection_id', '=', ctx.connectionId)
      .where('external_id', '=', patch.externalId)
      .execute();
    changes.push({ externalId: patch.externalId, change: 'changed', owners: [], days: [] });
  }

  if (page.deletedIds.length > 0) changes.push(...(await markDeleted(trx, table, ctx, { ids: page.deletedIds })));
  if (page.sweepSeenIds) changes.push(...(await markDeleted(trx, table, ctx, { notIn: page.sweepSeenIds })));
  if (page.sweep) changes.push(...(await sweepPage(trx, table, ctx, page.sweep)));

  counts.changed = changes.filter((c) => c.change !== 'deleted').length;
  counts.deleted = changes.filter((c) => c.change === 'deleted').length;

  // Warehouse-side columns fed by this stream (a deal's product line from its line items, ...), recomputed for the
  // rows this page moved; a derived value that changes marks its rep-periods dirty like a synced change does.
  const derivedDirty = await runDerivations(trx, ctx.stream.derives ?? [], {
    connectionId: ctx.connectionId,
    table,
    touchedIds: [...new Set(changes.map((c) => c.externalId))],
    today: runDay(ctx),
  });

  if (table === 'fx_rates' && changes.length > 0) await raiseRatesChanged(trxTyped);
  if (changes.length > 0 || derivedDirty.length > 0) {
    if (changes.length > 0)
      await trx
        .insertInto('change_feed')
        .values(
          changes.map((c) => ({
            connection_id: ctx.connectionId,
            stream: ctx.stream.name,
            external_id: c.externalId,
            change: c.change,
            sync_run_id: ctx.runId,
          })),
        )
        .execute();
    const reason = `sync:${ctx.stream.name}`;
    await markDirty(trxTyped, [
      ...changes.flatMap((c) => dirtyKeysFor(ctx.connectionId, c.owners, c.days, ctx.calendar, reason)),
      ...derivedDirty.flatMap((d) => dirtyKeysFor(ctx.connectionId, [d.owner], [d.day], ctx.calendar, reason)),
    ]);
  }

  // Quarantine: keep the newest payload and reason; a record that now normalizes is resolved.
  for (const q of page.quarantined) {
    counts.quarantined++;
    await trx
      .insertInto('quarantine')
      .values({
        connection_id: ctx.connectionId,
        stream: ctx.stream.name,
        external_id: q.externalId,
        reason_code: q.reasonCode,
        reason: q.reason,
        payload: toJsonb(q.payload ?? null),
      })
      .onConflict((oc) =>
        oc.columns(['connection_id', 'stream', 'external_id']).doUpdateSet({
          reason_code: q.reasonCode,
          reason: q.reason,
          payload: toJsonb(q.payload ?? null),
          last_seen_at: new Date(), // wall-clock: an audit stamp
          resolved_at: null,
          seen_count: sql`quarantine.seen_count + 1`,
        }),
      )
      .execute();
  }
  if (byId.size > 0) {
    await trx
      .updateTable('quarantine')
      .set({ resolved_at: new Date() }) // wall-clock: an audit stamp
      .where('connection_id', '=', ctx.connectionId)
      .where('stream', '=', ctx.stream.name)
      .where('resolved_at', 'is', null)
      .where('external_id', 'in', [...byId.keys()])
      .execute();
  }

  await trx
    .insertInto('sync_cursors')
    .values({ connection_id: ctx.connectionId, stream: ctx.stream.name, cursor: toJsonb(cursorJson) })
    .onConflict(
      (oc) =>
        oc.columns(['connection_id', 'stream']).doUpdateSet({ cursor: toJsonb(cursorJson), updated_at: new Date() }), // wall-clock: an audit stamp
    )
    .execute();

  await trx
    .updateTable('sync_runs')
    .set({
      records_read: sql`records_read + ${counts.read}`,
      records_changed: sql`records_changed + ${counts.changed}`,
      records_deleted: sql`records_deleted + ${counts.deleted}`,
      records_quarantined: sql`records_quarantined + ${counts.quarantined}`,
      api_calls: sql`api_calls + ${page.apiCalls}`,
    })
    .where('id', '=', ctx.runId)
    .execute();
  return counts;
}

const DERIVED_COLUMNS: Readonly<Record<string, string>> = {
  deal_product_line: 'product_line',
  rep_quota_carrying: 'quota_carrying',
};

/** Columns of the stream's table that are derived in the warehouse, not part of its normalized rows. */
function derivedColumns(stream: StreamSpec): Set<string> {
  const own = new Set<string>();
  for (const d of stream.derives ?? []) {
    const col = DERIVED_COLUMNS[d];
    if (!col) continue;
    // A derivation lists on both streams that feed it; only the table that holds the column leaves it out.
    if (
      (d === 'deal_product_line' && stream.table === 'deals') ||
      (d === 'rep_quota_carrying' && stream.table === 'reps')
    )
      own.add(col);
  }
  return own;
}

/**
 * Columns that are not part of a connector's normalized row (bookkeeping, links made here, and the columns only
 * another CRM fills: `pipeline` is HubSpot's, `org_unit_id` the quota file's), left out of a patched row's hash.
 */
const SYSTEM_COLUMNS = new Set([
  'pipeline',
  'org_unit_id',
  'id',
  'connection_id',
  'external_id',
  'source_modified_at',
  'content_hash',
  'is_deleted',
  'deleted_at',
  'last_seen_run_id',
  'synced_at',
  'person_id',
  'source',
]);
