/**
 * The JSON shape of the interface file's reports, built from the math's figures: money as two-place strings,
 * ratios as four-place strings, dates as `YYYY-MM-DD`, and a missing value as `null` with a sibling `...Reason`.
 *
 * The same document (without rank, alerts and history, which compare subjects or periods) is what the engine stores
 * as a subject-period's snapshot, so a report and a snapshot can never disagree about a figure.
 */
import type { FiscalPeriod } from '../config/calendar.ts';
import { AppError } from '../errors.ts';
import { type Dec, formatMoney, formatRatio } from '../util/money.ts';
import { forecastCalibrationJson } from './forecast-basis.ts';
import type { CalibrationBasis } from './math/calibration.ts';
import type { PacingBasis } from './math/pacing.ts';
import type { CoverageBand } from './math/pipeline.ts';
import type { SubjectMetrics } from './math/rep-metrics.ts';
import type { Maybe, StatusBand } from './math/types.ts';

/** Who a document is about. */
export interface SubjectInfo {
  type: 'rep' | 'team' | 'region' | 'org';
  id: string;
  name: string;
  email: string | null;
  team: string | null;
  region: string | null;
  manager: string | null;
}

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/**
 * A figure that can be missing, as the document writes it: `key: value` or `key: null` beside `keyReason` (why it
 * is missing: `no_quota`, `no_closed_deals`, ...). `K` is the key, `T` the value's type.
 */
export type Figure<K extends string, T = string> = { [P in K]: T | null } & { [P in `${K}Reason`]?: string };

export interface PeriodFigures {
  id: string;
  start: string;
  end: string;
  daysTotal: number;
  daysElapsed: number;
  daysRemaining: number;
}

export type PipelineFigures = {
  open: string;
  weighted: string;
  openDeals: number;
  overdue: string;
  overdueDeals: number;
} & Figure<'coverage'> &
  Figure<'coverageBand', CoverageBand>;

export type ActivityFigures = {
  /** `YYYY-MM-DD..YYYY-MM-DD`. */
  window: string;
  counts: { call: number; meeting: number; email: number; task: number; proposal: number };
} & Figure<'score'>;

/** Where a forecast's probabilities came from (`forecast-basis.ts` writes it and prints its line). */
export type ForecastCalibrationFigures = {
  basis: CalibrationBasis;
  periods: number;
  backtestAsOf: string | null;
  learnedFromPeriods: number;
  wins: number;
  losses: number;
  shock: string;
} & Figure<'p10Held'>;

export type ForecastFigures = {
  p10: string;
  p25: string;
  p50: string;
  p90: string;
  trials: number;
  /** Absent from snapshots stored before the calibrated forecast (2026-12-06); reports then print the CRM basis. */
  calibration?: ForecastCalibrationFigures;
} & Figure<'probabilityToHitQuota'>;

export type CommissionFigures = Figure<'atActual'> &
  Figure<'atProjected'> &
  Figure<'atP50'> &
  Figure<'nextTier'> &
  Figure<'bookingsToNextTier'>;

/**
 * The figures document: what the engine stores as a subject-period's snapshot (`metric_snapshots.metrics`), what
 * write-back turns into CRM field values and what every report lays out. Money is a two-place string, a ratio a
 * four-place string, a date `YYYY-MM-DD`; a missing figure is `null` with its reason (`Figure`).
 * `parseFiguresDocument` reads a stored one.
 */
export type FiguresDocument = {
  subject: SubjectInfo;
  period: PeriodFigures;
  asOf: string;
  currency: string;
  actual: string;
  closedWonDeals: number;
  pacingBasis: PacingBasis;
  currentRunRate: string;
  runRateWindowDays: number;
  projectedTotal: string;
  pipeline: PipelineFigures;
  activities: ActivityFigures;
  forecast: ForecastFigures;
  commission: CommissionFigures;
} & Figure<'quota'> &
  Figure<'attainment'> &
  Figure<'remaining'> &
  Figure<'expectedToDate'> &
  Figure<'paceVariance'> &
  Figure<'paceVariancePct'> &
  Figure<'paceStatus', 'ahead' | 'behind'> &
  Figure<'paceIndex'> &
  Figure<'requiredDailyRunRate'> &
  Figure<'requiredWeeklyRunRate'> &
  Figure<'projectedAttainment'> &
  Figure<'status', StatusBand> &
  Figure<'winRate'> &
  Figure<'winRateByValue'> &
  Figure<'avgDealSize'> &
  Figure<'salesCycleDays'> &
  Figure<'velocity'> &
  Figure<'tenureAdjustedAttainment'> &
  Figure<'territoryAdjustedAttainment'>;

/**
 * The document (or a part of it) as JSON, for the report envelopes that carry it (`totals`, `reps`, `forecast`):
 * every value in it is JSON by construction; only its optional `...Reason` keys keep the type from saying so.
 */
export function asJson(doc: FiguresDocument | SubjectInfo | PeriodFigures | ForecastFigures): JsonObject {
  return doc as unknown as JsonObject;
}

/**
 * Sets `key` (formatted) or `key: null` and `keyReason`, in that order, on an object being built. Assignment, not
 * a spread per figure: a document is built for every subject of every recompute and report.
 */
function put<T, U>(o: Record<string, unknown>, key: string, v: Maybe<T>, fmt: (t: T) => U): void {
  o[key] = v.value === null ? null : fmt(v.value);
  if (v.value === null) o[`${key}Reason`] = v.reason;
}

const same = <T>(t: T): T => t;

/** A mean number of days, to two places like money (it is a mean, so not always whole). */
function days(d: Dec): string {
  return formatMoney(d);
}

/**
 * The period-bound figures of one subject: every field of the interface's rep object except `rank`, `alerts` and
 * `history`, plus a few the definitions name that the interface leaves implicit (weekly run rate, pace index,
 * overdue pipeline, tenure- and territory-adjusted attainment, commission at P50, P90 confidence inputs).
 */
export function figuresDocument(
  subject: SubjectInfo,
  period: FiscalPeriod,
  m: SubjectMetrics,
  currency: string,
): FiguresDocument {
  const o: Record<string, unknown> = {
    subject: { ...subject },
    period: {
      id: period.id,
      start: period.start,
      end: period.end,
      daysTotal: m.days.total,
      daysElapsed: m.days.elapsed,
      daysRemaining: m.days.remaining,
    },
    asOf: m.asOf,
    currency,
  };
  put(o, 'quota', m.quota, formatMoney);
  o.actual = formatMoney(m.actual);
  o.closedWonDeals = m.closedWonDeals;
  put(o, 'attainment', m.attainment, formatRatio);
  put(o, 'remaining', m.remaining, formatMoney);
  put(o, 'expectedToDate', m.expectedToDate, formatMoney);
  put(o, 'paceVariance', m.paceVariance, formatMoney);
  put(o, 'paceVariancePct', m.paceVariancePct, formatRatio);
  put(o, 'paceStatus', m.paceStatus, same);
  put(o, 'paceIndex', m.paceIndex, formatRatio);
  o.pacingBasis = m.pacing.used;
  put(o, 'requiredDailyRunRate', m.requiredDailyRunRate, formatMoney);
  put(o, 'requiredWeeklyRunRate', m.requiredWeeklyRunRate, formatMoney);
  o.currentRunRate = formatMoney(m.currentRunRate);
  o.runRateWindowDays = m.runRateWindowDays;
  o.projectedTotal = formatMoney(m.projectedTotal);
  put(o, 'projectedAttainment', m.projectedAttainment, formatRatio);
  put(o, 'status', m.status, same);

  const p: Record<string, unknown> = { open: formatMoney(m.pipeline.open), weighted: formatMoney(m.pipeline.weighted) };
  put(p, 'coverage', m.pipeline.coverage, formatRatio);
  put(p, 'coverageBand', m.pipeline.coverageBand, same);
  p.openDeals = m.pipeline.openDeals;
  p.overdue = formatMoney(m.pipeline.overdueAmount);
  p.overdueDeals = m.pipeline.overdueDeals;
  o.pipeline = p;

  put(o, 'winRate', m.winRate, formatRatio);
  put(o, 'winRateByValue', m.conversion.winRateByValue, formatRatio);
  put(o, 'avgDealSize', m.avgDealSize, formatMoney);
  put(o, 'salesCycleDays', m.salesCycleDays, days);
  put(o, 'velocity', m.velocity, formatMoney);

  const a = m.activities;
  const act: Record<string, unknown> = {
    window: `${a.window.start}..${a.window.end}`,
    counts: {
      call: a.counts.call,
      meeting: a.counts.meeting,
      email: a.counts.email,
      task: a.counts.task,
      proposal: a.counts.proposal,
    },
  };
  put(act, 'score', a.score, (d) => d.toDecimalPlaces(2).toFixed(2));
  o.activities = act;

  const f: Record<string, unknown> = {
    p10: formatMoney(m.forecast.p10),
    p25: formatMoney(m.forecast.p25),
    p50: formatMoney(m.forecast.p50),
    p90: formatMoney(m.forecast.p90),
  };
  put(f, 'probabilityToHitQuota', m.forecast.probabilityToHitQuota, formatRatio);
  f.trials = m.forecast.trials;
  f.calibration = forecastCalibrationJson(m.forecast.calibration);
  o.forecast = f;

  const c: Record<string, unknown> = {};
  const cm = m.commission;
  put(c, 'atActual', cm.atActual, (r) => formatMoney(r.payout));
  put(c, 'atProjected', cm.atProjected, (r) => formatMoney(r.payout));
  put(c, 'atP50', cm.atP50, (r) => formatMoney(r.payout));
  put(c, 'nextTier', cm.nextTier, (t) => formatRatio(t.from));
  put(c, 'bookingsToNextTier', cm.nextTier, (t) => formatMoney(t.bookingsToReach));
  o.commission = c;

  put(o, 'tenureAdjustedAttainment', m.tenureAdjustedAttainment, formatRatio);
  put(o, 'territoryAdjustedAttainment', m.territoryAdjustedAttainment, formatRatio);
  // Built field by field above for speed; its shape is FiguresDocument's (parseFiguresDocument accepts it: the
  // write-back tests read every stored document through it).
  return o as FiguresDocument;
}

/**
 * What a stored document must hold, field by field: `s` a string, `n` a number, `s?` a string or null, `fig` a
 * figure (a string, or null beside a string `...Reason`), `{ fig: words }` a figure that is one of the words,
 * `{ one: words }` one of the words, `{ optional }` a field older documents lack, and `{ fields }` an object.
 */
type Spec =
  | 's'
  | 'n'
  | 's?'
  | 'fig'
  | { fig: readonly string[] }
  | { one: readonly string[] }
  | { optional: Spec }
  | { fields: Readonly<Record<string, Spec>> };

const CALIBRATION_SPEC: Spec = {
  fields: {
    basis: { one: ['calibrated', 'crm_fallback'] },
    periods: 'n',
    p10Held: 'fig',
    backtestAsOf: 's?',
    learnedFromPeriods: 'n',
    wins: 'n',
    losses: 'n',
    shock: 's',
  },
};

const FIGURES_SPEC: Spec = {
  fields: {
    subject: {
      fields: {
        type: { one: ['rep', 'team', 'region', 'org'] },
        id: 's',
        name: 's',
        email: 's?',
        team: 's?',
        region: 's?',
        manager: 's?',
      },
    },
    period: {
      fields: { id: 's', start: 's', end: 's', daysTotal: 'n', daysElapsed: 'n', daysRemaining: 'n' },
    },
    asOf: 's',
    currency: 's',
    quota: 'fig',
    actual: 's',
    closedWonDeals: 'n',
    attainment: 'fig',
    remaining: 'fig',
    expectedToDate: 'fig',
    paceVariance: 'fig',
    paceVariancePct: 'fig',
    paceStatus: { fig: ['ahead', 'behind'] },
    paceIndex: 'fig',
    pacingBasis: { one: ['calendar', 'business', 'seasonal'] },
    requiredDailyRunRate: 'fig',
    requiredWeeklyRunRate: 'fig',
    currentRunRate: 's',
    runRateWindowDays: 'n',
    projectedTotal: 's',
    projectedAttainment: 'fig',
    status: { fig: ['on_track', 'likely_to_hit', 'at_risk', 'likely_miss', 'significant_gap', 'major_gap'] },
    pipeline: {
      fields: {
        open: 's',
        weighted: 's',
        coverage: 'fig',
        coverageBand: { fig: ['strong', 'adequate', 'low', 'critical'] },
        openDeals: 'n',
        overdue: 's',
        overdueDeals: 'n',
      },
    },
    winRate: 'fig',
    winRateByValue: 'fig',
    avgDealSize: 'fig',
    salesCycleDays: 'fig',
    velocity: 'fig',
    activities: {
      fields: {
        window: 's',
        counts: { fields: { call: 'n', meeting: 'n', email: 'n', task: 'n', proposal: 'n' } },
        score: 'fig',
      },
    },
    forecast: {
      fields: {
        p10: 's',
        p25: 's',
        p50: 's',
        p90: 's',
        probabilityToHitQuota: 'fig',
        trials: 'n',
        calibration: { optional: CALIBRATION_SPEC },
      },
    },
    commission: {
      fields: { atActual: 'fig', atProjected: 'fig', atP50: 'fig', nextTier: 'fig', bookingsToNextTier: 'fig' },
    },
    tenureAdjustedAttainment: 'fig',
    territoryAdjustedAttainment: 'fig',
  },
};

function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The first field under `at` that does not meet `spec`, as `path: what was wrong`; null when all do. */
function mismatch(v: unknown, spec: Spec, at: string, parent: Record<string, unknown>, key: string): string | null {
  const figure = (words: readonly string[] | null): string | null => {
    if (typeof v === 'string' && (words === null || words.includes(v))) return null;
    if (v === null && typeof parent[`${key}Reason`] === 'string') return null;
    const what = words === null ? 'a string' : `one of ${words.join(', ')}`;
    return `${at}: expected ${what}, or null beside ${at}Reason; got ${shown(v)}`;
  };
  if (spec === 's') return typeof v === 'string' ? null : `${at}: expected a string, got ${shown(v)}`;
  if (spec === 'n') return typeof v === 'number' ? null : `${at}: expected a number, got ${shown(v)}`;
  if (spec === 's?')
    return v === null || typeof v === 'string' ? null : `${at}: expected a string or null, got ${shown(v)}`;
  if (spec === 'fig') return figure(null);
  if ('fig' in spec) return figure(spec.fig);
  if ('one' in spec)
    return typeof v === 'string' && spec.one.includes(v)
      ? null
      : `${at}: expected one of ${spec.one.join(', ')}, got ${shown(v)}`;
  if ('optional' in spec) return v === undefined ? null : mismatch(v, spec.optional, at, parent, key);
  if (!isRecord(v)) return `${at || 'the document'}: expected an object, got ${shown(v)}`;
  for (const [k, s] of Object.entries(spec.fields)) {
    const bad = mismatch(v[k], s, at === '' ? k : `${at}.${k}`, v, k);
    if (bad !== null) return bad;
  }
  return null;
}

/**
 * A stored figures document (`metric_snapshots.metrics`), checked once where it leaves the database: every field
 * the type names, with its type. Documents stored by earlier versions read too (the forecast's `calibration`, the
 * one field added since, is optional). A document that does not fit is SNAPSHOT_INVALID naming the snapshot and
 * the field; `recompute` writes it again.
 */
export function parseFiguresDocument(value: unknown, where: string): FiguresDocument {
  const bad = mismatch(value, FIGURES_SPEC, '', {}, '');
  if (bad !== null)
    throw new AppError(
      'SNAPSHOT_INVALID',
      `the stored figures of ${where} cannot be read (${bad}); \`quota-tracker recompute\` writes them again`,
      { where },
    );
  return value as FiguresDocument;
}

/** `o[key]` then `o[keyReason]` (when present) onto `out`, each nested object in its spec's order. */
function ordered(v: unknown, spec: Spec): unknown {
  if (typeof spec === 'string' || 'fig' in spec || 'one' in spec) return v;
  if ('optional' in spec) return ordered(v, spec.optional);
  const o = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(spec.fields)) {
    if (o[k] !== undefined) out[k] = ordered(o[k], s);
    const reason = `${k}Reason`;
    if (o[reason] !== undefined) out[reason] = o[reason];
  }
  // A field the spec does not name (a newer writer's) is kept, last.
  for (const k of Object.keys(o)) if (!(k in out)) out[k] = o[k];
  return out;
}

/**
 * A parsed stored document with its keys in the order `figuresDocument` writes them. PostgreSQL's jsonb keeps
 * keys in its own order (shortest first), and a report built from stored figures must print the bytes a report
 * computed from the warehouse prints.
 */
export function inDocumentOrder(doc: FiguresDocument): FiguresDocument {
  return ordered(doc, FIGURES_SPEC) as FiguresDocument;
}
