/**
 * Where a subject's numbers came from, for a warehouse fed by several CRMs: the connections its quota was taken
 * from (`file` for RevOps' quota file; a person with quotas in two CRMs takes one's, quotas.preferConnection) and
 * its actual to date split by the connection each won deal was read from (the parts add up to `actual`, to the cent).
 */
import type { JsonObject } from '../metrics/document.ts';
import type { SubjectRef } from '../metrics/engine/types.ts';
import { Dec, formatMoney, ZERO } from '../util/money.ts';
import { creditsOf, type ReportContext } from './context.ts';

export function sourcesOf(ctx: ReportContext, subject: SubjectRef): JsonObject {
  const { model, period } = ctx;
  const reps = subject.kind === 'rep' ? [subject.id] : model.membersOf(subject.kind, subject.id);
  const quota = [...new Set(reps.flatMap((r) => model.repQuotaSources(r, period)))].sort();
  // The group's list that history and ranks gathered already (gathering the org's again took a second at 2,000 reps).
  const credits = creditsOf(model, subject);
  // The credits `actual` counts (as the burn-up reads them): won, closed in the period up to D, a group's without
  // overlay splits.
  const last = [model.asOf, period.end].sort()[0] as string;
  const by = new Map<string, { amount: Dec; deals: Set<string> }>();
  for (const c of credits) {
    if (c.category !== 'won' || (subject.kind !== 'rep' && c.overlay)) continue;
    if (c.deal.closeDate < period.start || c.deal.closeDate > last) continue;
    const key = c.deal.connectionId ?? 'unknown';
    const e = by.get(key) ?? { amount: ZERO, deals: new Set<string>() };
    e.amount = e.amount.plus(c.amount);
    e.deals.add(c.deal.id);
    by.set(key, e);
  }
  // Rounded cumulatively (each part is the rounded running total less the one before), so the parts printed add
  // up to the printed `actual` to the cent.
  let running = ZERO;
  let printed = ZERO;
  const actual = [...by]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([connection, e]) => {
      running = running.plus(e.amount);
      const upTo = new Dec(formatMoney(running));
      const part = upTo.minus(printed);
      printed = upTo;
      return { connection, amount: formatMoney(part), deals: e.deals.size };
    });
  return { quota, actual };
}
