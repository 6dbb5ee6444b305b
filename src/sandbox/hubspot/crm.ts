/**
 * The CRM APIs the sandbox serves, as HubSpot's reference documents them: objects v3 (list, read, create, update,
 * archive, batch read / create / update / upsert / archive, search), associations v4, properties and groups,
 * custom object schemas, owners, pipelines, the settings users / teams / currencies APIs and the account's details.
 *
 * Page sizes: lists 100 at most (50 when `propertiesWithHistory` is asked for); batch calls 100 inputs (50 for a
 * batch read with history; 1,000 for an associations batch read); search 200 a page and 10,000 results a query.
 */
import { randomUUID } from 'node:crypto';
import { Dec } from '../../util/money.ts';
import { associationType, associationTypes, ENGAGEMENTS } from './objects.ts';
import { homeAmount } from './populate.ts';
import { groupNameOf, makeProperty } from './properties.ts';
import { runSearch, SEARCH_LIMITS, SearchError, type SearchRequest, validateSearch } from './search.ts';
import type { HsRecord, HubSpotStore, Owner, PropertyDef, Props } from './store.ts';

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Records in the body, for the request log. */
  records?: number;
}

export const LIST_MAX = 100;
export const HISTORY_PAGE_MAX = 50;
export const BATCH_MAX = 100;
export const ASSOCIATION_BATCH_MAX = 1000;
/**
 * Associations one batch-read result holds for one record ⚠ (HubSpot does not say; the sandbox takes the 500 its
 * per-record list pages by): a record with more gets `paging.next.after`, to be sent back beside its id.
 */
export const ASSOCIATION_RESULT_PAGE = 500;

/** A batch-read paging token (opaque to a client, as HubSpot's are): the offset into the record's associations. */
function associationAfter(offset: number): string {
  return Buffer.from(`assoc:${offset}`).toString('base64url');
}

function associationOffset(after: unknown): number | null {
  if (after === undefined || after === null || after === '') return 0;
  const m = /^assoc:(\d+)$/.exec(Buffer.from(String(after), 'base64url').toString());
  return m ? Number(m[1]) : null;
}

/** HubSpot's error body: status, message, correlationId, category, and context or errors when there are some. */
export function hsError(status: number, category: string, message: string, extra: Record<string, unknown> = {}): Reply {
  return { status, body: { status: 'error', message, correlationId: randomUUID(), category, ...extra } };
}

export function notFound(): Reply {
  return hsError(404, 'OBJECT_NOT_FOUND', 'resource not found');
}

export class ApiError extends Error {
  constructor(readonly reply: Reply) {
    super(String((reply.body as { message?: string }).message));
  }
}

function validation(message: string, extra: Record<string, unknown> = {}): never {
  throw new ApiError(hsError(400, 'VALIDATION_ERROR', message, extra));
}

export interface CrmContext {
  store: HubSpotStore;
  baseUrl: string;
  /** The portal can create custom object schemas (Enterprise); false on the `no-custom-objects` profile. */
  customObjects: boolean;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Comma-separated and repeated query parameters alike. */
function listParam(url: URL, name: string): string[] {
  return url.searchParams
    .getAll(name)
    .flatMap((v) => v.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function intParam(url: URL, name: string, dflt: number): number {
  const v = url.searchParams.get(name);
  if (v === null || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) validation(`${name} must be a non-negative integer, got "${v}"`);
  return n;
}

function propsOf(ctx: CrmContext, type: string, rec: HsRecord, names: readonly string[] | null): Props {
  const def = ctx.store.typeDef(type);
  const wanted = names && names.length > 0 ? names : def.defaultProperties;
  const out: Props = {};
  for (const n of wanted) {
    if (n === 'hs_object_id') out[n] = String(rec.id);
    else if (n in rec.props) out[n] = rec.props[n] ?? null;
    else if (knownProperty(ctx, type, n)) out[n] = null;
  }
  // The id and the stamps always come back, as they do from HubSpot.
  out.hs_object_id = String(rec.id);
  out[def.createdProperty] = rec.props[def.createdProperty] ?? iso(rec.createdAt);
  out[def.stampProperty] = rec.props[def.stampProperty] ?? iso(rec.updatedAt);
  return out;
}

function knownProperty(ctx: CrmContext, type: string, name: string): boolean {
  return (ctx.store.properties.get(type) ?? []).some((p) => p.name === name);
}

function historyOf(rec: HsRecord, names: readonly string[]): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const n of names) {
    const h = rec.history?.[n];
    const entries =
      h ??
      (rec.props[n] !== null && rec.props[n] !== undefined
        ? [{ value: rec.props[n], timestamp: rec.createdAt, sourceType: 'CRM_UI' }]
        : []);
    out[n] = entries.map((e) => ({ value: e.value, timestamp: iso(e.timestamp), sourceType: e.sourceType }));
  }
  return out;
}

function labelOf(from: string, to: string, typeId: number): { category: string; typeId: number; label: string | null } {
  const t = associationType(from, to);
  const primary = t?.primaryTypeId === typeId;
  return { category: 'HUBSPOT_DEFINED', typeId, label: primary ? 'Primary' : null };
}

function singular(type: string): string {
  return type.replace(/ies$/, 'y').replace(/s$/, '');
}

export function objectJson(
  ctx: CrmContext,
  type: string,
  rec: HsRecord,
  opts: { properties?: readonly string[] | null; history?: readonly string[]; associations?: readonly string[] } = {},
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: String(rec.id),
    properties: propsOf(ctx, type, rec, opts.properties ?? null),
    createdAt: iso(rec.createdAt),
    updatedAt: iso(rec.updatedAt),
    archived: rec.archived,
  };
  if (rec.archived && rec.archivedAt !== null) out.archivedAt = iso(rec.archivedAt);
  if (opts.history && opts.history.length > 0) out.propertiesWithHistory = historyOf(rec, opts.history);
  if (opts.associations && opts.associations.length > 0) {
    const assoc: Record<string, unknown> = {};
    for (const seg of opts.associations) {
      const to = ctx.store.typeName(seg);
      if (!to) continue;
      const links = ctx.store.associations(type, rec.id, to);
      if (links.length === 0) continue;
      assoc[to] = {
        results: links.flatMap((l) =>
          l.typeIds.map((typeId) => {
            const primary = associationType(type, to)?.primaryTypeId === typeId;
            return { id: String(l.toId), type: `${singular(type)}_to_${singular(to)}${primary ? '' : '_unlabeled'}` };
          }),
        ),
      };
    }
    if (Object.keys(assoc).length > 0) out.associations = assoc;
  }
  return out;
}

/** A write's answer names the default properties and every property written, as HubSpot's does. */
function wrote(ctx: CrmContext, type: string, props: Props): { properties: string[] } {
  return { properties: [...ctx.store.typeDef(type).defaultProperties, ...Object.keys(props)] };
}

/** The object type named by a path segment, or a 404 reply. */
function typeOrThrow(ctx: CrmContext, segment: string): string {
  const t = ctx.store.typeName(decodeURIComponent(segment));
  if (!t) throw new ApiError(hsError(400, 'VALIDATION_ERROR', `Unable to infer object type from: ${segment}`));
  return t;
}

function writableOrThrow(ctx: CrmContext, type: string): void {
  if (!ctx.store.typeDef(type).writable) {
    throw new ApiError(
      hsError(
        403,
        'MISSING_SCOPES',
        `${type} are read-only through the API: create and edit them in HubSpot's goals tool.`,
      ),
    );
  }
}

/** Property values checked against the type's definitions: unknown properties and read-only values are errors. */
function checkProps(ctx: CrmContext, type: string, props: unknown): { ok: Props } | { errors: unknown[] } {
  if (props === null || typeof props !== 'object' || Array.isArray(props))
    return { errors: [{ message: 'properties must be an object', error: 'INVALID_INPUT' }] };
  const defs = new Map((ctx.store.properties.get(type) ?? []).map((p) => [p.name, p]));
  const errors: unknown[] = [];
  const ok: Props = {};
  for (const [name, raw] of Object.entries(props as Record<string, unknown>)) {
    const d = defs.get(name);
    if (!d) {
      errors.push({
        isValid: false,
        message: `Property "${name}" does not exist`,
        error: 'PROPERTY_DOESNT_EXIST',
        name,
      });
      continue;
    }
    if (d.modificationMetadata.readOnlyValue) {
      errors.push({
        isValid: false,
        message: `"${name}" is a read only property; its value cannot be set.`,
        error: 'READ_ONLY_VALUE',
        name,
      });
      continue;
    }
    const v = raw === null || raw === undefined ? null : String(raw);
    if (v !== null && v !== '' && d.type === 'number' && !/^-?\d+(\.\d+)?$/.test(v)) {
      errors.push({ isValid: false, message: `${v} was not a valid number.`, error: 'INVALID_INTEGER', name });
      continue;
    }
    if (
      v !== null &&
      v !== '' &&
      d.type === 'enumeration' &&
      d.options.length > 0 &&
      !d.options.some((o) => o.value === v)
    ) {
      errors.push({
        isValid: false,
        message: `${v} was not one of the allowed options`,
        error: 'INVALID_OPTION',
        name,
      });
      continue;
    }
    ok[name] = v === '' ? null : v;
  }
  return errors.length ? { errors } : { ok };
}

function propertyError(errors: unknown[]): Reply {
  return hsError(400, 'VALIDATION_ERROR', `Property values were not valid: ${JSON.stringify(errors)}`, {
    errors: errors.map((e) => ({ message: (e as { message: string }).message, code: (e as { error: string }).error })),
  });
}

/** Applies the side effects HubSpot computes on a deal write: closed flags, probability, the home amount. */
export function dealDerived(ctx: CrmContext, rec: HsRecord | null, props: Props): Props {
  const merged = { ...(rec?.props ?? {}), ...props };
  const out: Props = { ...props };
  const pipeline = (ctx.store.pipelines.get('deals') ?? []).find((p) => p.id === (merged.pipeline ?? 'default'));
  const stage = pipeline?.stages.find((s) => s.id === merged.dealstage);
  if (stage && ('dealstage' in props || 'pipeline' in props)) {
    out.hs_is_closed = stage.metadata.isClosed;
    out.hs_is_closed_won = String(stage.metadata.isClosed === 'true' && Number(stage.metadata.probability) === 1);
    if (!('hs_deal_stage_probability' in props)) out.hs_deal_stage_probability = stage.metadata.probability;
  }
  if ('amount' in props || 'deal_currency_code' in props || 'dealstage' in props || 'closedate' in props) {
    const closed = (out.hs_is_closed ?? merged.hs_is_closed) === 'true';
    const currency = merged.deal_currency_code ?? ctx.store.homeCurrency;
    const at = closed && merged.closedate ? Date.parse(merged.closedate) : ctx.store.nowMs();
    out.amount_in_home_currency = homeAmount(merged.amount ?? null, ctx.store.rateAt(currency, at));
  }
  return out;
}

function createRecord(ctx: CrmContext, type: string, props: Props, associations: unknown): HsRecord {
  const derived = type === 'deals' ? dealDerived(ctx, null, props) : props;
  const rec = ctx.store.create(type, { ...derived }, { source: 'INTEGRATION' });
  for (const a of Array.isArray(associations) ? associations : []) {
    const toId = Number((a as { to?: { id?: unknown } }).to?.id);
    const types = ((a as { types?: { associationTypeId?: number }[] }).types ?? []).map((t) =>
      Number(t.associationTypeId),
    );
    const toType = associationTargetOf(type, types[0] ?? 0);
    if (!toType || !ctx.store.get(toType, toId)) continue;
    const back = associationType(toType, type);
    ctx.store.associate(type, rec.id, toType, toId, types, back ? [back.typeId] : []);
  }
  return rec;
}

/** The object type an association type id points to from `from`. */
function associationTargetOf(from: string, typeId: number): string | undefined {
  return associationTypes().find((t) => t.from === from && (t.typeId === typeId || t.primaryTypeId === typeId))?.to;
}

function findByProperty(ctx: CrmContext, type: string, prop: string, value: string): HsRecord | undefined {
  if (prop === 'hs_object_id') return ctx.store.get(type, value);
  const v = value.toLowerCase();
  for (const r of ctx.store.scan(type)) if ((r.props[prop] ?? '').toLowerCase() === v) return r;
  return undefined;
}

function isUniqueProperty(ctx: CrmContext, type: string, prop: string): boolean {
  if (prop === 'hs_object_id' || (type === 'contacts' && prop === 'email')) return true;
  return (ctx.store.properties.get(type) ?? []).some((p) => p.name === prop && p.hasUniqueValue);
}

function batchResult(results: unknown[], errors: unknown[], startedAt: string, created = false): Reply {
  const body: Record<string, unknown> = {
    status: 'COMPLETE',
    results,
    startedAt,
    // wall-clock: completedAt is an audit stamp of when the batch ran
    completedAt: new Date().toISOString(),
  };
  if (errors.length > 0) {
    body.numErrors = errors.length;
    body.errors = errors;
    return { status: 207, body, records: results.length };
  }
  return { status: created ? 201 : 200, body, records: results.length };
}

function inputsOf(body: unknown, max: number): Record<string, unknown>[] {
  const inputs = (body as { inputs?: unknown } | null)?.inputs;
  if (!Array.isArray(inputs)) validation('inputs must be an array');
  if (inputs.length > max)
    validation(`Batch input limit exceeded: ${inputs.length} inputs, the limit is ${max}.`, {
      context: { limit: [String(max)] },
    });
  return inputs as Record<string, unknown>[];
}

// ---- objects ----

export function objects(ctx: CrmContext, method: string, parts: string[], url: URL, body: () => unknown): Reply {
  const [typeSeg, a, b] = parts;
  const type = typeOrThrow(ctx, typeSeg ?? '');
  const startedAt = new Date().toISOString(); // wall-clock: batch responses' startedAt, an audit stamp
  if (a === undefined) {
    if (method === 'GET') return list(ctx, type, url);
    if (method === 'POST') {
      writableOrThrow(ctx, type);
      const b0 = body() as { properties?: unknown; associations?: unknown };
      const checked = checkProps(ctx, type, b0?.properties ?? {});
      if ('errors' in checked) return propertyError(checked.errors);
      return {
        status: 201,
        body: objectJson(
          ctx,
          type,
          createRecord(ctx, type, checked.ok, b0?.associations),
          wrote(ctx, type, checked.ok),
        ),
      };
    }
  }
  if (a === 'search' && method === 'POST' && b === undefined) return search(ctx, type, body() as SearchRequest);
  if (a === 'batch' && method === 'POST') {
    switch (b) {
      case 'read':
        return batchRead(ctx, type, body(), startedAt);
      case 'create':
        writableOrThrow(ctx, type);
        return batchCreate(ctx, type, body(), startedAt);
      case 'update':
        writableOrThrow(ctx, type);
        return batchUpdate(ctx, type, body(), startedAt);
      case 'upsert':
        writableOrThrow(ctx, type);
        return batchUpsert(ctx, type, body(), startedAt);
      case 'archive': {
        writableOrThrow(ctx, type);
        for (const i of inputsOf(body(), BATCH_MAX))
          if (ctx.store.get(type, String(i.id))) ctx.store.archive(type, String(i.id), { source: 'INTEGRATION' });
        return { status: 204 };
      }
    }
  }
  if (a !== undefined && a !== 'batch' && a !== 'search' && b === undefined) {
    const idProperty = url.searchParams.get('idProperty');
    const archived = url.searchParams.get('archived') === 'true';
    const rec = idProperty
      ? findByProperty(ctx, type, idProperty, decodeURIComponent(a))
      : ctx.store.get(type, a, { archived });
    if (method === 'GET') {
      if (!rec || rec.archived !== archived)
        return hsError(404, 'OBJECT_NOT_FOUND', 'Object not found.  objectId are usually numeric.', {
          context: { id: [a] },
        });
      return {
        status: 200,
        body: objectJson(ctx, type, rec, {
          properties: listParam(url, 'properties'),
          history: listParam(url, 'propertiesWithHistory'),
          associations: listParam(url, 'associations'),
        }),
        records: 1,
      };
    }
    if (method === 'PATCH') {
      writableOrThrow(ctx, type);
      if (!rec || rec.archived) return notFound();
      const checked = checkProps(ctx, type, (body() as { properties?: unknown })?.properties ?? {});
      if ('errors' in checked) return propertyError(checked.errors);
      const props = type === 'deals' ? dealDerived(ctx, rec, checked.ok) : checked.ok;
      return {
        status: 200,
        body: objectJson(
          ctx,
          type,
          ctx.store.update(type, rec.id, props, { source: 'INTEGRATION' }),
          wrote(ctx, type, props),
        ),
      };
    }
    if (method === 'DELETE') {
      writableOrThrow(ctx, type);
      if (rec && !rec.archived) ctx.store.archive(type, rec.id, { source: 'INTEGRATION' });
      return { status: 204 };
    }
  }
  return notFound();
}

function list(ctx: CrmContext, type: string, url: URL): Reply {
  const history = listParam(url, 'propertiesWithHistory');
  const max = history.length > 0 ? HISTORY_PAGE_MAX : LIST_MAX;
  const limit = Math.min(intParam(url, 'limit', 10), max);
  const afterRaw = url.searchParams.get('after');
  if (afterRaw !== null && !/^\d+$/.test(afterRaw))
    validation(`after must be a paging cursor from a previous page, got "${afterRaw}"`);
  const archived = url.searchParams.get('archived') === 'true';
  const properties = listParam(url, 'properties');
  const associations = listParam(url, 'associations');
  const results: unknown[] = [];
  let next: number | null = null;
  for (const rec of ctx.store.scan(type, { archived, ...(afterRaw !== null ? { from: Number(afterRaw) } : {}) })) {
    if (results.length === limit) {
      next = rec.id;
      break;
    }
    results.push(objectJson(ctx, type, rec, { properties, history, associations }));
  }
  const body: Record<string, unknown> = { results };
  if (next !== null) {
    const link = new URL(`${ctx.baseUrl}${url.pathname}`);
    url.searchParams.forEach((v, k) => {
      if (k !== 'after') link.searchParams.append(k, v);
    });
    link.searchParams.set('after', String(next));
    body.paging = { next: { after: String(next), link: link.toString() } };
  }
  return { status: 200, body, records: results.length };
}

function search(ctx: CrmContext, type: string, req: SearchRequest): Reply {
  try {
    validateSearch(req ?? {});
  } catch (e) {
    if (e instanceof SearchError) return hsError(400, 'VALIDATION_ERROR', e.message);
    throw e;
  }
  const after = req.after === undefined || req.after === '' ? 0 : Number(req.after);
  if (!Number.isInteger(after) || after < 0)
    return hsError(400, 'VALIDATION_ERROR', `after must be a non-negative integer, got ${String(req.after)}`);
  // The 10,000-result cap: a page starting at or beyond it is refused, as HubSpot refuses it.
  if (after >= SEARCH_LIMITS.maxResults) {
    return hsError(
      400,
      'VALIDATION_ERROR',
      `There was a problem with the request. Search results are limited to 10,000 results; after ${after} is beyond them.`,
      {
        context: { after: [String(after)] },
      },
    );
  }
  const defs = new Map<string, PropertyDef>((ctx.store.properties.get(type) ?? []).map((p) => [p.name, p]));
  const def = ctx.store.typeDef(type);
  const queryProps = def.defaultProperties.filter((p) => defs.get(p)?.type === 'string');
  let matched: HsRecord[];
  try {
    matched = runSearch(ctx.store.scan(type), req, defs, queryProps);
  } catch (e) {
    if (e instanceof SearchError) return hsError(400, 'VALIDATION_ERROR', e.message);
    throw e;
  }
  const limit = req.limit ?? 10;
  const page = matched.slice(after, Math.min(after + limit, SEARCH_LIMITS.maxResults));
  const body: Record<string, unknown> = {
    total: matched.length,
    results: page.map((r) => objectJson(ctx, type, r, { properties: req.properties ?? null })),
  };
  if (after + limit < matched.length) body.paging = { next: { after: String(after + limit) } };
  return { status: 200, body, records: page.length };
}

function batchRead(ctx: CrmContext, type: string, body: unknown, startedAt: string): Reply {
  const b = (body ?? {}) as { properties?: string[]; propertiesWithHistory?: string[]; idProperty?: string };
  const history = b.propertiesWithHistory ?? [];
  const inputs = inputsOf(body, history.length > 0 ? HISTORY_PAGE_MAX : BATCH_MAX);
  const results: unknown[] = [];
  const missing: string[] = [];
  for (const i of inputs) {
    const key = String(i.id);
    const rec = b.idProperty ? findByProperty(ctx, type, b.idProperty, key) : ctx.store.get(type, key);
    if (rec) results.push(objectJson(ctx, type, rec, { properties: b.properties ?? null, history }));
    else missing.push(key);
  }
  const errors = missing.length
    ? [
        {
          status: 'error',
          category: 'OBJECT_NOT_FOUND',
          message: `Could not get some ${singular(type).toUpperCase()} objects, they may be deleted or not exist. Check that ids are valid.`,
          context: { ids: missing },
        },
      ]
    : [];
  return batchResult(results, errors, startedAt);
}

function batchCreate(ctx: CrmContext, type: string, body: unknown, startedAt: string): Reply {
  const inputs = inputsOf(body, BATCH_MAX);
  const results: unknown[] = [];
  const errors: unknown[] = [];
  for (const i of inputs) {
    const checked = checkProps(ctx, type, i.properties ?? {});
    if ('errors' in checked) {
      errors.push({
        status: 'error',
        category: 'VALIDATION_ERROR',
        message: `Property values were not valid: ${JSON.stringify(checked.errors)}`,
        context: {
          ...(i.objectWriteTraceId !== undefined ? { objectWriteTraceId: [String(i.objectWriteTraceId)] } : {}),
        },
      });
      continue;
    }
    const rec = createRecord(ctx, type, checked.ok, i.associations);
    results.push({
      ...objectJson(ctx, type, rec, wrote(ctx, type, rec.props)),
      ...(i.objectWriteTraceId !== undefined ? { objectWriteTraceId: String(i.objectWriteTraceId) } : {}),
    });
  }
  return batchResult(results, errors, startedAt, true);
}

function batchUpdate(ctx: CrmContext, type: string, body: unknown, startedAt: string): Reply {
  const inputs = inputsOf(body, BATCH_MAX);
  const results: unknown[] = [];
  const errors: unknown[] = [];
  const missing: string[] = [];
  for (const i of inputs) {
    const key = String(i.id);
    const rec =
      typeof i.idProperty === 'string' ? findByProperty(ctx, type, i.idProperty, key) : ctx.store.get(type, key);
    if (!rec) {
      missing.push(key);
      continue;
    }
    const checked = checkProps(ctx, type, i.properties ?? {});
    if ('errors' in checked) {
      errors.push({
        status: 'error',
        category: 'VALIDATION_ERROR',
        message: `Property values were not valid: ${JSON.stringify(checked.errors)}`,
        context: { id: [key] },
      });
      continue;
    }
    const props = type === 'deals' ? dealDerived(ctx, rec, checked.ok) : checked.ok;
    results.push(
      objectJson(ctx, type, ctx.store.update(type, rec.id, props, { source: 'INTEGRATION' }), wrote(ctx, type, props)),
    );
  }
  if (missing.length)
    errors.push({
      status: 'error',
      category: 'OBJECT_NOT_FOUND',
      message: 'Object not found.  objectId are usually numeric.',
      context: { ids: missing },
    });
  return batchResult(results, errors, startedAt);
}

/**
 * Batch upsert by a unique property: each input's `id` is the property's value; an existing record is updated,
 * else one is created. A property that is not unique-valued fails the input (207), as HubSpot refuses it.
 */
function batchUpsert(ctx: CrmContext, type: string, body: unknown, startedAt: string): Reply {
  const inputs = inputsOf(body, BATCH_MAX);
  const results: unknown[] = [];
  const errors: unknown[] = [];
  for (const i of inputs) {
    const key = String(i.id ?? '');
    const idProperty = typeof i.idProperty === 'string' ? i.idProperty : 'hs_object_id';
    if (!isUniqueProperty(ctx, type, idProperty)) {
      errors.push({
        status: 'error',
        category: 'VALIDATION_ERROR',
        message: `Property "${idProperty}" is not a unique value property; upsert needs one.`,
        context: { id: [key], idProperty: [idProperty] },
      });
      continue;
    }
    const checked = checkProps(ctx, type, i.properties ?? {});
    if ('errors' in checked) {
      errors.push({
        status: 'error',
        category: 'VALIDATION_ERROR',
        message: `Property values were not valid: ${JSON.stringify(checked.errors)}`,
        context: { id: [key] },
      });
      continue;
    }
    const existing = findByProperty(ctx, type, idProperty, key);
    if (existing) {
      const props = type === 'deals' ? dealDerived(ctx, existing, checked.ok) : checked.ok;
      results.push({
        ...objectJson(
          ctx,
          type,
          ctx.store.update(type, existing.id, props, { source: 'INTEGRATION' }),
          wrote(ctx, type, { ...props, [idProperty]: key }),
        ),
        new: false,
      });
    } else {
      const props = idProperty === 'hs_object_id' ? checked.ok : { ...checked.ok, [idProperty]: key };
      results.push({
        ...objectJson(ctx, type, createRecord(ctx, type, props, undefined), wrote(ctx, type, props)),
        new: true,
      });
    }
  }
  return batchResult(results, errors, startedAt);
}

// ---- associations v4 ----

export function associationsV4(ctx: CrmContext, method: string, parts: string[], body: () => unknown, url: URL): Reply {
  // /crm/v4/associations/{from}/{to}/batch/read | labels
  const [fromSeg, toSeg, a, b] = parts;
  const from = typeOrThrow(ctx, fromSeg ?? '');
  const to = typeOrThrow(ctx, toSeg ?? '');
  const startedAt = new Date().toISOString(); // wall-clock: batch responses' startedAt, an audit stamp
  if (a === 'labels' && method === 'GET') {
    const t = associationType(from, to);
    const results = t
      ? [
          ...(t.primaryTypeId !== null
            ? [{ category: 'HUBSPOT_DEFINED', typeId: t.primaryTypeId, label: 'Primary' }]
            : []),
          { category: 'HUBSPOT_DEFINED', typeId: t.typeId, label: null },
        ]
      : [];
    return { status: 200, body: { results } };
  }
  if (a === 'batch' && b === 'read' && method === 'POST') {
    const inputs = inputsOf(body(), ASSOCIATION_BATCH_MAX);
    const results: unknown[] = [];
    const errors: unknown[] = [];
    let records = 0;
    for (const i of inputs) {
      const id = String(i.id);
      const offset = associationOffset(i.after);
      if (offset === null) validation(`Invalid after token for ${singular(from)} ${id}.`);
      const all = ctx.store.get(from, id) ? ctx.store.associations(from, Number(id), to) : [];
      const links = all.slice(offset, offset + ASSOCIATION_RESULT_PAGE);
      if (links.length === 0) {
        errors.push({
          status: 'error',
          category: 'OBJECT_NOT_FOUND',
          subCategory: 'crm.associations.NO_ASSOCIATIONS_FOUND',
          message: `No ${singular(to)} is associated with ${singular(from)} ${id}.`,
          context: { fromObjectId: [id] },
        });
        continue;
      }
      records += links.length;
      const next = offset + ASSOCIATION_RESULT_PAGE;
      results.push({
        from: { id },
        to: links.map((l) => ({ toObjectId: l.toId, associationTypes: l.typeIds.map((t) => labelOf(from, to, t)) })),
        // Only while more remain, as HubSpot's reference says.
        ...(next < all.length ? { paging: { next: { after: associationAfter(next) } } } : {}),
      });
    }
    const reply = batchResult(results, errors, startedAt);
    return { ...reply, records };
  }
  if (a === 'batch' && (b === 'create' || b === 'archive' || b === 'associate') && method === 'POST') {
    const inputs = inputsOf(body(), BATCH_MAX);
    const t = associationType(from, to);
    const back = associationType(to, from);
    for (const i of inputs) {
      const f = Number((i.from as { id?: unknown })?.id);
      const tt = Number((i.to as { id?: unknown })?.id);
      if (!ctx.store.get(from, f) || !ctx.store.get(to, tt)) continue;
      if (b === 'archive') ctx.store.unassociate(from, f, to, tt);
      else {
        const types = Array.isArray(i.types)
          ? (i.types as { associationTypeId?: number }[]).map((x) => Number(x.associationTypeId))
          : [t?.typeId ?? 0];
        ctx.store.associate(from, f, to, tt, types, back ? [back.typeId] : []);
      }
    }
    return b === 'archive'
      ? { status: 204 }
      : { status: 201, body: { status: 'COMPLETE', results: [], startedAt, completedAt: startedAt } };
  }
  void url;
  return notFound();
}

/** `/crm/v4/objects/{type}/{id}/associations/{toType}[/{toId}]` */
export function objectAssociationsV4(
  ctx: CrmContext,
  method: string,
  parts: string[],
  url: URL,
  body: () => unknown,
): Reply {
  const [typeSeg, id, what, toSeg, toId] = parts;
  if (what !== 'associations') return notFound();
  const from = typeOrThrow(ctx, typeSeg ?? '');
  const to = typeOrThrow(ctx, toSeg === 'default' ? (parts[4] ?? '') : (toSeg ?? ''));
  if (!ctx.store.get(from, id ?? '')) return notFound();
  if (method === 'GET' && toId === undefined) {
    const limit = Math.min(intParam(url, 'limit', 500), 500);
    const all = ctx.store.associations(from, Number(id), to);
    const after = Number(url.searchParams.get('after') ?? 0);
    const page = all.slice(after, after + limit);
    const body2: Record<string, unknown> = {
      results: page.map((l) => ({ toObjectId: l.toId, associationTypes: l.typeIds.map((t) => labelOf(from, to, t)) })),
    };
    if (after + limit < all.length) body2.paging = { next: { after: String(after + limit) } };
    return { status: 200, body: body2, records: page.length };
  }
  const target = toSeg === 'default' ? parts[5] : toId;
  if (method === 'PUT' && target !== undefined) {
    if (!ctx.store.get(to, target)) return notFound();
    const t = associationType(from, to);
    const back = associationType(to, from);
    const types =
      toSeg === 'default'
        ? [t?.typeId ?? 0]
        : ((body() as { associationTypeId?: number }[]) ?? []).map((x) => Number(x.associationTypeId));
    ctx.store.associate(from, Number(id), to, Number(target), types, back ? [back.typeId] : []);
    return {
      status: 200,
      body: {
        fromObjectTypeId: ctx.store.typeDef(from).objectTypeId,
        fromObjectId: Number(id),
        toObjectTypeId: ctx.store.typeDef(to).objectTypeId,
        toObjectId: Number(target),
        labels: [],
      },
    };
  }
  if (method === 'DELETE' && target !== undefined) {
    ctx.store.unassociate(from, Number(id), to, Number(target));
    return { status: 204 };
  }
  return notFound();
}

// ---- properties and groups ----

export function properties(ctx: CrmContext, method: string, parts: string[], body: () => unknown, url: URL): Reply {
  const [typeSeg, a, b] = parts;
  const type = typeOrThrow(ctx, typeSeg ?? '');
  const defs = ctx.store.properties.get(type) ?? [];
  const groups = ctx.store.groups.get(type) ?? [];
  if (a === 'groups') {
    if (b === undefined && method === 'GET') return { status: 200, body: { results: groups } };
    if (b === undefined && method === 'POST') {
      const g = body() as { name?: string; label?: string; displayOrder?: number };
      if (!g?.name || !g.label) return hsError(400, 'VALIDATION_ERROR', 'name and label are required');
      if (groups.some((x) => x.name === g.name))
        return hsError(409, 'OBJECT_ALREADY_EXISTS', `A property group named ${g.name} already exists`);
      const group = { name: g.name, label: g.label, displayOrder: g.displayOrder ?? -1, archived: false };
      ctx.store.groups.set(type, [...groups, group]);
      return { status: 201, body: group };
    }
    const g = groups.find((x) => x.name === b);
    if (g && method === 'GET') return { status: 200, body: g };
    return notFound();
  }
  if (a === undefined && method === 'GET') {
    const archived = url.searchParams.get('archived') === 'true';
    return { status: 200, body: { results: defs.filter((d) => d.archived === archived) }, records: defs.length };
  }
  const create = (p: Record<string, unknown>): PropertyDef | Reply => {
    const name = String(p.name ?? '');
    if (!/^[a-z][a-z0-9_]*$/.test(name))
      return hsError(
        400,
        'VALIDATION_ERROR',
        `Property name "${name}" must be lower case letters, digits and underscores`,
      );
    if (!p.label || !p.type || !p.fieldType || !p.groupName)
      return hsError(400, 'VALIDATION_ERROR', 'name, label, type, fieldType and groupName are required');
    if ((ctx.store.properties.get(type) ?? []).some((d) => d.name === name))
      return hsError(409, 'OBJECT_ALREADY_EXISTS', `Property named ${name} already exists`);
    if (!(ctx.store.groups.get(type) ?? []).some((g) => g.name === p.groupName))
      return hsError(400, 'VALIDATION_ERROR', `Property group ${String(p.groupName)} does not exist`);
    const def = makeProperty(name, String(p.label), String(p.type), String(p.groupName), {
      custom: true,
      unique: p.hasUniqueValue === true,
      options: Array.isArray(p.options) ? (p.options as { value: string }[]).map((o) => o.value) : [],
      at: ctx.store.nowMs(),
      order: -1,
    });
    def.fieldType = String(p.fieldType);
    ctx.store.properties.set(type, [...(ctx.store.properties.get(type) ?? []), def]);
    return def;
  };
  if (a === undefined && method === 'POST') {
    const r = create((body() ?? {}) as Record<string, unknown>);
    return 'status' in r && typeof r.status === 'number' ? (r as Reply) : { status: 201, body: r };
  }
  if (a === 'batch' && b === 'read' && method === 'POST') {
    const names = ((body() as { inputs?: { name: string }[] })?.inputs ?? []).map((i) => i.name);
    return { status: 200, body: { status: 'COMPLETE', results: defs.filter((d) => names.includes(d.name)) } };
  }
  if (a === 'batch' && b === 'create' && method === 'POST') {
    const results: unknown[] = [];
    const errors: unknown[] = [];
    for (const i of inputsOf(body(), BATCH_MAX)) {
      const r = create(i);
      if ('status' in r && typeof r.status === 'number') errors.push((r as Reply).body);
      else results.push(r);
    }
    return batchResult(results, errors, new Date().toISOString(), true); // wall-clock: startedAt, an audit stamp
  }
  if (a !== undefined && b === undefined && method === 'GET') {
    const d = defs.find((x) => x.name === a);
    return d
      ? { status: 200, body: d }
      : hsError(404, 'OBJECT_NOT_FOUND', `Unable to find property ${a} on object type ${type}`);
  }
  return notFound();
}

// ---- schemas ----

export function schemas(ctx: CrmContext, method: string, parts: string[], body: () => unknown): Reply {
  const [a] = parts;
  const json = (s: (typeof ctx.store.schemas)[number]) => ({
    ...s,
    createdAt: iso(s.createdAt),
    updatedAt: iso(s.updatedAt),
    properties: ctx.store.properties.get(s.name) ?? [],
    associations: s.associatedObjects.map((o) => ({
      fromObjectTypeId: s.objectTypeId,
      toObjectTypeId: ctx.store.typeName(o) ? ctx.store.typeDef(ctx.store.typeName(o)!).objectTypeId : o,
      name: `${s.name}_to_${o}`,
    })),
  });
  if (a === undefined && method === 'GET') return { status: 200, body: { results: ctx.store.schemas.map(json) } };
  if (a === undefined && method === 'POST') {
    if (!ctx.customObjects) {
      return hsError(
        403,
        'MISSING_SCOPES',
        'This portal does not have access to custom objects: they need an Enterprise subscription.',
        {
          errors: [{ message: 'custom objects require an Enterprise subscription', code: 'MISSING_SUBSCRIPTION' }],
        },
      );
    }
    const b = (body() ?? {}) as {
      name?: string;
      labels?: { singular?: string; plural?: string };
      primaryDisplayProperty?: string;
      requiredProperties?: string[];
      searchableProperties?: string[];
      secondaryDisplayProperties?: string[];
      associatedObjects?: string[];
      properties?: Record<string, unknown>[];
    };
    if (!b.name || !/^[a-z][a-z0-9_]*$/.test(b.name))
      return hsError(400, 'VALIDATION_ERROR', 'name is required: lower case letters, digits and underscores');
    if (!b.labels?.singular || !b.labels.plural)
      return hsError(400, 'VALIDATION_ERROR', 'labels.singular and labels.plural are required');
    if (ctx.store.typeName(b.name))
      return hsError(409, 'OBJECT_ALREADY_EXISTS', `An object type named ${b.name} already exists`);
    const props = b.properties ?? [];
    // Every property the schema names (display, searchable, required) must be one it defines
    // (https://developers.hubspot.com/docs/api/crm/crm-custom-objects, "Create a custom object").
    const named: Array<[string, string | undefined]> = [
      ['primaryDisplayProperty', b.primaryDisplayProperty],
      ...(b.secondaryDisplayProperties ?? []).map((n) => ['secondaryDisplayProperties', n] as [string, string]),
      ...(b.searchableProperties ?? []).map((n) => ['searchableProperties', n] as [string, string]),
      ...(b.requiredProperties ?? []).map((n) => ['requiredProperties', n] as [string, string]),
    ];
    for (const [key, name] of named)
      if (name && !props.some((p) => p.name === name))
        return hsError(400, 'VALIDATION_ERROR', `${key} ${name} is not among the properties`);
    const at = ctx.store.nowMs();
    const schema = ctx.store.addCustomType({
      name: b.name,
      labels: { singular: b.labels.singular, plural: b.labels.plural },
      primaryDisplayProperty: b.primaryDisplayProperty ?? String(props[0]?.name ?? 'hs_object_id'),
      requiredProperties: b.requiredProperties ?? [],
      searchableProperties: b.searchableProperties ?? [],
      secondaryDisplayProperties: b.secondaryDisplayProperties ?? [],
      associatedObjects: b.associatedObjects ?? [],
      createdAt: at,
      updatedAt: at,
      archived: false,
    });
    const group = groupNameOf(b.name);
    ctx.store.groups.set(b.name, [
      { name: group, label: `${b.labels.singular} information`, displayOrder: 0, archived: false },
    ]);
    ctx.store.properties.set(b.name, [
      makeProperty('hs_object_id', 'Record ID', 'number', group, { readOnly: true, at, order: 0 }),
      makeProperty('hs_createdate', 'Create date', 'datetime', group, { readOnly: true, at, order: 1 }),
      makeProperty('hs_lastmodifieddate', 'Last modified', 'datetime', group, { readOnly: true, at, order: 2 }),
      // ⚠ A custom object's records have an owner like any CRM record (the custom objects guide assigns them;
      // https://developers.hubspot.com/docs/api-reference/crm-custom-objects-v3/guide): `hubspot_owner_id` is
      // among its default properties here, not one the schema must declare.
      makeProperty('hubspot_owner_id', 'Owner', 'enumeration', group, { at, order: 3 }),
      ...props.map((p, i) =>
        makeProperty(String(p.name), String(p.label ?? p.name), String(p.type ?? 'string'), group, {
          custom: true,
          unique: p.hasUniqueValue === true,
          options: Array.isArray(p.options) ? (p.options as { value: string }[]).map((o) => o.value) : [],
          at,
          order: 4 + i,
        }),
      ),
    ]);
    return { status: 201, body: json(schema) };
  }
  if (a !== undefined && method === 'GET') {
    const t = ctx.store.typeName(decodeURIComponent(a));
    const s = ctx.store.schemas.find((x) => x.name === t);
    return s ? { status: 200, body: json(s) } : notFound();
  }
  return notFound();
}

/**
 * `GET /crm/v3/limits/custom-object-types`: `{ limit, percentage, usage }`, the custom object schemas the portal may
 * hold and holds (https://developers.hubspot.com/docs/api-reference/crm-limits-tracking-v3/limits/get-crm-v3-limits-custom-object-types).
 * ⚠ A portal without custom objects answers `limit: 0` (the page does not say; custom objects are Enterprise only,
 * https://developers.hubspot.com/docs/api-reference/crm-limits-tracking-v3/guide); Enterprise's limit is 10 here.
 */
export function customObjectLimits(ctx: CrmContext): Reply {
  const limit = ctx.customObjects ? 10 : 0;
  const usage = ctx.store.schemas.length;
  return {
    status: 200,
    body: { limit, usage, percentage: limit === 0 ? 0 : Math.round((usage / limit) * 10_000) / 100 },
  };
}

// ---- owners, users, teams, pipelines, currencies, account ----

export function ownerJson(o: Owner): Record<string, unknown> {
  return {
    id: String(o.id),
    email: o.email,
    type: o.type,
    firstName: o.firstName,
    lastName: o.lastName,
    userId: o.userId,
    userIdIncludingInactive: o.userIdIncludingInactive,
    createdAt: iso(o.createdAt),
    updatedAt: iso(o.updatedAt),
    archived: o.archived,
    teams: o.teams,
  };
}

export function owners(ctx: CrmContext, method: string, parts: string[], url: URL): Reply {
  if (method !== 'GET') return notFound();
  const archived = url.searchParams.get('archived') === 'true';
  const [id] = parts;
  if (id !== undefined && id !== '') {
    const byUser = url.searchParams.get('idProperty') === 'userId';
    const o = [...ctx.store.owners.values()].find(
      (x) => x.archived === archived && (byUser ? x.userIdIncludingInactive === Number(id) : x.id === Number(id)),
    );
    return o ? { status: 200, body: ownerJson(o), records: 1 } : notFound();
  }
  const email = url.searchParams.get('email')?.toLowerCase();
  const limit = Math.min(intParam(url, 'limit', 100), 500);
  const after = url.searchParams.get('after');
  const all = [...ctx.store.owners.values()]
    .filter((o) => o.archived === archived && (!email || o.email === email))
    .sort((a, b) => a.id - b.id)
    .filter((o) => after === null || o.id >= Number(after));
  const page = all.slice(0, limit);
  const body: Record<string, unknown> = { results: page.map(ownerJson) };
  const next = all[limit];
  if (next) body.paging = { next: { after: String(next.id), link: `${ctx.baseUrl}/crm/v3/owners/?after=${next.id}` } };
  return { status: 200, body, records: page.length };
}

export function settingsUsers(ctx: CrmContext, method: string, parts: string[], url: URL): Reply {
  if (method !== 'GET') return notFound();
  const [a] = parts;
  if (a === 'teams') {
    return {
      status: 200,
      body: {
        results: [...ctx.store.teams.values()].map((t) => ({
          id: t.id,
          name: t.name,
          userIds: t.userIds,
          secondaryUserIds: t.secondaryUserIds,
        })),
      },
    };
  }
  if (a === 'roles') {
    return {
      status: 200,
      body: {
        results: ['Sales Rep', 'Sales Manager', 'Sales Director', 'VP Sales'].map((name, i) => ({
          id: String(900_000 + i),
          name,
          requiresBillingWrite: false,
        })),
      },
    };
  }
  const json = (u: typeof ctx.store.users extends Map<number, infer U> ? U : never) => ({
    id: String(u.id),
    email: u.email,
    roleId: u.roleId,
    primaryTeamId: u.primaryTeamId,
    secondaryTeamIds: u.secondaryTeamIds,
    superAdmin: u.superAdmin,
  });
  if (a !== undefined && a !== '') {
    const u = ctx.store.users.get(Number(a));
    return u ? { status: 200, body: json(u) } : notFound();
  }
  const limit = Math.min(intParam(url, 'limit', 100), 100);
  const after = url.searchParams.get('after');
  const all = [...ctx.store.users.values()]
    .sort((x, y) => x.id - y.id)
    .filter((u) => after === null || u.id >= Number(after));
  const body: Record<string, unknown> = { results: all.slice(0, limit).map(json) };
  const next = all[limit];
  if (next) body.paging = { next: { after: String(next.id) } };
  return { status: 200, body, records: Math.min(limit, all.length) };
}

export function pipelines(ctx: CrmContext, method: string, parts: string[]): Reply {
  if (method !== 'GET') return notFound();
  const [typeSeg, pipelineId, what] = parts;
  const type = typeOrThrow(ctx, typeSeg ?? '');
  const json = (p: NonNullable<ReturnType<typeof ctx.store.pipelines.get>>[number]) => ({
    ...p,
    createdAt: iso(p.createdAt),
    updatedAt: iso(p.updatedAt),
    stages: p.stages.map((s) => ({ ...s, createdAt: iso(s.createdAt), updatedAt: iso(s.updatedAt) })),
  });
  const list = ctx.store.pipelines.get(type) ?? [];
  if (pipelineId === undefined) return { status: 200, body: { results: list.map(json) } };
  const p = list.find((x) => x.id === pipelineId);
  if (!p) return notFound();
  if (what === 'stages') return { status: 200, body: { results: json(p).stages } };
  return { status: 200, body: json(p) };
}

const CURRENCY_NAMES: Readonly<Record<string, string>> = {
  USD: 'US Dollar',
  EUR: 'Euro',
  GBP: 'British Pound',
  JPY: 'Japanese Yen',
  CAD: 'Canadian Dollar',
  AUD: 'Australian Dollar',
};

export function currencies(ctx: CrmContext, method: string, parts: string[], url: URL): Reply {
  if (method !== 'GET') return notFound();
  const [a, b] = parts;
  const rateJson = (r: (typeof ctx.store.rates)[number]) => ({
    ...r,
    effectiveAt: iso(r.effectiveAt),
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
  });
  if (a === 'company-currency')
    return {
      status: 200,
      body: {
        currencyCode: ctx.store.homeCurrency,
        currencyName: CURRENCY_NAMES[ctx.store.homeCurrency] ?? ctx.store.homeCurrency,
      },
    };
  if (a === 'codes')
    return {
      status: 200,
      body: { results: ctx.store.currencies.map((c) => ({ currencyCode: c, currencyName: CURRENCY_NAMES[c] ?? c })) },
    };
  if (a === 'exchange-rates') {
    if (b === 'current') {
      const now = ctx.store.nowMs();
      const latest = new Map<string, (typeof ctx.store.rates)[number]>();
      for (const r of ctx.store.rates) {
        if (r.effectiveAt > now) continue;
        const cur = latest.get(r.toCurrencyCode);
        if (!cur || r.effectiveAt > cur.effectiveAt) latest.set(r.toCurrencyCode, r);
      }
      return { status: 200, body: { results: [...latest.values()].map(rateJson) } };
    }
    if (b !== undefined) {
      const r = ctx.store.rates.find((x) => x.id === b);
      return r ? { status: 200, body: rateJson(r) } : notFound();
    }
    const limit = Math.min(intParam(url, 'limit', 100), 100);
    const after = Number(url.searchParams.get('after') ?? 0);
    const page = ctx.store.rates.slice(after, after + limit);
    const body: Record<string, unknown> = { results: page.map(rateJson) };
    if (after + limit < ctx.store.rates.length) body.paging = { next: { after: String(after + limit) } };
    return { status: 200, body, records: page.length };
  }
  return notFound();
}

export function accountDetails(ctx: CrmContext): Reply {
  return {
    status: 200,
    body: {
      portalId: ctx.store.portalId,
      accountType: 'STANDARD',
      timeZone: ctx.store.timezone,
      companyCurrency: ctx.store.homeCurrency,
      additionalCurrencies: ctx.store.currencies.filter((c) => c !== ctx.store.homeCurrency),
      uiDomain: 'app.hubspot.com',
      dataHostingLocation: 'na1',
    },
  };
}

/** Engagement types, for the life clock and tests. */
export const ENGAGEMENT_TYPES = ENGAGEMENTS;

/** A decimal string without trailing zeros. */
export function canonicalNumber(v: string): string {
  return new Dec(v).toString();
}
