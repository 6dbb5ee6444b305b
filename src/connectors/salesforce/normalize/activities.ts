/** Tasks and Events as activities: what kind of effort, by whom, on which day, for which deal. */
import type { ActivityRow, ActivityType } from '../../types.ts';
import { bool, date, type NormalizeContext, type RawRecord, str, Unnormalizable } from './fields.ts';

const OPPORTUNITY_PREFIX = '006';

/**
 * Task type from TaskSubtype: Call -> call, Email / List Email -> email, Task (or none) -> task unless its Type
 * says proposal; other subtypes (Cadence, LinkedIn) -> other.
 */
export function taskActivityType(subtype: string | null, type: string | null): ActivityType {
  const s = subtype?.toLowerCase().replace(/\s+/g, '') ?? '';
  if (s === 'call') return 'call';
  if (s === 'email' || s === 'listemail') return 'email';
  if (s === '' || s === 'task') return type && /proposal/i.test(type) ? 'proposal' : 'task';
  return 'other';
}

function relatedDeal(raw: RawRecord): string | null {
  const what = str(raw, 'WhatId');
  return what?.startsWith(OPPORTUNITY_PREFIX) ? what : null;
}

function activityDate(raw: RawRecord, ctx: NormalizeContext, instantFields: readonly string[]): string {
  const d = date(raw, 'ActivityDate', ctx.timeZone);
  if (d !== null) return d;
  for (const f of instantFields) {
    const v = date(raw, f, ctx.timeZone);
    if (v !== null) return v;
  }
  throw new Unnormalizable('MISSING_ACTIVITY_DATE', 'ActivityDate and CreatedDate are missing');
}

export function normalizeTask(raw: RawRecord, ctx: NormalizeContext): ActivityRow {
  const subtype = str(raw, 'TaskSubtype');
  return {
    kind: 'task',
    owner_external_id: str(raw, 'OwnerId'),
    activity_type: taskActivityType(subtype, str(raw, 'Type')),
    subtype,
    activity_date: activityDate(raw, ctx, ['CreatedDate']),
    is_completed: raw.IsClosed === undefined ? null : bool(raw, 'IsClosed'),
    deal_external_id: relatedDeal(raw),
  };
}

export function normalizeEvent(raw: RawRecord, ctx: NormalizeContext): ActivityRow {
  return {
    kind: 'event',
    owner_external_id: str(raw, 'OwnerId'),
    activity_type: 'meeting',
    subtype: str(raw, 'EventSubtype'),
    activity_date: activityDate(raw, ctx, ['ActivityDateTime', 'CreatedDate']),
    is_completed: null,
    deal_external_id: relatedDeal(raw),
  };
}
