/**
 * What a subject's forecast is made of, shared by `report forecast` and `report <subject> --explain`: each open deal
 * due in the period with its learned probability and the cell it came from, the pipeline not created yet, and why
 * the P50 and the run-rate projection differ when they do (docs/metrics.md, "One story").
 */
import type { JsonObject } from '../metrics/document.ts';
import type { SubjectRef } from '../metrics/engine/types.ts';
import type { Credit } from '../metrics/math/booking.ts';
import type { SubjectMetrics } from '../metrics/math/rep-metrics.ts';
import { Dec, formatMoney, formatRatio, ZERO } from '../util/money.ts';
import type { ReportContext } from './context.ts';

const ratio = (x: number | null): string | null => (x === null ? null : formatRatio(new Dec(x)));

/** A subject's open credits due in the period (not yet closed, closing by its end): its open pipeline's deals. */
export function openCredits(ctx: ReportContext, subject: SubjectRef): readonly Credit[] {
  const { model, period } = ctx;
  const credits =
    subject.kind === 'rep' ? model.repRows(subject.id).credits : model.groupRows(subject.kind, subject.id).credits;
  return credits.filter(
    (c) =>
      c.category === 'open' &&
      !(subject.kind !== 'rep' && c.overlay) &&
      c.deal.closeDate >= model.asOf &&
      c.deal.closeDate <= period.end,
  );
}

/** The reps whose new-pipeline term a subject's forecast adds: the rep, or the group's members on D. */
function repsOf(ctx: ReportContext, subject: SubjectRef): string[] {
  if (subject.kind === 'rep') return [subject.id];
  const out: string[] = [];
  for (const key of ctx.model.membersOf(subject.kind, subject.id)) {
    if (ctx.model.ancestorsOf(key, ctx.model.asOf).some((g) => g.kind === subject.kind && g.id === subject.id))
      out.push(key);
  }
  return out;
}

export interface ForecastInputs {
  deals: JsonObject[];
  /** The open deals' expected amount at their probabilities. */
  expectedOpen: Dec;
  newPipeline: JsonObject;
  expectedNew: Dec;
  whyDiffers: string;
}

export function forecastInputs(ctx: ReportContext, subject: SubjectRef, m: SubjectMetrics): ForecastInputs {
  const { model, period } = ctx;
  const f = model.forecastOf(period);
  const deals: JsonObject[] = openCredits(ctx, subject)
    .map((c) => {
      const p = f?.probability(c.deal) ?? null;
      return {
        id: c.deal.id,
        name: c.deal.name,
        owner: model.data.reps.get(c.ownerId)?.name ?? c.ownerId,
        amount: formatMoney(c.amount),
        closeDate: c.deal.closeDate,
        stage: c.deal.stage,
        crmProbability: c.deal.probability === null ? null : formatRatio(c.deal.probability),
        probability: p === null ? (c.deal.probability === null ? null : formatRatio(c.deal.probability)) : ratio(p.p),
        cell: (p === null
          ? { source: 'crm' }
          : { source: p.source, stage: p.stage, weeksLeft: p.weeksLeft, snapshots: p.n }) as JsonObject,
        expected: formatMoney(c.amount.times(p?.p ?? c.deal.probability ?? 0)),
      } satisfies JsonObject;
    })
    .sort((a, b) => Number(b.amount) - Number(a.amount) || (a.id < b.id ? -1 : 1));
  let lambda = 0;
  let expectedNew = ZERO;
  for (const rep of repsOf(ctx, subject)) {
    const t = f?.newPipeline(rep);
    if (!t || t.cents.length === 0) continue;
    lambda += t.lambda;
    const mean = new Dec(t.cents.reduce((s, c) => s + c, 0)).div(t.cents.length).div(100);
    expectedNew = expectedNew.plus(mean.times(t.lambda));
  }
  const expectedOpen = deals.reduce((s, d) => s.plus(new Dec(d.expected as string)), ZERO);
  const projected = m.projectedTotal;
  const gap = m.forecast.p50.minus(projected);
  const whyDiffers = gap.abs().lte(projected.abs().times('0.05'))
    ? 'The P50 and the run-rate projection agree within 5%.'
    : `The P50 is ${formatMoney(gap.abs())} ${gap.isPositive() ? 'above' : 'below'} the run-rate projection: the projection extrapolates the last ${m.runRateWindowDays} days' bookings (${formatMoney(m.currentRunRate)} a day) over the ${m.days.remaining} days left, while the forecast adds to the actual the open deals at their learned probabilities (${formatMoney(expectedOpen)} expected) and the pipeline not created yet (${formatMoney(expectedNew)} expected).`;
  return {
    deals,
    expectedOpen,
    newPipeline: {
      included: f !== null && f.calibration.basis === 'calibrated',
      week: f?.week ?? null,
      expectedDeals: lambda.toFixed(4),
      expectedAmount: formatMoney(expectedNew),
    },
    expectedNew,
    whyDiffers,
  };
}
