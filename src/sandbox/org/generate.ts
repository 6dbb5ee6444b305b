/**
 * `generateOrg`: a whole sales org, deterministic from (seed, size, anchorDate). No wall clock and no
 * Math.random: one seeded `Rng` is consumed in a fixed order, so equal inputs give byte-identical models
 * (checked by `orgHash` against committed golden values in a fresh process).
 */
import { AppError } from '../../errors.ts';
import { type PlainDate, parsePlainDate } from '../../util/date.ts';
import { generateActivities, generateLeads } from './activities.ts';
import { generateCurrencies } from './currencies.ts';
import { type DealContext, type DraftDeal, generateLivedDeals, generateQuotas, topUpLivedDeals } from './deals.ts';
import type { Currency, Deal, OrgModel, OrgSize, Person, Segment, Team } from './model.ts';
import { type ChartOptions, generateChart, type RegionPlan } from './people.ts';
import { Rng } from './random.ts';
import { plusDays, quarterOf, quarterOffset } from './time.ts';

export interface GenerateOrgOptions {
  seed: number;
  size: OrgSize;
  /** The org's "today": history ends here, open deals close after it. */
  anchorDate: PlainDate;
  /**
   * `large` only: other counts than 5,000 reps, 1,000,000 deals and 5,000,000 activities, so tests can run the
   * same lazy machinery at a size that takes seconds.
   */
  largeCounts?: Partial<LargeCounts>;
}

export interface LargeCounts {
  reps: number;
  deals: number;
  activities: number;
}

export const LARGE_COUNTS: Readonly<LargeCounts> = { reps: 5_000, deals: 1_000_000, activities: 5_000_000 };

/** What the generator keeps aside for tests and the life clock: where its special cases are. */
export interface OrgNotes {
  moverKey: string;
  leaverKey: string;
  rampingKeys: string[];
  slackerKey: string;
}

interface SizeProfile {
  regions: RegionPlan[];
  repCount: number;
  performanceSpread: number[] | null;
  rampingHires: number;
  amountScale: number;
  /** Exact number of deals (the natural draw, trimmed or filled up to it), or null for whatever comes out. */
  dealCount: number | null;
  activityDays: number;
  currencies: string[];
  foreignDeals: [string, string, number][];
  /** Quarters of closed history before the anchor's quarter. */
  historyQuarters: number;
}

function mediumRegions(): RegionPlan[] {
  const plan: [string, string, string | null][] = [
    ['NA East', 'USD', null],
    ['NA Central', 'USD', null],
    ['NA West', 'USD', 'CAD'],
    ['EMEA North', 'GBP', 'EUR'],
    ['EMEA South', 'EUR', null],
    ['APAC', 'JPY', 'AUD'],
  ];
  const segments: Segment[] = [
    'Enterprise',
    'Enterprise',
    'Mid-Market',
    'Mid-Market',
    'Mid-Market',
    'SMB',
    'SMB',
    'SMB',
    'SMB',
    'Mid-Market',
  ];
  return plan.map(([name, currency, second]) => ({
    name,
    teams: segments.map((segment, i) => ({
      name: `${name} ${segment} ${i + 1}`,
      segment,
      // The last three teams of a region with a second currency sell in it (Canada, Ireland, Australia...).
      currency: second !== null && i >= 7 ? second : currency,
    })),
  }));
}

/** Ten regions of teams of ten reps (5,000 reps: 500 teams), segments and currencies as in the medium org. */
function largeRegions(repCount: number): RegionPlan[] {
  const medium = mediumRegions();
  const names = [...medium.map((r) => r.name), 'LATAM', 'ANZ', 'Nordics', 'India'];
  const currencies: Record<string, string> = { LATAM: 'USD', ANZ: 'AUD', Nordics: 'EUR', India: 'USD' };
  const teamCount = Math.max(1, Math.ceil(repCount / 10));
  const regionCount = Math.min(names.length, teamCount);
  const segments: Segment[] = ['Enterprise', 'Mid-Market', 'Mid-Market', 'SMB', 'SMB'];
  return names.slice(0, regionCount).map((name, ri) => {
    const template = medium[ri]?.teams ?? [];
    const count = Math.floor(teamCount / regionCount) + (ri < teamCount % regionCount ? 1 : 0);
    return {
      name,
      teams: Array.from({ length: count }, (_, i) => {
        const segment = segments[i % segments.length] as Segment;
        const currency = template[i % Math.max(1, template.length)]?.currency ?? currencies[name] ?? 'USD';
        return { name: `${name} ${segment} ${i + 1}`, segment, currency };
      }),
    };
  });
}

const PROFILES: Readonly<Record<OrgSize, (o: GenerateOrgOptions) => SizeProfile>> = {
  small: () => ({
    regions: [
      {
        name: 'North America',
        teams: [
          { name: 'NA Enterprise', segment: 'Enterprise', currency: 'USD' },
          { name: 'NA Mid-Market', segment: 'Mid-Market', currency: 'USD' },
        ],
      },
      {
        name: 'EMEA',
        teams: [
          { name: 'UK&I Mid-Market', segment: 'Mid-Market', currency: 'GBP' },
          { name: 'DACH SMB', segment: 'SMB', currency: 'EUR' },
        ],
      },
    ],
    repCount: 12,
    // The demo's spread: most reps between 55% and 110% of quota, a few clearly at risk.
    performanceSpread: [1.08, 0.62, 0.95, 0.84, 1.12, 0.55, 0.99, 0.76, 1.03, 0.68, 0.9, 0.8],
    rampingHires: 2,
    amountScale: 1,
    dealCount: null,
    activityDays: 91,
    currencies: ['USD', 'EUR', 'GBP', 'JPY'],
    foreignDeals: [
      ['USD', 'JPY', 0.06],
      ['GBP', 'EUR', 0.06],
    ],
    historyQuarters: 8,
  }),
  medium: () => ({
    regions: mediumRegions(),
    repCount: 500,
    performanceSpread: null,
    rampingHires: 25,
    amountScale: 0.83,
    dealCount: 100_000,
    activityDays: 42,
    currencies: ['USD', 'EUR', 'GBP', 'JPY', 'CAD', 'AUD'],
    foreignDeals: [
      ['GBP', 'EUR', 0.05],
      ['EUR', 'USD', 0.04],
      ['CAD', 'USD', 0.1],
    ],
    historyQuarters: 8,
  }),
  // Deals and activities are made lazily (lazy.ts): the counts are exact by construction.
  large: (o) => {
    const reps = o.largeCounts?.reps ?? LARGE_COUNTS.reps;
    return {
      regions: largeRegions(reps),
      repCount: reps,
      performanceSpread: null,
      rampingHires: Math.floor(reps / 20),
      amountScale: 0.7,
      dealCount: o.largeCounts?.deals ?? LARGE_COUNTS.deals,
      activityDays: 42,
      currencies: ['USD', 'EUR', 'GBP', 'JPY', 'CAD', 'AUD'],
      foreignDeals: [],
      historyQuarters: 4,
    };
  },
};

/** A currency no CurrencyType defines: the dirty "deal in a currency with no rate". */
export const UNKNOWN_CURRENCY = 'CHF';

export function generateOrg(opts: GenerateOrgOptions): OrgModel {
  return generateOrgWithNotes(opts).org;
}

/** `generateOrg` plus the keys of its special cases. */
export function generateOrgWithNotes(opts: GenerateOrgOptions): { org: OrgModel; notes: OrgNotes } {
  if (!Number.isSafeInteger(opts.seed))
    throw new AppError('USAGE', `seed must be an integer, got ${String(opts.seed)}`, { where: 'seed' });
  const profileOf = PROFILES[opts.size];
  if (!profileOf)
    throw new AppError('USAGE', `size must be small, medium or large, got "${String(opts.size)}"`, { where: 'size' });
  const anchor = parsePlainDate(opts.anchorDate, 'anchorDate');
  const profile = profileOf(opts);
  const rng = new Rng(opts.seed);
  // Eight quarters for small and medium, so a forecast has that much history to learn from and test against.
  const HISTORY_QUARTERS = profile.historyQuarters;

  const current = quarterOf(anchor);
  const firstQuarter = quarterOffset(anchor, -HISTORY_QUARTERS);
  const quarters = [];
  for (let i = -HISTORY_QUARTERS; i <= 1; i++) quarters.push(quarterOffset(anchor, i));

  const currencies = generateCurrencies(
    rng,
    profile.currencies,
    quarterOffset(anchor, -HISTORY_QUARTERS - 2).start,
    anchor,
  );
  const chartOpts: ChartOptions = {
    regions: profile.regions,
    repCount: profile.repCount,
    performanceSpread: profile.performanceSpread,
    rampingHires: profile.rampingHires,
    emailDomain: 'acme-analytics.example.com',
    ...(opts.size === 'large' ? { specialCases: false } : {}),
  };
  const chart = generateChart(rng, anchor, chartOpts);
  const reps = chart.people.filter((p) => p.role === 'rep');
  const ctx: DealContext = {
    rng,
    anchor,
    currencies: new Map(currencies.map((c) => [c.code, c])),
    teams: new Map(chart.teams.map((t) => [t.key, t])),
    people: chart.people,
    amountScale: profile.amountScale,
    firstQuarter: -HISTORY_QUARTERS,
    foreignDeals: profile.foreignDeals,
  };
  const quotas = generateQuotas(ctx, reps, quarters);
  if (opts.size === 'large') {
    const org: OrgModel = {
      seed: opts.seed,
      size: opts.size,
      anchorDate: anchor,
      orgName: 'Acme Analytics',
      timezone: 'America/New_York',
      corporateCurrency: 'USD',
      fiscalYearStartMonth: 1,
      quarters,
      currentQuarterId: current.id,
      currencies,
      regions: chart.regions,
      teams: chart.teams,
      people: chart.people,
      quotas,
      deals: [],
      activities: [],
      leads: [],
      lazy: {
        deals: profile.dealCount ?? LARGE_COUNTS.deals,
        activities: opts.largeCounts?.activities ?? LARGE_COUNTS.activities,
      },
    };
    return {
      org,
      notes: { moverKey: '', leaverKey: '', rampingKeys: chart.rampingKeys, slackerKey: chart.slackerKey },
    };
  }
  let drafts = generateLivedDeals(ctx, reps, quotas);
  if (profile.dealCount !== null) {
    if (drafts.length < profile.dealCount) topUpLivedDeals(ctx, reps, drafts, profile.dealCount);
    else drafts = trimTo(rng, drafts, profile.dealCount, anchor);
  }
  applyDirtyRecords(rng, drafts, chart.leaverKey, anchor, current.start);

  const deals: Deal[] = [];
  let liSeq = 0;
  let splitSeq = 0;
  drafts.forEach((d, i) => {
    deals.push({
      key: `deal-${String(i + 1).padStart(6, '0')}`,
      name: d.name,
      accountName: d.accountName,
      ownerKey: d.ownerKey,
      segment: d.segment,
      type: d.type,
      leadSource: d.leadSource,
      currency: d.currency,
      amount: d.amount,
      closeDate: d.closeDate,
      createdAt: d.createdAt,
      stage: d.stage,
      fate: d.fate,
      history: d.history,
      lineItems: d.lineItems.map((li) => ({ key: `li-${String(++liSeq).padStart(6, '0')}`, ...li })),
      splits: d.splits.map((s) => ({ key: `split-${String(++splitSeq).padStart(6, '0')}`, ...s })),
      dirty: d.dirty,
      modifiedAt: d.modifiedAt,
    });
  });

  const dealKeys = deals.map((d) => d.key);
  const activities = generateActivities(rng, reps, drafts, dealKeys, {
    anchor,
    windowDays: profile.activityDays,
    slackerKey: chart.slackerKey,
  });
  const leads = generateLeads(rng, reps, drafts, dealKeys, anchor, firstQuarter.start);

  const org: OrgModel = {
    seed: opts.seed,
    size: opts.size,
    anchorDate: anchor,
    orgName: 'Acme Analytics',
    timezone: 'America/New_York',
    corporateCurrency: 'USD',
    fiscalYearStartMonth: 1,
    quarters,
    currentQuarterId: current.id,
    currencies,
    regions: chart.regions,
    teams: chart.teams,
    people: chart.people,
    quotas,
    deals,
    activities,
    leads,
  };
  return {
    org,
    notes: {
      moverKey: chart.moverKey,
      leaverKey: chart.leaverKey,
      rampingKeys: chart.rampingKeys,
      slackerKey: chart.slackerKey,
    },
  };
}

/**
 * Drops random old closed deals, won or lost alike, until exactly `count` remain, when the natural draw came out
 * larger (a smaller one is filled up by `topUpLivedDeals` instead). Dropping lost deals only would raise the win
 * rates away from the generator's truth.
 */
function trimTo(rng: Rng, drafts: DraftDeal[], count: number, anchor: PlainDate): DraftDeal[] {
  const excess = drafts.length - count;
  const candidates: number[] = [];
  drafts.forEach((d, i) => {
    const closed = d.stage === 'Closed Lost' || d.stage === 'Closed Won';
    if (closed && d.splits.length === 0 && d.closeDate !== null && d.closeDate < plusDays(anchor, -120))
      candidates.push(i);
  });
  if (candidates.length < excess)
    throw new AppError('INTERNAL', `cannot trim ${excess} deals from ${candidates.length} candidates`);
  const drop = new Set(rng.shuffle(candidates).slice(0, excess));
  return drafts.filter((_, i) => !drop.has(i));
}

/**
 * A few deliberately broken records: a deal without an amount, a won deal in a currency the org does not define,
 * and an open deal without a close date. Real Salesforce rejects the last two (CloseDate is required and
 * CurrencyIsoCode is a restricted picklist); the sandbox lets them exist so the sync's quarantine and the
 * metrics' missing-rate paths are exercised. The leaver's open deals, still owned by an inactive user, are the
 * fourth kind and come about naturally.
 */
function applyDirtyRecords(
  rng: Rng,
  drafts: DraftDeal[],
  leaverKey: string,
  anchor: PlainDate,
  quarterStart: PlainDate,
): void {
  const open = (d: DraftDeal): boolean => d.stage !== 'Closed Won' && d.stage !== 'Closed Lost';
  const eligible = (d: DraftDeal): boolean => d.ownerKey !== leaverKey && d.dirty === null && d.splits.length === 0;
  /** A random eligible deal fitting the first of `preds` that any deal fits. */
  const choose = (what: string, ...preds: ((d: DraftDeal) => boolean)[]): DraftDeal => {
    for (const pred of preds) {
      const list = drafts.filter((d) => eligible(d) && pred(d));
      if (list.length > 0) return rng.pick(list);
    }
    throw new AppError('INTERNAL', `no deal fits the dirty record "${what}"`);
  };

  // An open deal due later this quarter; when the anchor is the quarter's last day there is none, so next quarter's.
  const dueAfterAnchor =
    (offset: number) =>
    (d: DraftDeal): boolean =>
      open(d) && d.quarterOffset === offset && d.closeDate !== null && d.closeDate > anchor;
  const noAmount = choose('no_amount', dueAfterAnchor(0), dueAfterAnchor(1));
  noAmount.dirty = 'no_amount';
  noAmount.amount = null;
  noAmount.lineItems = [];
  for (const h of noAmount.history) h.amount = null;

  // On a quarter's first day nothing is won yet this quarter (a lived deal closes after a week origin): then a win
  // of the last quarter's.
  const wonBetween = (from: PlainDate) => (d: DraftDeal) =>
    d.stage === 'Closed Won' && d.closeDate !== null && d.closeDate >= from && d.closeDate <= anchor;
  const unknown = choose('unknown_currency', wonBetween(quarterStart), wonBetween(plusDays(anchor, -92)));
  unknown.dirty = 'unknown_currency';
  unknown.currency = UNKNOWN_CURRENCY;
  unknown.lineItems = [];

  const noClose = choose('null_close_date', (d) => open(d) && d.quarterOffset === 1);
  noClose.dirty = 'null_close_date';
  noClose.closeDate = null;
  const last = noClose.history[noClose.history.length - 1];
  if (last) last.closeDate = null;
}

/** Looks a person up by key (tests and the populate step use it). */
export function personByKey(org: OrgModel, key: string): Person {
  const p = org.people.find((x) => x.key === key);
  if (!p) throw new AppError('NOT_FOUND', `no person ${key} in the generated org`, { where: key });
  return p;
}

export type { Currency, Team };
