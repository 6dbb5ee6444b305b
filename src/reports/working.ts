/**
 * The `--explain` working of a subject's report (JSON `explain`): every figure's formula with its numbers filled in,
 * keyed by the figure's JSON path (`attainment`, `pipeline.coverage`, `commission.atP50`...), and one deal table
 * listing each deal once with the figures that use it. A figure's sums name their deals by id instead of listing
 * them again: one rep's working was 119 lines of repeated deal lists.
 */
import type { Json, JsonObject } from '../metrics/document.ts';
import type { SubjectRef } from '../metrics/engine/types.ts';
import { commissionFor } from '../metrics/math/commission.ts';
import {
  type DealUse,
  type Explanation,
  explainActivity,
  explainAttainment,
  explainChance,
  explainCommission,
  explainConversion,
  explainPipeline,
  explainVelocity,
} from '../metrics/math/explain.ts';
import type { Ranked } from '../metrics/math/ranking.ts';
import type { SubjectMetrics } from '../metrics/math/rep-metrics.ts';
import { Dec, formatMoney, formatRatio, ZERO } from '../util/money.ts';
import type { ReportContext } from './context.ts';
import { forecastInputs } from './forecast-inputs.ts';

/** The deal table's columns, in order: which figures a deal feeds. */
export const DEAL_USES = [
  'actual',
  'runRate',
  'pipeline',
  'overdue',
  'winRate',
  'salesCycle',
  'forecast',
  'gapDeals',
] as const;
export type DealUseColumn = (typeof DEAL_USES)[number];

/** The columns a sum's deals are marked in (won deals in the window feed win rate, deal size and cycle). */
const COLUMNS: Record<DealUse, DealUseColumn[]> = {
  actual: ['actual'],
  runRate: ['runRate'],
  pipeline: ['pipeline'],
  overdue: ['overdue'],
  won: ['winRate', 'salesCycle'],
  lost: ['winRate'],
  forecast: ['forecast'],
};

interface DealRow {
  id: string;
  name: string;
  owner: string;
  amount: Dec;
  closeDate: string;
  createdDate: string;
  stage: string;
  uses: Set<DealUseColumn>;
  /** In the conversion window: won or lost (win rate's numerator or only its denominator). */
  conversion?: 'won' | 'lost';
  forecast?: JsonObject;
  gapOrder?: number;
}

/** The deal table under construction and the figures' entries that refer to it. */
export class Working {
  private readonly deals = new Map<string, DealRow>();
  readonly figures: Record<string, JsonObject> = {};

  constructor(private readonly ctx: ReportContext) {}

  /** A deal's row, made on first sight, marked with the columns of `use`. */
  private mark(credits: readonly { id: string; amount: Dec }[], use: DealUse, sumAmount: boolean): string[] {
    const ids: string[] = [];
    const here = new Map<string, Dec>();
    for (const c of credits) {
      if (!here.has(c.id)) ids.push(c.id);
      here.set(c.id, (here.get(c.id) ?? ZERO).plus(sumAmount ? c.amount : 0));
    }
    for (const id of ids) {
      const row = this.deals.get(id);
      if (!row) continue;
      for (const col of COLUMNS[use]) row.uses.add(col);
      if (use === 'won' || use === 'lost') row.conversion = use;
      // A group's deal split between two of its reps: the subject's credited amount is both credits.
      const amount = here.get(id) ?? ZERO;
      if (amount.gt(row.amount)) row.amount = amount;
    }
    return ids;
  }

  /** Adds the explanations of the metrics layer, their sums' deals to the table. */
  add(key: string, e: Explanation, value: Json | undefined, extra: JsonObject = {}): void {
    const m = this.ctx.model;
    const sums: JsonObject[] = [];
    for (const s of e.sums) {
      for (const d of s.deals)
        if (!this.deals.has(d.id)) {
          this.deals.set(d.id, {
            id: d.id,
            name: d.name,
            owner: m.data.reps.get(d.ownerId)?.name ?? d.ownerId,
            amount: ZERO,
            closeDate: d.closeDate,
            createdDate: d.createdDate,
            stage: d.stage,
            uses: new Set(),
          });
        }
      const ids = this.mark(s.deals, s.use, true);
      const deals = s.deals.length === 0 ? this.idsOf(s.use) : ids;
      if (s.deals.length > 0) this.byUse.set(s.use, ids);
      sums.push({
        label: s.label,
        column: COLUMNS[s.use][0] as string,
        total: formatMoney(s.total),
        count: deals.length,
        deals,
      });
    }
    this.figures[key] = {
      formula: e.formula,
      working: e.working,
      value: value ?? null,
      ...(e.reason === null ? {} : { valueReason: e.reason }),
      ...extra,
      ...(sums.length > 0 ? { sums } : {}),
    };
  }

  /** A figure worked out here rather than in the metrics layer. */
  put(key: string, formula: string, working: string, value: Json | undefined, extra: JsonObject = {}): void {
    this.figures[key] = { formula, working, value: value ?? null, ...extra };
  }

  /** The last sum's deals of each use: a figure reusing another's deals (velocity the pipeline's) names them. */
  private readonly byUse = new Map<DealUse, string[]>();
  private idsOf(use: DealUse): string[] {
    return this.byUse.get(use) ?? [];
  }

  /** The forecast's open deals with their learned probability and cell, on their rows of the table. */
  forecastDeals(deals: readonly JsonObject[]): string[] {
    const ids: string[] = [];
    for (const d of deals) {
      const id = d.id as string;
      let row = this.deals.get(id);
      if (!row) {
        row = {
          id,
          name: d.name as string,
          owner: d.owner as string,
          amount: new Dec(d.amount as string),
          closeDate: d.closeDate as string,
          createdDate: '',
          stage: d.stage as string,
          uses: new Set(),
        };
        this.deals.set(id, row);
      }
      row.uses.add('forecast');
      row.forecast = { probability: d.probability as Json, cell: d.cell as Json, expected: d.expected as Json };
      ids.push(id);
    }
    return ids;
  }

  /** The gap deals (`gapDeals.deals`), in their order, on their rows. */
  gapDeals(deals: readonly JsonObject[]): string[] {
    return deals.map((d, i) => {
      const row = this.deals.get(d.id as string);
      if (row) {
        row.uses.add('gapDeals');
        row.gapOrder = i + 1;
      }
      return d.id as string;
    });
  }

  /** The deal table, by close date then id. */
  table(): JsonObject[] {
    return [...this.deals.values()]
      .sort((a, b) => (a.closeDate !== b.closeDate ? (a.closeDate < b.closeDate ? -1 : 1) : a.id < b.id ? -1 : 1))
      .map((d) => {
        const o: JsonObject = {
          id: d.id,
          name: d.name,
          owner: d.owner,
          amount: formatMoney(d.amount),
          createdDate: d.createdDate,
          closeDate: d.closeDate,
          stage: d.stage,
          usedBy: DEAL_USES.filter((u) => d.uses.has(u)),
        };
        if (d.conversion) o.conversion = d.conversion;
        if (d.forecast) o.forecast = d.forecast;
        if (d.gapOrder !== undefined) o.gapOrder = d.gapOrder;
        return o;
      });
  }

  toJson(): JsonObject {
    return { figures: this.figures, deals: this.table() };
  }
}

/** The value at a dotted JSON path of a document. */
export function valueAt(doc: JsonObject, path: string): Json | undefined {
  let v: Json | undefined = doc;
  for (const k of path.split('.')) v = v !== null && typeof v === 'object' && !Array.isArray(v) ? v[k] : undefined;
  return v;
}

export interface RankScope {
  scope: string;
  group: string;
  ranked: Map<string, Ranked>;
  name: (id: string) => string;
}

/** The peers ranked around the subject (two above, two below), with the attainments that order them. */
function peersAround(me: string, s: RankScope): JsonObject {
  const order = [...s.ranked.values()]
    .filter((r) => r.rank !== null)
    .sort((a, b) => (a.rank as number) - (b.rank as number) || (a.id < b.id ? -1 : 1));
  const at = order.findIndex((r) => r.id === me);
  const shown = at < 0 ? order.slice(0, 5) : order.slice(Math.max(at - 2, 0), at + 3);
  const peers = shown.map((r) => ({
    rank: r.rank as number,
    name: s.name(r.id),
    attainment: r.value === null ? null : formatRatio(r.value),
    ...(r.id === me ? { subject: true } : {}),
  }));
  const mine = at < 0 ? null : order[at];
  return {
    scope: s.scope,
    group: s.group,
    rank: mine?.rank ?? null,
    of: mine?.of ?? order.length,
    peers,
    text: `${s.scope} ${s.group}: ${peers.map((p) => `#${p.rank} ${p.name} ${p.attainment ?? 'n/a'}`).join(', ')}`,
  };
}

/**
 * The whole working of a subject: every figure of `doc` (the report's figures, rank and history as built) with its
 * formula and inputs, and the deal table.
 */
export function subjectWorking(
  ctx: ReportContext,
  subject: SubjectRef,
  m: SubjectMetrics,
  doc: JsonObject,
  ranks: readonly RankScope[],
): Working {
  const w = new Working(ctx);
  const v = (path: string) => valueAt(doc, path);
  const att = explainAttainment(m, m.pacing);
  for (const [k, e] of Object.entries(att)) w.add(k, e, v(k));
  const pipe = explainPipeline(m.pipeline, m.remaining);
  for (const [k, e] of Object.entries(pipe)) w.add(`pipeline.${k}`, e, v(`pipeline.${k}`));
  for (const [k, e] of Object.entries(explainConversion(m.conversion))) w.add(k, e, v(k));
  w.add('velocity', explainVelocity(m.pipeline.openDeals, m.conversion, m.velocity, m.pipeline.open), v('velocity'));
  const cap = new Dec(ctx.model.settings.activity.cap ?? '1.5');
  w.add('activities.score', explainActivity(m.activities, cap), v('activities.score'), {
    terms: m.activities.terms.map((t) => ({
      type: t.type,
      count: t.actual,
      target: t.target.toString(),
      weight: t.weight.toString(),
      ratio: formatRatio(t.ratio),
    })),
    cap: cap.toString(),
  });

  // Forecast: the open deals at their learned probabilities (on the deal table), the new-pipeline term, the shock.
  const x = forecastInputs(ctx, subject, m);
  const fdeals = w.forecastDeals(x.deals);
  const n = x.newPipeline;
  const cal = m.forecast.calibration;
  const newTerm =
    n.included === true
      ? `new pipeline (week ${String(n.week)}): ${String(n.expectedDeals)} deals expected, ${formatMoney(x.expectedNew)}`
      : 'new pipeline: left out (not enough history to learn it)';
  w.put(
    'forecast',
    'P10..P90 of trials of actual + open deals won at their learned probabilities + new pipeline; nearest-rank percentiles',
    `${m.forecast.trials} trials, seed ${m.forecast.seed}, shock sigma ${cal.sigma.toFixed(4)} (${cal.basis}): ${formatMoney(m.actual)} + open deals ${formatMoney(x.expectedOpen)} expected; ${newTerm}. P10 ${formatMoney(m.forecast.p10)}, P25 ${formatMoney(m.forecast.p25)}, P50 ${formatMoney(m.forecast.p50)}, P90 ${formatMoney(m.forecast.p90)}. ${x.whyDiffers}`,
    {
      p10: formatMoney(m.forecast.p10),
      p25: formatMoney(m.forecast.p25),
      p50: formatMoney(m.forecast.p50),
      p90: formatMoney(m.forecast.p90),
    },
    {
      trials: m.forecast.trials,
      seed: m.forecast.seed,
      basis: cal.basis,
      shock: cal.sigma.toFixed(4),
      newPipeline: n,
      sums: [
        {
          label: 'open deals due in the period, at learned probabilities',
          column: 'forecast',
          total: formatMoney(x.expectedOpen),
          count: fdeals.length,
          deals: fdeals,
        },
      ],
    },
  );
  w.add(
    'forecast.probabilityToHitQuota',
    explainChance(m.forecast, m.quota.value),
    v('forecast.probabilityToHitQuota'),
  );

  const c = m.commission;
  const plan = ctx.model.settings.commission;
  const tiers: JsonObject = {
    baseRate: String(plan.baseRate),
    tiers: plan.tiers.map((t) => ({ from: String(t.from), multiplier: String(t.multiplier) })),
    decelerator: plan.decelerator
      ? { below: String(plan.decelerator.below), multiplier: String(plan.decelerator.multiplier) }
      : null,
    cap: plan.cap == null ? null : String(plan.cap),
  };
  for (const [k, r] of [
    ['atActual', c.atActual],
    ['atProjected', c.atProjected],
    ['atP50', c.atP50],
  ] as const)
    w.add(`commission.${k}`, explainCommission(`commission.${k}`, r), v(`commission.${k}`), { plan: tiers });
  if (c.nextTier.value !== null)
    w.put(
      'commission.nextTier',
      'the lowest tier above actual attainment, and Q * tier - A',
      `${formatMoney(m.quota.value as Dec)} * ${formatRatio(c.nextTier.value.from)} - ${formatMoney(m.actual)} = ${formatMoney(c.nextTier.value.bookingsToReach)}`,
      v('commission.nextTier'),
    );

  // Rank: the peers around the subject in each scope, by attainment (ties share a rank).
  if (ranks.length > 0) {
    const scopes = ranks.map((s) => peersAround(subject.id, s));
    w.put(
      'rank',
      'competition rank by attainment among the people (or units) of the scope on D: 1 + those strictly ahead',
      scopes.map((s) => s.text as string).join('; '),
      null,
      { scopes: scopes.map(({ text: _t, ...rest }) => rest) },
    );
  }

  // History: each period's quota and actual, as the report's history rows print them.
  const hist = Array.isArray(doc.history) ? (doc.history as JsonObject[]) : [];
  if (hist.length > 0) {
    const withQuota = hist.filter((h) => h.quota !== null);
    const without = hist.filter((h) => h.quota === null).map((h) => String(h.period));
    w.put(
      'history',
      'attainment = actual / quota per period; qoqChange = attainment - the period before’s',
      [
        ...withQuota.map(
          (h) => `${String(h.period)}: ${String(h.actual)} / ${String(h.quota)} = ${String(h.attainment)}`,
        ),
        ...(without.length > 0 ? [`no quota in ${without.join(', ')}`] : []),
      ].join('; '),
      null,
      {
        periods: hist.map((h) => ({
          period: h.period as Json,
          quota: h.quota as Json,
          actual: h.actual as Json,
          attainment: h.attainment as Json,
        })),
      },
    );
  }
  workings.set(doc, w);
  return w;
}

/** Each report document's working, so the rep scorecard adds its figures to it. */
const workings = new WeakMap<JsonObject, Working>();
export const workingOf = (doc: JsonObject): Working | undefined => workings.get(doc);

/**
 * The scorecard's figures added after the subject report (commission at quota, trend, gap deals) into its working.
 */
export function scorecardWorking(ctx: ReportContext, doc: JsonObject, quota: Dec | null): void {
  const w = workings.get(doc);
  if (!w) return;
  const plan = ctx.model.settings.commission;
  const atQuota = commissionFor(quota ?? ZERO, quota, plan);
  w.add('commission.atQuota', explainCommission('commission.atQuota', atQuota), valueAt(doc, 'commission.atQuota'));
  const t = (doc.trend ?? {}) as JsonObject;
  const periods = Array.isArray(t.periods) ? (t.periods as string[]) : [];
  const hist = Array.isArray(doc.history) ? (doc.history as JsonObject[]) : [];
  const ys = periods.map((p) => String(hist.find((h) => h.period === p)?.attainment ?? 'n/a'));
  w.put(
    'trend.slope',
    'least-squares slope of attainment over the last four periods with a quota: sum((x - mean x)(y - mean y)) / sum((x - mean x)^2)',
    t.slope == null
      ? `not available: ${String(t.slopeReason ?? 'too_few_periods')}`
      : `x = ${periods.map((_, i) => i).join(', ')}; y = ${ys.join(', ')} (${periods.join(', ')}) = ${String(t.slope)}`,
    valueAt(doc, 'trend.slope'),
  );
  const g = (doc.gapDeals ?? {}) as JsonObject;
  const deals = Array.isArray(g.deals) ? (g.deals as JsonObject[]) : [];
  const ids = w.gapDeals(deals);
  w.put(
    'gapDeals',
    'open deals due in the period, most likely first, until their running total reaches the gap (remaining)',
    g.gap == null
      ? 'not available: no_quota'
      : `gap ${String(g.gap)}: ${deals.map((d) => `${String(d.id)} ${String(d.amount)}`).join(' + ') || 'no deals'} = ${deals.length > 0 ? String(deals[deals.length - 1]?.runningTotal) : '0.00'}; shortfall ${String(g.shortfall)}`,
    valueAt(doc, 'gapDeals.dealsNeeded'),
    {
      sums: [
        {
          label: 'gap deals, in order',
          column: 'gapDeals',
          total: String(g.gap ?? '0.00'),
          count: ids.length,
          deals: ids,
        },
      ],
    },
  );
  doc.explain = w.toJson();
}
