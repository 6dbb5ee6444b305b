/**
 * Activities and leads. A rep's daily calls, emails, meetings and tasks are Poisson draws scaled by the rep's
 * effort (which tracks performance), on weekdays they were employed, many tied to a deal that was open that day.
 * Leads: a share of new-customer deals started as a converted lead; more leads never converted.
 */
import { maxDate, minDate, type PlainDate } from '../../util/date.ts';
import { pushTo } from '../../util/multimap.ts';
import type { DraftDeal } from './deals.ts';
import type { Activity, ActivityType, Lead, LeadStatus, Person } from './model.ts';
import {
  CALL_SUBJECTS,
  COMPANY_SUFFIXES,
  COMPANY_WORDS,
  EMAIL_SUBJECTS,
  FIRST_NAMES,
  LAST_NAMES,
  LEAD_SOURCES,
  MEETING_SUBJECTS,
  TASK_SUBJECTS,
} from './names.ts';
import type { Rng } from './random.ts';
import { daysBetween, instantAt, isWeekday, plusDays, workInstant } from './time.ts';

/** Mean activities per working day for a rep of effort 1 (about the config's default 30-day targets). */
const DAILY_RATES: readonly (readonly [ActivityType, number])[] = [
  ['call', 5.5],
  ['email', 9],
  ['meeting', 1],
  ['task', 0.8],
  ['proposal', 0.15],
];

const SUBJECTS: Readonly<Record<ActivityType, readonly string[]>> = {
  call: CALL_SUBJECTS,
  email: EMAIL_SUBJECTS,
  meeting: MEETING_SUBJECTS,
  task: TASK_SUBJECTS,
  proposal: ['Send proposal', 'Revised proposal'],
};

function poisson(rng: Rng, lambda: number): number {
  // Knuth's method: fine for the small daily rates used here.
  const limit = Math.exp(-lambda);
  let k = 0;
  let p = rng.next();
  while (p > limit) {
    k++;
    p *= rng.next();
  }
  return k;
}

export interface ActivityOptions {
  anchor: PlainDate;
  /** Days of activity history before the anchor. */
  windowDays: number;
  /** The rep whose activity halves in the last 14 days (an activity-drop alert). */
  slackerKey: string;
}

/** `dealKeys[i]` is the key of `deals[i]`. */
export function generateActivities(
  rng: Rng,
  reps: Person[],
  deals: DraftDeal[],
  dealKeys: readonly string[],
  opts: ActivityOptions,
): Activity[] {
  const byOwner = new Map<string, number[]>();
  deals.forEach((d, i) => {
    pushTo(byOwner, d.ownerKey, i);
  });
  const out: Activity[] = [];
  const late = plusDays(opts.anchor, -3);
  const first = plusDays(opts.anchor, -opts.windowDays);
  for (const rep of reps) {
    const own = byOwner.get(rep.key) ?? [];
    const from = maxDate(first, rep.startDate);
    const to = rep.endDate !== null ? minDate(opts.anchor, plusDays(rep.endDate, -1)) : opts.anchor;
    for (let day = from; day <= to; day = plusDays(day, 1)) {
      if (!isWeekday(day)) continue;
      const dropped = rep.key === opts.slackerKey && daysBetween(day, opts.anchor) < 14;
      const effort = rep.traits.effort * (dropped ? 0.45 : 1);
      for (const [type, rate] of DAILY_RATES) {
        const n = poisson(rng, rate * effort);
        for (let i = 0; i < n; i++) {
          // Tie about half the activities to a deal the rep had open that day (a few random probes suffice).
          let dealIndex = -1;
          if (own.length > 0 && rng.chance(0.55)) {
            for (let tries = 0; tries < 4 && dealIndex < 0; tries++) {
              const idx = own[rng.int(0, own.length - 1)] as number;
              const d = deals[idx] as DraftDeal;
              if (d.createdAt.slice(0, 10) <= day && (d.closeDate === null || d.closeDate >= day)) dealIndex = idx;
            }
          }
          const createdAt = workInstant(rng, day, opts.anchor);
          out.push({
            key: `act-${String(out.length + 1).padStart(7, '0')}`,
            ownerKey: rep.key,
            type,
            bulk: type === 'email' && rng.chance(0.1),
            subject: rng.pick(SUBJECTS[type]),
            date: day,
            createdAt,
            dealKey: dealIndex >= 0 ? (dealKeys[dealIndex] as string) : null,
            durationMinutes: type === 'meeting' ? rng.pick([30, 45, 60]) : type === 'call' ? rng.int(3, 40) : null,
            completed: type === 'meeting' || type === 'call' || type === 'email' || day < late || rng.chance(0.5),
          });
        }
      }
    }
  }
  return out;
}

export function generateLeads(
  rng: Rng,
  reps: Person[],
  deals: DraftDeal[],
  dealKeys: readonly string[],
  anchor: PlainDate,
  historyStart: PlainDate,
): Lead[] {
  const leads: Lead[] = [];
  const key = (): string => `lead-${String(leads.length + 1).padStart(6, '0')}`;
  const person = (): { firstName: string; lastName: string } => ({
    firstName: rng.pick(FIRST_NAMES),
    lastName: rng.pick(LAST_NAMES),
  });
  const emailOf = (f: string, l: string, company: string): string =>
    `${f}.${l}@${company}.example.com`.toLowerCase().replace(/[^a-z0-9.@]/g, '');
  deals.forEach((d, i) => {
    if (d.type !== 'New Customer' || !rng.chance(0.3)) return;
    const { firstName, lastName } = person();
    const convertedDate = d.createdAt.slice(0, 10);
    const createdDay = plusDays(convertedDate, -rng.int(3, 30));
    leads.push({
      key: key(),
      ownerKey: d.ownerKey,
      firstName,
      lastName,
      company: d.accountName,
      email: emailOf(firstName, lastName, d.accountName),
      source: d.leadSource,
      status: 'Closed - Converted',
      createdAt: instantAt(createdDay, 30 + rng.next() * 60),
      convertedDate,
      convertedDealKey: dealKeys[i] as string,
      modifiedAt: d.createdAt,
    });
  });
  const converted = leads.length;
  const active = reps.filter((r) => r.isActive);
  for (let i = 0; i < Math.round(converted * 1.5) && active.length > 0; i++) {
    const owner = rng.pick(active);
    const day = plusDays(
      maxDate(historyStart, owner.startDate),
      rng.int(0, Math.max(0, daysBetween(maxDate(historyStart, owner.startDate), anchor))),
    );
    const age = daysBetween(day, anchor);
    const status: LeadStatus =
      age > 60 && rng.chance(0.75)
        ? 'Closed - Not Converted'
        : rng.chance(0.5)
          ? 'Working - Contacted'
          : 'Open - Not Contacted';
    const { firstName, lastName } = person();
    const company = `${rng.pick(COMPANY_WORDS)} ${rng.pick(COMPANY_SUFFIXES)}`;
    const createdAt = workInstant(rng, day, anchor);
    leads.push({
      key: key(),
      ownerKey: owner.key,
      firstName,
      lastName,
      company,
      email: emailOf(firstName, lastName, company),
      source: rng.pick(LEAD_SOURCES),
      status,
      createdAt,
      convertedDate: null,
      convertedDealKey: null,
      modifiedAt:
        status === 'Open - Not Contacted'
          ? createdAt
          : workInstant(rng, plusDays(day, Math.min(age, rng.int(0, 20))), anchor),
    });
  }
  return leads;
}
