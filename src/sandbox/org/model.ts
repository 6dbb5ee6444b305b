/**
 * The CRM-neutral org model: what a sales organization looks like before any CRM's object names are applied.
 * The Salesforce sandbox turns it into Users, Opportunities, Tasks... (`../salesforce/populate.ts`); the HubSpot
 * sandbox will turn the same model into owners, deals and engagements.
 *
 * Conventions: dates are `PlainDate` (`YYYY-MM-DD`), instants are ISO-8601 UTC strings (`...T14:05:00.000Z`),
 * money is a decimal string in the record's own currency (never a JS float), keys are stable strings unique
 * within their kind (`rep-0007`, `deal-000123`).
 */
import type { PlainDate } from '../../util/date.ts';

export type OrgSize = 'small' | 'medium' | 'large';

export type Segment = 'Enterprise' | 'Mid-Market' | 'SMB';
export const SEGMENTS: readonly Segment[] = ['Enterprise', 'Mid-Market', 'SMB'];

/** Opportunity stages in the order a deal walks them; the last two are terminal. */
export type Stage =
  | 'Prospecting'
  | 'Qualification'
  | 'Needs Analysis'
  | 'Proposal/Price Quote'
  | 'Negotiation/Review'
  | 'Closed Won'
  | 'Closed Lost';

export type ForecastCategory = 'Pipeline' | 'Best Case' | 'Commit' | 'Closed' | 'Omitted';

export interface StageInfo {
  stage: Stage;
  /** 0..100, as Salesforce's Probability. */
  probability: number;
  forecastCategory: ForecastCategory;
  isClosed: boolean;
  isWon: boolean;
}

/**
 * Salesforce's default probabilities for these stages (Setup > Opportunity Stages); the forecast categories are
 * this org's admin's choice (the defaults put every open stage in Pipeline), so forecasts have Best Case and Commit.
 */
export const STAGES: readonly StageInfo[] = [
  { stage: 'Prospecting', probability: 10, forecastCategory: 'Pipeline', isClosed: false, isWon: false },
  { stage: 'Qualification', probability: 10, forecastCategory: 'Pipeline', isClosed: false, isWon: false },
  { stage: 'Needs Analysis', probability: 20, forecastCategory: 'Pipeline', isClosed: false, isWon: false },
  { stage: 'Proposal/Price Quote', probability: 75, forecastCategory: 'Best Case', isClosed: false, isWon: false },
  { stage: 'Negotiation/Review', probability: 90, forecastCategory: 'Commit', isClosed: false, isWon: false },
  { stage: 'Closed Won', probability: 100, forecastCategory: 'Closed', isClosed: true, isWon: true },
  { stage: 'Closed Lost', probability: 0, forecastCategory: 'Omitted', isClosed: true, isWon: false },
];

/** The open stages, in order. */
export const OPEN_STAGES: readonly Stage[] = STAGES.filter((s) => !s.isClosed).map((s) => s.stage);

export function stageInfo(stage: Stage): StageInfo {
  const info = STAGES.find((s) => s.stage === stage);
  if (!info) throw new RangeError(`unknown stage ${stage}`);
  return info;
}

export interface Region {
  key: string;
  name: string;
  /** The region director's person key. */
  directorKey: string;
}

export interface Team {
  key: string;
  name: string;
  regionKey: string;
  segment: Segment;
  managerKey: string;
  /** The currency the team sells and holds quota in. */
  currency: string;
}

export type PersonRole = 'admin' | 'vp' | 'director' | 'manager' | 'rep';

/** A dated team membership; `to` is exclusive, null while current. */
export interface TeamStint {
  teamKey: string;
  from: PlainDate;
  to: PlainDate | null;
}

export interface Person {
  key: string;
  firstName: string;
  lastName: string;
  name: string;
  email: string;
  username: string;
  title: string;
  role: PersonRole;
  /** Current team (reps and managers), null above team level. */
  teamKey: string | null;
  regionKey: string | null;
  managerKey: string | null;
  startDate: PlainDate;
  /** Last working day + 1 for someone who left (exclusive), else null. */
  endDate: PlainDate | null;
  isActive: boolean;
  territory: string | null;
  quotaCarrying: boolean;
  currency: string;
  /** Reps only: the teams they belonged to, oldest first. */
  teamHistory: TeamStint[];
  /** Latent traits that drove the generation, kept for tests and the life clock. */
  traits: { performance: number; skill: number; effort: number };
  /** When the person was created in the CRM: a little before the start date. */
  createdAt: string;
}

export interface DatedRate {
  /** Units of this currency per 1 unit of the corporate currency. */
  rate: string;
  startDate: PlainDate;
  /** Exclusive; null for the rate in force now. */
  nextStartDate: PlainDate | null;
}

export interface Currency {
  code: string;
  decimalPlaces: number;
  isCorporate: boolean;
  /** The static rate (the latest dated one). */
  rate: string;
  dated: DatedRate[];
}

export interface FiscalQuarter {
  /** `FY2026-Q4` style; the fiscal year is named after the calendar year it ends in. */
  id: string;
  fiscalYear: number;
  number: number;
  start: PlainDate;
  end: PlainDate;
}

export interface Quota {
  key: string;
  personKey: string;
  periodId: string;
  start: PlainDate;
  end: PlainDate;
  amount: string;
  currency: string;
  createdAt: string;
}

/** One row of a deal's stage history, as the CRM records it on each change. */
export interface StageChange {
  at: string;
  stage: Stage;
  amount: string | null;
  closeDate: PlainDate | null;
  probability: number;
  forecastCategory: ForecastCategory;
}

export interface LineItem {
  key: string;
  productFamily: ProductFamily;
  productName: string;
  quantity: number;
  unitPrice: string;
  totalPrice: string;
}

export type ProductFamily = 'Platform' | 'Analytics' | 'Services' | 'Support';

export interface Split {
  key: string;
  personKey: string;
  /** 0..100. */
  percent: number;
  kind: 'Revenue' | 'Overlay';
}

/** Deliberately broken records that exercise the sync's error paths. */
export type DirtyKind = 'no_amount' | 'unknown_currency' | 'null_close_date';

export interface Deal {
  key: string;
  name: string;
  accountName: string;
  ownerKey: string;
  segment: Segment;
  type: string;
  leadSource: string;
  currency: string;
  amount: string | null;
  /** Null only on the `null_close_date` dirty record. */
  closeDate: PlainDate | null;
  createdAt: string;
  stage: Stage;
  /** The outcome the deal is headed for; the life clock closes open deals this way. */
  fate: 'won' | 'lost';
  history: StageChange[];
  lineItems: LineItem[];
  splits: Split[];
  dirty: DirtyKind | null;
  /** The last change to the deal (its last history row, or later edits). */
  modifiedAt: string;
}

export type ActivityType = 'call' | 'email' | 'meeting' | 'task' | 'proposal';

export interface Activity {
  key: string;
  ownerKey: string;
  type: ActivityType;
  /** Salesforce's TaskSubtype nuance for emails: a few are list emails. */
  bulk: boolean;
  subject: string;
  date: PlainDate;
  createdAt: string;
  dealKey: string | null;
  durationMinutes: number | null;
  completed: boolean;
}

export type LeadStatus =
  | 'Open - Not Contacted'
  | 'Working - Contacted'
  | 'Closed - Converted'
  | 'Closed - Not Converted';

export interface Lead {
  key: string;
  ownerKey: string;
  firstName: string;
  lastName: string;
  company: string;
  email: string;
  source: string;
  status: LeadStatus;
  createdAt: string;
  convertedDate: PlainDate | null;
  convertedDealKey: string | null;
  modifiedAt: string;
}

export interface OrgModel {
  seed: number;
  size: OrgSize;
  anchorDate: PlainDate;
  orgName: string;
  /** The org's time zone, in which instants become dates. */
  timezone: string;
  corporateCurrency: string;
  fiscalYearStartMonth: number;
  /** Quarters covered by quotas, oldest first; the one containing the anchor is `currentQuarterId`. */
  quarters: FiscalQuarter[];
  currentQuarterId: string;
  currencies: Currency[];
  regions: Region[];
  teams: Team[];
  people: Person[];
  quotas: Quota[];
  deals: Deal[];
  activities: Activity[];
  leads: Lead[];
  /**
   * A `large` org: its deals and activities are not in `deals` and `activities` (which stay empty) but made one at
   * a time by index from the seed (`lazy.ts`), so no sandbox holds a million of them at once.
   */
  lazy?: LazyCounts;
}

/** How many deals and activities a lazily generated org has. */
export interface LazyCounts {
  deals: number;
  activities: number;
}
