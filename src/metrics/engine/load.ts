/**
 * Reads what the metric math needs from the warehouse, as of a date D, in the math's plain shapes.
 *
 * - Reps are unified by person: every CRM user with the same person id is one rep (`person:<id>`); a user with no
 *   person yet is its own rep (`<connection>:<user id>`). Deal, split, activity and quota owners are mapped to
 *   these keys here, so the math never sees CRM ids of people.
 * - The past is rebuilt from stage history: a deal created after D does not exist yet, and a deal changed after D
 *   takes its stage, amount, close date and probability from its last history row on or before D (its first row
 *   when all are later). The owner is the current one: stage history does not record owner changes.
 * - Two modes with the same output: `loadAll` (one pass over each table, for the full recompute) and
 *   `loadForReps` (only the rows of some reps, for an incremental recompute).
 */
import { type Kysely, type RawBuilder, sql } from 'kysely';
import { carriesQuota } from '../../db/quota-carrying.ts';
import type { Database } from '../../db/schema.ts';
import { addDays, addMonths, type PlainDate } from '../../util/date.ts';
import { Dec } from '../../util/money.ts';
import { pushTo } from '../../util/multimap.ts';
import type { DealTimeline } from '../math/calibration.ts';
import type { Activity, ActivityType, Deal, DealSplit, FxRate, Membership, StageCategory } from '../math/types.ts';
import type { StoredBacktestSummary } from './forecast-model.ts';

/** One rep: a person, or a CRM user not yet linked to a person. */
export interface RepInfo {
  key: string;
  personId: number | null;
  name: string;
  email: string | null;
  /** The CRM users behind this rep. */
  users: {
    connectionId: string;
    externalId: string;
    managerExternalId: string | null;
    /** The email this CRM gives the user (lower-cased): org.csv may bind a user whose email is not the person's. */
    email?: string | null;
  }[];
  isActive: boolean;
  quotaCarrying: boolean;
  startDate: PlainDate | null;
  territory: string | null;
  territoryIndex: Dec | null;
}

export interface OrgUnitInfo {
  id: string;
  kind: 'org' | 'region' | 'team';
  name: string;
  parentId: string | null;
  managerPersonId: number | null;
  /** Where the unit comes from: RevOps' org file wins over the CRM's `ManagerId` for the rep's manager. */
  source: 'crm' | 'file';
}

/** A quota row, owner mapped to a rep key or an org unit. */
export interface QuotaRecord {
  repKey: string | null;
  unitId: string | null;
  start: PlainDate;
  end: PlainDate;
  amount: Dec;
  currency: string;
  source: 'crm' | 'file';
  /** The CRM connection the row came from; null for a file's row. */
  connectionId: string | null;
}

export interface WarehouseData {
  asOf: PlainDate;
  reps: Map<string, RepInfo>;
  /** `<connection>:<user id>` to rep key. */
  ownerToRep: Map<string, string>;
  units: Map<string, OrgUnitInfo>;
  memberships: Membership[];
  deals: Deal[];
  splits: DealSplit[];
  activities: Activity[];
  quotas: QuotaRecord[];
  fx: FxRate[];
  /** Every deal's stage history up to D, for the forecast's calibration (loaded with full loads only). */
  dealTimelines?: DealTimeline[];
  /** The last stored backtest per period kind, shown beside every forecast. */
  forecastBacktests?: Map<string, StoredBacktestSummary>;
}

/** How far back rows matter for figures as of D: the conversion window plus the alert rules' prior windows. */
export interface LoadWindow {
  /** Oldest close date of a closed deal that any figure reads. */
  closedFrom: PlainDate;
  /** Oldest activity date read. */
  activityFrom: PlainDate;
}

/** The window for periods as old as `oldestPeriodStart` and trailing windows of `conversionMonths`. */
export function loadWindow(asOf: PlainDate, oldestPeriodStart: PlainDate, conversionMonths: number): LoadWindow {
  // 180 days: the 90-day conversion and velocity rules compare with the 90 days before.
  const trailing = [addDays(addMonths(asOf, -conversionMonths), 1), addDays(asOf, -179)].sort()[0] as PlainDate;
  return {
    closedFrom: oldestPeriodStart < trailing ? oldestPeriodStart : trailing,
    // 42 days: the activity_drop rule's 14 days plus the 4 weeks before.
    activityFrom: addDays(asOf, -59),
  };
}

export function repKeyOf(personId: number | null, connectionId: string, externalId: string): string {
  return personId === null ? `${connectionId}:${externalId}` : `person:${personId}`;
}

interface RepRow {
  connection_id: string;
  external_id: string;
  person_id: number | null;
  name: string;
  email: string | null;
  manager_external_id: string | null;
  is_active: boolean;
  start_date: PlainDate | null;
  territory: string | null;
  p_name: string | null;
  p_email: string | null;
  p_start_date: PlainDate | null;
  p_territory: string | null;
  p_territory_index: string | null;
  /** The person's answer to "carries a quota" (db/quota-carrying.ts), the same on each of their users' rows. */
  carrying: boolean;
}

/**
 * A fingerprint of the people tables (reps, persons, org units, memberships), as an SQL expression to select
 * along with other reads: equal fingerprints mean the people part of a cached load is still current, so an
 * incremental recompute need not read them again.
 */
export const PEOPLE_FINGERPRINT = sql<string>`concat_ws('|',
    (select md5(coalesce(string_agg(concat_ws(',', id, person_id, org_unit_id, valid_from, valid_to), ';' order by id), '')) from memberships),
    (select concat_ws(',', count(*), max(synced_at), md5(coalesce(string_agg(concat_ws(':', connection_id, external_id,
       person_id, is_deleted), ';' order by connection_id, external_id), ''))) from reps),
    (select concat_ws(',', count(*), max(updated_at)) from persons),
    (select md5(coalesce(string_agg(concat_ws(',', id, kind, name, parent_id, manager_person_id), ';' order by id), '')) from org_units))`;

/**
 * The FX rates a model converts with (`fx_rates` is small: every rate of every source). Team partials hold converted
 * amounts, so a stored one is usable only under the same rates.
 */
export const RATES_FINGERPRINT = sql<string>`(select md5(coalesce(string_agg(concat_ws(',', connection_id, source,
    currency, rate, valid_from, valid_to), ';' order by connection_id, source, currency, valid_from), '')) from fx_rates)`;

export type People = Pick<WarehouseData, 'reps' | 'ownerToRep' | 'units' | 'memberships'>;

export async function loadPeople(db: Kysely<Database>): Promise<People> {
  const rows = await sql<RepRow>`
    select r.connection_id, r.external_id, r.person_id, r.name, r.email, r.manager_external_id, r.is_active,
           r.start_date, r.territory,
           p.name as p_name, p.email as p_email, p.start_date as p_start_date, p.territory as p_territory,
           p.territory_index as p_territory_index, ${carriesQuota('r', 'p')} as carrying
    from reps r left join persons p on p.id = r.person_id
    where not r.is_deleted
    order by r.connection_id, r.external_id`.execute(db);
  const reps = new Map<string, RepInfo>();
  const ownerToRep = new Map<string, string>();
  for (const r of rows.rows) {
    const key = repKeyOf(r.person_id, r.connection_id, r.external_id);
    ownerToRep.set(`${r.connection_id}:${r.external_id}`, key);
    const user = {
      connectionId: r.connection_id,
      externalId: r.external_id,
      managerExternalId: r.manager_external_id,
      email: r.email?.toLowerCase() ?? null,
    };
    const cur = reps.get(key);
    if (cur) {
      // The same person in a second CRM: active in either counts; the org file's facts win.
      cur.users.push(user);
      cur.isActive ||= r.is_active;
      cur.startDate ??= r.start_date;
      cur.territory ??= r.territory;
      continue;
    }
    reps.set(key, {
      key,
      personId: r.person_id,
      name: r.p_name ?? r.name,
      // The person's email: a user org.csv binds by id may have another one in its CRM.
      email: (r.p_email ?? r.email)?.toLowerCase() ?? null,
      users: [user],
      isActive: r.is_active,
      quotaCarrying: r.carrying,
      startDate: r.p_start_date ?? r.start_date,
      territory: r.p_territory ?? r.territory,
      territoryIndex: r.p_territory_index === null ? null : new Dec(r.p_territory_index),
    });
  }
  const unitRows = await db
    .selectFrom('org_units')
    .select(['id', 'kind', 'name', 'parent_id', 'manager_person_id', 'source'])
    .execute();
  const units = new Map<string, OrgUnitInfo>();
  for (const u of unitRows)
    units.set(String(u.id), {
      id: String(u.id),
      kind: u.kind,
      name: u.name,
      parentId: u.parent_id === null ? null : String(u.parent_id),
      managerPersonId: u.manager_person_id,
      source: u.source,
    });
  const mRows = await db
    .selectFrom('memberships')
    .select(['person_id', 'org_unit_id', 'valid_from', 'valid_to'])
    .orderBy('person_id')
    .orderBy('valid_from')
    .execute();
  const memberships: Membership[] = [];
  for (const m of mRows) {
    const team = units.get(String(m.org_unit_id));
    if (team?.kind !== 'team') continue;
    const region = team.parentId === null ? undefined : units.get(team.parentId);
    memberships.push({
      repId: `person:${m.person_id}`,
      teamId: team.id,
      // A team hung directly under the org (no region) is its own region-less group: region "none".
      regionId: region && region.kind === 'region' ? region.id : 'none',
      validFrom: m.valid_from,
      validTo: m.valid_to,
    });
  }
  return { reps, ownerToRep, units, memberships };
}

interface DealRow {
  connection_id: string;
  external_id: string;
  name: string | null;
  owner_external_id: string | null;
  amount: string | null;
  currency: string;
  stage: string;
  stage_category: StageCategory;
  probability: string | null;
  close_date: PlainDate | null;
  created_date: PlainDate;
  deal_type: string | null;
  product_line: string | null;
  segment: string | null;
}

/** A row of `deal_stage_history` as the loads read it: the change's day in the configured time zone. */
export interface HistoryRow {
  connection_id: string;
  deal_external_id: string;
  stage: string;
  stage_category: StageCategory;
  amount: string | null;
  close_date: PlainDate | null;
  probability: string | null;
  day: PlainDate;
}

/**
 * Owner filter of a targeted load: `(connection, user id)` pairs, and with `orphans` also every owner that no live
 * `reps` row stands for (a full load books those as reps of their own; one rep shard of a full recompute takes them).
 */
interface Owners {
  pairs: readonly { connectionId: string; externalId: string }[];
  orphans?: boolean;
}

function ownerFilter(owners: Owners | null, alias: string) {
  if (owners === null) return sql`true`;
  const conn = sql.ref(`${alias}.connection_id`);
  const owner = sql.ref(`${alias}.owner_external_id`);
  const orphans = owners.orphans
    ? sql`not exists (select 1 from reps r where r.connection_id = ${conn} and r.external_id = ${owner} and not r.is_deleted)`
    : null;
  if (owners.pairs.length === 0) return orphans ?? sql`false`;
  const conns = owners.pairs.map((o) => o.connectionId);
  const ids = owners.pairs.map((o) => o.externalId);
  const mine = sql`(${conn}, ${owner}) in (select * from unnest(${conns}::text[], ${ids}::text[]))`;
  // No "or false" after it: an IN under an OR is a filter on every row, not a join on the owner index, and a team's
  // ten reps read all 1,500,000 activities of a 5,000-rep org (246 ms against 5 ms).
  return orphans ? sql`(${mine} or ${orphans})` : mine;
}

export async function loadDeals(
  db: Kysely<Database>,
  asOf: PlainDate,
  timezone: string,
  window: LoadWindow,
  owners: Owners | null,
  ownerToRep: ReadonlyMap<string, string>,
  withSplits: boolean,
): Promise<{ deals: Deal[]; splits: DealSplit[] }> {
  // Deals whose current close date or category could matter; the as-of rewrite below may move a deal, so deals
  // changed after D are read whatever their current close date.
  // With splits, also the deals these owners hold a split of: as one IN over a union, each side on its owner
  // index (an OR of the two would filter every deal of the org).
  const mine =
    withSplits && owners !== null
      ? sql`(d.connection_id, d.external_id) in (
             select x.connection_id, x.external_id from deals x where ${ownerFilter(owners, 'x')}
             union
             select s.connection_id, s.deal_external_id from deal_splits s
             where not s.is_deleted and ${ownerFilter(owners, 's')})`
      : ownerFilter(owners, 'd');
  // The deals in the table's order, whatever the plan: the figures sum decimals in the deals' order, and a shard's
  // (a few owners' load, read through their index and sorted) must be the whole load's to the last digit. A whole
  // load is a sequential scan, in that order already unless it joins another scan of the table midway (synchronized
  // scans) or is split among parallel workers: both are off for it, rather than sorting 1,000,000 rows (1.2-1.5 s
  // against 2.2-3.2 s and a 142 MB sort file).
  const inTableOrder = async <R>(q: RawBuilder<R>) => {
    if (owners !== null) return q.execute(db);
    const whole = async (trx: Kysely<Database>) => {
      await sql`set local synchronize_seqscans = off`.execute(trx);
      await sql`set local max_parallel_workers_per_gather = 0`.execute(trx);
      return q.execute(trx);
    };
    return db.isTransaction ? whole(db) : db.transaction().execute(whole);
  };
  // The two reads are independent: taken together, one round trip.
  const [rows, changedAfter] = await Promise.all([
    inTableOrder(sql<DealRow>`
    select d.connection_id, d.external_id, d.name, d.owner_external_id, d.amount, d.currency, d.stage,
           d.stage_category, d.probability, d.close_date, d.created_date, d.deal_type, d.product_line, d.segment
    from deals d
    where not d.is_deleted and d.created_date <= ${asOf} and d.owner_external_id is not null
      and ${mine}
      and (d.stage_category = 'open' or d.close_date >= ${window.closedFrom}
           or exists (select 1 from deal_stage_history h where h.connection_id = d.connection_id
                      and h.deal_external_id = d.external_id and h.changed_at >= ${asOf}::date - 1))
    ${owners === null ? sql`` : sql`order by d.ctid`}`),
    sql<HistoryRow>`
    select h.connection_id, h.deal_external_id, h.stage, h.stage_category, h.amount, h.close_date, h.probability,
           (h.changed_at at time zone ${timezone})::date::text as day
    from deal_stage_history h
    where not h.is_deleted and (h.connection_id, h.deal_external_id) in (
      select connection_id, deal_external_id from deal_stage_history
      where not is_deleted and changed_at >= ${asOf}::date - 1 and (changed_at at time zone ${timezone})::date > ${asOf})
    order by h.connection_id, h.deal_external_id, h.changed_at, h.external_id`.execute(db),
  ]);
  const history = new Map<string, HistoryRow[]>();
  for (const h of changedAfter.rows) {
    pushTo(history, `${h.connection_id}:${h.deal_external_id}`, h);
  }
  const deals: Deal[] = [];
  for (const r of rows.rows) {
    const ownerId =
      ownerToRep.get(`${r.connection_id}:${r.owner_external_id}`) ?? `${r.connection_id}:${r.owner_external_id}`;
    let state = {
      stage: r.stage,
      stage_category: r.stage_category,
      amount: r.amount,
      close_date: r.close_date,
      probability: r.probability,
    };
    const h = history.get(`${r.connection_id}:${r.external_id}`);
    if (h && h.length > 0) {
      let pick: HistoryRow = h[0] as HistoryRow;
      for (const row of h) if (row.day <= asOf) pick = row;
      state = pick;
    }
    if (state.close_date === null) continue;
    if (state.stage_category !== 'open' && state.close_date < window.closedFrom) continue;
    deals.push({
      id: r.external_id,
      connectionId: r.connection_id,
      name: r.name ?? r.external_id,
      ownerId,
      amount: state.amount === null ? null : new Dec(state.amount),
      currency: r.currency,
      stage: state.stage,
      stageCategory: state.stage_category,
      probability: state.probability === null ? null : new Dec(state.probability),
      closeDate: state.close_date,
      createdDate: r.created_date,
      type: r.deal_type,
      productLine: r.product_line,
      segment: r.segment,
    });
  }
  const splits: DealSplit[] = [];
  if (withSplits) {
    const ids = deals.map((d) => d.id);
    const sRows = await sql<{
      deal_external_id: string;
      connection_id: string;
      owner_external_id: string;
      split_percent: string;
      is_overlay: boolean;
    }>`
      select s.deal_external_id, s.connection_id, s.owner_external_id, s.split_percent, s.is_overlay
      from deal_splits s where not s.is_deleted and s.deal_external_id = any(${ids}::text[])
      order by s.deal_external_id, s.external_id`.execute(db);
    for (const s of sRows.rows)
      splits.push({
        dealId: s.deal_external_id,
        ownerId:
          ownerToRep.get(`${s.connection_id}:${s.owner_external_id}`) ?? `${s.connection_id}:${s.owner_external_id}`,
        percent: new Dec(s.split_percent),
        overlay: s.is_overlay,
      });
  }
  return { deals, splits };
}

async function loadActivities(
  db: Kysely<Database>,
  asOf: PlainDate,
  window: LoadWindow,
  owners: Owners | null,
  ownerToRep: ReadonlyMap<string, string>,
): Promise<Activity[]> {
  const rows = await sql<{
    connection_id: string;
    external_id: string;
    owner_external_id: string;
    activity_type: ActivityType;
    activity_date: PlainDate;
  }>`
    select a.connection_id, a.external_id, a.owner_external_id, a.activity_type, a.activity_date
    from activities a
    where not a.is_deleted and a.owner_external_id is not null and ${ownerFilter(owners, 'a')}
      and a.activity_date between ${window.activityFrom} and ${asOf}
      -- An alert task quota-tracker created is nobody's activity (rows synced before the read left them out).
      and not exists (select 1 from alert_tasks t
        where t.connection_id = a.connection_id and t.crm_task_id = a.external_id)`.execute(db);
  return rows.rows.map((a) => ({
    id: a.external_id,
    ownerId: ownerToRep.get(`${a.connection_id}:${a.owner_external_id}`) ?? `${a.connection_id}:${a.owner_external_id}`,
    type: a.activity_type,
    date: a.activity_date,
  }));
}

async function loadQuotas(
  db: Kysely<Database>,
  from: PlainDate,
  reps: ReadonlyMap<string, RepInfo>,
  ownerToRep: ReadonlyMap<string, string>,
  only: ReadonlySet<string> | null,
  owners: Owners | null = null,
): Promise<QuotaRecord[]> {
  const persons = only === null ? [] : [...only].filter((k) => k.startsWith('person:')).map((k) => Number(k.slice(7)));
  const rows = await db
    .selectFrom('quotas')
    .select([
      'source',
      'connection_id',
      'person_id',
      'owner_external_id',
      'org_unit_id',
      'period_start',
      'period_end',
      'amount',
      'currency',
    ])
    .where('is_deleted', '=', false)
    .where('product_line', 'is', null)
    .where('period_end', '>=', from)
    .$if(owners !== null, (qb) =>
      qb.where((eb) =>
        eb.or([
          eb('org_unit_id', 'is not', null),
          ...(persons.length > 0 ? [eb('person_id', 'in', persons)] : []),
          ...(owners?.pairs ?? []).map((o) =>
            eb.and([eb('connection_id', '=', o.connectionId), eb('owner_external_id', '=', o.externalId)]),
          ),
        ]),
      ),
    )
    .execute();
  const out: QuotaRecord[] = [];
  for (const q of rows) {
    let repKey: string | null = null;
    if (q.person_id !== null) repKey = `person:${q.person_id}`;
    else if (q.owner_external_id !== null && q.connection_id !== null)
      repKey = ownerToRep.get(`${q.connection_id}:${q.owner_external_id}`) ?? null;
    const unitId = q.org_unit_id === null ? null : String(q.org_unit_id);
    if (repKey === null && unitId === null) continue;
    if (repKey !== null && !reps.has(repKey)) continue;
    if (only !== null && repKey !== null && !only.has(repKey)) continue;
    out.push({
      repKey,
      unitId,
      start: q.period_start,
      end: q.period_end,
      amount: new Dec(q.amount),
      currency: q.currency,
      source: q.source,
      connectionId: q.source === 'crm' ? q.connection_id : null,
    });
  }
  return out;
}

/** Earlier than any date a deal or quota can carry: an open range's start. */
const OPEN_FROM = '0001-01-01';

async function loadFx(db: Kysely<Database>): Promise<FxRate[]> {
  const rows = await db
    .selectFrom('fx_rates')
    .select(['currency', 'rate', 'valid_from', 'valid_to', 'source'])
    .execute();
  // When a currency has dated rates, they replace the static one (Salesforce keeps both with advanced currency
  // management on); the file's rates win over the CRM's.
  const rank = { file: 0, crm_dated: 1, crm_static: 2 } as const;
  const best = new Map<string, number>();
  for (const r of rows) best.set(r.currency, Math.min(best.get(r.currency) ?? 9, rank[r.source]));
  return rows
    .filter((r) => rank[r.source] === best.get(r.currency))
    .map((r) => ({
      currency: r.currency,
      rate: new Dec(r.rate),
      // Open ends (Salesforce's sentinel dates, stored as -infinity / infinity) hold from and to any date.
      validFrom: r.valid_from === '-infinity' ? OPEN_FROM : r.valid_from,
      validTo: r.valid_to === 'infinity' ? null : r.valid_to,
    }));
}

export interface LoadOptions {
  asOf: PlainDate;
  timezone: string;
  window: LoadWindow;
  splits: boolean;
}

/** Every rep's rows as of D, one pass per table. */
export async function loadAll(db: Kysely<Database>, o: LoadOptions): Promise<WarehouseData> {
  const people = await loadPeople(db);
  const [dealsAndSplits, activities, quotas, fx] = await Promise.all([
    loadDeals(db, o.asOf, o.timezone, o.window, null, people.ownerToRep, o.splits),
    loadActivities(db, o.asOf, o.window, null, people.ownerToRep),
    loadQuotas(db, o.window.closedFrom, people.reps, people.ownerToRep, null),
    loadFx(db),
  ]);
  return { asOf: o.asOf, ...people, ...dealsAndSplits, activities, quotas, fx };
}

/**
 * The rows of some reps only (deals they own or hold a split of, their activities and quotas), plus the people,
 * org units, memberships and rates that every figure needs. `people` may be passed in when already loaded; with
 * `orphans`, also the rows of owners no live rep row stands for.
 */
export async function loadForReps(
  db: Kysely<Database>,
  repKeys: ReadonlySet<string>,
  o: LoadOptions,
  people?: People,
  options: { orphans?: boolean } = {},
): Promise<WarehouseData> {
  const p = people ?? (await loadPeople(db));
  const pairs: { connectionId: string; externalId: string }[] = [];
  for (const key of repKeys) {
    const rep = p.reps.get(key);
    if (rep) for (const u of rep.users) pairs.push({ connectionId: u.connectionId, externalId: u.externalId });
    else if (!key.startsWith('person:')) {
      const i = key.indexOf(':');
      pairs.push({ connectionId: key.slice(0, i), externalId: key.slice(i + 1) });
    }
  }
  const owners: Owners = { pairs, ...(options.orphans ? { orphans: true } : {}) };
  const [dealsAndSplits, activities, quotas, fx] = await Promise.all([
    loadDeals(db, o.asOf, o.timezone, o.window, owners, p.ownerToRep, o.splits),
    loadActivities(db, o.asOf, o.window, owners, p.ownerToRep),
    loadQuotas(db, o.window.closedFrom, p.reps, p.ownerToRep, repKeys, owners),
    loadFx(db),
  ]);
  return { asOf: o.asOf, ...p, ...dealsAndSplits, activities, quotas, fx };
}

/**
 * What a group's figures need besides its members' partials: the people, org units, memberships, every quota row
 * (a group's quota is its own or its members' sum) and the rates; no deal or activity is read.
 */
export async function loadGroupInputs(db: Kysely<Database>, o: LoadOptions): Promise<WarehouseData> {
  const people = await loadPeople(db);
  const [quotas, fx] = await Promise.all([
    loadQuotas(db, o.window.closedFrom, people.reps, people.ownerToRep, null),
    loadFx(db),
  ]);
  return { asOf: o.asOf, ...people, deals: [], splits: [], activities: [], quotas, fx };
}
