/**
 * The dirty queue: which rep-periods must be recomputed, shared by sync (which marks them in the transaction that
 * changes their rows) and metrics (which claims, recomputes and releases them). One row of `dirty_keys` per
 * unclaimed (subject, period); a mark coalesces with an unclaimed mark of the same key, and a claim is a lease that
 * another worker may take over once it is stale.
 *
 * Rates are the exception: a change of exchange rates moves every figure, so it raises one flag in `config_state`
 * that the metrics step takes and answers with a full recompute. A flag rather than a watermark over the change
 * feed's ids: ids are handed out at insert, not at commit, so a watermark can pass over a transaction that commits
 * late.
 */
import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Database } from '../db/schema.ts';

/** A rep-period marked for recompute (a row of `dirty_keys`). */
export interface DirtyKey {
  /** `<connection_id>:<owner external id>` (repSubjectKey) or `person:<id>`. */
  subjectKey: string;
  periodId: string;
  reason?: string;
}

/** The subject key of a CRM owner before it is linked to a person. */
export function repSubjectKey(connectionId: string, ownerExternalId: string): string {
  return `${connectionId}:${ownerExternalId}`;
}

/** Marks rep-periods dirty, coalescing with unclaimed marks of the same key (and with each other). */
export async function markDirty(db: Kysely<Database>, keys: readonly DirtyKey[]): Promise<void> {
  if (keys.length === 0) return;
  // In key order: two transactions marking overlapping keys (two streams syncing at once) then take the unique
  // index's locks in the same order and cannot deadlock.
  const unique = [...new Map(keys.map((k) => [`${k.subjectKey}|${k.periodId}`, k]))]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, k]) => k);
  for (let i = 0; i < unique.length; i += 1000) {
    const chunk = unique.slice(i, i + 1000);
    await sql`insert into dirty_keys (subject_kind, subject_key, period_id, reason)
      select 'rep', k, p, r from unnest(${chunk.map((k) => k.subjectKey)}::text[], ${chunk.map((k) => k.periodId)}::text[],
        ${chunk.map((k) => k.reason ?? 'changed')}::text[]) as t(k, p, r)
      on conflict (subject_kind, subject_key, period_id) where claimed_at is null do nothing`.execute(db);
  }
}

/** A claimed mark, as the claim statements return it. */
export interface ClaimedKey {
  id: number;
  subject_key: string;
  period_id: string;
  reason: string;
}

/** Claims every mark not held by a live lease (a full recompute covers them all). */
export function claimAll(workerId: string, staleClaimSeconds: number): RawBuilder<unknown> {
  // wall-clock: claims are leases, timed in real time
  return sql`update dirty_keys set claimed_at = now(), claimed_by = ${workerId}
        where claimed_at is null or claimed_at < now() - make_interval(secs => ${staleClaimSeconds}) -- wall-clock: a lease
        returning id`;
}

/** Claims up to `limit` marks, oldest first (`FOR UPDATE SKIP LOCKED`: workers never wait for or share a key). */
export function claimBatch(workerId: string, staleClaimSeconds: number, limit: number): RawBuilder<unknown> {
  // wall-clock: claims are leases, timed in real time
  return sql`update dirty_keys set claimed_at = now(), claimed_by = ${workerId}, attempts = attempts + 1
        where id in (
          select id from dirty_keys
          where claimed_at is null or claimed_at < now() - make_interval(secs => ${staleClaimSeconds}) -- wall-clock: a lease
          order by enqueued_at, id limit ${limit}
          for update skip locked)
        returning id, subject_key, period_id, reason`;
}

/** Deletes the marks a recompute covered (only while this worker still holds them). */
export async function completeClaims(db: Kysely<Database>, ids: readonly number[], workerId: string): Promise<void> {
  if (ids.length === 0) return;
  // One array parameter, not one a mark: a full recompute's claim can pass the protocol's 65,535 parameters.
  await sql`delete from dirty_keys where id = any(${ids}::bigint[]) and claimed_by = ${workerId}`.execute(db);
}

/**
 * Renews this worker's lease on marks it still holds (a full recompute longer than the lease): without it another
 * worker takes them as abandoned and computes them a second time while this one is still at work. Only leases at
 * least `olderThanSeconds` old are written (the shards of a run renew its lease one after another).
 */
export async function renewClaims(
  db: Kysely<Database>,
  ids: readonly number[],
  workerId: string,
  olderThanSeconds = 0,
): Promise<void> {
  if (ids.length === 0) return;
  await sql`update dirty_keys set claimed_at = now() -- wall-clock: a lease
    where id = any(${ids}::bigint[]) and claimed_by = ${workerId}
      and claimed_at <= now() - make_interval(secs => ${olderThanSeconds})`.execute(db); // wall-clock: a lease
}

/** Gives claimed marks back after a failed recompute (a newer unclaimed mark of the same key already covers one). */
export async function releaseClaims(db: Kysely<Database>, ids: readonly number[]): Promise<void> {
  await sql`delete from dirty_keys d where d.id = any(${ids}::bigint[]) and exists (
      select 1 from dirty_keys u where u.claimed_at is null and u.subject_kind = d.subject_kind
        and u.subject_key = d.subject_key and u.period_id = d.period_id)`.execute(db);
  await sql`update dirty_keys set claimed_at = null, claimed_by = null where id = any(${ids}::bigint[])`.execute(db);
}

/** `config_state` key of the rates-changed flag. */
export const RATES_CHANGED_KEY = 'fx_rates_changed';

/**
 * Raises the rates-changed flag (in the transaction that writes the rates). A flag taken by a recompute still
 * running is raised again: that recompute may have read the rates before this change.
 */
export async function raiseRatesChanged(db: Kysely<Database>): Promise<void> {
  await sql`insert into config_state (key, hash, value) values (${RATES_CHANGED_KEY}, 'raised', null)
    on conflict (key) do update set hash = 'raised', applied_at = now()`.execute(db); // wall-clock: an audit stamp
}

/**
 * Takes the rates-changed flag for a full recompute: true when it was raised (or left taken by a recompute that
 * died). The flag stays in place, marked taken, until `settleRatesChanged`: while it is there the stored snapshots
 * hold figures at the old rates and no reader may call them current (`src/reports/current-period.ts`).
 */
export async function takeRatesChanged(db: Kysely<Database>): Promise<boolean> {
  const rows = await db
    .updateTable('config_state')
    .set({ hash: 'taken' })
    .where('key', '=', RATES_CHANGED_KEY)
    .returning('key')
    .execute();
  return rows.length > 0;
}

/** Lowers the flag after the recompute that took it stored its snapshots, unless a sync raised it again since. */
export async function settleRatesChanged(db: Kysely<Database>): Promise<void> {
  await db.deleteFrom('config_state').where('key', '=', RATES_CHANGED_KEY).where('hash', '=', 'taken').execute();
}
