/**
 * The CRM rate budget in PostgreSQL, shared by every worker whatever the queue backend (BullMQ on Redis or on
 * PostgreSQL: the warehouse is always there). A window's slots are rows held until an instant; taking one counts
 * the held rows under a transaction-scoped advisory lock on the window's key, so two workers never both take the
 * last slot. Instants are the database's clock (`clock_timestamp()`), one clock for every worker.
 */
import { type Kysely, sql } from 'kysely';
import { type DailyUsage, MAX_POLL_MS, ORPHAN_HOLD_MS, type RateBudget } from '../connectors/rate-budget.ts';
import type { Database } from '../db/schema.ts';

export function pgRateBudget(db: Kysely<Database>): RateBudget {
  const lockKey = (key: string) => sql`hashtextextended(${`rate-budget:${key}`}, 0)`;
  const row = (r: { used: number; usage_limit: number; resets_at: string } | undefined): DailyUsage | null =>
    r ? { used: Number(r.used), limit: Number(r.usage_limit), resetsAt: r.resets_at } : null;
  return {
    take: (key, max, windowMs) =>
      db.transaction().execute(async (trx) => {
        await sql`SELECT pg_advisory_xact_lock(${lockKey(key)})`.execute(trx);
        await sql`DELETE FROM crm_rate_slots WHERE budget_key = ${key}
          AND held_until <= clock_timestamp() -- wall-clock: the CRM's windows run on real time
          `.execute(trx);
        const held = await sql<{ n: string; first: Date | null; now: Date }>`
          SELECT count(*)::text AS n, min(held_until) AS first, clock_timestamp() AS now -- wall-clock: the CRM's window
          FROM crm_rate_slots WHERE budget_key = ${key}`.execute(trx);
        const h = held.rows[0];
        if (h && Number(h.n) >= max) {
          const until = h.first ? new Date(h.first).getTime() - new Date(h.now).getTime() : MAX_POLL_MS;
          return { waitMs: Math.max(1, Math.min(until, MAX_POLL_MS)) };
        }
        const ins = await sql<{ id: string }>`
          INSERT INTO crm_rate_slots (budget_key, held_until)
          VALUES (${key}, clock_timestamp() + make_interval(secs => ${(windowMs + ORPHAN_HOLD_MS) / 1000})) -- wall-clock: a hold
          RETURNING id::text AS id`.execute(trx);
        return { slot: ins.rows[0]?.id ?? '' };
      }),
    release: async (key, slot, windowMs) => {
      await sql`UPDATE crm_rate_slots SET held_until = clock_timestamp() + make_interval(secs => ${windowMs / 1000}) -- wall-clock: a hold
        WHERE id = ${slot}::bigint AND budget_key = ${key}`.execute(db);
    },
    daily: async (key) =>
      row(
        await db
          .selectFrom('crm_daily_budget')
          .select(['used', 'usage_limit', 'resets_at'])
          .where('budget_key', '=', key)
          .executeTakeFirst(),
      ),
    countDaily: async (key, calls) =>
      row(
        await db
          .updateTable('crm_daily_budget')
          .set({ used: sql`used + ${calls}`, updated_at: sql`now()` }) // wall-clock: when the row was written
          .where('budget_key', '=', key)
          .returning(['used', 'usage_limit', 'resets_at'])
          .executeTakeFirst(),
      ),
    reportDaily: async (key, u) => {
      const r = await sql<{ used: number; usage_limit: number; resets_at: string }>`
        INSERT INTO crm_daily_budget (budget_key, used, usage_limit, resets_at)
        VALUES (${key}, ${u.used}, ${u.limit}, ${u.resetsAt})
        ON CONFLICT (budget_key) DO UPDATE SET
          used = CASE
            WHEN excluded.resets_at::timestamptz = crm_daily_budget.resets_at::timestamptz
              THEN greatest(crm_daily_budget.used, excluded.used)
            ELSE excluded.used END,
          usage_limit = excluded.usage_limit, resets_at = excluded.resets_at, updated_at = now() -- wall-clock: row stamp
        -- A report of an earlier day (a worker still counting yesterday) never rolls the row back: the instants are
        -- compared as instants, not as text (one instant has many spellings).
        WHERE excluded.resets_at::timestamptz >= crm_daily_budget.resets_at::timestamptz
        RETURNING used, usage_limit, resets_at`.execute(db);
      if (r.rows[0]) return row(r.rows[0]) ?? u;
      const kept = await db
        .selectFrom('crm_daily_budget')
        .select(['used', 'usage_limit', 'resets_at'])
        .where('budget_key', '=', key)
        .executeTakeFirst();
      return row(kept) ?? u;
    },
  };
}
