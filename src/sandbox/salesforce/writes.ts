/**
 * Writes through the API: sObject Collections create / update / upsert (≤ 200 records, `allOrNone`, one SaveResult
 * per record in request order) and single-record PATCH, with Salesforce's per-record validation: non-writable
 * field, bad value type, required field missing, duplicate unique / external id value, unknown or deleted record.
 *
 * As on Salesforce, a field the object does not have fails the whole call (400 INVALID_FIELD: the body cannot be
 * deserialised into the sObject), while everything else is a per-record error. Writes are authored by the session's
 * user, so they carry its LastModifiedById.
 */
import { isAppError } from '../../errors.ts';
import { findField, findSObject, type SObjectDef, sobjectByKeyPrefix } from './schema.ts';
import { normalizeValue, type SalesforceStore } from './store.ts';

export interface SaveError {
  statusCode: string;
  message: string;
  fields: string[];
}

export interface SaveResult {
  id?: string;
  success: boolean;
  errors: SaveError[];
  created?: boolean;
}

/** A failure of the whole request (answered 400 with `[{ message, errorCode }]`). */
export class RequestError extends Error {
  constructor(
    readonly errorCode: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export const MAX_COLLECTION = 200;

type Mode = 'create' | 'update';

interface Planned {
  def: SObjectDef;
  mode: Mode;
  id?: string;
  fields: Record<string, unknown>;
  errors: SaveError[];
}

function recordsOf(body: unknown): { allOrNone: boolean; records: Record<string, unknown>[] } {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { records?: unknown }).records)) {
    throw new RequestError('JSON_PARSER_ERROR', 'The request body must be an object with a records array');
  }
  const b = body as { allOrNone?: unknown; records: unknown[] };
  if (b.records.length > MAX_COLLECTION) {
    throw new RequestError(
      'EXCEEDED_ID_LIMIT',
      `record limit reached. cannot submit more than ${MAX_COLLECTION} records into this call`,
    );
  }
  const records = b.records.map((r, i) => {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) {
      throw new RequestError('JSON_PARSER_ERROR', `records[${i}] is not an object`);
    }
    return r as Record<string, unknown>;
  });
  return { allOrNone: b.allOrNone === true, records };
}

function typeOf(rec: Record<string, unknown>, fallback: string | undefined, index: number): SObjectDef {
  const attrs = rec.attributes as { type?: unknown } | undefined;
  const name = typeof attrs?.type === 'string' ? attrs.type : fallback;
  if (!name) throw new RequestError('INVALID_TYPE', `records[${index}]: attributes.type is required`);
  const def = findSObject(name);
  if (!def) throw new RequestError('INVALID_TYPE', `sObject type '${name}' is not supported.`);
  return def;
}

/** Checks field names against the schema (a request-level failure) and returns the record's writable fields. */
function fieldsOf(def: SObjectDef, rec: Record<string, unknown>, omit: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rec)) {
    if (k === 'attributes' || omit.some((o) => o.toLowerCase() === k.toLowerCase())) continue;
    const f = findField(def, k);
    if (!f) throw new RequestError('INVALID_FIELD', `No such column '${k}' on sobject of type ${def.name}`);
    out[f.name] = v;
  }
  return out;
}

function validate(store: SalesforceStore, p: Planned): void {
  const where = p.id ?? 'new record';
  for (const [k, v] of Object.entries(p.fields)) {
    const f = findField(p.def, k)!;
    if ((p.mode === 'create' && !f.createable) || (p.mode === 'update' && !f.updateable)) {
      p.errors.push({
        statusCode: 'INVALID_FIELD_FOR_INSERT_UPDATE',
        message: `Unable to create/update fields: ${f.name}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
        fields: [f.name],
      });
      continue;
    }
    try {
      normalizeValue(p.def, f, v, where);
    } catch (e) {
      if (!isAppError(e)) throw e;
      p.errors.push({
        statusCode: String(e.details?.statusCode ?? 'INVALID_TYPE_ON_FIELD_IN_RECORD'),
        message: e.message,
        fields: [f.name],
      });
    }
  }
  if (p.mode === 'create') {
    const missing = p.def.fields.filter(
      (f) => f.required && (p.fields[f.name] === undefined || p.fields[f.name] === null || p.fields[f.name] === ''),
    );
    if (missing.length > 0) {
      p.errors.push({
        statusCode: 'REQUIRED_FIELD_MISSING',
        message: `Required fields are missing: [${missing.map((f) => f.name).join(', ')}]`,
        fields: missing.map((f) => f.name),
      });
    }
  } else if (!p.id || !store.get(p.def.name, p.id)) {
    const deleted = p.id ? store.get(p.def.name, p.id, { includeDeleted: true }) : undefined;
    p.errors.push(
      deleted
        ? { statusCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }
        : { statusCode: 'INVALID_CROSS_REFERENCE_KEY', message: `invalid cross reference id`, fields: [] },
    );
  }
}

/** Applies planned writes in order, honouring allOrNone (validate everything first, write nothing on failure). */
function execute(
  store: SalesforceStore,
  plans: Planned[],
  allOrNone: boolean,
  userId: string,
  upsert: boolean,
): SaveResult[] {
  for (const p of plans) validate(store, p);
  const anyInvalid = plans.some((p) => p.errors.length > 0);
  // As in the documented examples (test/fixtures/salesforce/collections-*.json): a failed item has no `created`,
  // and a rolled-back item keeps the id of the existing record it would have updated (an insert has none).
  if (allOrNone && anyInvalid) {
    return plans.map((p) =>
      p.errors.length > 0
        ? { success: false, errors: p.errors }
        : {
            ...(p.mode === 'update' && p.id ? { id: p.id } : {}),
            success: false,
            errors: [
              {
                statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
                message:
                  'Record rolled back because not all records were valid and the request was using AllOrNone header',
                fields: [],
              },
            ],
          },
    );
  }
  // Simplification: with allOrNone, a failure found only while writing (a duplicate value between two records of
  // the same call) is reported per record but earlier writes of the call are not undone.
  return plans.map((p) => {
    if (p.errors.length > 0) return { success: false, errors: p.errors };
    try {
      const row =
        p.mode === 'create'
          ? store.insert(p.def.name, p.fields, { by: userId })
          : store.update(p.def.name, p.id!, p.fields, { by: userId });
      return { id: String(row.Id), success: true, errors: [], ...(upsert ? { created: p.mode === 'create' } : {}) };
    } catch (e) {
      if (!isAppError(e)) throw e;
      const fields = Array.isArray(e.details?.fields) ? (e.details.fields as string[]) : [];
      return {
        success: false,
        errors: [{ statusCode: String(e.details?.statusCode ?? 'UNKNOWN_EXCEPTION'), message: e.message, fields }],
      };
    }
  });
}

/** POST /composite/sobjects. */
export function collectionCreate(store: SalesforceStore, body: unknown, userId: string): SaveResult[] {
  const { allOrNone, records } = recordsOf(body);
  const plans = records.map((r, i): Planned => {
    const def = typeOf(r, undefined, i);
    if (!def.createable) throw new RequestError('INVALID_TYPE', `entity type ${def.name} does not support create`);
    if (r.id !== undefined || r.Id !== undefined) {
      return {
        def,
        mode: 'create',
        fields: {},
        errors: [{ statusCode: 'INVALID_FIELD', message: 'cannot specify Id in an insert call', fields: ['Id'] }],
      };
    }
    return { def, mode: 'create', fields: fieldsOf(def, r, []), errors: [] };
  });
  return execute(store, plans, allOrNone, userId, false);
}

/** PATCH /composite/sobjects. */
export function collectionUpdate(store: SalesforceStore, body: unknown, userId: string): SaveResult[] {
  const { allOrNone, records } = recordsOf(body);
  const plans = records.map((r, i): Planned => {
    const def = typeOf(r, undefined, i);
    const id = typeof r.id === 'string' ? r.id : typeof r.Id === 'string' ? r.Id : undefined;
    const fields = fieldsOf(def, r, ['id']);
    if (!id)
      return {
        def,
        mode: 'update',
        fields,
        errors: [{ statusCode: 'MISSING_ARGUMENT', message: 'Id not specified in an update call', fields: [] }],
      };
    return { def, mode: 'update', id, fields, errors: [] };
  });
  return execute(store, plans, allOrNone, userId, false);
}

/** PATCH /composite/sobjects/<type>/<externalIdField>: update where the external id exists, else create. */
export function collectionUpsert(
  store: SalesforceStore,
  typeName: string,
  extField: string,
  body: unknown,
  userId: string,
): SaveResult[] {
  const def = findSObject(typeName);
  if (!def) throw new RequestError('NOT_FOUND', `The requested resource does not exist`, 404);
  const f = findField(def, extField);
  if (!f || !(f.externalId || f.name === 'Id')) {
    throw new RequestError(
      'INVALID_FIELD',
      `Field name provided, ${extField} is not an External ID or indexed field for ${def.name}`,
    );
  }
  if (f.name === 'Id')
    throw new RequestError('INVALID_FIELD', 'Upsert on Id is not supported by sObject Collections; use an external id');
  const { allOrNone, records } = recordsOf(body);
  const seen = new Set<string>();
  const plans = records.map((r, i): Planned => {
    const rdef = typeOf(r, def.name, i);
    if (rdef.name !== def.name) {
      throw new RequestError('INVALID_TYPE', `records[${i}] is a ${rdef.name}, the URI names ${def.name}`);
    }
    const fields = fieldsOf(def, r, []);
    const key = fields[f.name];
    if (typeof key !== 'string' || key === '') {
      return {
        def,
        mode: 'create',
        fields,
        errors: [{ statusCode: 'MISSING_ARGUMENT', message: `${f.name} not specified`, fields: [f.name] }],
      };
    }
    if (seen.has(key)) {
      return {
        def,
        mode: 'create',
        fields,
        errors: [
          { statusCode: 'DUPLICATE_EXTERNAL_ID', message: `Duplicate external id specified: ${key}`, fields: [f.name] },
        ],
      };
    }
    seen.add(key);
    const existing = store.findBy(def.name, f.name, key);
    if (existing) {
      const { [f.name]: _, ...rest } = fields;
      return { def, mode: 'update', id: String(existing.Id), fields: rest, errors: [] };
    }
    return { def, mode: 'create', fields, errors: [] };
  });
  return execute(store, plans, allOrNone, userId, true);
}

/** PATCH /sobjects/<type>/<id>: throws RequestError with the first validation problem. */
export function updateOne(store: SalesforceStore, typeName: string, id: string, body: unknown, userId: string): void {
  const def = findSObject(typeName);
  if (!def) throw new RequestError('NOT_FOUND', 'The requested resource does not exist', 404);
  if (typeof body !== 'object' || body === null)
    throw new RequestError('JSON_PARSER_ERROR', 'The request body must be a JSON object');
  const plan: Planned = {
    def,
    mode: 'update',
    id,
    fields: fieldsOf(def, body as Record<string, unknown>, ['Id']),
    errors: [],
  };
  const [res] = execute(store, [plan], true, userId, false);
  const err = res?.errors[0];
  if (err) {
    const status =
      err.statusCode === 'INVALID_CROSS_REFERENCE_KEY' || err.statusCode === 'ENTITY_IS_DELETED' ? 404 : 400;
    throw new RequestError(err.statusCode, err.message, status);
  }
}

/**
 * PATCH /sobjects/<type>/<externalIdField>/<value>: upsert one record. Answers 201 with the UpsertResult when it
 * created the record, 200 when it updated one (API v46+ returns a body for both).
 */
export function upsertOne(
  store: SalesforceStore,
  typeName: string,
  extField: string,
  value: string,
  body: unknown,
  userId: string,
): { status: number; result: SaveResult } {
  const def = findSObject(typeName);
  if (!def) throw new RequestError('NOT_FOUND', 'The requested resource does not exist', 404);
  if (typeof body !== 'object' || body === null)
    throw new RequestError('JSON_PARSER_ERROR', 'The request body must be a JSON object');
  const f = findField(def, extField);
  if (!f?.externalId) {
    throw new RequestError(
      'NOT_FOUND',
      `Provided external ID field does not exist or is not accessible: ${extField}`,
      404,
    );
  }
  const record = { ...(body as Record<string, unknown>), attributes: { type: def.name }, [f.name]: value };
  const [result] = collectionUpsert(store, def.name, f.name, { allOrNone: true, records: [record] }, userId);
  const err = result?.errors[0];
  if (!result || err) throw new RequestError(err?.statusCode ?? 'UNKNOWN_EXCEPTION', err?.message ?? 'upsert failed');
  return { status: result.created ? 201 : 200, result };
}

/** DELETE /composite/sobjects?ids=a,b&allOrNone=: moves up to 200 records to the recycle bin. */
export function collectionDelete(store: SalesforceStore, ids: string[], allOrNone: boolean): SaveResult[] {
  if (ids.length > MAX_COLLECTION) {
    throw new RequestError(
      'EXCEEDED_ID_LIMIT',
      `record limit reached. cannot submit more than ${MAX_COLLECTION} records into this call`,
    );
  }
  const plans = ids.map((id) => {
    const def = sobjectOfId(id);
    const live = def ? store.get(def.name, id) : undefined;
    const errors: SaveError[] = [];
    if (!def || !live) {
      errors.push({ statusCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] });
    } else if (!def.deletable || !def.hasIsDeleted) {
      errors.push({
        statusCode: 'INVALID_TYPE',
        message: `entity type ${def.name} does not support delete`,
        fields: [],
      });
    }
    return { id, def, errors };
  });
  if (allOrNone && plans.some((p) => p.errors.length > 0)) {
    return plans.map((p) => ({
      id: p.id,
      success: false,
      errors:
        p.errors.length > 0
          ? p.errors
          : [
              {
                statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
                message:
                  'Record rolled back because not all records were valid and the request was using AllOrNone header',
                fields: [],
              },
            ],
    }));
  }
  return plans.map((p) => {
    if (p.errors.length > 0) return { id: p.id, success: false, errors: p.errors };
    store.softDelete(p.def!.name, p.id);
    return { id: p.id, success: true, errors: [] };
  });
}

function sobjectOfId(id: string): SObjectDef | undefined {
  return sobjectByKeyPrefix(id.slice(0, 3));
}
