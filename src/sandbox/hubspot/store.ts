/**
 * The HubSpot sandbox's records: CRM objects by type (properties as strings, as HubSpot returns them, with their
 * property history), associations, owners, users, teams, pipelines, property definitions, custom object schemas and
 * exchange rates, around an org clock.
 *
 * Stamps behave as HubSpot's do: a write stamps `hs_lastmodifieddate` (`lastmodifieddate` on contacts) and
 * `updatedAt` with the store clock's millisecond, so writes in one tick share it; archiving does not move the stamp
 * (HubSpot's recycle bin keeps the last stamp), restoring does; a late commit is a write stamped earlier than writes
 * already visible. Every write gets a commit sequence number, the order in which readers could first see it.
 */
import { AppError } from '../../errors.ts';
import { OBJECT_TYPES, type ObjectTypeDef } from './objects.ts';

export type PropValue = string | null;
export type Props = Record<string, PropValue>;

export interface HistoryEntry {
  value: string;
  /** ms since the epoch. */
  timestamp: number;
  sourceType: string;
  sourceId?: string;
}

export interface HsRecord {
  id: number;
  props: Props;
  /** Property histories (newest first) of properties written after creation; others answer with their value. */
  history: Record<string, HistoryEntry[]> | null;
  createdAt: number;
  updatedAt: number;
  archived: boolean;
  archivedAt: number | null;
  /** Commit order: the n-th write the store accepted. */
  seq: number;
}

export interface ChangeEvent {
  kind: 'creation' | 'propertyChange' | 'deletion' | 'restore';
  type: string;
  id: number;
  propertyName?: string;
  propertyValue?: string | null;
  /** Org-clock ms. */
  occurredAt: number;
  source: string;
}

export interface Owner {
  id: number;
  userId: number | null;
  /** The user id even when the user is deactivated (then `userId` is null). */
  userIdIncludingInactive: number;
  email: string;
  firstName: string;
  lastName: string;
  type: 'PERSON' | 'QUEUE';
  teams: { id: string; name: string; primary: boolean }[];
  archived: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface HsUser {
  id: number;
  email: string;
  roleId: string | null;
  primaryTeamId: string | null;
  secondaryTeamIds: string[];
  superAdmin: boolean;
}

export interface HsTeam {
  id: string;
  name: string;
  userIds: string[];
  secondaryUserIds: string[];
}

export interface Stage {
  id: string;
  label: string;
  displayOrder: number;
  /** HubSpot sends both as strings: `isClosed` "true"/"false", `probability` "0.1". */
  metadata: { isClosed: string; probability: string };
  createdAt: number;
  updatedAt: number;
  archived: boolean;
}

export interface Pipeline {
  id: string;
  label: string;
  displayOrder: number;
  stages: Stage[];
  createdAt: number;
  updatedAt: number;
  archived: boolean;
}

export interface PropertyDef {
  name: string;
  label: string;
  type: string;
  fieldType: string;
  groupName: string;
  description: string;
  options: { label: string; value: string; displayOrder: number; hidden: boolean }[];
  hasUniqueValue: boolean;
  calculated: boolean;
  externalOptions: boolean;
  hidden: boolean;
  formField: boolean;
  displayOrder: number;
  hubspotDefined?: boolean;
  modificationMetadata: { archivable: boolean; readOnlyDefinition: boolean; readOnlyValue: boolean };
  createdAt: string;
  updatedAt: string;
  archived: boolean;
}

export interface PropertyGroup {
  name: string;
  label: string;
  displayOrder: number;
  archived: boolean;
}

export interface ExchangeRate {
  id: string;
  /** The company (home) currency. */
  fromCurrencyCode: string;
  toCurrencyCode: string;
  /** Units of `toCurrencyCode` per one unit of the home currency. */
  conversionRate: string;
  effectiveAt: number;
  visibleInUi: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface CustomSchema {
  id: string;
  objectTypeId: string;
  name: string;
  fullyQualifiedName: string;
  labels: { singular: string; plural: string };
  primaryDisplayProperty: string;
  requiredProperties: string[];
  searchableProperties: string[];
  secondaryDisplayProperties: string[];
  associatedObjects: string[];
  createdAt: number;
  updatedAt: number;
  archived: boolean;
}

interface Table {
  def: ObjectTypeDef;
  rows: Map<number, HsRecord>;
  /** Ids in ascending order (ids only grow, so appending keeps it sorted). */
  order: number[];
  nextId: number;
}

/** Association links from one record to one type: flat pairs [toId, typeId, toId, typeId, ...]. */
type Links = number[];

export interface WriteOptions {
  /** The stamp to write (a late commit passes one in the past); default the store clock. */
  stamp?: number;
  source?: string;
  /** Record no webhook event (population). */
  quiet?: boolean;
}

const ID_BASES: Readonly<Record<string, number>> = {
  contacts: 51_000_000,
  companies: 18_000_000_000,
  deals: 14_000_000_000,
  line_items: 9_100_000_000,
  tasks: 61_000_000_000,
  notes: 62_000_000_000,
  meetings: 63_000_000_000,
  calls: 64_000_000_000,
  emails: 65_000_000_000,
  goal_targets: 300_000_000,
  users: 700_000,
  leads: 27_000_000_000,
};

export class HubSpotStore {
  readonly portalId: number;
  readonly timezone: string;
  homeCurrency: string;
  private clockMs: number;
  private seq = 0;
  private readonly tables = new Map<string, Table>();
  private readonly aliases = new Map<string, string>();
  private readonly links = new Map<string, Map<number, Map<string, Links>>>();
  readonly owners = new Map<number, Owner>();
  readonly users = new Map<number, HsUser>();
  readonly teams = new Map<string, HsTeam>();
  readonly pipelines = new Map<string, Pipeline[]>();
  readonly properties = new Map<string, PropertyDef[]>();
  readonly groups = new Map<string, PropertyGroup[]>();
  readonly schemas: CustomSchema[] = [];
  readonly rates: ExchangeRate[] = [];
  /** The generator's key of each deal it rendered (by HubSpot id): the oracle's CRM-neutral deal identity. */
  readonly dealKeys = new Map<number, string>();
  /** Currencies the portal has (home first). */
  readonly currencies: string[] = [];
  /**
   * The portal has the leads object (Sales Hub Professional and up). Without it the `leads` type answers as an
   * unknown object type, and the org's leads are contacts with their lifecycle stage dates (populate.ts).
   */
  leadsObject = true;
  private listeners: ((e: ChangeEvent) => void)[] = [];
  private nextCustom = 1;

  constructor(opts: { seed: number; now: Date; timezone?: string; homeCurrency?: string }) {
    this.portalId = 20_000_000 + (Math.abs(opts.seed * 7919) % 9_000_000);
    this.timezone = opts.timezone ?? 'America/New_York';
    this.homeCurrency = opts.homeCurrency ?? 'USD';
    this.clockMs = opts.now.getTime();
    for (const d of OBJECT_TYPES) this.addTable(d);
  }

  private addTable(def: ObjectTypeDef): void {
    this.tables.set(def.name, { def, rows: new Map(), order: [], nextId: ID_BASES[def.name] ?? 1_000_000 });
    this.aliases.set(def.name.toLowerCase(), def.name);
    this.aliases.set(def.objectTypeId, def.name);
    for (const a of def.aliases) this.aliases.set(a.toLowerCase(), def.name);
  }

  // ---- clock ----

  now(): Date {
    return new Date(this.clockMs);
  }
  nowMs(): number {
    return this.clockMs;
  }
  advance(ms: number): void {
    this.clockMs += ms;
  }
  setNow(d: Date): void {
    this.clockMs = d.getTime();
  }

  // ---- types ----

  /** The canonical type name for a path segment (`deal`, `deals`, `0-3`, `p123_scorecard`, `2-7`), or undefined. */
  typeName(segment: string): string | undefined {
    const t = this.aliases.get(segment.toLowerCase()) ?? this.aliases.get(segment);
    // A portal without the leads object does not know the type: HubSpot answers "Unable to infer object type".
    return t === 'leads' && !this.leadsObject ? undefined : t;
  }

  typeDef(name: string): ObjectTypeDef {
    const t = this.tables.get(name);
    if (!t) throw new AppError('NOT_FOUND', `no HubSpot object type ${name}`, { where: name });
    return t.def;
  }

  typeNames(): string[] {
    return [...this.tables.keys()];
  }

  /** Registers a custom object type (schemas API). */
  addCustomType(schema: Omit<CustomSchema, 'id' | 'objectTypeId' | 'fullyQualifiedName'>): CustomSchema {
    const n = this.nextCustom++;
    const objectTypeId = `2-${1_000_000 + n * 137}`;
    const full: CustomSchema = {
      ...schema,
      id: String(1_000_000 + n * 137),
      objectTypeId,
      fullyQualifiedName: `p${this.portalId}_${schema.name}`,
    };
    this.schemas.push(full);
    const def: ObjectTypeDef = {
      name: schema.name,
      objectTypeId,
      aliases: [full.fullyQualifiedName],
      stampProperty: 'hs_lastmodifieddate',
      createdProperty: 'hs_createdate',
      defaultProperties: ['hs_createdate', 'hs_lastmodifieddate', 'hs_object_id', schema.primaryDisplayProperty],
      writable: true,
      custom: true,
    };
    this.addTable(def);
    this.tables.get(schema.name)!.nextId = 40_000_000_000 + n * 1_000_000;
    return full;
  }

  // ---- records ----

  private table(type: string): Table {
    const t = this.tables.get(type);
    if (!t) throw new AppError('NOT_FOUND', `no HubSpot object type ${type}`, { where: type });
    return t;
  }

  onChange(listener: (e: ChangeEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  private emit(e: ChangeEvent, opts: WriteOptions): void {
    if (opts.quiet || this.listeners.length === 0) return;
    for (const l of this.listeners) l(e);
  }

  /** The next id of a type, leaving small gaps as HubSpot's ids do. */
  private newId(t: Table): number {
    const id = t.nextId;
    t.nextId += 1 + (id % 7 === 0 ? 3 : 0);
    return id;
  }

  /**
   * Creates a record. `history` gives property histories (newest first) for properties that changed before now;
   * `createdAt` and `stamp` default to the clock.
   */
  create(
    type: string,
    props: Props,
    opts: WriteOptions & { createdAt?: number; history?: Record<string, HistoryEntry[]> } = {},
  ): HsRecord {
    const t = this.table(type);
    const id = this.newId(t);
    const stamp = opts.stamp ?? this.clockMs;
    const createdAt = opts.createdAt ?? stamp;
    const rec: HsRecord = {
      id,
      props,
      history: opts.history ?? null,
      createdAt,
      updatedAt: stamp,
      archived: false,
      archivedAt: null,
      seq: ++this.seq,
    };
    props.hs_object_id = String(id);
    props[t.def.createdProperty] = new Date(createdAt).toISOString();
    props[t.def.stampProperty] = new Date(stamp).toISOString();
    t.rows.set(id, rec);
    t.order.push(id);
    this.emit({ kind: 'creation', type, id, occurredAt: stamp, source: opts.source ?? 'CRM_UI' }, opts);
    return rec;
  }

  get(type: string, id: number | string, opts: { archived?: boolean } = {}): HsRecord | undefined {
    const rec = this.tables.get(type)?.rows.get(Number(id));
    if (!rec) return undefined;
    if (opts.archived === undefined) return rec.archived ? undefined : rec;
    return rec.archived === opts.archived ? rec : undefined;
  }

  /** Live or archived, whichever it is. */
  peek(type: string, id: number | string): HsRecord | undefined {
    return this.tables.get(type)?.rows.get(Number(id));
  }

  /**
   * Writes properties (null clears one), recording each changed value in its history, and moves the stamp. With
   * `stamp` in the past this is a late commit: visible from now on, stamped then.
   */
  update(type: string, id: number | string, props: Props, opts: WriteOptions = {}): HsRecord {
    const t = this.table(type);
    const rec = t.rows.get(Number(id));
    if (!rec || rec.archived)
      throw new AppError('NOT_FOUND', `no live ${type} ${String(id)} in the HubSpot sandbox`, { where: String(id) });
    const stamp = opts.stamp ?? this.clockMs;
    const source = opts.source ?? 'CRM_UI';
    for (const [k, v] of Object.entries(props)) {
      const before = rec.props[k] ?? null;
      if (before === v) continue;
      if (!rec.history) rec.history = {};
      let h = rec.history[k];
      if (!h) {
        h = before !== null ? [{ value: before, timestamp: rec.createdAt, sourceType: 'CRM_UI' }] : [];
        rec.history[k] = h;
      }
      // A cleared value is recorded as an empty string, as HubSpot's history shows it.
      h.unshift({ value: v ?? '', timestamp: stamp, sourceType: source });
      rec.props[k] = v;
      this.emit(
        { kind: 'propertyChange', type, id: rec.id, propertyName: k, propertyValue: v, occurredAt: stamp, source },
        opts,
      );
    }
    rec.updatedAt = stamp;
    rec.props[t.def.stampProperty] = new Date(stamp).toISOString();
    rec.seq = ++this.seq;
    return rec;
  }

  /** Moves a record to the recycle bin: archived, `archivedAt` now, its modification stamp unchanged. */
  archive(type: string, id: number | string, opts: WriteOptions = {}): void {
    const rec = this.get(type, id);
    if (!rec) throw new AppError('NOT_FOUND', `no live ${type} ${String(id)} to archive`, { where: String(id) });
    rec.archived = true;
    rec.archivedAt = this.clockMs;
    rec.seq = ++this.seq;
    this.emit({ kind: 'deletion', type, id: rec.id, occurredAt: this.clockMs, source: opts.source ?? 'CRM_UI' }, opts);
  }

  /** Restores an archived record; the restore is a write and moves the stamp. */
  restore(type: string, id: number | string, opts: WriteOptions = {}): HsRecord {
    const t = this.table(type);
    const rec = t.rows.get(Number(id));
    if (!rec?.archived) throw new AppError('NOT_FOUND', `no archived ${type} ${String(id)}`, { where: String(id) });
    rec.archived = false;
    rec.archivedAt = null;
    const stamp = opts.stamp ?? this.clockMs;
    rec.updatedAt = stamp;
    rec.props[t.def.stampProperty] = new Date(stamp).toISOString();
    rec.seq = ++this.seq;
    this.emit({ kind: 'restore', type, id: rec.id, occurredAt: stamp, source: opts.source ?? 'CRM_UI' }, opts);
    return rec;
  }

  /** Records of a type in id order, from id `from` on (inclusive). */
  *scan(type: string, opts: { archived?: boolean; from?: number } = {}): Generator<HsRecord> {
    const t = this.table(type);
    const order = t.order;
    let lo = 0;
    if (opts.from !== undefined) {
      let hi = order.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((order[mid] as number) < opts.from) lo = mid + 1;
        else hi = mid;
      }
    }
    const archived = opts.archived ?? false;
    for (let i = lo; i < order.length; i++) {
      const rec = t.rows.get(order[i] as number) as HsRecord;
      if (rec.archived === archived) yield rec;
    }
  }

  /** Every record of a type, live and archived. */
  all(type: string): HsRecord[] {
    return [...this.table(type).rows.values()];
  }

  count(type: string, opts: { archived?: boolean } = {}): number {
    let n = 0;
    for (const r of this.table(type).rows.values()) if (r.archived === (opts.archived ?? false)) n++;
    return n;
  }

  // ---- associations ----

  /** Associates two records both ways with the HubSpot-defined types given for each direction. */
  associate(
    fromType: string,
    fromId: number,
    toType: string,
    toId: number,
    typeIds: number[],
    reverseTypeIds: number[],
  ): void {
    this.link(fromType, fromId, toType, toId, typeIds);
    this.link(toType, toId, fromType, fromId, reverseTypeIds);
  }

  private link(fromType: string, fromId: number, toType: string, toId: number, typeIds: number[]): void {
    let byId = this.links.get(fromType);
    if (!byId) {
      byId = new Map();
      this.links.set(fromType, byId);
    }
    let byType = byId.get(fromId);
    if (!byType) {
      byType = new Map();
      byId.set(fromId, byType);
    }
    let l = byType.get(toType);
    if (!l) {
      l = [];
      byType.set(toType, l);
    }
    for (const typeId of typeIds) {
      let exists = false;
      for (let i = 0; i < l.length; i += 2) if (l[i] === toId && l[i + 1] === typeId) exists = true;
      if (!exists) l.push(toId, typeId);
    }
  }

  /** Removes every association between two records (both directions). */
  unassociate(fromType: string, fromId: number, toType: string, toId: number): void {
    const drop = (a: string, aid: number, b: string, bid: number) => {
      const l = this.links.get(a)?.get(aid)?.get(b);
      if (!l) return;
      const kept: number[] = [];
      for (let i = 0; i < l.length; i += 2) if (l[i] !== bid) kept.push(l[i] as number, l[i + 1] as number);
      this.links.get(a)?.get(aid)?.set(b, kept);
    };
    drop(fromType, fromId, toType, toId);
    drop(toType, toId, fromType, fromId);
  }

  /** Associated ids of `toType`, each with its type ids, in the order they were made. */
  associations(fromType: string, fromId: number, toType: string): { toId: number; typeIds: number[] }[] {
    const l = this.links.get(fromType)?.get(fromId)?.get(toType);
    if (!l) return [];
    const out = new Map<number, number[]>();
    for (let i = 0; i < l.length; i += 2) {
      const id = l[i] as number;
      const list = out.get(id);
      if (list) list.push(l[i + 1] as number);
      else out.set(id, [l[i + 1] as number]);
    }
    return [...out].map(([toId, typeIds]) => ({ toId, typeIds }));
  }

  // ---- exchange rates ----

  /** The rate (units per home unit) in force at an instant for a currency; "1" for the home currency. */
  rateAt(currency: string, atMs: number): string | null {
    if (currency === this.homeCurrency) return '1';
    let best: ExchangeRate | null = null;
    for (const r of this.rates) {
      if (r.toCurrencyCode !== currency || r.effectiveAt > atMs) continue;
      if (!best || r.effectiveAt > best.effectiveAt) best = r;
    }
    return best?.conversionRate ?? null;
  }
}
