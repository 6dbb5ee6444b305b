import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../../src/errors.ts';
import {
  type Deal,
  generateOrg,
  generateOrgWithNotes,
  OPEN_STAGES,
  orgHash,
  quarterOf,
  quarterOffset,
  STAGES,
  UNKNOWN_CURRENCY,
} from '../../../src/sandbox/org/index.ts';
import { addDays, diffDays } from '../../../src/util/date.ts';

const ANCHOR = '2026-11-15';
const { org, notes } = generateOrgWithNotes({ seed: 42, size: 'small', anchorDate: ANCHOR });
const reps = org.people.filter((p) => p.role === 'rep');
const isOpen = (d: Deal): boolean => d.stage !== 'Closed Won' && d.stage !== 'Closed Lost';
const person = (key: string) => org.people.find((p) => p.key === key) ?? expect.fail(`no person ${key}`);

afterEach(() => vi.restoreAllMocks());

describe('generateOrg determinism', () => {
  it('gives the same hash for the same inputs and a different one for another seed or anchor', () => {
    const again = generateOrg({ seed: 42, size: 'small', anchorDate: ANCHOR });
    expect(orgHash(again)).toBe(orgHash(org));
    expect(orgHash(generateOrg({ seed: 43, size: 'small', anchorDate: ANCHOR }))).not.toBe(orgHash(org));
    expect(orgHash(generateOrg({ seed: 42, size: 'small', anchorDate: '2026-11-16' }))).not.toBe(orgHash(org));
  });

  it('uses neither Math.random nor the wall clock', () => {
    vi.spyOn(Math, 'random').mockImplementation(() => {
      throw new Error('Math.random used');
    });
    vi.spyOn(Date, 'now').mockImplementation(() => {
      throw new Error('Date.now used');
    });
    expect(orgHash(generateOrg({ seed: 42, size: 'small', anchorDate: ANCHOR }))).toBe(orgHash(org));
  });

  it('rejects a bad size or anchor with a usage error naming the option', () => {
    const bad = (o: object) => () => generateOrg({ seed: 42, size: 'small', anchorDate: ANCHOR, ...o } as never);
    expect(bad({ size: 'huge' })).toThrow(/size must be small, medium or large, got "huge"/);
    expect(bad({ anchorDate: '2026-13-01' })).toThrow(AppError);
    expect(bad({ anchorDate: '2026-13-01' })).toThrow(/anchorDate/);
    expect(bad({ seed: 1.5 })).toThrow(/seed must be an integer/);
  });
});

describe('the small org (seed 42, anchor 2026-11-15)', () => {
  it('has a dozen reps in four teams under two regions, each team with a manager, and an admin', () => {
    expect(reps).toHaveLength(12);
    expect(org.regions.map((r) => r.name)).toEqual(['North America', 'EMEA']);
    expect(org.teams).toHaveLength(4);
    for (const t of org.teams) expect(person(t.managerKey).role).toBe('manager');
    expect(org.people.filter((p) => p.role === 'admin')).toHaveLength(1);
    expect(new Set(org.people.map((p) => p.email)).size).toBe(org.people.length);
  });

  it('has two ramping hires who started in the last four months and own no deal created before their start', () => {
    expect(notes.rampingKeys).toHaveLength(2);
    for (const key of notes.rampingKeys) {
      const rep = person(key);
      expect(diffDays(rep.startDate, ANCHOR)).toBeGreaterThanOrEqual(20);
      expect(diffDays(rep.startDate, ANCHOR)).toBeLessThanOrEqual(110);
      const own = org.deals.filter((d) => d.ownerKey === key);
      expect(own.length).toBeGreaterThan(0);
      for (const d of own) expect(d.createdAt.slice(0, 10) >= rep.startDate).toBe(true);
    }
  });

  it('has one rep who moved team in the current quarter, before the anchor', () => {
    const mover = person(notes.moverKey);
    expect(mover.teamHistory).toHaveLength(2);
    const [before, after] = mover.teamHistory;
    const q = quarterOf(ANCHOR);
    expect(before?.teamKey).not.toBe(after?.teamKey);
    expect(before?.to).toBe(after?.from);
    expect(after?.from && after.from > q.start && after.from < ANCHOR).toBe(true);
    expect(mover.teamKey).toBe(after?.teamKey);
    expect(mover.managerKey).toBe(org.teams.find((t) => t.key === after?.teamKey)?.managerKey);
    expect(reps.filter((r) => r.teamHistory.length > 1)).toHaveLength(1);
  });

  it('has one rep who left this quarter, inactive, still owning open deals', () => {
    const leaver = person(notes.leaverKey);
    expect(leaver.isActive).toBe(false);
    expect(leaver.endDate && leaver.endDate >= quarterOf(ANCHOR).start && leaver.endDate < ANCHOR).toBe(true);
    expect(reps.filter((r) => !r.isActive)).toEqual([leaver]);
    const open = org.deals.filter((d) => d.ownerKey === leaver.key && isOpen(d));
    expect(open.length).toBeGreaterThan(0);
    // Nothing happened to them after the rep left.
    for (const d of org.deals.filter((x) => x.ownerKey === leaver.key)) {
      expect(d.modifiedAt.slice(0, 10) < (leaver.endDate as string)).toBe(true);
    }
  });

  it('has exactly one of each dirty record, broken the way its name says', () => {
    const dirty = org.deals.filter((d) => d.dirty !== null);
    expect(dirty.map((d) => d.dirty).sort()).toEqual(['no_amount', 'null_close_date', 'unknown_currency']);
    const noAmount = dirty.find((d) => d.dirty === 'no_amount') as Deal;
    expect(noAmount.amount).toBeNull();
    expect(noAmount.lineItems).toEqual([]);
    const unknown = dirty.find((d) => d.dirty === 'unknown_currency') as Deal;
    expect(unknown.currency).toBe(UNKNOWN_CURRENCY);
    expect(org.currencies.map((c) => c.code)).not.toContain(UNKNOWN_CURRENCY);
    expect(unknown.stage).toBe('Closed Won');
    const noClose = dirty.find((d) => d.dirty === 'null_close_date') as Deal;
    expect(noClose.closeDate).toBeNull();
    expect(isOpen(noClose)).toBe(true);
  });

  it('has quotas per calendar quarter for every rep employed in it, eight quarters back to one ahead', () => {
    expect(org.quarters.map((q) => q.id)).toEqual([
      'FY2024-Q4',
      'FY2025-Q1',
      'FY2025-Q2',
      'FY2025-Q3',
      'FY2025-Q4',
      'FY2026-Q1',
      'FY2026-Q2',
      'FY2026-Q3',
      'FY2026-Q4',
      'FY2027-Q1',
    ]);
    expect(org.currentQuarterId).toBe('FY2026-Q4');
    const veteran = reps.find((r) => r.isActive && r.teamHistory.length === 1 && !notes.rampingKeys.includes(r.key));
    const theirs = org.quotas.filter((q) => q.personKey === veteran?.key);
    expect(theirs.map((q) => `${q.start}..${q.end}`).slice(-6)).toEqual([
      '2025-10-01..2025-12-31',
      '2026-01-01..2026-03-31',
      '2026-04-01..2026-06-30',
      '2026-07-01..2026-09-30',
      '2026-10-01..2026-12-31',
      '2027-01-01..2027-03-31',
    ]);
    // The leaver has no quota after leaving.
    expect(org.quotas.filter((q) => q.personKey === notes.leaverKey).map((q) => q.periodId)).not.toContain('FY2027-Q1');
  });

  it('splits some deals: revenue splits add up to 100%, overlays credit someone else', () => {
    const split = org.deals.filter((d) => d.splits.length > 0);
    expect(split.length).toBeGreaterThan(10);
    for (const d of split) {
      const revenue = d.splits.filter((s) => s.kind === 'Revenue');
      expect(revenue.reduce((s, x) => s + x.percent, 0)).toBe(100);
      expect(revenue[0]?.personKey).toBe(d.ownerKey);
    }
    const withMate = split.filter((d) => d.splits.filter((s) => s.kind === 'Revenue').length === 2);
    const overlays = split.flatMap((d) => d.splits.filter((s) => s.kind === 'Overlay').map((s) => [d, s] as const));
    expect(withMate.length).toBeGreaterThan(0);
    expect(overlays.length).toBeGreaterThan(0);
    for (const [d, s] of overlays) expect(s.personKey).not.toBe(d.ownerKey);
  });

  it('sells in several currencies, each with dated rates that tile time and move', () => {
    expect(org.currencies.map((c) => c.code)).toEqual(['USD', 'EUR', 'GBP', 'JPY']);
    const used = new Set(org.deals.map((d) => d.currency));
    for (const c of ['USD', 'EUR', 'GBP', 'JPY']) expect(used.has(c)).toBe(true);
    for (const c of org.currencies) {
      for (let i = 1; i < c.dated.length; i++) expect(c.dated[i]?.startDate).toBe(c.dated[i - 1]?.nextStartDate);
      expect(c.dated.at(-1)?.nextStartDate).toBeNull();
      expect(c.rate).toBe(c.dated.at(-1)?.rate);
      if (c.isCorporate) expect(c.dated.map((r) => r.rate)).toEqual(['1']);
      else expect(new Set(c.dated.map((r) => r.rate)).size).toBeGreaterThan(10);
    }
  });

  it('wins more often in SMB than Mid-Market than Enterprise, and win rates differ by rep', () => {
    const rate = (deals: Deal[]): number => {
      const won = deals.filter((d) => d.stage === 'Closed Won').length;
      const lost = deals.filter((d) => d.stage === 'Closed Lost').length;
      return won / (won + lost);
    };
    const bySegment = (s: string) => rate(org.deals.filter((d) => d.segment === s));
    expect(bySegment('Enterprise')).toBeLessThan(bySegment('Mid-Market'));
    expect(bySegment('Mid-Market')).toBeLessThan(bySegment('SMB'));
    const repRates = reps.map((r) => rate(org.deals.filter((d) => d.ownerKey === r.key)));
    expect(Math.max(...repRates) - Math.min(...repRates)).toBeGreaterThan(0.1);
  });

  it('has skewed (log-normal) deal sizes: the mean well above the median', () => {
    const usd = org.deals.filter((d) => d.currency === 'USD' && d.segment === 'Mid-Market' && d.amount !== null);
    const amounts = usd.map((d) => Number(d.amount)).sort((a, b) => a - b);
    const mean = amounts.reduce((s, a) => s + a, 0) / amounts.length;
    const median = amounts[Math.floor(amounts.length / 2)] as number;
    expect(mean / median).toBeGreaterThan(1.05);
    expect(amounts.at(-1)).toBeGreaterThan(3 * median);
  });

  it('pushes close dates to the end of the quarter', () => {
    const won = org.deals.filter(
      (d) => d.stage === 'Closed Won' && d.closeDate !== null && d.closeDate < quarterOf(ANCHOR).start,
    );
    const late = won.filter((d) => diffDays(d.closeDate as string, quarterOf(d.closeDate as string).end) < 10);
    // Uniform close dates would put about 11% in the last ten days; the truth's quarter-end push (deal-life.ts:
    // late stages win more often in the last four weeks) puts about a fifth there.
    expect(late.length / won.length).toBeGreaterThan(0.16);
  });

  it('walks every deal through the stages in order, one history row per change of stage or close date, ending in its current state', () => {
    const order = STAGES.map((s) => s.stage);
    for (const d of org.deals) {
      expect(d.history[0]?.at).toBe(d.createdAt);
      expect(d.history.at(-1)?.stage).toBe(d.stage);
      expect(d.history.at(-1)?.at).toBe(d.modifiedAt);
      for (let i = 1; i < d.history.length; i++) {
        const prev = d.history[i - 1];
        const cur = d.history[i];
        expect(cur && prev && cur.at > prev.at).toBe(true);
        const [from, to] = [order.indexOf(prev?.stage ?? 'Prospecting'), order.indexOf(cur?.stage ?? 'Prospecting')];
        // A row keeps its stage only when the close date moved (pushed within the quarter, or out of it).
        if (to === from) expect(cur?.closeDate).not.toBe(prev?.closeDate);
        else expect(to).toBeGreaterThan(from);
      }
      if (!isOpen(d) && d.closeDate !== null) expect(d.modifiedAt.slice(0, 10)).toBe(d.closeDate);
      if (d.amount !== null && d.lineItems.length > 0) {
        expect(d.lineItems.reduce((s, li) => s + Number(li.totalPrice), 0)).toBe(Number(d.amount));
      }
    }
    expect(org.deals.some((d) => d.history.some((h) => h.closeDate !== d.closeDate))).toBe(true);
  });

  it('reaches back eight quarters with closed deals and forward with open deals closing after the anchor', () => {
    for (let i = -8; i <= -1; i++) {
      const q = quarterOffset(ANCHOR, i);
      const closed = org.deals.filter(
        (d) => !isOpen(d) && d.closeDate !== null && d.closeDate >= q.start && d.closeDate <= q.end,
      );
      expect(closed.length, q.id).toBeGreaterThan(50);
    }
    const open = org.deals.filter(isOpen);
    expect(open.filter((d) => d.closeDate !== null && d.closeDate > quarterOf(ANCHOR).end).length).toBeGreaterThan(30);
    for (const d of org.deals) expect(d.createdAt < `${ANCHOR}T12:00:00.000Z`).toBe(true);
    for (const d of open) expect(OPEN_STAGES).toContain(d.stage);
    // Most open deals are still ahead; a few stale ones are overdue (their close date passed).
    const overdue = open.filter((d) => d.closeDate !== null && d.closeDate < ANCHOR);
    expect(overdue.length).toBeGreaterThan(0);
    expect(overdue.length).toBeLessThan(open.length / 5);
  });

  it('logs activities in proportion to effort, and the slacker drops off in the last two weeks', () => {
    const perDay = (key: string, from: string, to: string): number => {
      const n = org.activities.filter((a) => a.ownerKey === key && a.date >= from && a.date < to).length;
      return n / diffDays(from, to);
    };
    const steady = reps.filter((r) => r.isActive && !notes.rampingKeys.includes(r.key) && r.key !== notes.slackerKey);
    const byEffort = [...steady].sort((a, b) => a.traits.effort - b.traits.effort);
    const lo = byEffort[0]?.key as string;
    const hi = byEffort.at(-1)?.key as string;
    const from = addDays(ANCHOR, -84);
    expect(perDay(hi, from, ANCHOR)).toBeGreaterThan(1.2 * perDay(lo, from, ANCHOR));
    const recent = perDay(notes.slackerKey, addDays(ANCHOR, -14), ANCHOR);
    const before = perDay(notes.slackerKey, addDays(ANCHOR, -42), addDays(ANCHOR, -14));
    expect(recent).toBeLessThan(0.7 * before);
    expect(new Set(org.activities.map((a) => a.type))).toEqual(
      new Set(['call', 'email', 'meeting', 'task', 'proposal']),
    );
    const linked = org.activities.filter((a) => a.dealKey !== null);
    expect(linked.length / org.activities.length).toBeGreaterThan(0.2);
  });

  it('stamps every record before the generated history ends (12:00 UTC on the anchor day)', () => {
    const end = `${ANCHOR}T12:00:00.000Z`;
    const instants = [
      ...org.people.map((p) => p.createdAt),
      ...org.quotas.map((q) => q.createdAt),
      ...org.deals.flatMap((d) => [d.createdAt, d.modifiedAt, ...d.history.map((h) => h.at)]),
      ...org.activities.map((a) => a.createdAt),
      ...org.leads.flatMap((l) => [l.createdAt, l.modifiedAt]),
    ];
    expect(instants.filter((t) => !(t < end))).toEqual([]);
    // Instants are within working hours in UTC, so their date is the same in New York.
    expect(instants.filter((t) => t.slice(11, 13) < '11' || t.slice(11, 13) > '20')).toEqual([]);
  });

  it('converts some leads into the deals they became, on the day the deal was created', () => {
    const converted = org.leads.filter((l) => l.convertedDealKey !== null);
    expect(converted.length).toBeGreaterThan(50);
    expect(org.leads.length).toBeGreaterThan(converted.length * 2);
    const deals = new Map(org.deals.map((d) => [d.key, d]));
    for (const l of converted) {
      const d = deals.get(l.convertedDealKey as string);
      expect(l.status).toBe('Closed - Converted');
      expect(d?.createdAt.slice(0, 10)).toBe(l.convertedDate);
      expect(l.createdAt <= (d?.createdAt ?? '')).toBe(true);
    }
  });
});
