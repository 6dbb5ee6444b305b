/**
 * Where `report rep|team|region|org --format json` prints each figure of the sandbox's figures oracle, and the
 * comparison of one subject's oracle figures with its report: the e2e tests that hold a warehouse to the oracle
 * (one HubSpot portal, one org split across Salesforce and HubSpot) share it.
 */
import type { OrgModel } from '../../src/sandbox/org/index.ts';
/** Every oracle figure -> where `report rep|team|region|org --format json` prints it (its `totals` for a group). */
export const PATHS: Record<string, string> = {
  quota: 'quota',
  actual: 'actual',
  closedWonDeals: 'closedWonDeals',
  attainment: 'attainment',
  remaining: 'remaining',
  expectedToDate: 'expectedToDate',
  paceVariance: 'paceVariance',
  paceVariancePct: 'paceVariancePct',
  paceStatus: 'paceStatus',
  requiredDailyRunRate: 'requiredDailyRunRate',
  requiredWeeklyRunRate: 'requiredWeeklyRunRate',
  currentRunRate: 'currentRunRate',
  projectedTotal: 'projectedTotal',
  projectedAttainment: 'projectedAttainment',
  status: 'status',
  daysElapsed: 'period.daysElapsed',
  daysRemaining: 'period.daysRemaining',
  openPipeline: 'pipeline.open',
  weightedPipeline: 'pipeline.weighted',
  openDeals: 'pipeline.openDeals',
  overdueAmount: 'pipeline.overdue',
  coverage: 'pipeline.coverage',
  coverageBand: 'pipeline.coverageBand',
  winRate: 'winRate',
  avgDealSize: 'avgDealSize',
  salesCycleDays: 'salesCycleDays',
  velocity: 'velocity',
  activityScore: 'activities.score',
  forecastP10: 'forecast.p10',
  forecastP50: 'forecast.p50',
  forecastP90: 'forecast.p90',
  forecastProbabilityToHitQuota: 'forecast.probabilityToHitQuota',
  commissionAtActual: 'commission.atActual',
  commissionAtProjected: 'commission.atProjected',
  tenureAdjustedAttainment: 'tenureAdjustedAttainment',
  'activities.call': 'activities.counts.call',
  'activities.meeting': 'activities.counts.meeting',
  'activities.email': 'activities.counts.email',
  'activities.task': 'activities.counts.task',
  'activities.proposal': 'activities.counts.proposal',
  rankInOrg: 'rank.org.rank',
};

function at(doc: unknown, path: string): unknown {
  let v: unknown = doc;
  for (const k of path.split('.'))
    v = v === null || typeof v !== 'object' ? undefined : (v as Record<string, unknown>)[k];
  return v;
}

/** The oracle's value as the report prints it: a ratio to the places of the report's string. */
function asPrinted(expected: string | number | null, printed: unknown): unknown {
  if (typeof expected !== 'string' || typeof printed !== 'string' || !/^-?\d+\.\d+$/.test(expected)) return expected;
  const places = printed.split('.')[1]?.length ?? 0;
  return Number(expected).toFixed(places);
}

export function differences(expected: Record<string, string | number | null>, doc: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [figure, path] of Object.entries(PATHS)) {
    if (!(figure in expected)) continue;
    const printed = at(doc, path) ?? null;
    const want = asPrinted(expected[figure] ?? null, printed);
    if (want !== printed) out[figure] = { oracle: want, report: printed };
  }
  return out;
}

/** The org as org.csv said on `date`: each rep in the team of their stint that day (a leaver keeps their last). */
export function orgOn(org: OrgModel, date: string): OrgModel {
  const teams = new Map(org.teams.map((t) => [t.key, t]));
  const people = org.people.map((p) => {
    const stint = p.teamHistory.find((s) => s.from <= date && (s.to === null || date < s.to));
    const team = stint ? teams.get(stint.teamKey) : undefined;
    return team ? { ...p, teamKey: team.key, regionKey: team.regionKey, managerKey: team.managerKey } : p;
  });
  return { ...org, people };
}
