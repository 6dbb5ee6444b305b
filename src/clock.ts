/**
 * The program's one clock: every "now" and "today" the product and the sandbox act on comes from here, so a test,
 * a demo, a support case or the replay of a past day sets it once (`QUOTA_TRACKER_NOW`, or `setClock` in a test)
 * and every figure follows.
 *
 * `QUOTA_TRACKER_NOW` takes an ISO date (`2027-03-31`, read as 12:00 UTC that day, which is the same calendar date
 * in every time zone from UTC-11 to UTC+11) or an ISO timestamp with an offset (`2027-03-31T09:30:00Z`). The clock
 * starts there when the process starts and then runs at the speed of real time, so schedules, leases and the
 * sandbox's life keep moving.
 *
 * Only durations, timeouts, leases and log or audit stamps may read the wall clock instead; each such line in
 * `src/` says so with a `wall-clock:` comment (test/clock/scan.test.ts enforces it).
 */
import { AppError } from './errors.ts';

export interface Clock {
  now(): Date;
}

export const NOW_ENV = 'QUOTA_TRACKER_NOW';

// wall-clock: the wall clock itself, which every other clock is built on.
const wallMs = (): number => Date.now();

/** The real time. */
export const wallClock: Clock = { now: () => new Date(wallMs()) };

/** A clock stopped at `at` (tests that need every reading equal). */
export function fixedClock(at: Date | string): Clock {
  const t = typeof at === 'string' ? parseInstant(at, 'fixedClock') : at.getTime();
  return { now: () => new Date(t) };
}

/** A clock that reads `start` now and then runs at the speed of real time. */
export function clockStartingAt(start: Date | string): Clock {
  const t = typeof start === 'string' ? parseInstant(start, 'clockStartingAt') : start.getTime();
  const origin = wallMs();
  return { now: () => new Date(t + (wallMs() - origin)) };
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/**
 * Reads a `QUOTA_TRACKER_NOW`-style value (epoch ms). A date alone is 12:00 UTC that day; a timestamp must carry
 * its offset, since a local time would mean another instant on every machine.
 */
export function parseInstant(text: string, where: string = NOW_ENV): number {
  const s = text.trim();
  const d = DATE_ONLY.exec(s);
  if (d) {
    const t = Date.UTC(Number(d[1]), Number(d[2]) - 1, Number(d[3]), 12);
    const back = new Date(t).toISOString().slice(0, 10);
    if (back !== s) throw bad(text, where, 'that day does not exist');
    return t;
  }
  if (!TIMESTAMP.test(s)) {
    throw bad(text, where, 'expected an ISO date such as 2027-03-31 or a timestamp such as 2027-03-31T09:30:00Z');
  }
  const day = s.slice(0, 10);
  const noon = Date.UTC(Number(s.slice(0, 4)), Number(s.slice(5, 7)) - 1, Number(s.slice(8, 10)), 12);
  if (new Date(noon).toISOString().slice(0, 10) !== day) throw bad(text, where, 'that day does not exist');
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw bad(text, where, 'not a real instant');
  return t;
}

function bad(text: string, where: string, why: string): AppError {
  return new AppError('USAGE', `${where} is "${text}": ${why}`, { where });
}

/** The clock `QUOTA_TRACKER_NOW` asks for, or the wall clock when it is not set. */
export function clockFromEnv(env: NodeJS.ProcessEnv = process.env): Clock {
  const v = env[NOW_ENV];
  if (v === undefined || v.trim() === '') return wallClock;
  return clockStartingAt(new Date(parseInstant(v, NOW_ENV)));
}

let current: Clock | undefined;

/** The program's clock: set by `setClock`, else from `QUOTA_TRACKER_NOW` at first use, else the wall clock. */
export function clock(): Clock {
  current ??= clockFromEnv();
  return current;
}

/** Replaces the program's clock (tests); `undefined` goes back to `QUOTA_TRACKER_NOW` or the wall clock. */
export function setClock(c: Clock | undefined): void {
  current = c;
}

/** The program's now. */
export function now(): Date {
  return clock().now();
}
