/**
 * The sandbox's known truth for forecasts: how a deal of the small and medium orgs lives. Each week of the quarter
 * its close date falls in, an open deal is won, lost, pushed out of the quarter (a slip), moves one stage on, or
 * stays, with probabilities that depend on its stage and on the weeks left in the quarter (the quarter-end push:
 * late stages close more in the last weeks, and more deals slip then). A deal still open when its quarter ends is
 * carried into the next one. Before its close quarter a deal only moves through the early stages.
 *
 * These weekly chances are not the CRM's stage probabilities (`STAGES`), which the generator still writes on every
 * history row, as in real orgs where nobody checks them. `trueWinProbability` is what a forecast should learn: the
 * chance that a deal open at a week origin of a quarter, in a stage, is won by the quarter's end.
 *
 * The weeks are the forecast's (docs/metrics.md, "Forecast confidence"): origins `start + 7k`; what happens on a
 * day after an origin is seen at the next one, so a step's events fall on the days `(o_k, min(o_k + 7, end)]`.
 */
import { minDate, type PlainDate } from '../../util/date.ts';
import { OPEN_STAGES, type Stage } from './model.ts';
import type { Rng } from './random.ts';
import { daysBetween, plusDays, quarterOf } from './time.ts';

/**
 * Weeks left from a week origin to the quarter's end, counting the origin's own day (capped at 13): the generator's
 * clock for the quarter-end push. The forecast counts the steps after the origin instead (docs/metrics.md), one
 * less at the origins of 92-day quarters; it learns the push from the history, whatever the generator's count.
 */
export function lifeWeeksLeft(origin: PlainDate, periodEnd: PlainDate): number {
  return Math.min(Math.max(Math.ceil((daysBetween(origin, periodEnd) + 1) / 7), 1), 13);
}

export interface WeekChances {
  win: number;
  lose: number;
  slip: number;
  advance: number;
}

/** How far into the quarter-end push a week is: 0 until four weeks are left, 1 in the last week. */
function push(weeksLeft: number): number {
  return weeksLeft <= 4 ? (5 - weeksLeft) / 4 : 0;
}

/**
 * One week's chances for an open deal in its close quarter, by open stage (0 = Prospecting ... 4 =
 * Negotiation/Review) and weeks left.
 */
export function weekChances(stageIndex: number, weeksLeft: number): WeekChances {
  const late = push(weeksLeft);
  const win = [0, 0, 0.01, 0.04 + 0.05 * late, 0.1 + 0.1 * late][stageIndex] ?? 0;
  const lose = [0.06, 0.05, 0.05, 0.04, 0.03][stageIndex] ?? 0;
  const advance = [0.2, 0.18, 0.15, 0.1, 0][stageIndex] ?? 0;
  return { win, lose, slip: 0.01 + 0.04 * late, advance };
}

/**
 * How a deal starts and moves before its close quarter: no forecast snapshot sees a deal then, so these may
 * differ by segment and rep (SMB deals and skilled reps' deals come in further along) without touching the truth.
 */
export interface EarlyLife {
  /** The chance to start past Prospecting (and half of it again to start at Needs Analysis). */
  startAhead: number;
  /** The weekly chance of moving on one stage before the close quarter, up to Needs Analysis. */
  advance: number;
  /** The weekly chance of being lost before the close quarter. */
  lose: number;
}

/** The week origins of the quarter of `periodEnd` from `origin` on that still have days after them. */
function stepOrigins(origin: PlainDate, periodEnd: PlainDate): PlainDate[] {
  const out: PlainDate[] = [];
  for (let o = origin; o < periodEnd; o = plusDays(o, 7)) out.push(o);
  return out;
}

const truthCache = new Map<string, number[]>();

/**
 * The generator's true chance that a deal open on week origin `origin` of the quarter ending `periodEnd`, in
 * `stage`, with its close date in that quarter, is won on a day in `(origin, periodEnd]`: the chain above, worked
 * backwards over the origins left. A stage that is not open has chance 0.
 */
export function trueWinProbability(stage: string, origin: PlainDate, periodEnd: PlainDate): number {
  const index = OPEN_STAGES.indexOf(stage as Stage);
  if (index < 0) return 0;
  const key = `${origin}|${periodEnd}`;
  let byStage = truthCache.get(key);
  if (!byStage) {
    // p[s] after the last origin is 0; each earlier origin adds its week's win and carries the rest on.
    let p = OPEN_STAGES.map(() => 0);
    for (const o of stepOrigins(origin, periodEnd).reverse()) {
      const w = lifeWeeksLeft(o, periodEnd);
      p = p.map((_, s) => {
        const c = weekChances(s, w);
        const stay = 1 - c.win - c.lose - c.slip - c.advance;
        return c.win + c.advance * (p[s + 1] ?? 0) + stay * (p[s] as number);
      });
    }
    byStage = p;
    truthCache.set(key, byStage);
  }
  return byStage[index] as number;
}

/** One change in a deal's life: from `day` on, it is in `stage` with `closeDate`. */
export interface LifeEvent {
  day: PlainDate;
  stage: Stage;
  closeDate: PlainDate;
}

export interface DealLife {
  /** Every change up to and including `asOf` (the first is the creation). */
  events: LifeEvent[];
  /** How the deal ends, whether or not that is after `asOf`. */
  fate: 'won' | 'lost';
  /** Its last state on `asOf` is closed. */
  closed: boolean;
}

function randomDayIn(rng: Rng, from: PlainDate, to: PlainDate): PlainDate {
  return plusDays(from, rng.int(0, Math.max(0, daysBetween(from, to))));
}

/** Quarters a deal may be carried over before it is given up as lost. */
const MAX_CARRIES = 6;

/**
 * Lives a deal created on `created` with a first close date `close`, recording what
 * happened up to `asOf` and playing the rest out for its fate.
 */
export function liveDeal(rng: Rng, created: PlainDate, early: EarlyLife, close: PlainDate, asOf: PlainDate): DealLife {
  const startIndex = rng.chance(early.startAhead) ? (rng.chance(early.startAhead / 2) ? 2 : 1) : 0;
  let closeDate = close;
  const home = quarterOf(close);
  if (created >= home.start) {
    // Created inside its close quarter: the close date is on or after the first origin it joins.
    const joins = plusDays(home.start, Math.ceil(daysBetween(home.start, created) / 7) * 7);
    if (joins > home.end) closeDate = randomDayIn(rng, plusDays(home.end, 1), quarterOf(plusDays(home.end, 1)).end);
    else if (closeDate < joins) closeDate = randomDayIn(rng, joins, home.end);
  }
  const events: LifeEvent[] = [{ day: created, stage: OPEN_STAGES[startIndex] as Stage, closeDate }];
  let stage = startIndex;
  const record = (day: PlainDate, st: Stage, cd: PlainDate): void => {
    if (day <= asOf) events.push({ day, stage: st, closeDate: cd });
  };
  let quarter = quarterOf(closeDate);
  // Before the close quarter: weekly steps from creation, early stages only.
  for (let o = created; o < quarter.start; o = plusDays(o, 7)) {
    const stepEnd = plusDays(o, 7) < quarter.start ? plusDays(o, 7) : plusDays(quarter.start, -1);
    if (stepEnd <= o) break;
    const u = rng.next();
    if (u < early.lose) {
      const day = randomDayIn(rng, plusDays(o, 1), stepEnd);
      record(day, 'Closed Lost', day);
      return { events, fate: 'lost', closed: day <= asOf };
    }
    if (stage < 2 && u < early.lose + early.advance) {
      stage++;
      record(randomDayIn(rng, plusDays(o, 1), stepEnd), OPEN_STAGES[stage] as Stage, closeDate);
    }
  }
  for (let carries = 0; carries <= MAX_CARRIES; carries++) {
    let slipped = false;
    for (let o = quarter.start; o < quarter.end; o = plusDays(o, 7)) {
      // A deal created inside the quarter joins at the first origin on or after its creation.
      if (o < created) continue;
      const next = plusDays(o, 7);
      const stepEnd = minDate(next, quarter.end);
      const c = weekChances(stage, lifeWeeksLeft(o, quarter.end));
      const u = rng.next();
      const day = randomDayIn(rng, plusDays(o, 1), stepEnd);
      if (u < c.win) {
        record(day, 'Closed Won', day);
        return { events, fate: 'won', closed: day <= asOf };
      }
      if (u < c.win + c.lose) {
        record(day, 'Closed Lost', day);
        return { events, fate: 'lost', closed: day <= asOf };
      }
      if (u < c.win + c.lose + c.slip) {
        const after = quarterOf(plusDays(quarter.end, 1));
        closeDate = randomDayIn(rng, after.start, after.end);
        record(day, OPEN_STAGES[stage] as Stage, closeDate);
        quarter = after;
        slipped = true;
        break;
      }
      let changed = false;
      if (u < c.win + c.lose + c.slip + c.advance) {
        stage++;
        changed = true;
      }
      // The close date has to stay ahead of the next origin while the deal is open in this quarter: the rep
      // pushes it to a later day of the quarter once it has passed.
      let pushDay: PlainDate | null = null;
      if (next <= quarter.end && closeDate < next) {
        pushDay = plusDays(closeDate, 1);
        closeDate = randomDayIn(rng, next, quarter.end);
      }
      if (changed) record(pushDay !== null && pushDay > day ? pushDay : day, OPEN_STAGES[stage] as Stage, closeDate);
      else if (pushDay !== null) record(pushDay, OPEN_STAGES[stage] as Stage, closeDate);
    }
    if (slipped) continue;
    // Still open when the quarter ends: carried into the next one with a close date there.
    const after = quarterOf(plusDays(quarter.end, 1));
    closeDate = randomDayIn(rng, after.start, after.end);
    record(after.start, OPEN_STAGES[stage] as Stage, closeDate);
    quarter = after;
  }
  const day = plusDays(quarter.start, rng.int(1, 20));
  record(day, 'Closed Lost', day);
  return { events, fate: 'lost', closed: day <= asOf };
}
