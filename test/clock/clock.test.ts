/** The program's clock: what QUOTA_TRACKER_NOW accepts, and that "today" everywhere follows it. */
import { afterEach, describe, expect, it } from 'vitest';
import {
  clock,
  clockFromEnv,
  clockStartingAt,
  fixedClock,
  parseInstant,
  setClock,
  wallClock,
} from '../../src/clock.ts';
import { AppError } from '../../src/errors.ts';
import { today } from '../../src/util/date.ts';
import { runBin } from '../cli/helpers.ts';

afterEach(() => setClock(undefined));

describe('QUOTA_TRACKER_NOW', () => {
  it('reads a date as 12:00 UTC that day, the same date from UTC-11 to UTC+11', () => {
    const t = parseInstant('2027-03-31');
    expect(new Date(t).toISOString()).toBe('2027-03-31T12:00:00.000Z');
    expect(today('Pacific/Pago_Pago', new Date(t))).toBe('2027-03-31');
    expect(today('Pacific/Noumea', new Date(t))).toBe('2027-03-31');
  });

  it('reads a timestamp with its offset', () => {
    expect(new Date(parseInstant('2027-12-31T23:30:00Z')).toISOString()).toBe('2027-12-31T23:30:00.000Z');
    expect(new Date(parseInstant('2027-04-01T01:00:00+02:00')).toISOString()).toBe('2027-03-31T23:00:00.000Z');
  });

  it.each([
    ['2027-02-30', /does not exist/],
    ['2027-02-30T10:00:00Z', /does not exist/],
    ['2027-03-31T10:00:00', /ISO date/],
    ['31/03/2027', /ISO date/],
    ['tomorrow', /ISO date/],
  ])('refuses "%s" naming QUOTA_TRACKER_NOW', (value, why) => {
    const e = (() => {
      try {
        clockFromEnv({ QUOTA_TRACKER_NOW: value });
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).code).toBe('USAGE');
    expect((e as AppError).message).toMatch(why);
    expect((e as AppError).toUserString()).toContain('QUOTA_TRACKER_NOW');
  });

  it('starts the clock there and lets it run at real speed', async () => {
    const c = clockFromEnv({ QUOTA_TRACKER_NOW: '2027-12-31' });
    const first = c.now().getTime();
    expect(first - Date.parse('2027-12-31T12:00:00Z')).toBeLessThan(1000);
    await new Promise((r) => setTimeout(r, 30));
    expect(c.now().getTime()).toBeGreaterThan(first);
    expect(clockFromEnv({})).toBe(wallClock);
    expect(clockFromEnv({ QUOTA_TRACKER_NOW: ' ' })).toBe(wallClock);
  });

  it('is what today() reads unless a test sets another clock', () => {
    setClock(fixedClock('2027-04-01T03:00:00Z'));
    expect(today('UTC')).toBe('2027-04-01');
    expect(today('America/Los_Angeles')).toBe('2027-03-31');
    setClock(clockStartingAt('2030-06-15'));
    expect(clock().now().toISOString().slice(0, 10)).toBe('2030-06-15');
  });

  it('makes the command line exit 2 naming it when it is not a date', async () => {
    const r = await runBin(['config', 'check'], { env: { QUOTA_TRACKER_NOW: 'next tuesday' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('QUOTA_TRACKER_NOW');
  });
});
