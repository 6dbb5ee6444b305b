/**
 * A CRM account's rate limits as one budget for every worker that calls it: rolling windows (HubSpot's 10-second
 * and search limits) and the day's allocation. The connector decides which windows and shares apply; where the
 * budget lives is the host's (src/sync/rate-budget.ts keeps it in PostgreSQL, which every queue backend has). This
 * module holds the contract and the in-process budget used when no host gives one (tests, the bench).
 *
 * A slot is held from the moment it is taken until one window after the answer came: the CRM counted the request
 * at some instant in between, so a request still in flight, or one that took long, is never counted out early.
 */

export interface DailyUsage {
  /** Calls counted against the day so far (the CRM's report, plus calls made since). */
  used: number;
  limit: number;
  /** When the CRM resets the count (ISO instant). */
  resetsAt: string;
}

export interface RateBudget {
  /** Takes one of `max` slots of the window `key`, or says how long to wait before asking again. */
  take(key: string, max: number, windowMs: number): Promise<{ slot: string } | { waitMs: number }>;
  /** The answer to the slot's request came: the slot is held one more window. */
  release(key: string, slot: string, windowMs: number): Promise<void>;
  /** The day's usage as last known (null before anything was reported). */
  daily(key: string): Promise<DailyUsage | null>;
  /** Counts `calls` more calls against the day; returns the usage after them (null before any report). */
  countDaily(key: string, calls: number): Promise<DailyUsage | null>;
  /**
   * What the CRM reported. A report for a later reset instant starts a new day at its count; the same day keeps
   * the higher of the count so far and the report (calls counted here may not have reached the report yet); a
   * report for an earlier one (a worker still counting yesterday) changes nothing. Returns the day as kept.
   */
  reportDaily(key: string, usage: DailyUsage): Promise<DailyUsage>;
}

/** How long a taken slot whose answer never came (its process died) is held: past any request timeout. */
export const ORPHAN_HOLD_MS = 120_000;

/** The longest a waiter sleeps before asking again: a slot held for a request in flight frees when it answers. */
export const MAX_POLL_MS = 250;

/** A budget within one process: workers in the same process share it; other processes do not see it. */
// wall-clock: the burst windows are the CRM's, on real time
export function memoryRateBudget(now: () => number = () => Date.now()): RateBudget {
  const windows = new Map<string, Map<string, number>>();
  const days = new Map<string, DailyUsage>();
  let seq = 0;
  const held = (key: string): Map<string, number> => {
    let w = windows.get(key);
    if (!w) {
      w = new Map();
      windows.set(key, w);
    }
    const t = now();
    for (const [id, until] of w) if (until <= t) w.delete(id);
    return w;
  };
  return {
    async take(key, max, windowMs) {
      const w = held(key);
      if (w.size < max) {
        const slot = String(++seq);
        w.set(slot, now() + windowMs + ORPHAN_HOLD_MS);
        return { slot };
      }
      const first = Math.min(...w.values());
      return { waitMs: Math.max(1, Math.min(first - now(), MAX_POLL_MS)) };
    },
    async release(key, slot, windowMs) {
      const w = windows.get(key);
      if (w?.has(slot)) w.set(slot, now() + windowMs);
    },
    async daily(key) {
      return days.get(key) ?? null;
    },
    async countDaily(key, calls) {
      const d = days.get(key);
      if (!d) return null;
      const next = { ...d, used: d.used + calls };
      days.set(key, next);
      return next;
    },
    async reportDaily(key, usage) {
      const d = days.get(key);
      const was = d ? Date.parse(d.resetsAt) : Number.NaN;
      const is = Date.parse(usage.resetsAt);
      // An earlier day's report never rolls the day back.
      if (d && is < was) return d;
      const next = d && is === was ? { ...usage, used: Math.max(d.used, usage.used) } : usage;
      days.set(key, next);
      return next;
    },
  };
}
