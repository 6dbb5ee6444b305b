import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { businessDaysBetween, createFiscalCalendar, type FiscalPeriod } from '../../src/config/calendar.ts';
import { WEEKDAYS } from '../../src/config/schema.ts';
import { isAppError } from '../../src/errors.ts';
import { addDays, fromDayNumber, toDayNumber, weekday } from '../../src/util/date.ts';

const span = (p: FiscalPeriod) => [p.id, p.start, p.end, p.days];

describe('calendar fiscal year starting in February', () => {
  const cal = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 2 });

  it('names the year after the calendar year in which it ends', () => {
    // Feb 2026 .. Jan 2027 ends in 2027, so it is FY2027; 365 days because Feb 2026 has 28 days.
    expect(span(cal.periodById('FY2027'))).toEqual(['FY2027', '2026-02-01', '2027-01-31', 365]);
    expect(cal.periodContaining('2026-01-31', 'year').id).toBe('FY2026');
    expect(cal.periodContaining('2026-02-01', 'year').id).toBe('FY2027');
  });

  it('splits the year into quarters of three calendar months', () => {
    // Q1 Feb-Apr (28+31+30 = 89 days), Q2 May-Jul (92), Q3 Aug-Oct (92), Q4 Nov-Jan (30+31+31 = 92).
    expect(cal.childrenOf(cal.periodById('FY2027'), 'quarter').map(span)).toEqual([
      ['FY2027-Q1', '2026-02-01', '2026-04-30', 89],
      ['FY2027-Q2', '2026-05-01', '2026-07-31', 92],
      ['FY2027-Q3', '2026-08-01', '2026-10-31', 92],
      ['FY2027-Q4', '2026-11-01', '2027-01-31', 92],
    ]);
  });

  it('gives a leap-year February its 29th day', () => {
    // FY2029 starts 2028-02-01; 2028 is a leap year, so Q1 is 29+31+30 = 90 days and the year 366.
    expect(span(cal.periodById('FY2029-Q1'))).toEqual(['FY2029-Q1', '2028-02-01', '2028-04-30', 90]);
    expect(span(cal.periodById('FY2029-M1'))).toEqual(['FY2029-M1', '2028-02-01', '2028-02-29', 29]);
    expect(cal.periodById('FY2029').days).toBe(366);
    expect(cal.periodContaining('2028-02-29', 'month').id).toBe('FY2029-M1');
    expect(cal.periodContaining('2028-03-01', 'month').id).toBe('FY2029-M2');
  });

  it('puts the first and the last day of each period inside it', () => {
    for (const q of cal.childrenOf(cal.periodById('FY2027'), 'quarter')) {
      expect(cal.periodContaining(q.start, 'quarter').id).toBe(q.id);
      expect(cal.periodContaining(q.end, 'quarter').id).toBe(q.id);
    }
    // The day after Q4's last day is the next fiscal year's Q1.
    expect(cal.periodContaining('2027-02-01', 'quarter').id).toBe('FY2028-Q1');
  });

  it('steps across year ends and finds the same period last year', () => {
    expect(cal.next(cal.periodById('FY2027-Q4')).id).toBe('FY2028-Q1');
    expect(cal.previous(cal.periodById('FY2027-M1')).id).toBe('FY2026-M12');
    expect(cal.previous(cal.periodById('FY2027')).id).toBe('FY2026');
    expect(span(cal.samePeriodLastYear(cal.periodById('FY2027-Q3')))).toEqual([
      'FY2026-Q3',
      '2025-08-01',
      '2025-10-31',
      92,
    ]);
  });
});

describe('January fiscal year (plain calendar quarters)', () => {
  const cal = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });

  it('matches the calendar year and the seed example quarter', () => {
    // Q2 is April-June, 30 + 31 + 30 = 91 days (the seed's quarter length); November has 30 days.
    expect(span(cal.periodById('FY2026'))).toEqual(['FY2026', '2026-01-01', '2026-12-31', 365]);
    expect(span(cal.periodById('FY2026-Q2'))).toEqual(['FY2026-Q2', '2026-04-01', '2026-06-30', 91]);
    expect(span(cal.periodById('FY2026-M11'))).toEqual(['FY2026-M11', '2026-11-01', '2026-11-30', 30]);
  });

  it('lists the periods that overlap a range', () => {
    expect(cal.periodsBetween('2026-02-15', '2026-07-01', 'quarter').map((p) => p.id)).toEqual([
      'FY2026-Q1',
      'FY2026-Q2',
      'FY2026-Q3',
    ]);
    expect(
      cal.periodsBetween(cal.periodById('FY2025-Q4'), cal.periodById('FY2026-Q1'), 'month').map((p) => p.id),
    ).toEqual(['FY2025-M10', 'FY2025-M11', 'FY2025-M12', 'FY2026-M1', 'FY2026-M2', 'FY2026-M3']);
    expect(cal.periodsBetween('2026-03-01', '2026-02-01', 'month')).toEqual([]);
  });
});

describe('retail 4-4-5 with the year ending on a Saturday in January', () => {
  // January 2024 ends on a Wednesday (2024-01-31). The last Saturday of January is the 27th (4 days back); the
  // Saturday nearest to the 31st is 2024-02-03 (3 days on). FY2023 ends on 2023-01-28 under both rules (the 31st
  // was a Tuesday: the 28th is 3 days back, Feb 4 would be 4 days on), so FY2024 starts 2023-01-29 either way.
  const last = createFiscalCalendar({
    type: '4-4-5',
    fiscalYearStartMonth: 1,
    yearEnd: { month: 1, weekday: 'saturday', rule: 'last' },
  });
  const nearest = createFiscalCalendar({
    type: '4-4-5',
    fiscalYearStartMonth: 1,
    yearEnd: { month: 1, weekday: 'saturday', rule: 'nearest' },
  });

  it('ends FY2024 on a different Saturday under each rule', () => {
    // 2023-01-29 .. 2024-01-27 is 364 days (52 weeks); .. 2024-02-03 is 371 days (53 weeks).
    expect(span(last.periodById('FY2024'))).toEqual(['FY2024', '2023-01-29', '2024-01-27', 364]);
    expect(span(nearest.periodById('FY2024'))).toEqual(['FY2024', '2023-01-29', '2024-02-03', 371]);
    // Days between the two year ends belong to FY2025 under `last` and still to FY2024 under `nearest`.
    expect(last.periodContaining('2024-02-01', 'year').id).toBe('FY2025');
    expect(nearest.periodContaining('2024-02-01', 'year').id).toBe('FY2024');
  });

  it('gives the 53rd week to the last month under the nearest rule', () => {
    // 4-4-5 from 2023-01-29: M1 4 weeks, M2 4, M3 5 (Q1 = 13 weeks = 91 days); Q4 starts 39 weeks in, on
    // 2023-10-29; M10 and M11 are 4 weeks; M12 has 5 + 1 = 6 weeks, 2023-12-24 .. 2024-02-03 (42 days).
    const y = nearest.periodById('FY2024');
    expect(nearest.childrenOf(y, 'month').map((m) => m.days / 7)).toEqual([4, 4, 5, 4, 4, 5, 4, 4, 5, 4, 4, 6]);
    expect(span(nearest.periodById('FY2024-Q1'))).toEqual(['FY2024-Q1', '2023-01-29', '2023-04-29', 91]);
    expect(span(nearest.periodById('FY2024-Q4'))).toEqual(['FY2024-Q4', '2023-10-29', '2024-02-03', 98]);
    expect(span(nearest.periodById('FY2024-M12'))).toEqual(['FY2024-M12', '2023-12-24', '2024-02-03', 42]);
    // The same year under `last` has 52 weeks and an ordinary 5-week December.
    expect(span(last.periodById('FY2024-M12'))).toEqual(['FY2024-M12', '2023-12-24', '2024-01-27', 35]);
  });

  it('gives FY2026 53 weeks under the last rule', () => {
    // 2025-01-31 is a Friday, so FY2025 ends on Saturday 2025-01-25; 2026-01-31 is itself a Saturday, so FY2026
    // runs 2025-01-26 .. 2026-01-31 = 371 days. Under `nearest` FY2025 ends on Saturday 2025-02-01 (one day on)
    // and FY2026 is 2025-02-02 .. 2026-01-31, 52 weeks.
    expect(span(last.periodById('FY2026'))).toEqual(['FY2026', '2025-01-26', '2026-01-31', 371]);
    expect(span(last.periodById('FY2026-M12'))).toEqual(['FY2026-M12', '2025-12-21', '2026-01-31', 42]);
    expect(span(nearest.periodById('FY2026'))).toEqual(['FY2026', '2025-02-02', '2026-01-31', 364]);
  });

  it('puts each boundary day in its own period', () => {
    for (const q of nearest.childrenOf(nearest.periodById('FY2024'), 'quarter')) {
      expect(nearest.periodContaining(q.start, 'quarter').id).toBe(q.id);
      expect(nearest.periodContaining(q.end, 'quarter').id).toBe(q.id);
    }
    expect(nearest.periodContaining('2024-02-03', 'month').id).toBe('FY2024-M12');
    expect(nearest.periodContaining('2024-02-04', 'month').id).toBe('FY2025-M1');
    expect(last.periodContaining('2024-01-28', 'quarter').id).toBe('FY2025-Q1');
  });
});

describe('retail month patterns', () => {
  // December year end on the last Saturday: FY2025 ends 2025-12-27 (Dec 31 2025 is a Wednesday, 4 days back),
  // FY2024 ends 2024-12-28 (Dec 31 2024 a Tuesday, 3 back), so FY2025 is 2024-12-29 .. 2025-12-27, 52 weeks.
  const weeksOf = (type: '4-5-4' | '5-4-4') => {
    const cal = createFiscalCalendar({
      type,
      fiscalYearStartMonth: 1,
      yearEnd: { month: 12, weekday: 'saturday', rule: 'last' },
    });
    return cal.childrenOf(cal.periodById('FY2025-Q2'), 'month').map((m) => [m.start, m.days / 7]);
  };

  it('4-5-4 and 5-4-4 months have the pattern length in weeks', () => {
    // Q2 starts 13 weeks (91 days) after 2024-12-29, on 2025-03-30.
    expect(weeksOf('4-5-4')).toEqual([
      ['2025-03-30', 4],
      ['2025-04-27', 5],
      ['2025-06-01', 4],
    ]);
    expect(weeksOf('5-4-4')).toEqual([
      ['2025-03-30', 5],
      ['2025-05-04', 4],
      ['2025-06-01', 4],
    ]);
  });
});

describe('period ids', () => {
  const cal = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 4 });

  it('round-trips every id of a year', () => {
    const year = cal.periodById('FY2026');
    const ids = [year, ...cal.childrenOf(year, 'quarter'), ...cal.childrenOf(year, 'month')].map((p) => p.id);
    for (const id of ids) expect(cal.periodById(id).id).toBe(id);
    for (const id of ids) {
      const p = cal.periodById(id);
      expect(cal.periodContaining(p.start, p.kind).id).toBe(id);
    }
    expect(ids).toContain('FY2026-M12');
    expect(cal.parentOf(cal.periodById('FY2026-M7'), 'quarter').id).toBe('FY2026-Q3');
  });

  it.each(['FY26', 'FY2026-Q5', 'FY2026-M13', 'FY2026-M0', '2026-Q1', 'fy2026', 'FY2026-Q01', ''])(
    'rejects %j as CALENDAR_INVALID',
    (id) => {
      try {
        cal.periodById(id);
        expect.unreachable();
      } catch (e) {
        expect(isAppError(e, 'CALENDAR_INVALID')).toBe(true);
        expect((e as Error).message).toContain('FY2026-Q4');
      }
    },
  );

  it('rejects a retail calendar without a year end', () => {
    expect(() => createFiscalCalendar({ type: '4-4-5', fiscalYearStartMonth: 1 })).toThrow(/needs yearEnd/);
  });
});

describe('business days', () => {
  it('counts weekdays in an inclusive range, less holidays on weekdays', () => {
    // 2026-11-01 is a Sunday; November 2026 has 21 weekdays. Thanksgiving (Thu 11-26) is a holiday; a holiday
    // given on a Saturday (11-28) changes nothing.
    expect(businessDaysBetween('2026-11-01', '2026-11-30')).toBe(21);
    expect(businessDaysBetween('2026-11-01', '2026-11-30', ['2026-11-26', '2026-11-28'])).toBe(20);
    // A single Monday, a single Sunday, and a reversed range.
    expect(businessDaysBetween('2026-11-02', '2026-11-02')).toBe(1);
    expect(businessDaysBetween('2026-11-01', '2026-11-01')).toBe(0);
    expect(businessDaysBetween('2026-11-05', '2026-11-01')).toBe(0);
    const cal = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
    expect(cal.isBusinessDay('2026-11-26', ['2026-11-26'])).toBe(false);
    expect(cal.isBusinessDay('2026-11-27')).toBe(true);
  });
});

describe('calendar invariants over many settings and dates', () => {
  const settings = fc.oneof(
    fc.record({ type: fc.constant('calendar' as const), fiscalYearStartMonth: fc.integer({ min: 1, max: 12 }) }),
    fc.record({
      type: fc.constantFrom('4-4-5' as const, '4-5-4' as const, '5-4-4' as const),
      fiscalYearStartMonth: fc.constant(1),
      yearEnd: fc.record({
        month: fc.integer({ min: 1, max: 12 }),
        weekday: fc.constantFrom(...WEEKDAYS),
        rule: fc.constantFrom('last' as const, 'nearest' as const),
      }),
    }),
  );
  const date = fc.integer({ min: toDayNumber('1990-01-01'), max: toDayNumber('2070-12-31') }).map(fromDayNumber);
  const kind = fc.constantFrom('year' as const, 'quarter' as const, 'month' as const);

  it('puts every date in exactly one period of each kind, with neighbours that touch it', () => {
    fc.assert(
      fc.property(settings, date, kind, (s, d, k) => {
        const cal = createFiscalCalendar(s);
        const p = cal.periodContaining(d, k);
        expect(d >= p.start && d <= p.end).toBe(true);
        expect(cal.periodById(p.id)).toEqual(p);
        expect(addDays(cal.previous(p).end, 1)).toBe(p.start);
        expect(addDays(p.end, 1)).toBe(cal.next(p).start);
        expect(cal.next(cal.previous(p))).toEqual(p);
      }),
      { numRuns: 400 },
    );
  });

  it('tiles each year with its months; retail years are 52 or 53 whole weeks ending on the weekday', () => {
    fc.assert(
      fc.property(settings, date, (s, d) => {
        const cal = createFiscalCalendar(s);
        const year = cal.periodContaining(d, 'year');
        const months = cal.childrenOf(year, 'month');
        expect(months[0]?.start).toBe(year.start);
        expect(months[11]?.end).toBe(year.end);
        for (let i = 1; i < 12; i++) expect(months[i]?.start).toBe(addDays(months[i - 1]?.end as string, 1));
        if (s.type !== 'calendar') {
          expect([364, 371]).toContain(year.days);
          expect(weekday(year.end)).toBe(WEEKDAYS.indexOf(s.yearEnd.weekday));
          // Only the last month can hold the extra week.
          expect(months.slice(0, 11).every((m) => m.days % 7 === 0 && m.days <= 35)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
