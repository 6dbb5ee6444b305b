/**
 * The Salesforce cursor: a keyset on (SystemModstamp, Id) plus the bookkeeping of the slower passes (delete feed or
 * sweep, formula refresh) and what the first read learned about the org. The sync engine stores it as opaque JSON;
 * only this folder reads it.
 */
import { z } from 'zod';
import type { Logger } from '../../util/log.ts';

const stamp = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})$/);
const keyset = z.object({ stamp, id: z.string().min(1) });

/** What a stream learned about the org on its first read, kept so that incremental runs spend no call on it. */
const streamMeta = z.object({
  /** Fields selected per object (defaults plus the optional ones the org has). */
  fields: z.record(z.string(), z.array(z.string())),
  /** Formula fields among them, per object. */
  formulaFields: z.record(z.string(), z.array(z.string())).optional(),
  timeZone: z.string(),
  corporateCurrency: z.string(),
  multiCurrency: z.boolean(),
  /** The org lacks the feature (no splits, no dated rates): the stream reads nothing. */
  unavailable: z.boolean().optional(),
  /** Per object, a SOQL condition that leaves out records that are not the org's own (our own alert tasks). */
  exclude: z.record(z.string(), z.string()).optional(),
});

/**
 * A full read going through a Bulk API 2.0 query job: the job, the locator of the result set being applied (null:
 * the first), how many of that set's rows are committed, and the CRM time the job's snapshot is no older than (the
 * next incremental run starts there). A killed sync resumes the job here instead of starting over.
 */
const bulkRead = z.object({
  jobId: z.string().min(1),
  locator: z.string().min(1).nullable(),
  skip: z.int().min(0),
  since: stamp,
  /** The read stages every id it sees for a sweep (a `--full` re-read of a synced stream). */
  sweep: z.boolean().optional(),
});

/** Bookkeeping shared by both phases: when the slower passes last completed. */
const passes = {
  /** Upper bound of the last hard-delete check (deleted() feed or full-scan sweep). */
  deletesCheckedTo: stamp.optional(),
  /** When formula fields were last re-read in full. */
  formulasRefreshedAt: stamp.optional(),
  /** A full-scan sweep is owed (after `--full`, or when the delete feed's window was missed). */
  sweepPending: z.boolean().optional(),
  meta: streamMeta.optional(),
};

export const syncCursorSchema = z.discriminatedUnion('phase', [
  z.object({
    v: z.literal(1),
    phase: z.literal('initial'),
    /** Keyset position of the last committed record of the full read. */
    after: keyset.optional(),
    /** Position in the bulk query job of a full read above the bulk threshold. */
    bulk: bulkRead.optional(),
    ...passes,
  }),
  z.object({
    v: z.literal(1),
    phase: z.literal('incremental'),
    /** Records stamped up to here were read; the next run starts here minus the lookback. */
    since: stamp,
    /** Keyset position of the last committed record while a run is in progress; cleared when it completes. */
    after: keyset.optional(),
    ...passes,
  }),
]);

/** A versioned, validated position in a stream. */
export type SyncCursor = z.infer<typeof syncCursorSchema>;
export type Keyset = z.infer<typeof keyset>;
export type StreamMeta = z.infer<typeof streamMeta>;
export type BulkRead = z.infer<typeof bulkRead>;

/**
 * Reads a stored cursor. Anything unreadable (older version, hand-edited, truncated) means a full re-read: the
 * stream then starts over from the initial phase, which is slow but never loses a record.
 */
export function parseCursor(raw: unknown, log?: Logger): SyncCursor | null {
  if (raw == null) return null;
  const parsed = syncCursorSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  log?.warn({ issues: parsed.error.issues.slice(0, 3) }, 'stored sync cursor is unreadable; re-reading the stream');
  return null;
}

/**
 * Where `sync --full` starts: the initial phase, deletes counted as checked up to now (the full read sees every
 * live record), and a sweep owed when the stream was synced before (rows may exist that Salesforce no longer has).
 */
export function fullReadCursor(at: Date, hadCursor: boolean): SyncCursor {
  return { v: 1, phase: 'initial', deletesCheckedTo: at.toISOString(), sweepPending: hadCursor };
}
