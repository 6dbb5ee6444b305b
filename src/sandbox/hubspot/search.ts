/**
 * The CRM search endpoint's query language as HubSpot documents it: filter groups ORed, filters inside a group
 * ANDed, operators EQ, NEQ, LT, LTE, GT, GTE, BETWEEN, IN, NOT_IN, HAS_PROPERTY, NOT_HAS_PROPERTY, CONTAINS_TOKEN,
 * NOT_CONTAINS_TOKEN; one sort; a free-text `query` over a few default text properties. Numbers compare as numbers,
 * datetimes as instants (filter values as epoch milliseconds or ISO text), everything else as case-insensitive text.
 *
 * Limits (each a 400 with HubSpot's VALIDATION_ERROR body when broken): at most 5 filter groups, 6 filters in a
 * group and 18 filters in all; one sort; `limit` at most 200; `after` below 10,000 (the 10,000-result cap).
 */
import type { HsRecord, PropertyDef } from './store.ts';

export interface Filter {
  propertyName: string;
  operator: string;
  value?: string | number | boolean;
  highValue?: string | number;
  values?: (string | number)[];
}

export interface SearchRequest {
  filterGroups?: { filters?: Filter[] }[];
  sorts?: (string | { propertyName: string; direction?: 'ASCENDING' | 'DESCENDING' })[];
  query?: string;
  properties?: string[];
  limit?: number;
  after?: string | number;
}

export const SEARCH_LIMITS = {
  maxGroups: 5,
  maxFiltersPerGroup: 6,
  maxFilters: 18,
  maxPageSize: 200,
  maxResults: 10_000,
} as const;

export class SearchError extends Error {}

type Kind = 'number' | 'datetime' | 'text';

/** HubSpot's stamps, datetimes on every object (leads, goal targets and users list no definition of them here). */
const STAMPS: ReadonlySet<string> = new Set(['hs_lastmodifieddate', 'lastmodifieddate', 'hs_createdate', 'createdate']);

function kindOf(defs: ReadonlyMap<string, PropertyDef>, name: string): Kind {
  if (name === 'hs_object_id') return 'number';
  const t = defs.get(name)?.type ?? (STAMPS.has(name) ? 'datetime' : undefined);
  if (t === 'number') return 'number';
  if (t === 'datetime' || t === 'date') return 'datetime';
  return 'text';
}

function asNumber(kind: Kind, v: unknown): number {
  if (kind === 'datetime') {
    if (typeof v === 'number') return v;
    const s = String(v);
    return /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  }
  return Number(v);
}

function compare(kind: Kind, a: string, b: unknown): number {
  if (kind === 'text') {
    const x = a.toLowerCase();
    const y = String(b).toLowerCase();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return asNumber(kind, a) - asNumber(kind, b);
}

/** Checks the request's shape and limits; throws SearchError with HubSpot's message. */
export function validateSearch(req: SearchRequest): void {
  const groups = req.filterGroups ?? [];
  if (groups.length > SEARCH_LIMITS.maxGroups)
    throw new SearchError(`Too many filter groups (${groups.length}). The maximum number of filter groups is 5.`);
  let total = 0;
  for (const g of groups) {
    const n = g.filters?.length ?? 0;
    if (n > SEARCH_LIMITS.maxFiltersPerGroup)
      throw new SearchError(`Too many filters in a filter group (${n}). The maximum is 6 filters per group.`);
    total += n;
  }
  if (total > SEARCH_LIMITS.maxFilters)
    throw new SearchError(`Too many filters (${total}). The maximum number of filters is 18.`);
  if ((req.sorts?.length ?? 0) > 1) throw new SearchError('Only one sort is supported.');
  const limit = req.limit ?? 10;
  if (!Number.isInteger(limit) || limit < 0 || limit > SEARCH_LIMITS.maxPageSize)
    throw new SearchError(`limit must be between 0 and 200, got ${String(req.limit)}`);
}

function matches(rec: HsRecord, f: Filter, defs: ReadonlyMap<string, PropertyDef>): boolean {
  const kind = kindOf(defs, f.propertyName);
  const v = f.propertyName === 'hs_object_id' ? String(rec.id) : (rec.props[f.propertyName] ?? null);
  switch (f.operator) {
    case 'HAS_PROPERTY':
      return v !== null && v !== '';
    case 'NOT_HAS_PROPERTY':
      return v === null || v === '';
    case 'EQ':
      return v !== null && compare(kind, v, f.value) === 0;
    case 'NEQ':
      return v === null || compare(kind, v, f.value) !== 0;
    case 'LT':
      return v !== null && compare(kind, v, f.value) < 0;
    case 'LTE':
      return v !== null && compare(kind, v, f.value) <= 0;
    case 'GT':
      return v !== null && compare(kind, v, f.value) > 0;
    case 'GTE':
      return v !== null && compare(kind, v, f.value) >= 0;
    case 'BETWEEN':
      return v !== null && compare(kind, v, f.value) >= 0 && compare(kind, v, f.highValue) <= 0;
    case 'IN':
      return v !== null && (f.values ?? []).some((x) => compare(kind, v, x) === 0);
    case 'NOT_IN':
      return v === null || !(f.values ?? []).some((x) => compare(kind, v, x) === 0);
    case 'CONTAINS_TOKEN':
      return v !== null && tokenMatch(v, String(f.value ?? ''));
    case 'NOT_CONTAINS_TOKEN':
      return v === null || !tokenMatch(v, String(f.value ?? ''));
    default:
      throw new SearchError(`Unknown filter operator ${f.operator}`);
  }
}

/** CONTAINS_TOKEN: a whole word, `*` a wildcard. */
function tokenMatch(value: string, token: string): boolean {
  const re = new RegExp(`(^|\\W)${token.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}($|\\W)`, 'i');
  return re.test(value);
}

/** The matching records, sorted, before paging. */
export function runSearch(
  records: Iterable<HsRecord>,
  req: SearchRequest,
  defs: ReadonlyMap<string, PropertyDef>,
  queryProps: readonly string[],
): HsRecord[] {
  const groups = (req.filterGroups ?? []).filter((g) => (g.filters?.length ?? 0) > 0);
  const q = req.query?.trim().toLowerCase();
  const out: HsRecord[] = [];
  for (const r of records) {
    if (groups.length > 0 && !groups.some((g) => (g.filters ?? []).every((f) => matches(r, f, defs)))) continue;
    if (q && !queryProps.some((p) => (r.props[p] ?? '').toLowerCase().includes(q))) continue;
    out.push(r);
  }
  const sort = req.sorts?.[0];
  if (sort) {
    const name = typeof sort === 'string' ? sort.replace(/^-/, '') : sort.propertyName;
    const desc = typeof sort === 'string' ? sort.startsWith('-') : sort.direction === 'DESCENDING';
    const kind = kindOf(defs, name);
    const val = (r: HsRecord): string | null => (name === 'hs_object_id' ? String(r.id) : (r.props[name] ?? null));
    out.sort((a, b) => {
      const va = val(a);
      const vb = val(b);
      // Records without the property sort last, ties by id: a stable order for paging.
      let c = va === null ? (vb === null ? 0 : 1) : vb === null ? -1 : compare(kind, va, vb) * (desc ? -1 : 1);
      if (c === 0) c = a.id - b.id;
      return c;
    });
  }
  return out;
}
