/**
 * What every report builder works from (`ReportContext`: the model, the period, the history periods, the stored
 * figures and alerts), the request it resolved to, and the quick figures several builders share (attainment and
 * actual per subject and period, a subject's credits, a scope's reps on D). Its own module so that the builders
 * (build.ts, scorecard.ts, trends.ts, breakdowns.ts, working.ts) depend on it and not on one another.
 */
import type { Kysely } from 'kysely';
import type { FiscalPeriod } from '../config/calendar.ts';
import type { Database } from '../db/schema.ts';
import type { FiguresDocument, Json, JsonObject } from '../metrics/document.ts';
import type { PeriodForecast } from '../metrics/engine/forecast-model.ts';
import type { MetricsModel } from '../metrics/engine/model.ts';
import type { SubjectRef } from '../metrics/engine/types.ts';
import { attainmentFromSums, computeAttainment } from '../metrics/math/attainment.ts';
import type { Credit } from '../metrics/math/booking.ts';
import { elapsedFraction } from '../metrics/math/pacing.ts';
import { membershipOn } from '../metrics/math/rollup.ts';
import { type DateWindow, toDateWindow, trailingDays } from '../metrics/math/windows.ts';
import type { PlainDate } from '../util/date.ts';
import { type Dec, ZERO } from '../util/money.ts';
/** The as-of date and period of a request, with the earlier periods its history shows. */
export interface ResolvedRequest {
  asOf: PlainDate;
  period: FiscalPeriod;
  history: FiscalPeriod[];
}

export interface ReportContext {
  db: Kysely<Database>;
  model: MetricsModel;
  period: FiscalPeriod;
  /** Earlier periods for `history`, oldest first (the model must hold their deals). */
  historyPeriods: readonly FiscalPeriod[];
  explain: boolean;
  /**
   * The subject's stored figures of `period` (the read model's snapshots), used instead of computing them from the
   * model; the model then serves names, memberships, ranks and history only. Absent: computed (the CLI).
   */
  stored?: (subject: SubjectRef) => FiguresDocument;
  /**
   * With `stored`: a rep's or team's attainment in `period` at full precision as the engine stored it beside its
   * snapshot (null without a quota), from which ranks are made instead of from the model: a model of one team's
   * rows can then rank its reps in their region and the org, and the team among the org's teams.
   */
  exact?: (subject: SubjectRef) => Dec | null;
  /** The period's open alerts by subject (`kind:id`), read once for a report on many subjects. */
  alertsBySubject?: Map<string, Json[]>;
  /**
   * With `stored`: the forecast learned for a period (its deals' probabilities), which the stored snapshots' model
   * does not hold; the rep scorecard's gap deals need it. Absent: the model's own (`model.forecastOf`).
   */
  forecast?: (period: FiscalPeriod) => Promise<PeriodForecast | null>;
}

export type Quick = {
  quota: Dec | null;
  actual: Dec;
  attainment: Dec | null;
  projectedAttainment: Dec | null;
  status: string | null;
};

/**
 * Each subject-period's `quickAttainment` with what it was worked out from: the rates, the quota, the memberships
 * index and the credit lists of the rep (or of every member of the group). A model re-booking a rep (`replaceReps`) gives
 * that rep a new list, so after a one-deal change only that rep and its groups are worked out again, not the
 * 5,000 reps' eight periods of history a report on the org shows.
 */
const quickMemo = new WeakMap<
  MetricsModel,
  Map<string, { fx: object; memberships: object; quota: Dec | null; lists: readonly object[]; value: Quick }>
>();

/** Attainment (and actual) of a subject for a period, without the slower figures: for ranks and history. */
export function quickAttainment(ctx: ReportContext, subject: SubjectRef, period: FiscalPeriod): Quick {
  const model = ctx.model;
  let memo = quickMemo.get(model);
  if (!memo) {
    memo = new Map();
    quickMemo.set(model, memo);
  }
  const key = `${subject.kind}:${subject.id}|${period.id}|${period.start}|${period.end}`;
  const kept = memo.get(key);
  if (subject.kind === 'rep') {
    // A rep's list is new whenever the rep is re-booked, which is also when its quota rows are: the same list
    // under the same rates is the same quota.
    const list = model.repRows(subject.id).credits;
    if (kept && kept.fx === model.fx && kept.lists[0] === list) return kept.value;
    const quota = model.repQuota(subject.id, period).quota;
    const value = computeQuick(ctx, subject, period, quota);
    memo.set(key, { fx: model.fx, memberships: model.memberships, quota, lists: [list], value });
    return value;
  }
  const quota = model.groupQuota(subject.kind, subject.id, period);
  const lists = model.membersOf(subject.kind, subject.id).map((k) => model.repRows(k).credits);
  if (
    kept &&
    kept.fx === model.fx &&
    kept.memberships === model.memberships &&
    (kept.quota === null ? quota === null : quota !== null && kept.quota.eq(quota)) &&
    kept.lists.length === lists.length &&
    kept.lists.every((l, i) => l === lists[i])
  )
    return kept.value;
  const value = computeQuick(ctx, subject, period, quota);
  memo.set(key, { fx: model.fx, memberships: model.memberships, quota, lists, value });
  return value;
}

/** A group's credits per model data: the org's history gathers all 45,000 of them once, not once per period. */
const groupCredits = new WeakMap<object, Map<string, readonly Credit[]>>();

export function creditsOf(model: MetricsModel, subject: SubjectRef): readonly Credit[] {
  if (subject.kind === 'rep') return model.repRows(subject.id).credits;
  let byGroup = groupCredits.get(model.data);
  if (!byGroup) {
    byGroup = new Map();
    groupCredits.set(model.data, byGroup);
  }
  const key = `${subject.kind}:${subject.id}`;
  let credits = byGroup.get(key);
  if (!credits) {
    credits = model.groupRows(subject.kind, subject.id).credits;
    byGroup.set(key, credits);
  }
  return credits;
}

/** Attainment of some credits against a quota in a period, as of the model's date, with the model's settings. */
export function attainmentOf(
  model: MetricsModel,
  credits: readonly Credit[],
  period: FiscalPeriod,
  quota: Dec | null,
): ReturnType<typeof computeAttainment> {
  const s = model.settings;
  const f = elapsedFraction({ basis: s.pacing.basis, holidays: s.pacing.holidays, period, asOf: model.asOf }).f;
  return computeAttainment({
    period,
    asOf: model.asOf,
    quota,
    credits,
    f,
    runRateWindowDays: s.runRateWindowDays,
    statusBands: s.statusBands,
  });
}

function computeQuick(ctx: ReportContext, subject: SubjectRef, period: FiscalPeriod, quota: Dec | null): Quick {
  const model = ctx.model;
  const s = model.settings;
  const toDate = toDateWindow(period, model.asOf);
  const trailing = trailingDays(model.asOf, s.runRateWindowDays);
  // Every window this report asks about is summed in the one pass over the list that the first ask makes.
  const also = () => [...ctx.historyPeriods, ctx.period].map((p) => toDateWindow(p, model.asOf));
  const sums = wonSumsIn(creditsOf(model, subject), [toDate, trailing], also);
  const f = elapsedFraction({ basis: s.pacing.basis, holidays: s.pacing.holidays, period, asOf: model.asOf }).f;
  const a = attainmentFromSums(
    { period, asOf: model.asOf, quota, f, runRateWindowDays: s.runRateWindowDays, statusBands: s.statusBands },
    [],
    sums.get(windowKey(toDate)) ?? ZERO,
    [],
    sums.get(windowKey(trailing)) ?? ZERO,
  );
  return {
    quota,
    actual: a.actual,
    attainment: a.attainment.value,
    projectedAttainment: a.projectedAttainment.value,
    status: a.status.value,
  };
}

const windowKey = (w: DateWindow) => `${w.start}..${w.end}`;

/** Per credit list: the windows summed so far and their won sums (`wonSumsIn`). */
const wonSums = new WeakMap<readonly Credit[], { windows: DateWindow[]; sums: Map<string, Dec> }>();

/**
 * The won credits' sums of a list in each window, each summed in list order as `sumCredits(wonIn(list, w))` sums
 * them (the same decimals to the last digit), in one pass over the list for every window: the org's history asked
 * for 16 passes over all its credits (a window each for eight periods, and the run rate's with each), 43% of an org
 * report's CPU at 2,000 reps. The windows are laid in chains of disjoint ones (a period's to date and the run rate's
 * trailing days overlap) and each credit finds its window in a chain by binary search. `more` gives windows worth
 * summing in the same pass, read on the list's first ask.
 */
export function wonSumsIn(
  credits: readonly Credit[],
  windows: readonly DateWindow[],
  more: () => readonly DateWindow[] = () => [],
): ReadonlyMap<string, Dec> {
  const kept = wonSums.get(credits);
  if (kept && windows.every((w) => kept.sums.has(windowKey(w)))) return kept.sums;
  const all = new Map<string, DateWindow>();
  for (const w of [...(kept?.windows ?? more()), ...windows]) all.set(windowKey(w), w);
  const sums = new Map<string, Dec>();
  const chains: { starts: PlainDate[]; ends: PlainDate[]; keys: string[]; acc: Dec[] }[] = [];
  for (const [key, w] of [...all].sort(([, a], [, b]) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))) {
    sums.set(key, ZERO);
    // An empty window (a period starting after D) holds nothing.
    if (w.end < w.start) continue;
    let chain = chains.find((c) => (c.ends.at(-1) as PlainDate) < w.start);
    if (!chain) {
      chain = { starts: [], ends: [], keys: [], acc: [] };
      chains.push(chain);
    }
    chain.starts.push(w.start);
    chain.ends.push(w.end);
    chain.keys.push(key);
    chain.acc.push(ZERO);
  }
  for (const c of credits) {
    if (c.category !== 'won') continue;
    const d = c.deal.closeDate;
    if (typeof d !== 'string') continue;
    for (const chain of chains) {
      // The last window starting on or before d.
      let lo = 0;
      let hi = chain.starts.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((chain.starts[mid] as PlainDate) <= d) lo = mid + 1;
        else hi = mid;
      }
      const i = lo - 1;
      if (i >= 0 && d <= (chain.ends[i] as PlainDate)) chain.acc[i] = (chain.acc[i] as Dec).plus(c.amount);
    }
  }
  for (const chain of chains)
    for (let i = 0; i < chain.keys.length; i++) sums.set(chain.keys[i] as string, chain.acc[i] as Dec);
  wonSums.set(credits, { windows: [...all.values()], sums });
  return sums;
}

/**
 * The reps of every scope on D, worked out once per model data (`replaceReps` gives new data): a report on the
 * org asks for each of its 500 teams' reps, which was 500 passes over the 5,000 reps.
 */
const scopesOf = new WeakMap<object, Map<string, string[]>>();

/** Reps of a scope on D (the team, region or org they belong to then), in rep key order. */
export function repsIn(model: MetricsModel, scope: SubjectRef): string[] {
  let scopes = scopesOf.get(model.data);
  if (!scopes) {
    scopes = new Map([['org', []]]);
    const add = (k: string, rep: string) => {
      const list = scopes?.get(k);
      if (list) list.push(rep);
      else scopes?.set(k, [rep]);
    };
    for (const key of model.repKeys()) {
      const m = membershipOn(model.memberships, key, model.asOf);
      // Someone who left is listed apart (`leavers`), never ranked: only who belongs somewhere on D, or never did.
      if (m || (model.data.reps.has(key) && !(model.memberships.get(key)?.length ?? 0))) add('org', key);
      if (m) {
        add(`team:${m.teamId}`, key);
        add(`region:${m.regionId}`, key);
      }
    }
    scopesOf.set(model.data, scopes);
  }
  // A copy: callers sort it.
  return [...(scopes.get(scope.kind === 'org' ? 'org' : `${scope.kind}:${scope.id}`) ?? [])];
}

/**
 * A subject's report: its figures document (what the engine stores) and what compares it with other subjects or
 * periods: rank, the open alerts, history, and with `explain` the working.
 */
export type SubjectReport = FiguresDocument & {
  rank: JsonObject;
  alerts: Json[];
  history: JsonObject[];
  explain?: JsonObject;
};
