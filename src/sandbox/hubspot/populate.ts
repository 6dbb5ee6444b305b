/**
 * `populateHubSpot`: the CRM-neutral org model rendered as a HubSpot portal, with HubSpot's habits:
 *
 * - people are users (settings API, `users` object) and owners (`userId` links them); someone who left is an
 *   archived owner; there is no manager field (the hierarchy is `org.csv`, see `../org/org-csv.ts`); teams are
 *   owner teams, a rep's current team the primary one;
 * - deals sit in three pipelines: HubSpot's default one (`default`, stage ids that are words) and two made by the
 *   admin (numeric pipeline and stage ids, a won stage not called "Closed Won"); won and lost are stage metadata
 *   (`isClosed`, `probability` "1.0" / "0.0", both strings), probabilities those of the model's stages;
 * - amounts are in `deal_currency_code` with `amount_in_home_currency` beside them: at the rate in force on the
 *   close date for closed deals (HubSpot freezes it at close), at the current rate for open ones;
 * - stage, amount and close date changes are property history (newest first), the source of stage history;
 * - quotas are goal targets assigned to users (`hs_assignee_user_id`), with HubSpot's progress properties;
 * - activities are calls, emails, meetings and tasks associated with their deal and its contact; proposals are
 *   tasks carrying the portal's custom `activity_kind` = `proposal`; leads are lead objects with a primary contact,
 *   a qualified lead associated with the deal it became.
 *
 * Dates the model gives as dates are instants at midnight in the portal's time zone (so they read back as the
 * same date there); closed-won and created instants are the model's.
 */
import { AppError } from '../../errors.ts';
import { addDays } from '../../util/date.ts';
import { Dec } from '../../util/money.ts';
import type { Activity, Deal, Stage as ModelStage, OrgModel, Person } from '../org/index.ts';
import { STAGES } from '../org/index.ts';
import { associationType } from './objects.ts';
import { definePortalProperties } from './properties.ts';
import type { HistoryEntry, HsRecord, HubSpotStore, Pipeline, Props } from './store.ts';

export interface HubSpotPopulateResult {
  /** HubSpot id of every model record by key (people as owner ids; `user:<key>` their user ids). */
  ids: Map<string, number>;
}

/** One pipeline's stage id and label for each model stage. */
interface PipelinePlan {
  id: string;
  label: string;
  segment: string;
  stages: Record<ModelStage, { id: string; label: string }>;
}

const DEFAULT_PIPELINE: PipelinePlan = {
  id: 'default',
  label: 'Sales Pipeline',
  segment: 'Mid-Market',
  stages: {
    Prospecting: { id: 'appointmentscheduled', label: 'Appointment Scheduled' },
    Qualification: { id: 'qualifiedtobuy', label: 'Qualified To Buy' },
    'Needs Analysis': { id: 'presentationscheduled', label: 'Presentation Scheduled' },
    'Proposal/Price Quote': { id: 'decisionmakerboughtin', label: 'Decision Maker Bought-In' },
    'Negotiation/Review': { id: 'contractsent', label: 'Contract Sent' },
    'Closed Won': { id: 'closedwon', label: 'Closed Won' },
    'Closed Lost': { id: 'closedlost', label: 'Closed Lost' },
  },
};

function numericPipeline(base: number, label: string, segment: string, labels: string[]): PipelinePlan {
  const stages = {} as PipelinePlan['stages'];
  STAGES.forEach((s, i) => {
    stages[s.stage] = { id: String(base + 1 + i * 3), label: labels[i] as string };
  });
  return { id: String(base), label, segment, stages };
}

/** The portal's pipelines; each segment's deals live in one. */
export function pipelinePlans(seed: number): PipelinePlan[] {
  const base = 70_000_000 + (Math.abs(seed * 104_729) % 9_000_000);
  return [
    DEFAULT_PIPELINE,
    numericPipeline(base, 'Enterprise', 'Enterprise', [
      'Discovery',
      'Qualified',
      'Solution Design',
      'Proposal',
      'Legal & Procurement',
      'Contract Signed',
      'Lost',
    ]),
    numericPipeline(base + 500, 'Velocity (SMB)', 'SMB', [
      'New',
      'Demo Booked',
      'Demo Done',
      'Quote Sent',
      'Verbal Yes',
      'Won',
      'Closed Lost - No Decision',
    ]),
  ];
}

const FORECAST_CATEGORY: Readonly<Record<string, string>> = {
  Pipeline: 'PIPELINE',
  'Best Case': 'BEST_CASE',
  Commit: 'COMMIT',
  Closed: 'CLOSED',
  Omitted: 'OMIT',
};

/** HubSpot's probability text: "0.1", "1.0", "0.0". */
export function probabilityText(percent: number): string {
  const s = new Dec(percent).div(100).toString();
  return s.includes('.') ? s : `${s}.0`;
}

const zoneCache = new Map<string, number>();

/** The instant (ms) of midnight starting `date` in `timeZone`. */
export function zonedMidnight(date: string, timeZone: string): number {
  const key = `${timeZone}|${date}`;
  const hit = zoneCache.get(key);
  if (hit !== undefined) return hit;
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const guess = Date.UTC(y, m - 1, d);
  const offsetAt = (ms: number): number => {
    const parts = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    }).formatToParts(new Date(ms));
    const get = (t: string) => Number(parts.find((p) => p.type === t)?.value);
    const local = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
    return local - ms;
  };
  let ms = guess - offsetAt(guess);
  ms = guess - offsetAt(ms);
  zoneCache.set(key, ms);
  return ms;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** amount / rate to six places, HubSpot's `amount_in_home_currency`; null without an amount or a rate. */
export function homeAmount(amount: string | null, rate: string | null): string | null {
  if (amount === null || rate === null) return null;
  return new Dec(amount).div(rate).toDecimalPlaces(6).toString();
}

/**
 * `leadsObject: false` (a portal without the leads object, `store.leadsObject`): the org's leads are contacts that
 * became leads on `hs_lifecyclestage_lead_date` and, when converted, opportunities on
 * `hs_lifecyclestage_opportunity_date` (the instant the leads object's qualified stage would have been entered),
 * associated with their deal; no lead object is made.
 */
export function populateHubSpot(
  store: HubSpotStore,
  org: OrgModel,
  opts: { leadsObject?: boolean } = {},
): HubSpotPopulateResult {
  store.leadsObject = opts.leadsObject ?? true;
  const tz = store.timezone;
  const ids = new Map<string, number>();
  const id = (key: string): number => {
    const v = ids.get(key);
    if (v === undefined)
      throw new AppError('INTERNAL', `populate: ${key} was not written before it was referenced`, { where: key });
    return v;
  };
  const day = (d: string): number => zonedMidnight(d, tz);
  const firstDay = org.quarters[0]?.start ?? org.anchorDate;
  const setup = day(addDays(firstDay, -200)) + 11 * 3_600_000;
  const quiet = { quiet: true } as const;

  // Currencies and exchange rates: one rate row per dated range, effective from its first day.
  store.homeCurrency = org.corporateCurrency;
  store.currencies.length = 0;
  store.rates.length = 0;
  let rateSeq = 0;
  for (const c of org.currencies) {
    store.currencies.push(c.code);
    if (c.code === org.corporateCurrency) continue;
    for (const r of c.dated) {
      const at = Math.max(day(r.startDate), setup);
      store.rates.push({
        id: String(400_000 + ++rateSeq),
        fromCurrencyCode: org.corporateCurrency,
        toCurrencyCode: c.code,
        conversionRate: r.rate,
        effectiveAt: day(r.startDate),
        visibleInUi: true,
        createdAt: at,
        updatedAt: at,
      });
    }
  }

  definePortalProperties(store, setup);

  // Pipelines.
  const plans = pipelinePlans(org.seed);
  const pipelines: Pipeline[] = plans.map((p, i) => ({
    id: p.id,
    label: p.label,
    displayOrder: i,
    createdAt: setup,
    updatedAt: setup,
    archived: false,
    stages: STAGES.map((s, j) => ({
      id: p.stages[s.stage].id,
      label: p.stages[s.stage].label,
      displayOrder: j,
      metadata: { isClosed: String(s.isClosed), probability: probabilityText(s.probability) },
      createdAt: setup,
      updatedAt: setup,
      archived: false,
    })),
  }));
  store.pipelines.set('deals', pipelines);
  store.pipelines.set('leads', [leadPipeline(setup)]);
  const planOf = (segment: string): PipelinePlan => plans.find((p) => p.segment === segment) ?? DEFAULT_PIPELINE;

  // Teams, users and owners.
  const teamIds = new Map<string, string>();
  org.teams.forEach((t, i) => {
    const teamId = String(5_100_000 + (Math.abs(org.seed) % 1000) * 100 + i * 7);
    teamIds.set(t.key, teamId);
    store.teams.set(teamId, { id: teamId, name: t.name, userIds: [], secondaryUserIds: [] });
  });
  let ownerSeq = 0;
  for (const p of org.people) writePerson(store, org, p, ids, teamIds, ++ownerSeq);

  // Quotas: goal targets for users.
  const quotaGroups = new Map<string, string>();
  for (const q of org.quotas) {
    const person = org.people.find((x) => x.key === q.personKey);
    if (!person) continue;
    let group = quotaGroups.get(q.periodId);
    if (!group) {
      group = `${(org.seed >>> 0).toString(16).padStart(8, '0')}-0000-4000-8000-${String(quotaGroups.size + 1).padStart(12, '0')}`;
      quotaGroups.set(q.periodId, group);
    }
    const start = day(q.start);
    const end = day(addDays(q.end, 1)) - 1;
    const rec = store.create(
      'goal_targets',
      {
        hs_goal_name: `${q.periodId} quota: ${person.name}`,
        hs_goal_type: 'sales_quota',
        hs_target_amount: q.amount,
        hs_goal_target_currency_code: q.currency,
        hs_target_amount_in_home_currency: homeAmount(q.amount, store.rateAt(q.currency, start)),
        hs_start_datetime: iso(start),
        hs_end_datetime: iso(end),
        hs_assignee_user_id: String(id(`user:${person.key}`)),
        hs_assignee_team_id: null,
        hs_group_correlation_uuid: group,
        hs_goal_target_group_id: String(800_000 + quotaGroups.size),
        hs_kpi_value: '0',
        hs_kpi_progress_percent: '0',
      },
      { ...quiet, stamp: Date.parse(q.createdAt) },
    );
    ids.set(q.key, rec.id);
  }

  // Companies and their buyer contacts, deals with line items, a note on some.
  const companies = new Map<string, { company: number; contact: number }>();
  let contactSeq = 0;
  org.deals.forEach((d, i) => {
    const created = Date.parse(d.createdAt);
    let acct = companies.get(d.accountName);
    if (!acct) {
      const slug = d.accountName.toLowerCase().replace(/[^a-z0-9]+/g, '');
      const company = store.create(
        'companies',
        {
          name: d.accountName,
          domain: `${slug}.example.com`,
          hubspot_owner_id: String(id(d.ownerKey)),
          industry: null,
        },
        { ...quiet, stamp: created },
      );
      const n = ++contactSeq;
      const contact = store.create(
        'contacts',
        {
          firstname: BUYER_NAMES[n % BUYER_NAMES.length] as string,
          lastname: d.accountName.split(' ')[0] ?? 'Buyer',
          email: `buyer${n}@${slug}.example.com`,
          company: d.accountName,
          lifecyclestage: 'opportunity',
          hubspot_owner_id: String(id(d.ownerKey)),
        },
        { ...quiet, stamp: created },
      );
      associate(store, 'contacts', contact.id, 'companies', company.id, true);
      acct = { company: company.id, contact: contact.id };
      companies.set(d.accountName, acct);
    }
    const deal = writeDeal(store, d, planOf(d.segment), id(d.ownerKey), day);
    ids.set(d.key, deal.id);
    store.dealKeys.set(deal.id, d.key);
    associate(store, 'deals', deal.id, 'companies', acct.company, true);
    associate(store, 'deals', deal.id, 'contacts', acct.contact, false);
    for (const li of d.lineItems) {
      const item = store.create(
        'line_items',
        {
          name: li.productName,
          quantity: String(li.quantity),
          price: li.unitPrice,
          amount: li.totalPrice,
          hs_line_item_currency_code: d.currency,
          product_family: li.productFamily,
        },
        { ...quiet, stamp: created },
      );
      ids.set(li.key, item.id);
      associate(store, 'line_items', item.id, 'deals', deal.id, false);
    }
    if (i % 4 === 0) {
      const note = store.create(
        'notes',
        {
          hs_timestamp: iso(created),
          hs_note_body: `Discovery notes for ${d.name}`,
          hubspot_owner_id: String(id(d.ownerKey)),
        },
        { ...quiet, stamp: created },
      );
      associate(store, 'notes', note.id, 'deals', deal.id, false);
    }
  });

  // Activities, associated with their deal and the deal's buyer.
  const dealById = new Map(org.deals.map((d) => [d.key, d]));
  for (const a of org.activities) {
    const rec = writeActivity(store, a, id(a.ownerKey), day);
    ids.set(a.key, rec.id);
    if (a.dealKey !== null) {
      const type = ENGAGEMENT_OF[a.type];
      associate(store, type, rec.id, 'deals', id(a.dealKey), false);
      const d = dealById.get(a.dealKey);
      const acct = d ? companies.get(d.accountName) : undefined;
      if (acct) associate(store, type, rec.id, 'contacts', acct.contact, false);
    }
  }

  // Leads, each with its primary contact (or, without the leads object, as the contact's lifecycle).
  for (const l of org.leads) {
    const created = Date.parse(l.createdAt);
    if (!store.leadsObject) {
      const converted = l.convertedDealKey !== null && l.convertedDate !== null;
      const at = converted ? Math.max(day(l.convertedDate as string) + 15 * 3_600_000, created) : null;
      const contact = store.create(
        'contacts',
        {
          firstname: l.firstName,
          lastname: l.lastName,
          email: l.email.toLowerCase(),
          company: l.company,
          lifecyclestage: at !== null ? 'opportunity' : 'lead',
          hs_lifecyclestage_lead_date: new Date(created).toISOString(),
          ...(at !== null ? { hs_lifecyclestage_opportunity_date: new Date(at).toISOString() } : {}),
          hubspot_owner_id: String(id(l.ownerKey)),
          hs_lead_source: l.source,
        },
        { ...quiet, createdAt: created, stamp: Math.max(Date.parse(l.modifiedAt), created, at ?? 0) },
      );
      ids.set(l.key, contact.id);
      if (converted) associate(store, 'contacts', contact.id, 'deals', id(l.convertedDealKey as string), false);
      continue;
    }
    const contact = store.create(
      'contacts',
      {
        firstname: l.firstName,
        lastname: l.lastName,
        email: l.email.toLowerCase(),
        company: l.company,
        lifecyclestage: l.convertedDealKey ? 'opportunity' : 'lead',
        hubspot_owner_id: String(id(l.ownerKey)),
      },
      { ...quiet, stamp: created },
    );
    // Converted exactly when the model's lead became a deal, as the Salesforce rendering has it.
    const converted = l.convertedDealKey !== null && l.convertedDate !== null;
    const stage = converted
      ? 'qualified-stage-id'
      : l.status === 'Closed - Converted'
        ? 'attempting-stage-id'
        : (LEAD_STAGE[l.status] ?? 'new-stage-id');
    const history: Record<string, HistoryEntry[]> = {};
    if (stage !== 'new-stage-id') {
      const at = converted
        ? Math.max(day(l.convertedDate as string) + 15 * 3_600_000, created)
        : Math.max(Date.parse(l.modifiedAt), created);
      history.hs_pipeline_stage = [
        { value: stage, timestamp: at, sourceType: 'CRM_UI' },
        { value: 'new-stage-id', timestamp: created, sourceType: 'CRM_UI' },
      ];
    }
    const lead = store.create(
      'leads',
      {
        hs_lead_name: `${l.firstName} ${l.lastName}`,
        hs_pipeline: 'lead-pipeline-id',
        hs_pipeline_stage: stage,
        hubspot_owner_id: String(id(l.ownerKey)),
        hs_lead_source: l.source,
      },
      {
        ...quiet,
        createdAt: created,
        stamp: Math.max(Date.parse(l.modifiedAt), created),
        ...(Object.keys(history).length ? { history } : {}),
      },
    );
    ids.set(l.key, lead.id);
    associate(store, 'leads', lead.id, 'contacts', contact.id, true);
    if (converted) associate(store, 'leads', lead.id, 'deals', id(l.convertedDealKey as string), false);
  }

  refreshGoalProgress(store);
  return { ids };
}

const BUYER_NAMES = ['Alex', 'Sam', 'Jordan', 'Casey', 'Morgan', 'Riley', 'Taylor', 'Jamie', 'Avery', 'Quinn'];

const LEAD_STAGE: Readonly<Record<string, string>> = {
  'Open - Not Contacted': 'new-stage-id',
  'Working - Contacted': 'attempting-stage-id',
  'Closed - Converted': 'qualified-stage-id',
  'Closed - Not Converted': 'unqualified-stage-id',
};

function leadPipeline(setup: number): Pipeline {
  const stage = (id: string, label: string, order: number, closed: boolean) => ({
    id,
    label,
    displayOrder: order,
    metadata: { isClosed: String(closed), probability: closed ? '1.0' : '0.0' },
    createdAt: setup,
    updatedAt: setup,
    archived: false,
  });
  return {
    id: 'lead-pipeline-id',
    label: 'Lead pipeline',
    displayOrder: 0,
    createdAt: setup,
    updatedAt: setup,
    archived: false,
    stages: [
      stage('new-stage-id', 'New', 0, false),
      stage('attempting-stage-id', 'Attempting', 1, false),
      stage('connected-stage-id', 'Connected', 2, false),
      stage('qualified-stage-id', 'Qualified', 3, true),
      stage('unqualified-stage-id', 'Disqualified', 4, true),
    ],
  };
}

/** Associates two records with the HubSpot-defined types (and the primary one when `primary`). */
export function associate(
  store: HubSpotStore,
  from: string,
  fromId: number,
  to: string,
  toId: number,
  primary: boolean,
): void {
  const fwd = associationType(from, to);
  const back = associationType(to, from);
  if (!fwd || !back) throw new AppError('INTERNAL', `no association type ${from} -> ${to}`, { where: `${from}>${to}` });
  const fwdIds = primary && fwd.primaryTypeId !== null ? [fwd.primaryTypeId, fwd.typeId] : [fwd.typeId];
  const backIds = primary && back.primaryTypeId !== null ? [back.primaryTypeId, back.typeId] : [back.typeId];
  store.associate(from, fromId, to, toId, fwdIds, backIds);
}

function writePerson(
  store: HubSpotStore,
  org: OrgModel,
  p: Person,
  ids: Map<string, number>,
  teamIds: Map<string, string>,
  seq: number,
): void {
  const created = Date.parse(p.createdAt);
  const userId = 7_000_000 + seq * 13 + (Math.abs(org.seed) % 11);
  const ownerId = 30_000_000 + seq * 97 + (Math.abs(org.seed) % 89);
  const teamId = p.teamKey ? (teamIds.get(p.teamKey) ?? null) : null;
  const team = teamId ? store.teams.get(teamId) : undefined;
  if (team && p.isActive) team.userIds.push(String(userId));
  const left = p.endDate !== null ? Date.parse(`${p.endDate}T17:00:00.000Z`) : null;
  store.owners.set(ownerId, {
    id: ownerId,
    userId: p.isActive ? userId : null,
    userIdIncludingInactive: userId,
    email: p.email.toLowerCase(),
    firstName: p.firstName,
    lastName: p.lastName,
    type: 'PERSON',
    teams: team ? [{ id: team.id, name: team.name, primary: true }] : [],
    archived: !p.isActive,
    createdAt: created,
    updatedAt: left ?? created,
  });
  // The settings API lists active users; someone who left keeps the archived owner only (`userIdIncludingInactive`).
  if (p.isActive) {
    store.users.set(userId, {
      id: userId,
      email: p.email.toLowerCase(),
      roleId: p.role === 'admin' ? null : String(900_000 + ['rep', 'manager', 'director', 'vp'].indexOf(p.role)),
      primaryTeamId: teamId,
      secondaryTeamIds: [],
      superAdmin: p.role === 'admin',
    });
  }
  const rec = store.create(
    'users',
    {
      hs_email: p.email.toLowerCase(),
      hs_internal_user_id: String(userId),
      hs_given_name: p.firstName,
      hs_family_name: p.lastName,
      hs_job_title: p.title,
      hs_deactivated: String(!p.isActive),
      hs_standard_time_zone: store.timezone,
    },
    { quiet: true, stamp: left ?? created, createdAt: created },
  );
  ids.set(p.key, ownerId);
  ids.set(`user:${p.key}`, userId);
  ids.set(`userobject:${p.key}`, rec.id);
}

function writeDeal(
  store: HubSpotStore,
  d: Deal,
  plan: PipelinePlan,
  ownerId: number,
  day: (d: string) => number,
): HsRecord {
  const [first] = d.history;
  const last = d.history[d.history.length - 1];
  if (!first || !last) throw new AppError('INTERNAL', `deal ${d.key} has no history`, { where: d.key });
  // The deal's values are its last history row's, as the Salesforce rendering replays them (the model's own
  // fields can hold an edit its history does not record; the two CRMs must show the same org).
  const info = STAGES.find((s) => s.stage === last.stage) ?? STAGES[0]!;
  const closeMs = last.closeDate !== null ? day(last.closeDate) : null;
  const amount = last.amount;
  // The home amount freezes at close: the rate on the close date; open deals at today's rate.
  const rate =
    info.isClosed && closeMs !== null ? store.rateAt(d.currency, closeMs) : store.rateAt(d.currency, store.nowMs());
  const history: Record<string, HistoryEntry[]> = {
    dealstage: [],
    amount: [],
    closedate: [],
    hs_deal_stage_probability: [],
  };
  let prev: { stage: string; amount: string | null; close: string | null; prob: string } | null = null;
  for (const h of d.history) {
    const at = Date.parse(h.at);
    const stage = plan.stages[h.stage].id;
    const close = h.closeDate !== null ? iso(day(h.closeDate)) : null;
    const prob = probabilityText(h.probability);
    if (!prev || prev.stage !== stage)
      history.dealstage!.unshift({ value: stage, timestamp: at, sourceType: 'CRM_UI' });
    if (h.amount !== null && (!prev || prev.amount !== h.amount))
      history.amount!.unshift({ value: h.amount, timestamp: at, sourceType: 'CRM_UI' });
    if (close !== null && (!prev || prev.close !== close))
      history.closedate!.unshift({ value: close, timestamp: at, sourceType: 'CRM_UI' });
    if (!prev || prev.prob !== prob)
      history.hs_deal_stage_probability!.unshift({ value: prob, timestamp: at, sourceType: 'CRM_UI' });
    prev = { stage, amount: h.amount, close, prob };
  }
  const props: Props = {
    dealname: d.name,
    amount,
    deal_currency_code: d.currency,
    amount_in_home_currency: homeAmount(amount, rate),
    closedate: closeMs !== null ? iso(closeMs) : null,
    dealstage: plan.stages[last.stage].id,
    pipeline: plan.id,
    hubspot_owner_id: String(ownerId),
    dealtype: d.type === 'New Customer' ? 'newbusiness' : 'existingbusiness',
    hs_deal_stage_probability: probabilityText(info.probability),
    hs_is_closed: String(info.isClosed),
    hs_is_closed_won: String(info.isWon),
    hs_manual_forecast_category: FORECAST_CATEGORY[info.forecastCategory] ?? 'PIPELINE',
    segment: d.segment,
    lead_source: d.leadSource,
  };
  return store.create('deals', props, {
    quiet: true,
    createdAt: Date.parse(first.at),
    stamp: Math.max(Date.parse(d.modifiedAt), Date.parse(first.at)),
    history,
  });
}

export const ENGAGEMENT_OF: Readonly<Record<Activity['type'], string>> = {
  call: 'calls',
  email: 'emails',
  meeting: 'meetings',
  task: 'tasks',
  proposal: 'tasks',
};

function writeActivity(store: HubSpotStore, a: Activity, ownerId: number, day: (d: string) => number): HsRecord {
  const created = Date.parse(a.createdAt);
  // The activity's own date at 10:00 in the portal's zone: it reads back as that date there.
  const when = iso(day(a.date) + 10 * 3_600_000);
  const owner = String(ownerId);
  const opts = { quiet: true, stamp: created };
  switch (a.type) {
    case 'call':
      return store.create(
        'calls',
        {
          hs_timestamp: when,
          hs_call_title: a.subject,
          hs_call_duration: String((a.durationMinutes ?? 5) * 60_000),
          hs_call_status: 'COMPLETED',
          hs_call_direction: 'OUTBOUND',
          hubspot_owner_id: owner,
        },
        opts,
      );
    case 'email':
      return store.create(
        'emails',
        {
          hs_timestamp: when,
          hs_email_subject: a.subject,
          hs_email_direction: 'EMAIL',
          hs_email_status: 'SENT',
          hs_email_sent_via: a.bulk ? 'BULK' : null,
          hubspot_owner_id: owner,
        },
        opts,
      );
    case 'meeting': {
      const start = Date.parse(when);
      return store.create(
        'meetings',
        {
          hs_timestamp: when,
          hs_meeting_title: a.subject,
          hs_meeting_start_time: when,
          hs_meeting_end_time: iso(start + (a.durationMinutes ?? 30) * 60_000),
          hs_meeting_outcome: 'COMPLETED',
          hubspot_owner_id: owner,
        },
        opts,
      );
    }
    default:
      return store.create(
        'tasks',
        {
          hs_timestamp: when,
          hs_task_subject: a.subject,
          hs_task_status: a.completed ? 'COMPLETED' : 'NOT_STARTED',
          hs_task_priority: 'MEDIUM',
          hs_task_type: 'TODO',
          activity_kind: a.type === 'proposal' ? 'proposal' : null,
          hubspot_owner_id: owner,
        },
        opts,
      );
  }
}

/**
 * Recomputes each goal target's progress as HubSpot shows it: `hs_kpi_value` is the assignee's won deal amounts
 * (home currency) with close dates inside the target's range, converted into the target's currency at its start;
 * `hs_kpi_progress_percent` that over `hs_target_amount`, in percent. Quietly: HubSpot's own recalculation.
 */
export function refreshGoalProgress(store: HubSpotStore, onlyUserId?: string): void {
  const ownerOfUser = new Map<string, string>();
  for (const o of store.owners.values()) {
    ownerOfUser.set(String(o.userIdIncludingInactive), String(o.id));
  }
  const goals = store
    .all('goal_targets')
    .filter((g) => !g.archived && (!onlyUserId || g.props.hs_assignee_user_id === onlyUserId));
  if (goals.length === 0) return;
  const wonByOwner = new Map<string, { close: number; home: string }[]>();
  for (const d of store.scan('deals')) {
    if (d.props.hs_is_closed_won !== 'true' || !d.props.closedate || !d.props.amount_in_home_currency) continue;
    const owner = d.props.hubspot_owner_id ?? '';
    let list = wonByOwner.get(owner);
    if (!list) {
      list = [];
      wonByOwner.set(owner, list);
    }
    list.push({ close: Date.parse(d.props.closedate), home: d.props.amount_in_home_currency });
  }
  for (const g of goals) {
    const owner = ownerOfUser.get(g.props.hs_assignee_user_id ?? '') ?? '';
    const start = Date.parse(g.props.hs_start_datetime ?? '');
    const end = Date.parse(g.props.hs_end_datetime ?? '');
    let home = new Dec(0);
    for (const w of wonByOwner.get(owner) ?? []) if (w.close >= start && w.close <= end) home = home.plus(w.home);
    const rate = store.rateAt(g.props.hs_goal_target_currency_code ?? store.homeCurrency, start) ?? '1';
    const value = home.times(rate).toDecimalPlaces(2);
    const target = new Dec(g.props.hs_target_amount ?? '0');
    g.props.hs_kpi_value = value.toString();
    g.props.hs_kpi_progress_percent = target.isZero()
      ? '0'
      : value.div(target).times(100).toDecimalPlaces(2).toString();
  }
}
