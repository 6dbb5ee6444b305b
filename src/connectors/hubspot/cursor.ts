/**
 * The cursor of a HubSpot object stream (opaque JSON to the sync engine). Between runs it holds `since`, the
 * modification stamp the next window starts from (the lookback is taken off when the window is searched); during a
 * run it also holds the scan in progress, so a run killed after a committed page resumes after that page.
 */
import type { Logger } from '../../util/log.ts';
import type { StreamCursor } from '../types.ts';

export type Scan =
  /**
   * The first read: the list endpoint, in id order, `after` HubSpot's paging token. `fresh` when the stream was
   * never read: no row can exist that HubSpot archived, so the archived list is skipped.
   */
  | { kind: 'list'; after: string | null; high: number; startedAt: number; fresh?: boolean }
  /** A later read: a stamp window from `lower` (inclusive), keyset by `hs_object_id` after `afterId`. */
  | { kind: 'search'; lower: number; afterId: string | null; high: number; startedAt: number }
  /**
   * Links made after a record was read (associations move no stamp): after a search window, the next slice of the
   * stream's stored rows in external-id order after `afterId` (wrapping to the first), each page's associations read
   * again; `calls` association calls are left in this run's slice (README, "Links made later").
   */
  | { kind: 'relink'; afterId: string | null; next: number; calls: number }
  /** Deletes: the archived list, after the window; `next` is the `since` the run ends with. */
  | { kind: 'archived'; after: string | null; next: number };

export interface HubSpotCursor {
  v: 1;
  since: number | null;
  scan: Scan | null;
  /** The object read when it is not the stream's own (`contacts`: leads from lifecycle stages, no leads object). */
  object?: string;
  /** The stored row the relink rotation resumes after (absent: from the first); kept from run to run. */
  relink?: string;
}

export const START: HubSpotCursor = { v: 1, since: null, scan: null };

function isNum(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

function isIdOrNull(x: unknown): x is string | null {
  return x === null || (typeof x === 'string' && x !== '');
}

function parseScan(s: unknown): Scan | null | undefined {
  if (s === null) return null;
  if (!s || typeof s !== 'object') return undefined;
  const o = s as Record<string, unknown>;
  if (o.kind === 'list' && isIdOrNull(o.after) && isNum(o.high) && isNum(o.startedAt)) {
    return {
      kind: 'list',
      after: o.after,
      high: o.high,
      startedAt: o.startedAt,
      ...(o.fresh === true ? { fresh: true } : {}),
    };
  }
  if (o.kind === 'search' && isNum(o.lower) && isIdOrNull(o.afterId) && isNum(o.high) && isNum(o.startedAt)) {
    return { kind: 'search', lower: o.lower, afterId: o.afterId, high: o.high, startedAt: o.startedAt };
  }
  if (o.kind === 'relink' && isIdOrNull(o.afterId) && isNum(o.next)) {
    // A cursor written before the slice was bounded resumes with one call left.
    return { kind: 'relink', afterId: o.afterId, next: o.next, calls: isNum(o.calls) ? o.calls : 1 };
  }
  if (o.kind === 'archived' && isIdOrNull(o.after) && isNum(o.next)) {
    return { kind: 'archived', after: o.after, next: o.next };
  }
  return undefined;
}

/** The stored cursor, or the start (a full re-read) when it cannot be read. */
export function parseCursor(from: StreamCursor | null, log: Logger): HubSpotCursor {
  if (from === null) return START;
  if (from && typeof from === 'object' && !Array.isArray(from)) {
    const o = from as Record<string, unknown>;
    const scan = parseScan(o.scan ?? null);
    if (o.v === 1 && (o.since === null || isNum(o.since)) && scan !== undefined) {
      return {
        v: 1,
        since: o.since as number | null,
        scan,
        ...(typeof o.object === 'string' && o.object !== '' ? { object: o.object } : {}),
        ...(typeof o.relink === 'string' && o.relink !== '' ? { relink: o.relink } : {}),
      };
    }
  }
  log.warn({ cursor: from }, 'hubspot: the stored cursor is not one this connector wrote; reading the stream anew');
  return START;
}

export function toJson(c: HubSpotCursor): StreamCursor {
  return {
    v: c.v,
    since: c.since,
    scan: c.scan as unknown as StreamCursor,
    ...(c.object !== undefined ? { object: c.object } : {}),
    ...(c.relink !== undefined ? { relink: c.relink } : {}),
  };
}
