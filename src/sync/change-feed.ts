/**
 * What a page changed, as the rest of the program hears of it: the dirty rep-periods its changes touch (old and new
 * owner x old and new fiscal quarter, or the current quarter for a rep-wide change), marked in the same transaction
 * as the rows. That is the whole change feed: the metrics engine consumes these keys, and the run's counts are on
 * its `sync_runs` row. (A per-record log was kept until migration 2026-12-12_21; nothing read it.)
 */
import type { Transaction } from 'kysely';
import type { Database } from '../db/schema.ts';
import { dirtyKeysFor, markDirty } from '../dirty/queue.ts';
import type { DerivedDirty } from './derive.ts';

/** The calendar piece the sync needs: which fiscal quarter a date falls in. */
export interface PeriodLookup {
  periodContaining(date: string, kind: 'quarter'): { id: string };
}

/** What changed for one record: the rep-periods it makes dirty. */
export interface Change {
  externalId: string;
  change: 'added' | 'changed' | 'deleted';
  /** Owners before and after (the rep-periods of both are dirty); empty when no rep's figures move. */
  owners: Array<string | null>;
  /** Days before and after that place the change in a fiscal quarter. */
  days: Array<string | null>;
}

export interface FeedContext {
  connectionId: string;
  stream: { name: string };
  runId: number;
  calendar: PeriodLookup;
}

/** Marks the rep-periods the page's changes (and the derived ones) touch dirty. */
export async function recordChanges(
  trx: Transaction<Database>,
  ctx: FeedContext,
  changes: readonly Change[],
  derivedDirty: readonly DerivedDirty[],
): Promise<void> {
  if (changes.length === 0 && derivedDirty.length === 0) return;
  const reason = `sync:${ctx.stream.name}`;
  await markDirty(trx, [
    ...changes.flatMap((c) => dirtyKeysFor(ctx.connectionId, c.owners, c.days, ctx.calendar, reason)),
    ...derivedDirty.flatMap((d) => dirtyKeysFor(ctx.connectionId, [d.owner], [d.day], ctx.calendar, reason)),
  ]);
}
