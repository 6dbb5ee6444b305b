/**
 * Plain, CRM-neutral inputs of the metric math. The connectors normalize Salesforce and HubSpot records into these
 * shapes and the engine loads them from the warehouse; nothing here knows where a value came from.
 *
 * Money is a decimal.js `Dec` in the record's own currency until `currency.ts` converts it to the base currency.
 * Ratios (probability, rates, thresholds) are fractions (0.87 for 87%), never percents, except where a field says so.
 */
import type { PlainDate } from '../../util/date.ts';
import type { Dec, DecimalInput } from '../../util/money.ts';

/** A fiscal period: `start` and `end` are both inclusive. */
export interface Period {
  id: string;
  start: PlainDate;
  end: PlainDate;
}

export type StageCategory = 'open' | 'won' | 'lost';

/** A deal (Salesforce Opportunity, HubSpot deal) as the connector normalized it. */
export interface Deal {
  id: string;
  /** The connection (CRM) the deal was read from: reports say where each number came from. */
  connectionId?: string;
  name: string;
  ownerId: string;
  /** Native amount in the booking policy's amount field; null when the CRM has none. */
  amount: Dec | null;
  /** ISO currency code of `amount`. */
  currency: string;
  stage: string;
  stageCategory: StageCategory;
  /** Win probability as a fraction (0.4 for 40%); null when the CRM has none (counts as 0 in weighted sums). */
  probability: Dec | null;
  closeDate: PlainDate;
  createdDate: PlainDate;
  type?: string | null;
  productLine?: string | null;
  segment?: string | null;
}

/** A revenue split (Salesforce OpportunitySplit). `percent` is 0..100 as Salesforce stores it. */
export interface DealSplit {
  dealId: string;
  ownerId: string;
  percent: Dec;
  /** Overlay splits credit the individual but never roll up into a team's sums. */
  overlay: boolean;
}

/** One stage a deal entered, on a date (OpportunityFieldHistory / HubSpot property history). */
export interface StageHistoryEntry {
  dealId: string;
  stage: string;
  date: PlainDate;
}

export type ActivityType = 'call' | 'meeting' | 'email' | 'task' | 'proposal' | 'other';

export interface Activity {
  id: string;
  ownerId: string;
  type: ActivityType;
  date: PlainDate;
}

export interface Lead {
  id: string;
  createdDate: PlainDate;
  /** The date the lead became an opportunity, or null. */
  convertedDate: PlainDate | null;
}

/** A quota in its own currency; converted at the rate in force on the period's first day. */
export interface Quota {
  subjectId: string;
  periodId: string;
  amount: Dec;
  currency: string;
}

/**
 * A dated conversion rate as Salesforce's DatedConversionRate: `rate` units of `currency` buy 1 unit of the base
 * currency, in force from `validFrom` (inclusive) to `validTo` (exclusive; null = still in force).
 */
export interface FxRate {
  currency: string;
  rate: Dec;
  validFrom: PlainDate;
  validTo: PlainDate | null;
}

/** A rep's place in the hierarchy over a span of dates: `validFrom` inclusive, `validTo` exclusive (null = open). */
export interface Membership {
  repId: string;
  teamId: string;
  regionId: string;
  validFrom: PlainDate;
  validTo: PlainDate | null;
}

/** Share of quota by month of tenure: [0.25, 0.5, 0.75, 1] means 25% in the first month from the start date. */
export type RampSchedule = readonly DecimalInput[];

/** Targets per activity type over the activity window, their weights in the score, and the cap per type. */
export interface ActivityTargets {
  windowDays: number;
  targets: Partial<Record<ActivityType, DecimalInput>>;
  weights: Partial<Record<ActivityType, DecimalInput>>;
  /** Per-type cap on actual/target; 1.5 by default. */
  cap?: DecimalInput;
}

/** Lower bounds (fractions of quota) of the status bands on projected attainment; below the last is major_gap. */
export interface StatusBands {
  on_track: DecimalInput;
  likely_to_hit: DecimalInput;
  at_risk: DecimalInput;
  likely_miss: DecimalInput;
  significant_gap: DecimalInput;
}

export const DEFAULT_STATUS_BANDS: StatusBands = {
  on_track: '1',
  likely_to_hit: '0.95',
  at_risk: '0.90',
  likely_miss: '0.80',
  significant_gap: '0.70',
};

export type StatusBand = 'on_track' | 'likely_to_hit' | 'at_risk' | 'likely_miss' | 'significant_gap' | 'major_gap';

/** A commission plan. Tier `from` values are fractions of quota (1.0 = 100%), multipliers apply to `baseRate`. */
export interface CommissionPlan {
  baseRate: DecimalInput;
  tiers: readonly { from: DecimalInput; multiplier: DecimalInput }[];
  /** When attainment ends below `below`, every booking is paid at `baseRate * multiplier` instead. */
  decelerator?: { below: DecimalInput; multiplier: DecimalInput } | null;
  /** Maximum payout in base currency for the period. */
  cap?: DecimalInput | null;
}

/** How bookings are counted. The amount field was already chosen by the connector. */
export interface BookingPolicy {
  /** When non-empty, a deal is won exactly when its stage is listed, whatever the CRM's category says. */
  wonStages?: readonly string[];
  /** Revenue splits on: credit each split's share to its owner. */
  splits: boolean;
}

/** A figure that can be missing: the value, or null with the reason the definitions give. */
export type Maybe<T> = { value: T; reason: null } | { value: null; reason: string };

export function some<T>(value: T): Maybe<T> {
  return { value, reason: null };
}

export function none<T>(reason: string): Maybe<T> {
  return { value: null, reason };
}
