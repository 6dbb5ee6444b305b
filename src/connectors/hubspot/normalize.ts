/**
 * HubSpot records as warehouse rows. HubSpot sends every property as a string (or null); each reader returns the
 * warehouse form or throws `Unnormalizable` naming the property, so the record is quarantined and the run goes on.
 */
import { dateInZone, type PlainDate } from '../../util/date.ts';
import { Dec } from '../../util/money.ts';
import type { DealRow, DealStageHistoryRow, RepRow } from '../types.ts';

export class Unnormalizable extends Error {
  readonly reasonCode: string;
  constructor(reasonCode: string, reason: string) {
    super(reason);
    this.name = 'Unnormalizable';
    this.reasonCode = reasonCode;
  }
}

/** A CRM object as the v3 objects APIs answer it. */
export interface HsObject {
  id: string;
  properties: Record<string, string | null | undefined>;
  propertiesWithHistory?: Record<string, HsHistoryEntry[]>;
  createdAt?: string;
  updatedAt?: string;
  archived?: boolean;
  archivedAt?: string;
}

export interface HsHistoryEntry {
  value: string | null;
  timestamp: string;
  sourceType?: string;
}

/** An owner as `/crm/v3/owners` answers it. */
export interface HsOwner {
  id: string;
  email?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  userId?: number | null;
  userIdIncludingInactive?: number | null;
  type?: string;
  archived?: boolean;
  updatedAt?: string;
}

export interface HsStage {
  id: string;
  label: string;
  displayOrder: number;
  metadata: { isClosed?: string | boolean; probability?: string | number };
}

export interface HsPipeline {
  id: string;
  label: string;
  stages: HsStage[];
}

/** What a deal's stage means: its label and, from the stage's metadata, open, won or lost. */
export interface StageMeaning {
  label: string;
  category: 'open' | 'won' | 'lost';
  probability: string | null;
}

/** Stage meanings keyed `pipelineId|stageId` (stage ids are unique only within their pipeline). */
export type StageMap = ReadonlyMap<string, StageMeaning>;

export interface PortalFacts {
  timeZone: string;
  companyCurrency: string;
  stages: StageMap;
}

/**
 * Won and lost from stage metadata, never from labels: closed with probability 1.0 is won, closed with 0.0 lost
 * (https://developers.hubspot.com/docs/api-reference/crm-pipelines-v3/guide: each deal stage's `metadata` carries
 * `isClosed` and `probability`; HubSpot sends both as strings). A closed stage with another probability counts as
 * lost only when it is 0; anything else closed is won (HubSpot's own "closed won" reports use the same split).
 */
export function stageMap(pipelines: readonly HsPipeline[]): StageMap {
  const out = new Map<string, StageMeaning>();
  for (const p of pipelines) {
    for (const s of p.stages) {
      const closed = String(s.metadata.isClosed) === 'true';
      const raw = s.metadata.probability;
      const probability = raw === undefined || raw === null || raw === '' ? null : new Dec(String(raw)).toFixed();
      const category = !closed ? 'open' : probability !== null && new Dec(probability).eq(0) ? 'lost' : 'won';
      out.set(`${p.id}|${s.id}`, { label: s.label, category, probability });
    }
  }
  return out;
}

export function decimal(props: HsObject['properties'], name: string): string | null {
  const v = props[name];
  if (v === null || v === undefined || v.trim() === '') return null;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v.trim())) {
    throw new Unnormalizable('BAD_NUMBER', `${name} is not a number: ${JSON.stringify(v)}`);
  }
  return new Dec(v.trim()).toFixed();
}

export function instantDate(value: string | null | undefined, name: string, tz: string): PlainDate | null {
  if (value === null || value === undefined || value === '') return null;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new Unnormalizable('BAD_DATE', `${name} is not a date: ${JSON.stringify(value)}`);
  return dateInZone(t, tz);
}

export function str(props: HsObject['properties'], name: string): string | null {
  const v = props[name];
  return v === null || v === undefined || v === '' ? null : v;
}

function stageOf(props: HsObject['properties'], stageId: string | null, facts: PortalFacts): StageMeaning {
  const pipeline = str(props, 'pipeline') ?? 'default';
  if (stageId === null) throw new Unnormalizable('MISSING_STAGE', 'dealstage is empty');
  const s = facts.stages.get(`${pipeline}|${stageId}`);
  if (!s) {
    throw new Unnormalizable('UNKNOWN_STAGE', `dealstage "${stageId}" is not a stage of pipeline "${pipeline}"`);
  }
  return s;
}

/** The stamp HubSpot moves on every write of a record (contacts name it `lastmodifieddate`). */
export function stampOf(o: HsObject, stampProperty: string): string | null {
  const v = o.properties[stampProperty] ?? o.updatedAt ?? null;
  if (!v) return null;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

export function normalizeOwner(o: HsOwner): RepRow {
  const name = [o.firstName, o.lastName].filter((x) => x && x.trim() !== '').join(' ');
  return {
    name: name || o.email || `owner ${o.id}`,
    email: o.email ? o.email.toLowerCase() : null,
    title: null,
    role_external_id: null,
    // HubSpot has no manager field: managers come from the org file.
    manager_external_id: null,
    // An archived owner, or one whose user is deactivated (`userId` null), no longer sells.
    is_active: o.archived !== true && o.userId !== null && o.userId !== undefined,
    start_date: null,
    territory: null,
    currency: null,
  };
}

/**
 * `mapped`: the deal properties `fields.segment` and `fields.productLine` name (none: deals have no segment, and
 * the product line is worked out from the line items).
 */
export function normalizeDeal(
  o: HsObject,
  facts: PortalFacts,
  mapped: { segment?: string | undefined; productLine?: string | undefined } = {},
): DealRow {
  const p = o.properties;
  const stage = stageOf(p, str(p, 'dealstage'), facts);
  const close = instantDate(p.closedate, 'closedate', facts.timeZone);
  if (close === null) throw new Unnormalizable('MISSING_CLOSE_DATE', 'closedate is empty');
  const created = instantDate(p.createdate ?? o.createdAt, 'createdate', facts.timeZone);
  if (created === null) throw new Unnormalizable('MISSING_CREATED_DATE', 'createdate is empty');
  return {
    name: str(p, 'dealname'),
    owner_external_id: str(p, 'hubspot_owner_id'),
    amount: decimal(p, 'amount'),
    currency: str(p, 'deal_currency_code') ?? facts.companyCurrency,
    stage: stage.label,
    stage_category: stage.category,
    forecast_category: str(p, 'hs_manual_forecast_category'),
    probability: decimal(p, 'hs_deal_stage_probability') ?? stage.probability,
    close_date: close,
    created_date: created,
    deal_type: str(p, 'dealtype'),
    segment: mapped.segment ? str(p, mapped.segment) : null,
    ...(mapped.productLine ? { product_line: str(p, mapped.productLine) } : {}),
    account_external_id: null,
    account_name: null,
  };
}

/** The value a property's history (newest first, as HubSpot sends it) held at `atMs`. */
function valueAt(history: readonly HsHistoryEntry[] | undefined, atMs: number): string | null {
  if (!history) return null;
  let best: { t: number; v: string | null } | null = null;
  for (const h of history) {
    const t = Date.parse(h.timestamp);
    if (t <= atMs && (best === null || t > best.t)) best = { t, v: h.value };
  }
  return best?.v ?? null;
}

/**
 * One row per entry of the deal's `dealstage` history, with the amount, close date and probability as they stood
 * at that instant (from their own histories). Search returns no history, so these come from list or batch reads
 * with `propertiesWithHistory`.
 */
export function normalizeStageHistory(
  o: HsObject,
  facts: PortalFacts,
): Array<{ externalId: string; row: DealStageHistoryRow; changedAt: string }> {
  const h = o.propertiesWithHistory ?? {};
  const stages = h.dealstage ?? [];
  const out: Array<{ externalId: string; row: DealStageHistoryRow; changedAt: string }> = [];
  for (const entry of stages) {
    const at = Date.parse(entry.timestamp);
    if (Number.isNaN(at)) throw new Unnormalizable('BAD_DATE', `dealstage history timestamp ${entry.timestamp}`);
    const stage = stageOf(o.properties, entry.value, facts);
    const amount = valueAt(h.amount, at);
    const close = valueAt(h.closedate, at);
    const prob = valueAt(h.hs_deal_stage_probability, at);
    const changedAt = new Date(at).toISOString();
    out.push({
      externalId: `${o.id}:${at}:${entry.value}`,
      changedAt,
      row: {
        deal_external_id: o.id,
        stage: stage.label,
        stage_category: stage.category,
        amount: amount === null || amount === '' ? null : decimal({ amount }, 'amount'),
        close_date: instantDate(close, 'closedate', facts.timeZone),
        probability: prob === null || prob === '' ? stage.probability : decimal({ prob }, 'prob'),
        forecast_category: null,
        changed_at: changedAt,
      },
    });
  }
  return out;
}
