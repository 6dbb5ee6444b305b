/**
 * The engine's own vocabulary: subjects, dirty keys and the change feed it hands to write-back and alerts.
 */
import type { PlainDate } from '../../util/date.ts';
import type { FiguresDocument } from '../document.ts';

export type SubjectKind = 'rep' | 'team' | 'region' | 'org';

/** A subject of a snapshot: a rep (`person:<id>` or `<connection>:<owner id>`), a team or region (org unit id), or `org`. */
export interface SubjectRef {
  kind: SubjectKind;
  id: string;
}

/** A rep-period marked for recompute (the dirty queue's, src/dirty/queue.ts). */
export type { DirtyKey } from '../../dirty/queue.ts';

/** One subject-period whose stored metrics changed in a recompute. */
export interface MetricChange {
  subject: SubjectRef;
  periodId: string;
  asOf: PlainDate;
  /** Top-level metric fields whose value differs from the stored snapshot (all fields for a new snapshot). */
  changedFields: string[];
  /** The new snapshot document (the `report` JSON shape without rank, history and alerts). */
  metrics: FiguresDocument;
  /** The previous document as stored (unparsed: only compared), or null when the subject-period had no snapshot. */
  previous: Record<string, unknown> | null;
}

/** Which subject-period changed, and which of its fields (a `MetricChange` without its documents). */
export type ChangeSummary = Pick<MetricChange, 'subject' | 'periodId' | 'asOf' | 'changedFields'>;

/** What one recompute did. */
export interface RecomputeResult {
  asOf: PlainDate;
  /** Every subject-period recomputed, as `kind:id@period`, sorted. */
  recomputed: string[];
  /**
   * Only those whose value changed (a snapshot was written). A full recompute keeps what its callers read (which
   * subjects changed, and which fields), not the documents: two per subject-period of the org otherwise.
   */
  changes: ChangeSummary[];
  /** Alerts opened, escalated or resolved by this recompute. */
  alertEvents: AlertEvent[];
}

export interface AlertEvent {
  alertId: number;
  dedupeKey: string;
  rule: string;
  subject: SubjectRef;
  periodId: string;
  event: 'opened' | 'escalated' | 'resolved';
  severity: 'info' | 'warning' | 'critical';
  message: string;
}

/** `kind:id@period`, the key of a subject-period in sets and logs. */
export function subjectPeriodKey(subject: SubjectRef, periodId: string): string {
  return `${subject.kind}:${subject.id}@${periodId}`;
}
