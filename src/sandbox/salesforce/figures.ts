/**
 * The Salesforce sandbox's store read as CRM-neutral records for the figures oracle (`../figures.ts`): won and
 * lost from IsWon / IsClosed, the stage's position in the model's stage list as its neutral name, Probability / 100,
 * dated conversion rates, ForecastingQuota rows (revenue, not quantity), Tasks by TaskSubtype (Type `Proposal` a
 * proposal) and Events as meetings, Leads by ConvertedDate; users by email; deleted rows left out. Deals are
 * named by the generator's key where `keys` (Salesforce id -> key) gives it, so seeded forecasts repeat across CRMs.
 */
import { dateInZone } from '../../util/date.ts';
import { Dec } from '../../util/money.ts';
import { computeFigures, type Figures, type FiguresOptions, type NeutralRecords } from '../figures.ts';
import { type OrgModel, STAGES } from '../org/index.ts';
import type { SRecord } from './schema.ts';
import type { SalesforceStore } from './store.ts';

const str = (v: unknown): string | null => (v === null || v === undefined || v === '' ? null : String(v));

export function salesforceRecords(
  store: SalesforceStore,
  keys: ReadonlyMap<string, string> = new Map(),
): NeutralRecords {
  const org = store.get('Organization', store.orgId) as SRecord;
  const tz = String(org.TimeZoneSidKey ?? 'America/New_York');
  const day = (v: unknown): string | null =>
    v === null || v === undefined ? null : dateInZone(String(v).replace(/\+0000$/, 'Z'), tz);
  const email = new Map(
    store.all('User', { includeDeleted: true }).map((u) => [String(u.Id), String(u.Email ?? '').toLowerCase()]),
  );
  const position = new Map(STAGES.map((s, i) => [s.stage as string, i]));
  const records: NeutralRecords = { deals: [], stageHistory: [], quotas: [], rates: [], activities: [], leads: [] };
  const dealId = (id: string) => keys.get(id) ?? `salesforce:${id}`;
  for (const r of store.all('Opportunity')) {
    const close = str(r.CloseDate);
    const owner = email.get(String(r.OwnerId));
    const pos = position.get(String(r.StageName));
    if (close === null || !owner || pos === undefined) continue;
    records.deals.push({
      id: dealId(String(r.Id)),
      name: String(r.Name ?? ''),
      ownerId: owner,
      amount: str(r.Amount) === null ? null : new Dec(String(r.Amount)),
      currency: String(r.CurrencyIsoCode),
      stage: `stage-${pos}`,
      stageCategory: r.IsWon === true ? 'won' : r.IsClosed === true ? 'lost' : 'open',
      probability: str(r.Probability) === null ? null : new Dec(String(r.Probability)).div(100),
      closeDate: close,
      createdDate: day(r.CreatedDate) as string,
    });
  }
  const live = new Set(store.all('Opportunity').map((o) => String(o.Id)));
  for (const h of store.all('OpportunityHistory')) {
    const pos = position.get(String(h.StageName));
    if (pos === undefined || !live.has(String(h.OpportunityId))) continue;
    records.stageHistory.push({
      dealId: dealId(String(h.OpportunityId)),
      stage: `stage-${pos}`,
      date: day(h.CreatedDate) as string,
    });
  }
  for (const q of store.all('ForecastingQuota')) {
    const owner = email.get(String(q.QuotaOwnerId));
    // A product family's quota is not part of the rep's (docs/metrics.md, "Product lines and segments").
    if (!owner || q.IsQuantity === true || str(q.QuotaAmount) === null || str(q.ProductFamily) !== null) continue;
    records.quotas.push({
      ownerId: owner,
      start: String(q.StartDate),
      amount: new Dec(String(q.QuotaAmount)),
      currency: String(q.CurrencyIsoCode),
    });
  }
  const corporate = store.all('CurrencyType').find((c) => c.IsCorporate === true);
  for (const r of store.all('DatedConversionRate')) {
    if (corporate && r.IsoCode === corporate.IsoCode) continue;
    records.rates.push({
      currency: String(r.IsoCode),
      rate: new Dec(String(r.ConversionRate)),
      validFrom: String(r.StartDate),
      validTo: str(r.NextStartDate),
    });
  }
  for (const t of store.all('Task')) {
    const owner = email.get(String(t.OwnerId));
    if (!owner) continue;
    const sub = String(t.TaskSubtype ?? 'Task');
    const type =
      sub === 'Call'
        ? 'call'
        : sub === 'Email' || sub === 'ListEmail' || sub === 'List Email'
          ? 'email'
          : t.Type === 'Proposal'
            ? 'proposal'
            : 'task';
    records.activities.push({
      id: `task:${String(t.Id)}`,
      ownerId: owner,
      type,
      date: str(t.ActivityDate) ?? (day(t.CreatedDate) as string),
    });
  }
  for (const e of store.all('Event')) {
    const owner = email.get(String(e.OwnerId));
    if (!owner) continue;
    records.activities.push({
      id: `event:${String(e.Id)}`,
      ownerId: owner,
      type: 'meeting',
      date: str(e.ActivityDate) ?? (day(e.ActivityDateTime ?? e.CreatedDate) as string),
    });
  }
  for (const l of store.all('Lead')) {
    records.leads.push({
      id: String(l.Id),
      createdDate: day(l.CreatedDate) as string,
      convertedDate: l.IsConverted === true ? str(l.ConvertedDate) : null,
    });
  }
  return records;
}

export function salesforceFigures(
  store: SalesforceStore,
  org: OrgModel,
  opts: FiguresOptions,
  keys?: ReadonlyMap<string, string>,
): Figures {
  return computeFigures(org, salesforceRecords(store, keys), opts);
}
