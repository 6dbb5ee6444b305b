/**
 * A synthetic stage history with a known truth: each deal sits in one stage from creation to its close date and is
 * then won with its stage's true probability (or lost), or slips to a date after its period's end with the slip
 * probability and is lost there. The CRM probabilities written on its rows are another, optimistic, number.
 */
import type { DealTimeline } from '../../../src/metrics/math/calibration.ts';
import type { Period } from '../../../src/metrics/math/types.ts';
import { addDays, addMonths, diffDays } from '../../../src/util/date.ts';
import { Dec } from '../../../src/util/money.ts';
import { mulberry32 } from '../../../src/util/random.ts';

export const TRUE_WIN: Record<string, number> = { Early: 0.15, Late: 0.55 };
export const CRM_PROBABILITY: Record<string, number> = { Early: 0.4, Late: 0.9 };

/** Eight calendar quarters from 2024-01-01 and the first days of 2026 (the ninth, current one). */
export function quarters(n = 9): Period[] {
  return Array.from({ length: n }, (_, i) => {
    const start = addMonths('2024-01-01', 3 * i);
    return { id: `Q${i + 1}`, start, end: addDays(addMonths(start, 3), -1) };
  });
}

export function syntheticHistory(seed: number, dealsPerQuarter: number, slip = 0.1, owners = 5): DealTimeline[] {
  const next = mulberry32(seed);
  const u = () => next() / 4294967296;
  const out: DealTimeline[] = [];
  quarters().forEach((q, qi) => {
    const days = diffDays(q.start, q.end) + 1;
    for (let i = 0; i < dealsPerQuarter; i++) {
      const stage = u() < 0.5 ? 'Early' : 'Late';
      const close = addDays(q.start, Math.floor(u() * days));
      const created = addDays(close, -(10 + Math.floor(u() * 80)));
      const slips = u() < slip;
      const won = !slips && u() < (TRUE_WIN[stage] as number);
      const id = `d${qi}-${i}`;
      const owner = `rep-${i % owners}`;
      const open = { stage, category: 'open' as const, probability: CRM_PROBABILITY[stage] as number };
      const rows = [{ date: created, closeDate: close, ...open }];
      let end = close;
      if (slips) {
        end = addDays(q.end, 20);
        rows.push({ date: close, closeDate: end, ...open });
      }
      rows.push({
        date: end,
        stage: won ? 'Closed Won' : 'Closed Lost',
        category: won ? 'won' : 'lost',
        closeDate: end,
        probability: won ? 1 : 0,
      } as never);
      out.push({ id, ownerId: owner, createdDate: created, amount: new Dec(1000 + Math.floor(u() * 9000)), rows });
    }
  });
  return out;
}
