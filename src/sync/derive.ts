/**
 * Columns worked out in the warehouse from other streams' rows, recomputed inside a page's transaction for the
 * rows the page can have moved (the rules are on `Derivation` in src/connectors/types.ts). Only rows whose derived
 * value actually changes are written, and each of them marks its rep-periods dirty, so the metrics follow a
 * derived change the way they follow a synced one.
 */
import { type Kysely, sql } from 'kysely';
import type { Derivation } from '../connectors/types.ts';
import type { Database } from '../db/schema.ts';
import { byKey } from './by-key.ts';

type Db = Kysely<Database>;

/** What a page touched, as far as derivations care. */
export interface DerivationInput {
  connectionId: string;
  /** The stream's table. */
  table: string;
  /** Rows of the page's table that were written (inserted, updated) or flagged deleted. */
  touchedIds: readonly string[];
  /** The run's "today", for the current quarter a rep-wide change marks dirty. */
  today: string;
}

/** A rep-period a derived change made dirty. */
export interface DerivedDirty {
  owner: string;
  day: string;
}

/**
 * Takes, for the rest of the page's transaction, one lock per derivation of the connection that the stream feeds.
 * Call it first in the transaction. Two streams feed each derivation (deals and line items; users and quotas), and
 * `start` and workers commit their pages concurrently: without the lock each page's derivation, under READ
 * COMMITTED, missed the other's uncommitted rows, and both left the derived column stale for good (the
 * SIGKILL-mid-write-back fault scenario found deals without their product line). Taken before any row is written,
 * so a waiting page holds no row lock another one needs.
 */
export async function lockDerivations(trx: Db, connectionId: string, derives: readonly Derivation[]): Promise<void> {
  for (const d of [...new Set(derives)].sort()) {
    await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`derive:${connectionId}:${d}`}, 0))`.execute(trx);
  }
}

/** Runs the stream's derivations for what its page touched; returns the rep-days to mark dirty. */
export async function runDerivations(
  trx: Db,
  derives: readonly Derivation[],
  input: DerivationInput,
): Promise<DerivedDirty[]> {
  if (input.touchedIds.length === 0) return [];
  const out: DerivedDirty[] = [];
  for (const d of derives) {
    if (d === 'deal_product_line') out.push(...(await deriveProductLine(trx, input)));
    else if (d === 'rep_quota_carrying') out.push(...(await deriveQuotaCarrying(trx, input)));
  }
  return out;
}

/**
 * deals.product_line from the deal's largest live line item. A deals page recomputes its own deals (a fresh row
 * starts null); a line-items page recomputes the deals its items belong to.
 */
async function deriveProductLine(trx: Db, input: DerivationInput): Promise<DerivedDirty[]> {
  const ids = [...input.touchedIds];
  const c = input.connectionId;
  // Each deal and line item is found by one probe of its key (by-key.ts says why the planner must not
  // choose), and the update finds its row by the ctid the locking probe returned: no statement here reads more
  // rows than the page moved, however large the tables have grown since their last ANALYZE.
  const dealIds =
    input.table === 'deals'
      ? sql`SELECT DISTINCT k.id FROM unnest(${ids}::text[]) AS k(id)`
      : sql`SELECT DISTINCT t.deal_external_id AS id FROM ${byKey('deal_line_items', c, ids)}`;
  // The deals are locked as they are found (lockedRows in by-key.ts says why the update is a second statement).
  const picked = await sql<{ row: string; family: string | null; product_line: string | null }>`
    WITH target AS (${dealIds})
    SELECT d.ctid::text AS row,
      (SELECT li.product_family FROM deal_line_items li
        WHERE li.connection_id = d.connection_id AND li.deal_external_id = d.external_id AND NOT li.is_deleted
        ORDER BY coalesce(li.amount, 0) DESC, li.external_id
        LIMIT 1) AS family,
      d.product_line
    FROM target
    CROSS JOIN LATERAL (SELECT x.ctid, x.connection_id, x.external_id, x.product_line FROM deals x
      WHERE x.connection_id = ${c} AND x.external_id = target.id LIMIT 1 FOR NO KEY UPDATE) AS d`.execute(trx);
  const moved = picked.rows.filter((p) => p.family !== p.product_line);
  if (moved.length === 0) return [];
  const { rows } = await sql<{ owner: string | null; day: string | null }>`
    UPDATE deals d SET product_line = v.family
    FROM unnest(${moved.map((m) => m.row)}::tid[], ${moved.map((m) => m.family)}::text[]) AS v(row, family)
    -- The ctid list as a condition of its own: a TID scan of those rows, whatever the join below it.
    WHERE d.ctid = ANY(${moved.map((m) => m.row)}::tid[]) AND d.ctid = v.row
    RETURNING d.owner_external_id AS owner, d.close_date::text AS day`.execute(trx);
  return rows.flatMap((r) => (r.owner && r.day ? [{ owner: r.owner, day: r.day }] : []));
}

/**
 * reps.quota_carrying from the live CRM quotas. A users page recomputes its own reps; a quotas page recomputes
 * every rep of the connection, since its first quota (or the removal of its last) changes everyone's answer.
 * A flip marks the rep's quota quarters and the current quarter dirty.
 */
async function deriveQuotaCarrying(trx: Db, input: DerivationInput): Promise<DerivedDirty[]> {
  const c = input.connectionId;
  const only = input.table === 'reps' ? sql`AND r.external_id = ANY(${[...input.touchedIds]}::text[])` : sql``;
  const { rows } = await sql<{ owner: string; days: string[] | null }>`
    WITH live AS (
      SELECT owner_external_id, period_start FROM quotas
      WHERE source = 'crm' AND connection_id = ${c} AND NOT is_deleted
    ),
    answer AS (
      SELECT r.external_id,
        (NOT EXISTS (SELECT 1 FROM live) OR EXISTS (SELECT 1 FROM live WHERE owner_external_id = r.external_id))
          AS carrying
      FROM reps r WHERE r.connection_id = ${c} ${only}
    )
    UPDATE reps r SET quota_carrying = a.carrying
    FROM answer a
    WHERE r.connection_id = ${c} AND r.external_id = a.external_id AND r.quota_carrying IS DISTINCT FROM a.carrying
    RETURNING r.external_id AS owner,
      (SELECT array_agg(DISTINCT q.period_start::text) FROM quotas q
        WHERE q.source = 'crm' AND q.connection_id = ${c} AND q.owner_external_id = r.external_id) AS days`.execute(
    trx,
  );
  return rows.flatMap((r) => [input.today, ...(r.days ?? [])].map((day) => ({ owner: r.owner, day })));
}
