/**
 * What a page changed, as the rest of the program hears of it: one change-feed row per record added, changed or
 * deleted, and the dirty rep-periods those changes touch (old and new owner x old and new fiscal quarter, or the
 * current quarter for a rep-wide change), marked in the same transaction as the rows.
 */
import type { Transaction } from 'kysely';
import type { Database } from '../db/schema.ts';
import { dirtyKeysFor, markDirty } from '../dirty/queue.ts';
import type { DerivedDirty } from './derive.ts';

/** The calendar piece the sync needs: which fiscal quarter a date falls in. */
export interface PeriodLookup {
  periodContaining(date: string, kind: 'quarter'): { id: string };
}

/** What changed for one record, for the change feed and the dirty keys. */
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

/** Records the page's changes in the change feed and marks their rep-periods (and the derived ones) dirty. */
export async function recordChanges(
  trx: Transaction<Database>,
  ctx: FeedContext,
  changes: readonly Change[],
  derivedDirty: readonly DerivedDirty[],
): Promise<void> {
  if (changes.length === 0 && derivedDirty.length === 0) return;
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
  await markDirty(trx, [
    ...changes.flatMap((c) => dirtyKeysFor(ctx.connectionId, c.owners, c.days, ctx.calendar, reason)),
    ...derivedDirty.flatMap((d) => dirtyKeysFor(ctx.connectionId, [d.owner], [d.day], ctx.calendar, reason)),
  ]);
}
