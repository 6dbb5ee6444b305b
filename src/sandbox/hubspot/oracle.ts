/**
 * The HubSpot sandbox's oracle: its store read as CRM-neutral records (`../figures.ts`), and from them every
 * figure of docs/metrics.md. Read the way a loss-free connector must read HubSpot:
 *
 * - won and lost from the stage's pipeline metadata (`isClosed` and `probability` "1.0" / "0.0"), never names;
 *   the stage's position in its pipeline is its neutral name; probability is `hs_deal_stage_probability`;
 * - amounts in `deal_currency_code`, converted with the portal's exchange rates (each in force from its
 *   `effectiveAt` to the next one), not `amount_in_home_currency`;
 * - datetimes (close, created, activity timestamps, goal starts) as dates in the portal's time zone;
 * - owners by email; goal targets of type `sales_quota` through `hs_assignee_user_id` and the owners'
 *   `userIdIncludingInactive`;
 * - archived records left out; a deal without a close date left out (a connector quarantines it);
 * - calls, emails, meetings and tasks are activities (a task whose `activity_kind` is `proposal` a proposal), except
 *   the alert tasks quota-tracker creates (they carry `quota_alert_key`) and an engagement whose `hs_timestamp` is
 *   not an instant (a connector quarantines it);
 * - a lead converted on the date its stage history entered `qualified-stage-id`.
 */
import { dateInZone } from '../../util/date.ts';
import { Dec } from '../../util/money.ts';
import { computeFigures, type Figures, type FiguresOptions, type NeutralRecords } from '../figures.ts';
import type { OrgModel } from '../org/index.ts';
import type { HsRecord, HubSpotStore } from './store.ts';

const ACTIVITY_TYPES: Readonly<Record<string, 'call' | 'email' | 'meeting' | 'task'>> = {
  calls: 'call',
  emails: 'email',
  meetings: 'meeting',
  tasks: 'task',
};

/**
 * How the oracle names deals: by the generator's key (`org`, the default), so the forecast's seeded draws repeat
 * across CRMs and one org's figures equal the Salesforce rendering's; or by HubSpot's own id (`crm`), as the
 * warehouse keys them, so the draws repeat the engine's and its forecast figures can be compared too.
 */
export type DealIds = 'org' | 'crm';

/** The store as neutral records. */
export function hubspotRecords(store: HubSpotStore, dealIds: DealIds = 'org'): NeutralRecords {
  const tz = store.timezone;
  const day = (v: string | null | undefined): string | null => (v ? dateInZone(v, tz) : null);
  const emailOfOwner = new Map<string, string>();
  const emailOfUser = new Map<string, string>();
  for (const o of store.owners.values()) {
    emailOfOwner.set(String(o.id), o.email);
    emailOfUser.set(String(o.userIdIncludingInactive), o.email);
  }
  const stageInfo = new Map<string, { position: number; category: 'open' | 'won' | 'lost' }>();
  for (const p of store.pipelines.get('deals') ?? []) {
    for (const s of p.stages) {
      const closed = s.metadata.isClosed === 'true';
      const category = !closed ? 'open' : Number(s.metadata.probability) === 1 ? 'won' : 'lost';
      stageInfo.set(`${p.id}|${s.id}`, { position: s.displayOrder, category });
    }
  }
  const dealId = (r: HsRecord): string =>
    dealIds === 'crm' ? String(r.id) : (store.dealKeys.get(r.id) ?? `hubspot:${r.id}`);
  const records: NeutralRecords = { deals: [], stageHistory: [], quotas: [], rates: [], activities: [], leads: [] };

  for (const r of store.scan('deals')) {
    const p = r.props;
    const id = dealId(r);
    // Stage history is its own stream: kept for every live deal, even one the deals stream quarantines.
    const history = r.history?.dealstage ?? [{ value: p.dealstage ?? '', timestamp: r.createdAt }];
    for (const h of history) {
      const s = stageInfo.get(`${p.pipeline ?? 'default'}|${h.value}`);
      if (s) records.stageHistory.push({ dealId: id, stage: `stage-${s.position}`, date: dateInZone(h.timestamp, tz) });
    }
    const close = day(p.closedate);
    const owner = emailOfOwner.get(p.hubspot_owner_id ?? '');
    const info = stageInfo.get(`${p.pipeline ?? 'default'}|${p.dealstage ?? ''}`);
    if (close === null || owner === undefined || !info) continue;
    records.deals.push({
      id,
      name: p.dealname ?? '',
      ownerId: owner,
      amount: p.amount ? new Dec(p.amount) : null,
      currency: p.deal_currency_code ?? store.homeCurrency,
      stage: `stage-${info.position}`,
      stageCategory: info.category,
      probability: p.hs_deal_stage_probability ? new Dec(p.hs_deal_stage_probability) : null,
      closeDate: close,
      createdDate: day(p.createdate) as string,
    });
  }
  for (const g of store.scan('goal_targets')) {
    // Only revenue quotas are quotas: a calls-made or deals-created goal is another kind of target.
    if (g.props.hs_goal_type !== 'sales_quota') continue;
    const owner = emailOfUser.get(g.props.hs_assignee_user_id ?? '');
    const start = day(g.props.hs_start_datetime);
    if (!owner || !start || !g.props.hs_target_amount) continue;
    records.quotas.push({
      ownerId: owner,
      start,
      amount: new Dec(g.props.hs_target_amount),
      currency: g.props.hs_goal_target_currency_code ?? store.homeCurrency,
    });
  }
  const byCurrency = new Map<string, typeof store.rates>();
  for (const r of store.rates) byCurrency.set(r.toCurrencyCode, [...(byCurrency.get(r.toCurrencyCode) ?? []), r]);
  for (const [currency, list] of byCurrency) {
    const sorted = [...list].sort((a, b) => a.effectiveAt - b.effectiveAt);
    sorted.forEach((r, i) => {
      const next = sorted[i + 1];
      records.rates.push({
        currency,
        rate: new Dec(r.conversionRate),
        validFrom: dateInZone(r.effectiveAt, tz),
        validTo: next ? dateInZone(next.effectiveAt, tz) : null,
      });
    });
  }
  for (const [type, kind] of Object.entries(ACTIVITY_TYPES)) {
    for (const a of store.scan(type)) {
      if (a.props.quota_alert_key) continue;
      if (a.props.hs_timestamp && Number.isNaN(Date.parse(a.props.hs_timestamp))) continue;
      const owner = emailOfOwner.get(a.props.hubspot_owner_id ?? '');
      const date = day(a.props.hs_timestamp) ?? dateInZone(a.createdAt, tz);
      if (!owner) continue;
      records.activities.push({
        id: `${type}:${a.id}`,
        ownerId: owner,
        type: kind === 'task' && a.props.activity_kind === 'proposal' ? 'proposal' : kind,
        date,
      });
    }
  }
  // Without the leads object, the leads are the contacts that became leads, converted when they became opportunities.
  if (!store.leadsObject) {
    for (const c of store.scan('contacts')) {
      const lead = c.props.hs_lifecyclestage_lead_date;
      if (!lead) continue;
      const opp = c.props.hs_lifecyclestage_opportunity_date ?? c.props.hs_lifecyclestage_customer_date;
      records.leads.push({
        id: String(c.id),
        createdDate: dateInZone(lead, tz),
        convertedDate: opp ? dateInZone(opp, tz) : null,
      });
    }
  }
  for (const l of store.scan('leads')) {
    const q = l.history?.hs_pipeline_stage?.find((h) => h.value === 'qualified-stage-id');
    const converted = q
      ? dateInZone(q.timestamp, tz)
      : l.props.hs_pipeline_stage === 'qualified-stage-id'
        ? dateInZone(l.updatedAt, tz)
        : null;
    records.leads.push({ id: String(l.id), createdDate: dateInZone(l.createdAt, tz), convertedDate: converted });
  }
  return records;
}

/** Every figure of the HubSpot org as of a date (default: the store clock's date). */
export function hubspotFigures(
  store: HubSpotStore,
  org: OrgModel,
  opts: Partial<FiguresOptions> & { dealIds?: DealIds } = {},
): Figures {
  return computeFigures(org, hubspotRecords(store, opts.dealIds), {
    asOf: opts.asOf ?? dateInZone(store.now(), store.timezone),
    ...(opts.forecastTrials !== undefined ? { forecastTrials: opts.forecastTrials } : {}),
  });
}
