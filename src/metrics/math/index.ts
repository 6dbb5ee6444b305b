/**
 * The metric math: every figure of the metric definitions as pure functions of plain inputs (no database, no I/O,
 * no clock). The engine loads deals, activities, quotas, rates and memberships and calls, per subject-period:
 *
 *   buildFxTable -> bookDeals (policy, conversion, splits) -> creditsOf / groupCredits -> computeSubjectMetrics
 *
 * then `rankSubjects` / `distribution` across subjects and the rule predicates of `alerts.ts` with their state.
 * Values are exact decimals; round only when formatting (`formatMoney`, `formatRatio`).
 */
export * from './activity.ts';
export * from './adjustments.ts';
export * from './alerts.ts';
export * from './attainment.ts';
export * from './booking.ts';
export * from './commission.ts';
export * from './conversion.ts';
export * from './currency.ts';
export * from './explain.ts';
export * from './forecast.ts';
export * from './history.ts';
export * from './pacing.ts';
export * from './pipeline.ts';
export * from './ranking.ts';
export * from './rep-metrics.ts';
export * from './rollup.ts';
export * from './types.ts';
export * from './windows.ts';
