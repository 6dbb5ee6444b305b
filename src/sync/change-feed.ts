/**
 * What a page changed, as the rest of the program hears of it: the dirty rep-periods its changes touch (old and new
 * owner x old and new fiscal quarter, or the current quarter for a rep-wide change), marked in the same transaction
 * as the rows. That is the whole change feed: the metrics engine consumes these keys, and the run's counts are on
 * its `sync_runs` row. (A per-record log was kept until migration 2026-12-12_21; nothing read it.)
 */
import type { Transaction } from 'kysely';
import type { Database } from '../db/schema.ts';
import { type DirtyKey, markDirty, repSubjectKey } from '../dirty/queue.ts';
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

/**
 * Marks the rep-periods the page's changes (and the derived ones) touch dirty: every owner x the fiscal quarter of
 * every day of a change, each key once. A page of 2,000 activities has a few hundred owners and
 * days between them: each day's quarter is looked up once a page and each key built once, instead of a key list per
 * change (on the bench org that was 0.7 of the client's 9 CPU seconds, most of it the quarter lookups).
 */
export async function recordChanges(
  trx: Transaction<Database>,
  ctx: FeedContext,
  changes: readonly Change[],
  derivedDirty: readonly DerivedDirty[],
): Promise<void> {
  if (changes.length === 0 && derivedDirty.length === 0) return;
  const reason = `sync:${ctx.stream.name}`;
  const quarterOf = new Map<string, string>();
  const keys = new Map<string, DirtyKey>();
  const periods: string[] = [];
  const mark = (owners: ReadonlyArray<string | null>, days: ReadonlyArray<string | null>) => {
    periods.length = 0;
    for (const d of days) {
      if (!d) continue;
      let p = quarterOf.get(d);
      if (p === undefined) {
        p = ctx.calendar.periodContaining(d, 'quarter').id;
        quarterOf.set(d, p);
      }
      if (!periods.includes(p)) periods.push(p);
    }
    if (periods.length === 0) return;
    for (const o of owners) {
      if (!o) continue;
      for (const p of periods) {
        const k = `${o}|${p}`;
        if (!keys.has(k)) keys.set(k, { subjectKey: repSubjectKey(ctx.connectionId, o), periodId: p, reason });
      }
    }
  };
  for (const c of changes) mark(c.owners, c.days);
  for (const d of derivedDirty) mark([d.owner], [d.day]);
  await markDirty(trx, [...keys.values()]);
}
