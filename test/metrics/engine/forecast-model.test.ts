/**
 * Today's open deals read the (stage, weeks left) cell their week's origin had in the history, on every day of the
 * week and in quarters of any length: the cells are trained on origins, so the last days of a week must not read
 * the cell of the following week.
 */
import { describe, expect, it } from 'vitest';
import { createFiscalCalendar } from '../../../src/config/calendar.ts';
import { periodForecast } from '../../../src/metrics/engine/forecast-model.ts';
import { DEFAULT_CALIBRATION, weeksLeft } from '../../../src/metrics/math/calibration.ts';
import type { Deal } from '../../../src/metrics/math/types.ts';
import { addDays } from '../../../src/util/date.ts';
import { Dec } from '../../../src/util/money.ts';
import { syntheticHistory } from '../math/history-fixture.ts';

const calendar = createFiscalCalendar({ type: 'calendar', fiscalYearStartMonth: 1 });
const timelines = syntheticHistory(21, 120);
const late = { stage: 'Late', probability: new Dec('0.9') } as Deal;

function cellsOfWeek(quarterId: string, week: number) {
  const period = calendar.periodById(quarterId);
  const origin = addDays(period.start, 7 * week);
  return Array.from({ length: 7 }, (_, d) => {
    const f = periodForecast({
      timelines,
      calendar,
      period,
      asOf: addDays(origin, d),
      settings: DEFAULT_CALIBRATION,
      trials: 100,
      seed: 1,
      backtest: null,
    });
    return { week: f.week, cell: f.probability(late) };
  });
}

describe("today's cell is its week origin's", () => {
  it('in a 91-day quarter (FY2025-Q2): every day of week 5 reads the origin cell, 8 weeks left', () => {
    const q = calendar.periodById('FY2025-Q2');
    expect(q).toMatchObject({ start: '2025-04-01', end: '2025-06-30' });
    expect(weeksLeft('2025-05-06', q.end)).toBe(8);
    // Counted from the day itself, the week's last day would be in the 7-weeks-left cell.
    expect(weeksLeft('2025-05-12', q.end)).toBe(7);
    const days = cellsOfWeek('FY2025-Q2', 5);
    expect(days.map((d) => d.week)).toEqual([5, 5, 5, 5, 5, 5, 5]);
    expect(days.map((d) => d.cell.weeksLeft)).toEqual([8, 8, 8, 8, 8, 8, 8]);
    expect(new Set(days.map((d) => d.cell.p)).size).toBe(1);
  });

  it('in 90- and 92-day quarters too (FY2025-Q1 week 3, FY2025-Q4 week 6)', () => {
    expect(cellsOfWeek('FY2025-Q1', 3).map((d) => d.cell.weeksLeft)).toEqual([10, 10, 10, 10, 10, 10, 10]);
    expect(cellsOfWeek('FY2025-Q4', 6).map((d) => d.cell.weeksLeft)).toEqual([7, 7, 7, 7, 7, 7, 7]);
  });
});
