/**
 * What `report leaderboard --metric` (the API's and the dashboard's `?metric=`) can rank reps by, in a module of its
 * own so the command line can name the choices without loading the report builders.
 */
import { AppError } from '../errors.ts';

/**
 * `attainment` (the default), `projected-attainment` (at period end), `actual` (bookings to date),
 * `pipeline-coverage` (open pipeline over what remains to quota), `activity-score` (against the activity targets)
 * and `activities` (every call, meeting, email, task and proposal in the activity window).
 */
export const LEADERBOARD_METRICS = [
  'attainment',
  'projected-attainment',
  'actual',
  'pipeline-coverage',
  'activity-score',
  'activities',
] as const;
export type LeaderboardMetric = (typeof LEADERBOARD_METRICS)[number];

/** `--metric` or `?metric=` as given: one of LEADERBOARD_METRICS, else USAGE naming them. */
export function parseLeaderboardMetric(v: string | undefined, where: string): LeaderboardMetric | undefined {
  if (v === undefined) return undefined;
  const metric = v.trim();
  if (!(LEADERBOARD_METRICS as readonly string[]).includes(metric))
    throw new AppError('USAGE', `${where} must be one of ${LEADERBOARD_METRICS.join(', ')}, got "${v}"`, { where });
  return metric as LeaderboardMetric;
}
