/**
 * `report trends`: quota, actual and attainment per period for a scope and, with `--by`, for each of its regions,
 * teams, segments or product lines side by side; the change on the period before (`qoq`) and on the same period a
 * year earlier (`yoy`); the current period marked partial (to date, with its projection); and the reps who
 * performed most consistently above and below quota over the periods shown. Rules: docs/metrics.md, "Trends".
 */
import type { FiscalPeriod } from '../config/calendar.ts';
import { AppError } from '../errors.ts';
import type { JsonObject } from '../metrics/document.ts';
import type { MetricsModel } from '../metrics/engine/model.ts';
import { describeSubject } from '../metrics/engine/subjects.ts';
import type { SubjectRef } from '../metrics/engine/types.ts';
import type { Credit } from '../metrics/math/booking.ts';
import { Dec, formatMoney, formatRatio } from '../util/money.ts';
import { attainmentOf, creditsOf, type Quick, quickAttainment, type ReportContext, repsIn } from './context.ts';

import type { TrendBy } from './trend-options.ts';

export {
  DEFAULT_TREND_PERIODS,
  MAX_TREND_PERIODS,
  parseTrendBy,
  parseTrendPeriods,
  TREND_BY,
  type TrendBy,
} from './trend-options.ts';

/** A consistent performer's mean attainment over the periods is at least this (top) or below `BOTTOM` (bottom). */
export const CONSISTENT_TOP_MEAN = new Dec('1.0000');
export const CONSISTENT_BOTTOM_MEAN = new Dec('0.7000');
/** A consistent performer's spread is at most this (25 points): a rep who swings more is not consistent. */
export const CONSISTENT_MAX_SPREAD = new Dec('0.2500');
/** How many reps each list names at most. */
export const CONSISTENT_LIST = 5;

/**
 * The periods a trends request needs loaded, oldest first, ending before `period`: the `shown - 1` before it and
 * the year before the first shown (for its `yoy` and the first `qoq`).
 */
export function trendHistory(
  calendar: { previous(p: FiscalPeriod): FiscalPeriod; samePeriodLastYear(p: FiscalPeriod): FiscalPeriod },
  period: FiscalPeriod,
  shown: number,
): FiscalPeriod[] {
  const out: FiscalPeriod[] = [];
  let first = period;
  for (let i = 1; i < shown; i++) first = calendar.previous(first);
  const stop = calendar.previous(calendar.samePeriodLastYear(first)).id;
  for (let p = calendar.previous(period); ; p = calendar.previous(p)) {
    out.unshift(p);
    if (p.id === stop) break;
  }
  return out;
}

/** The change between two ratios as printed (four places), or null when either is missing. */
export function ratioChange(now: string | null, before: string | null): string | null {
  if (now === null || before === null) return null;
  return formatRatio(new Dec(now).minus(new Dec(before)));
}

/**
 * Mean and spread (population standard deviation) of attainments as printed, each to four places: the spread is
 * how far a rep's quarters stray from their mean, so a low spread is a consistent rep.
 */
export function consistencyOf(values: readonly string[]): { mean: string; spread: string } {
  const xs = values.map((v) => new Dec(v));
  const mean = xs.reduce((a, b) => a.plus(b), new Dec(0)).div(xs.length);
  const variance = xs.reduce((a, x) => a.plus(x.minus(mean).pow(2)), new Dec(0)).div(xs.length);
  return { mean: formatRatio(mean), spread: formatRatio(variance.sqrt()) };
}

export interface Candidate {
  id: string;
  name: string;
  /** Attainment per complete period shown, as printed; null where the rep had no quota. */
  attainments: (string | null)[];
}

export interface Consistent {
  id: string;
  mean: string;
  spread: string;
}

/**
 * The top and bottom consistent performers: reps with a quota in every complete period shown (two at least), a
 * spread of at most 25 points, and a mean attainment at or above 100% (top) or below 70% (bottom); lowest spread
 * first (then the higher mean for the top, the lower for the bottom, then name), five at most each.
 */
export function consistentPerformers(candidates: readonly Candidate[]): { top: Consistent[]; bottom: Consistent[] } {
  const scored: (Consistent & { name: string })[] = [];
  for (const c of candidates) {
    if (c.attainments.length < 2 || c.attainments.some((a) => a === null)) continue;
    const k = consistencyOf(c.attainments as string[]);
    if (new Dec(k.spread).gt(CONSISTENT_MAX_SPREAD)) continue;
    scored.push({ id: c.id, name: c.name, ...k });
  }
  const bySpread = (dir: 1 | -1) => (a: (typeof scored)[number], b: (typeof scored)[number]) =>
    new Dec(a.spread).cmp(b.spread) ||
    dir * new Dec(b.mean).cmp(a.mean) ||
    (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1);
  const strip = ({ id, mean, spread }: Consistent) => ({ id, mean, spread });
  return {
    top: scored
      .filter((s) => new Dec(s.mean).gte(CONSISTENT_TOP_MEAN))
      .sort(bySpread(1))
      .slice(0, CONSISTENT_LIST)
      .map(strip),
    bottom: scored
      .filter((s) => new Dec(s.mean).lt(CONSISTENT_BOTTOM_MEAN))
      .sort(bySpread(-1))
      .slice(0, CONSISTENT_LIST)
      .map(strip),
  };
}

/** One scope's figures for one period. */
interface Point {
  quota: Dec | null;
  actual: Dec;
  attainment: Dec | null;
  projectedTotal: Dec;
  projectedAttainment: Dec | null;
}

function isPartial(period: FiscalPeriod, asOf: string): boolean {
  return period.start <= asOf && asOf < period.end;
}

/** A part of a scope's credits (one segment's or product line's) worked out as `quickAttainment` works out the whole. */
function partPoint(model: MetricsModel, credits: readonly Credit[], period: FiscalPeriod, quota: Dec | null): Point {
  const a = attainmentOf(model, credits, period, quota);
  return {
    quota,
    actual: a.actual,
    attainment: a.attainment.value,
    projectedTotal: a.projectedTotal,
    projectedAttainment: a.projectedAttainment.value,
  };
}

function quickPoint(q: Quick, projectedTotal: Dec): Point {
  return { ...q, projectedTotal };
}

type Series = { scope: JsonObject; points: (p: FiscalPeriod) => Point; basis?: 'own_quota' | 'scope_quota' };

/** The segment or product line of a credit's deal; `(none)` where the CRM field is empty or not mapped. */
function attributeOf(c: Credit, by: 'segment' | 'product-line'): string {
  const v = by === 'segment' ? c.deal.segment : c.deal.productLine;
  return v === null || v === undefined || v === '' ? '(none)' : v;
}

function subjectScope(model: MetricsModel, ref: SubjectRef): JsonObject {
  const d = describeSubject(model, ref);
  return { type: d.type, id: d.id, name: d.name };
}

function unitSeries(ctx: ReportContext, scope: SubjectRef, by: 'region' | 'team'): SubjectRef[] {
  const model = ctx.model;
  if (scope.kind === 'rep' || (scope.kind === 'team' && by === 'team') || (scope.kind !== 'org' && by === 'region'))
    throw new AppError(
      'USAGE',
      `--by ${by} breaks down ${by === 'region' ? 'the org' : 'the org or a region'}, not a ${scope.kind}`,
      { where: '--by' },
    );
  return model
    .groups(by)
    .filter((id) => scope.kind === 'org' || model.data.units.get(id)?.parentId === scope.id)
    .map((id) => ({ kind: by, id }))
    .sort((a, b) => {
      const na = model.data.units.get(a.id)?.name ?? a.id;
      const nb = model.data.units.get(b.id)?.name ?? b.id;
      return na < nb ? -1 : na > nb ? 1 : 0;
    });
}

export interface TrendsOptions {
  by?: TrendBy;
  /** Periods shown, ending with `ctx.period`; the model must hold them and the year before the first. */
  periods: number;
  /** Quota per product line of the scope for a period, where quotas are set per product family. */
  productLineQuota?: (scope: SubjectRef, line: string, period: FiscalPeriod) => Dec | null;
}

/** The trends document. `ctx.historyPeriods` are those `trendHistory` gives. */
export function trendsReport(ctx: ReportContext, scope: SubjectRef, opts: TrendsOptions): JsonObject {
  const model = ctx.model;
  const cal = model.settings.calendar;
  const asOf = model.asOf;
  const projectedOf = (ref: SubjectRef, p: FiscalPeriod) =>
    partPoint(model, creditsOf(model, ref), p, null).projectedTotal;
  const whole = (ref: SubjectRef) => (p: FiscalPeriod) => {
    const q = quickAttainment(ctx, ref, p);
    return quickPoint(q, isPartial(p, asOf) ? projectedOf(ref, p) : q.actual);
  };

  // The periods shown: the last N ending with the requested one, less those before the scope's first quota.
  let shown: FiscalPeriod[] = [ctx.period];
  for (let i = 1; i < opts.periods; i++) shown.unshift(cal.previous(shown[0] as FiscalPeriod));
  const own = whole(scope);
  const firstQuota = shown.findIndex((p) => own(p).quota !== null);
  shown = firstQuota < 0 ? shown.slice(-1) : shown.slice(firstQuota);

  const series: Series[] = [{ scope: subjectScope(model, scope), points: own }];
  if (opts.by === 'region' || opts.by === 'team')
    for (const ref of unitSeries(ctx, scope, opts.by))
      series.push({ scope: subjectScope(model, ref), points: whole(ref) });
  else if (opts.by === 'segment' || opts.by === 'product-line') {
    const by = opts.by;
    const credits = creditsOf(model, scope);
    const parts = new Map<string, Credit[]>();
    for (const c of credits) {
      const k = attributeOf(c, by);
      const list = parts.get(k);
      if (list) list.push(c);
      else parts.set(k, [c]);
    }
    const names = [...parts.keys()].sort((a, b) =>
      a === '(none)' ? 1 : b === '(none)' ? -1 : a < b ? -1 : a > b ? 1 : 0,
    );
    for (const name of names) {
      const mine = parts.get(name) as Credit[];
      const lineQuota = (p: FiscalPeriod) =>
        by === 'product-line' && name !== '(none)' ? (opts.productLineQuota?.(scope, name, p) ?? null) : null;
      const hasOwn = shown.some((p) => lineQuota(p) !== null);
      series.push({
        scope: { type: by, id: name, name },
        basis: hasOwn ? 'own_quota' : 'scope_quota',
        points: (p) => {
          // Without a quota of its own, a part's attainment is its share of the scope's quota: the parts' add up to
          // the scope's.
          if (hasOwn) return partPoint(model, mine, p, lineQuota(p));
          // Its attainment is over the scope's quota, which is not its own: no quota is printed for it.
          return { ...partPoint(model, mine, p, own(p).quota), quota: null };
        },
      });
    }
  }

  const rows = series.map((s) => ({ s, periods: periodRows(s, shown, cal, asOf) }));
  // A breakdown with nothing in any period shown (a region with no quota and no bookings then) is no column.
  const kept = rows.filter(
    (r, i) => i === 0 || r.periods.some((p) => p.quota !== null || (p.actual as string) !== '0.00'),
  );
  const complete = shown.filter((p) => !isPartial(p, asOf));
  const candidates = (scope.kind === 'rep' ? [scope.id] : repsIn(model, scope)).map((id) => ({
    id,
    name: model.data.reps.get(id)?.name ?? id,
    attainments: complete.map((p) => {
      const a = quickAttainment(ctx, { kind: 'rep', id }, p).attainment;
      return a === null ? null : formatRatio(a);
    }),
  }));
  const performers = consistentPerformers(candidates);
  const person = (c: Consistent) => {
    const d = describeSubject(model, { kind: 'rep', id: c.id });
    const att = candidates.find((x) => x.id === c.id)?.attainments ?? [];
    return {
      rep: { id: d.id, name: d.name, email: d.email, team: d.team },
      mean: c.mean,
      spread: c.spread,
      attainments: complete.map((p, i) => ({ period: p.id, attainment: att[i] ?? null })),
    };
  };
  return {
    scope: subjectScope(model, scope),
    period: { id: ctx.period.id, start: ctx.period.start, end: ctx.period.end },
    asOf,
    currency: model.settings.baseCurrency,
    by: opts.by ?? null,
    periodsAsked: opts.periods,
    // The scope's own row of `series`, as the report printed it before `--by` (kept for its readers).
    periods: kept[0]?.periods ?? [],
    series: kept.map((r) => ({
      scope: r.s.scope,
      ...(r.s.basis ? { attainmentBasis: r.s.basis } : {}),
      periods: r.periods,
    })),
    consistency: {
      periods: complete.map((p) => p.id),
      topMeanAtLeast: formatRatio(CONSISTENT_TOP_MEAN),
      bottomMeanBelow: formatRatio(CONSISTENT_BOTTOM_MEAN),
      spreadAtMost: formatRatio(CONSISTENT_MAX_SPREAD),
      top: performers.top.map(person),
      bottom: performers.bottom.map(person),
    },
  };
}

function periodRows(
  s: Series,
  shown: readonly FiscalPeriod[],
  cal: { previous(p: FiscalPeriod): FiscalPeriod; samePeriodLastYear(p: FiscalPeriod): FiscalPeriod },
  asOf: string,
): JsonObject[] {
  const ratio = (p: FiscalPeriod): string | null => {
    const a = s.points(p).attainment;
    return a === null ? null : formatRatio(a);
  };
  return shown.map((p) => {
    const x = s.points(p);
    const attainment = x.attainment === null ? null : formatRatio(x.attainment);
    const partial = isPartial(p, asOf);
    const projected = x.projectedAttainment === null ? null : formatRatio(x.projectedAttainment);
    // A partial period compares its projection: its attainment to date against whole periods would always fall.
    const compared = partial ? projected : attainment;
    const o: JsonObject = {
      period: p.id,
      start: p.start,
      end: p.end,
      quota: x.quota === null ? null : formatMoney(x.quota),
      actual: formatMoney(x.actual),
      attainment,
      qoq: ratioChange(compared, ratio(cal.previous(p))),
      yoy: ratioChange(compared, ratio(cal.samePeriodLastYear(p))),
      partial,
    };
    if (x.quota === null) o.quotaReason = s.basis === 'scope_quota' ? 'no_own_quota' : 'no_quota';
    if (attainment === null) o.attainmentReason = 'no_quota';
    if (o.qoq === null) o.qoqReason = compared === null ? 'no_quota' : 'no_quota_before';
    if (o.yoy === null) o.yoyReason = compared === null ? 'no_quota' : 'no_quota_a_year_before';
    if (partial) {
      o.projectedActual = formatMoney(x.projectedTotal);
      o.projectedAttainment = projected;
      if (projected === null) o.projectedAttainmentReason = 'no_quota';
    }
    return o;
  });
}
