/** Builders of plain inputs for the metric math tests: real deals with real dates, defaults spelled out. */
import { buildFxTable, type FxTable } from '../../../src/metrics/math/currency.ts';
import type { ActivityTargets, CommissionPlan, Deal, FxRate, StageCategory } from '../../../src/metrics/math/types.ts';
import { addDays } from '../../../src/util/date.ts';
import { Dec } from '../../../src/util/money.ts';

const STAGE: Record<StageCategory, string> = { open: 'Negotiation', won: 'Closed Won', lost: 'Closed Lost' };

export interface DealSpec {
  id: string;
  amount: string | number | null;
  closeDate: string;
  category?: StageCategory;
  owner?: string;
  currency?: string;
  probability?: string | number | null;
  createdDate?: string;
  stage?: string;
  productLine?: string;
  segment?: string;
}

/** A deal owned by rep-sarah in USD, won unless said, created 60 days before its close date. */
export function deal(s: DealSpec): Deal {
  const category = s.category ?? 'won';
  return {
    id: s.id,
    name: `Deal ${s.id}`,
    ownerId: s.owner ?? 'rep-sarah',
    amount: s.amount === null ? null : new Dec(s.amount),
    currency: s.currency ?? 'USD',
    stage: s.stage ?? STAGE[category],
    stageCategory: category,
    probability: s.probability === undefined || s.probability === null ? null : new Dec(s.probability),
    closeDate: s.closeDate,
    createdDate: s.createdDate ?? addDays(s.closeDate, -60),
    type: null,
    productLine: s.productLine ?? null,
    segment: s.segment ?? null,
  };
}

export const USD_ONLY: FxTable = buildFxTable('USD', []);

export function fx(rates: { currency: string; rate: string; from: string; to?: string | null }[]): FxTable {
  const list: FxRate[] = rates.map((r) => ({
    currency: r.currency,
    rate: new Dec(r.rate),
    validFrom: r.from,
    validTo: r.to ?? null,
  }));
  return buildFxTable('USD', list);
}

/** The seed's plan: 10% base, 1.6x from 100% of quota. */
export const SEED_PLAN: CommissionPlan = { baseRate: '0.10', tiers: [{ from: '1.0', multiplier: '1.6' }] };

export const SEED_TARGETS: ActivityTargets = {
  windowDays: 30,
  targets: { call: 120, meeting: 20, email: 200 },
  weights: { call: 1, meeting: 2, email: 0.5 },
};

export const d = (v: string | number) => new Dec(v);
