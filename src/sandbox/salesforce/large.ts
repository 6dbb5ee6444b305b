/**
 * The `large` org in the Salesforce store: users, roles, currencies, periods, quotas and accounts are written as
 * for any org; Opportunity, OpportunityHistory, Task and Event are lazy tables whose rows are made from the
 * generator's index (`../org/lazy.ts`) each time they are read, so a million opportunities, their history and five
 * million activities cost no memory until a query holds on to them.
 *
 * A lazy table is the store's per-type `Map` (the store reads and writes rows only through `get`, `set`, `delete`
 * and iteration), so everything the served API does works unchanged: a write puts the changed row in the table's
 * overlay (a plain Map) and reads prefer it, a delete leaves a tombstone. Ids encode the index: the key prefix,
 * `9Lz` (which the store's own counter-based Ids never contain at that place), nine base-62 digits, the checksum.
 *
 * Simplifications: getUpdated lists only rows the API wrote after start-up (a generated row's stamps are in the
 * past, and its changes are in OpportunityHistory); a bulk job or query holds generated rows it matched.
 */
import { AppError } from '../../errors.ts';
import type { Deal } from '../org/index.ts';
import { LazyOrg, MEETING_EVERY, type OrgModel } from '../org/index.ts';
import { COMPANY_SUFFIXES, COMPANY_WORDS } from '../org/names.ts';
import { opportunityType, populateSalesforce, TASK_KIND } from './populate.ts';
import type { PopulateShape } from './profiles.ts';
import type { SRecord } from './schema.ts';
import { formatSfDateTime, type IndexedTable, idChecksum, type SalesforceStore } from './store.ts';

const MARK = '9Lz';
const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** OpportunityHistory rows per deal an index has room for (a stage path has at most six). */
const HISTORY_SLOTS = 8;

export function lazyId(prefix: string, index: number): string {
  let n = index;
  let digits = '';
  for (let k = 0; k < 9; k++) {
    digits = DIGITS[n % 62] + digits;
    n = Math.floor(n / 62);
  }
  const id15 = `${prefix}${MARK}${digits}`;
  return id15 + idChecksum(id15);
}

function lazyIndex(prefix: string, id: string): number | null {
  if (id.length !== 18 && id.length !== 15) return null;
  if (!id.startsWith(prefix) || id.slice(3, 6) !== MARK) return null;
  let n = 0;
  for (let k = 6; k < 15; k++) {
    const d = DIGITS.indexOf(id[k] as string);
    if (d < 0) return null;
    n = n * 62 + d;
  }
  return n;
}

interface LazySpec {
  prefix: string;
  /** Index slots; `make` may answer null for a slot without a row. */
  slots: number;
  /**
   * The row of a slot, or null. A made row is never in the recycle bin (IsDeleted false): counts and scans without
   * a condition rely on it to know the untouched rows without making them.
   */
  make(index: number, id: string): SRecord | null;
  /** Rows with a non-null `make` (computed on first need when absent). */
  rows?: number;
  /** Whether `make` answers a row for a slot, without making it (default: every slot when `rows` is `slots`). */
  exists?(index: number): boolean;
  /** Every field a made row carries (a condition on other fields is the same for every made row). */
  fields?: ReadonlySet<string>;
}

/** A store table whose rows are made on read; API writes go to an overlay. */
export class LazyTable extends Map<string, SRecord> implements IndexedTable {
  private readonly tombstones = new Set<string>();
  private madeRows: number | undefined;

  constructor(private readonly spec: LazySpec) {
    super();
    this.madeRows = spec.rows;
  }

  override get(id: string): SRecord | undefined {
    const own = super.get(id);
    if (own !== undefined || this.tombstones.has(id)) return own;
    const i = lazyIndex(this.spec.prefix, id);
    if (i === null || i >= this.spec.slots) return undefined;
    return this.spec.make(i, id.length === 18 ? id : lazyId(this.spec.prefix, i)) ?? undefined;
  }

  override has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  override set(id: string, row: SRecord): this {
    this.tombstones.delete(id);
    return super.set(id, row);
  }

  override delete(id: string): boolean {
    const had = this.has(id);
    super.delete(id);
    if (lazyIndex(this.spec.prefix, id) !== null) this.tombstones.add(id);
    return had;
  }

  /** Whether slot `i` has a made row (whatever the API wrote since). */
  private exists(i: number): boolean {
    if (this.spec.exists) return this.spec.exists(i);
    if (this.spec.rows === this.spec.slots) return true;
    return this.spec.make(i, lazyId(this.spec.prefix, i)) !== null;
  }

  /** How many slots have a made row. */
  private made(): number {
    if (this.madeRows === undefined) {
      let n = 0;
      for (let i = 0; i < this.spec.slots; i++) if (this.exists(i)) n++;
      this.madeRows = n;
    }
    return this.madeRows;
  }

  /** The slot an id names, when iteration would look it up there (its 18-character id, within the slots). */
  private slotOf(id: string): number | null {
    const i = lazyIndex(this.spec.prefix, id);
    return i !== null && i < this.spec.slots && id === lazyId(this.spec.prefix, i) ? i : null;
  }

  /**
   * The rows iteration yields that are not in the recycle bin (all of them with `includeDeleted`), without making
   * the untouched ones: the store's count (the Record Count resource, `SELECT COUNT()`) would otherwise make every
   * row of the table. Only the rows the API wrote or deleted are looked at.
   */
  liveCount(includeDeleted: boolean): number {
    let n = this.made();
    for (const [id, row] of super.entries()) {
      const i = lazyIndex(this.spec.prefix, id);
      if (i !== null) {
        const slot = this.slotOf(id);
        // An overlay row with a lazy id outside the slots is never iterated.
        if (slot === null) continue;
        // It stands in for the made row of its slot.
        if (this.exists(slot)) n--;
      }
      if (includeDeleted || row.IsDeleted !== true) n++;
    }
    for (const id of this.tombstones) {
      if (super.has(id)) continue;
      const slot = this.slotOf(id);
      if (slot !== null && this.exists(slot)) n--;
    }
    return n;
  }

  override get size(): number {
    const made = this.made();
    let extra = 0;
    for (const id of super.keys()) if (lazyIndex(this.spec.prefix, id) === null) extra++;
    let gone = 0;
    for (const id of this.tombstones) if (!super.has(id)) gone++;
    return made + extra - gone;
  }

  override *values(): MapIterator<SRecord> {
    for (const [, row] of this.entries()) yield row;
  }

  override *keys(): MapIterator<string> {
    for (const [id] of this.entries()) yield id;
  }

  override *entries(): MapIterator<[string, SRecord]> {
    const plain = super.size === 0 && this.tombstones.size === 0;
    for (let i = 0; i < this.spec.slots; i++) {
      const id = lazyId(this.spec.prefix, i);
      if (!plain) {
        const own = super.get(id);
        if (own !== undefined) {
          yield [id, own];
          continue;
        }
        if (this.tombstones.has(id)) continue;
      }
      const row = this.spec.make(i, id);
      if (row !== null) yield [id, row];
    }
    for (const [id, row] of super.entries()) if (lazyIndex(this.spec.prefix, id) === null) yield [id, row];
  }

  *refEntries(): IterableIterator<[SRecord, number | SRecord]> {
    const plain = super.size === 0 && this.tombstones.size === 0;
    for (let i = 0; i < this.spec.slots; i++) {
      const id = plain ? '' : lazyId(this.spec.prefix, i);
      if (!plain) {
        const own = super.get(id);
        if (own !== undefined) {
          yield [own, own];
          continue;
        }
        if (this.tombstones.has(id)) continue;
      }
      const row = this.spec.make(i, lazyId(this.spec.prefix, i));
      if (row !== null) yield [row, i];
    }
    for (const [id, row] of super.entries()) if (lazyIndex(this.spec.prefix, id) === null) yield [row, row];
  }

  /**
   * The references `refEntries` gives, for a query without a condition: while the API has written nothing to the
   * table, the made rows' indexes, none of them made (a made row is live, see LazySpec).
   */
  *refs(includeDeleted: boolean): IterableIterator<number | SRecord> {
    if (super.size === 0 && this.tombstones.size === 0) {
      for (let i = 0; i < this.spec.slots; i++) if (this.exists(i)) yield i;
      return;
    }
    for (const [row, ref] of this.refEntries()) if (includeDeleted || row.IsDeleted !== true) yield ref;
  }

  /**
   * For a condition `test` that reads only `reads`: while the API has written nothing to the table and no made row
   * carries one of those fields, every made row answers as a row without them does, so `test` is asked once.
   */
  refsBlindTo(
    includeDeleted: boolean,
    reads: readonly string[],
    test: (row: SRecord) => boolean,
  ): Array<number | SRecord> | null {
    const fields = this.spec.fields;
    if (!fields || super.size !== 0 || this.tombstones.size !== 0) return null;
    if (reads.some((f) => fields.has(f))) return null;
    return test({}) ? [...this.refs(includeDeleted)] : [];
  }

  rowAt(i: number): SRecord | undefined {
    return i >= 0 && i < this.spec.slots ? (this.spec.make(i, lazyId(this.spec.prefix, i)) ?? undefined) : undefined;
  }

  override [Symbol.iterator](): MapIterator<[string, SRecord]> {
    return this.entries();
  }

  override forEach(fn: (value: SRecord, key: string, map: Map<string, SRecord>) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }

  override clear(): void {
    throw new AppError('INTERNAL', 'a lazy table cannot be cleared', { where: 'LazyTable' });
  }
}

export interface LargePopulation {
  lazy: LazyOrg;
  /** Salesforce Id of every person by key. */
  userIds: Map<string, string>;
}

/** Writes the large org's materialised part and attaches its lazy tables. */
export function populateLarge(store: SalesforceStore, org: OrgModel, shape: PopulateShape): LargePopulation {
  const lazy = new LazyOrg(org);
  const { ids } = populateSalesforce(store, org, shape);
  const userIds = new Map<string, string>();
  for (const p of org.people) {
    const id = ids.get(p.key);
    if (id !== undefined) userIds.set(p.key, id);
  }
  const userOf = (key: string): string => {
    const id = userIds.get(key);
    if (id === undefined) throw new AppError('INTERNAL', `large org: no user for ${key}`, { where: key });
    return id;
  };
  const admin = store.adminUserId;

  // One account per 50 deals (at least one), each owned by the rep whose deals it carries.
  const accountCount = Math.max(1, Math.min(20_000, Math.ceil(lazy.dealCount / 50)));
  const accountIds: string[] = [];
  const setup = { stamp: new Date(`${org.quarters[0]?.start ?? org.anchorDate}T10:00:00.000Z`) };
  for (let k = 0; k < accountCount; k++) {
    const owner = lazy.dealOwner(k);
    const name = `${COMPANY_WORDS[k % COMPANY_WORDS.length]} ${COMPANY_SUFFIXES[Math.floor(k / COMPANY_WORDS.length) % COMPANY_SUFFIXES.length]} ${k + 1}`;
    accountIds.push(
      store.load('Account', { Name: name, OwnerId: userOf(owner.key), CurrencyIsoCode: owner.currency }, setup),
    );
  }

  // Consecutive reads of one deal (its row, then its history rows) make it once.
  let cached: { i: number; deal: Deal } | null = null;
  // How many history rows each deal has (0: not known yet), learnt whenever a deal is made: a byte a deal (1 MB at
  // a million), so that counting OpportunityHistory or listing its rows for a job without a condition makes no deal
  // a read of the opportunities made already.
  const historyLengths = new Uint8Array(lazy.dealCount);
  const dealAt = (i: number): Deal => {
    if (cached?.i !== i) {
      cached = { i, deal: lazy.deal(i) };
      historyLengths[i] = Math.min(cached.deal.history.length, HISTORY_SLOTS);
    }
    return cached.deal;
  };
  const money = (s: string | null): number | null => (s === null ? null : Number(s));

  /** The system fields of every made row that can be edited (history rows have no LastModified pair). */
  const SYSTEM_FIELDS = [
    'Id',
    'CreatedDate',
    'CreatedById',
    'SystemModstamp',
    'LastModifiedDate',
    'LastModifiedById',
    'IsDeleted',
  ];

  const opportunity = new LazyTable({
    prefix: '006',
    slots: lazy.dealCount,
    rows: lazy.dealCount,
    fields: new Set([
      'Name',
      'AccountId',
      'OwnerId',
      'Type',
      'LeadSource',
      'Segment__c',
      'CurrencyIsoCode',
      'StageName',
      'Amount',
      'CloseDate',
      'Probability',
      'ForecastCategoryName',
      ...SYSTEM_FIELDS,
    ]),
    make(i, id) {
      const d = dealAt(i);
      const last = d.history[d.history.length - 1]!;
      const created = formatSfDateTime(new Date(d.createdAt));
      const modified = formatSfDateTime(new Date(last.at));
      return {
        Name: d.name,
        AccountId: accountIds[i % accountCount]!,
        OwnerId: userOf(d.ownerKey),
        Type: opportunityType(d.type),
        LeadSource: d.leadSource,
        Segment__c: d.segment,
        CurrencyIsoCode: d.currency,
        StageName: last.stage,
        Amount: money(last.amount),
        CloseDate: last.closeDate,
        Probability: last.probability,
        ForecastCategoryName: last.forecastCategory,
        Id: id,
        CreatedDate: created,
        CreatedById: admin,
        SystemModstamp: modified,
        LastModifiedDate: modified,
        LastModifiedById: admin,
        IsDeleted: false,
      };
    },
  });
  const history = new LazyTable({
    prefix: '008',
    slots: lazy.dealCount * HISTORY_SLOTS,
    fields: new Set([
      'OpportunityId',
      'StageName',
      'Amount',
      'ExpectedRevenue',
      'CloseDate',
      'Probability',
      'ForecastCategory',
      'PrevAmount',
      'PrevCloseDate',
      'CurrencyIsoCode',
      'Id',
      'CreatedDate',
      'CreatedById',
      'SystemModstamp',
      'IsDeleted',
    ]),
    exists(slot) {
      const i = Math.floor(slot / HISTORY_SLOTS);
      // Every deal has its creation row, so 0 is "not made yet".
      const n = historyLengths[i] || Math.min(dealAt(i).history.length, HISTORY_SLOTS);
      return slot % HISTORY_SLOTS < n;
    },
    make(slot, id) {
      const d = dealAt(Math.floor(slot / HISTORY_SLOTS));
      const step = slot % HISTORY_SLOTS;
      const h = d.history[step];
      if (!h) return null;
      const prev = step > 0 ? d.history[step - 1]! : null;
      const amount = money(h.amount);
      const stamp = formatSfDateTime(new Date(h.at));
      return {
        OpportunityId: lazyId('006', Math.floor(slot / HISTORY_SLOTS)),
        StageName: h.stage,
        Amount: amount,
        ExpectedRevenue: amount === null ? null : Math.round(amount * h.probability) / 100,
        CloseDate: h.closeDate,
        Probability: h.probability,
        ForecastCategory: h.forecastCategory,
        PrevAmount: prev ? money(prev.amount) : null,
        PrevCloseDate: prev ? prev.closeDate : null,
        CurrencyIsoCode: d.currency,
        Id: id,
        CreatedDate: stamp,
        CreatedById: admin,
        SystemModstamp: stamp,
        IsDeleted: false,
      };
    },
  });

  const whatOf = (dealKey: string | null): string | null => {
    const i = dealKey === null ? null : lazy.dealIndexOf(dealKey);
    return i === null ? null : lazyId('006', i);
  };
  const meetings = Math.floor(lazy.activityCount / MEETING_EVERY);
  const taskCount = lazy.activityCount - meetings;
  // Task t is activity t + floor(t / 4) (every fifth activity is skipped: it is a meeting); Event e is 5e + 4.
  const task = new LazyTable({
    prefix: '00T',
    slots: taskCount,
    rows: taskCount,
    fields: new Set([
      'Subject',
      'Status',
      'Priority',
      'OwnerId',
      'WhatId',
      'ActivityDate',
      'TaskSubtype',
      'Type',
      'CompletedDateTime',
      'CallDurationInSeconds',
      ...SYSTEM_FIELDS,
    ]),
    make(t, id) {
      const a = lazy.activity(t + Math.floor(t / (MEETING_EVERY - 1)));
      if (a.type === 'meeting') return null;
      const kind = TASK_KIND[a.type];
      const stamp = formatSfDateTime(new Date(a.createdAt));
      // One literal, the audit fields last (as in every written row): no spread of a second object a row.
      return {
        Subject: a.subject,
        Status: a.completed ? 'Completed' : 'Not Started',
        Priority: 'Normal',
        OwnerId: userOf(a.ownerKey),
        WhatId: whatOf(a.dealKey),
        ActivityDate: a.date,
        TaskSubtype: a.type === 'email' && a.bulk ? 'ListEmail' : kind.subtype,
        Type: kind.type,
        CompletedDateTime: a.completed ? stamp : null,
        CallDurationInSeconds: a.type === 'call' && a.durationMinutes !== null ? a.durationMinutes * 60 : null,
        Id: id,
        CreatedDate: stamp,
        CreatedById: admin,
        SystemModstamp: stamp,
        LastModifiedDate: stamp,
        LastModifiedById: admin,
        IsDeleted: false,
      };
    },
  });
  const event = new LazyTable({
    prefix: '00U',
    slots: meetings,
    rows: meetings,
    fields: new Set([
      'Subject',
      'OwnerId',
      'WhatId',
      'ActivityDate',
      'ActivityDateTime',
      'StartDateTime',
      'EndDateTime',
      'DurationInMinutes',
      'Type',
      'EventSubtype',
      ...SYSTEM_FIELDS,
    ]),
    make(e, id) {
      const a = lazy.activity(e * MEETING_EVERY + MEETING_EVERY - 1);
      const start = new Date(a.createdAt);
      const minutes = a.durationMinutes ?? 30;
      const stamp = formatSfDateTime(start);
      return {
        Subject: a.subject,
        OwnerId: userOf(a.ownerKey),
        WhatId: whatOf(a.dealKey),
        ActivityDate: a.date,
        ActivityDateTime: stamp,
        StartDateTime: stamp,
        EndDateTime: formatSfDateTime(new Date(start.getTime() + minutes * 60_000)),
        DurationInMinutes: minutes,
        Type: 'Meeting',
        EventSubtype: 'Event',
        Id: id,
        CreatedDate: stamp,
        CreatedById: admin,
        SystemModstamp: stamp,
        LastModifiedDate: stamp,
        LastModifiedById: admin,
        IsDeleted: false,
      };
    },
  });
  store.attachTable('Opportunity', opportunity);
  store.attachTable('OpportunityHistory', history);
  store.attachTable('Task', task);
  store.attachTable('Event', event);
  return { lazy, userIds };
}
