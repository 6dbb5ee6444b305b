/**
 * The HubSpot write side for scores: one "Quota scorecard" custom object record per rep and period, owned by the rep
 * (`hubspot_owner_id`) and keyed by the unique property `qt_key = ownerId:period`, written with batch upsert
 * (`/crm/v3/objects/{objectTypeId}/batch/upsert`, `idProperty: qt_key`, 100 inputs a call). A retried upsert finds
 * the record it made, so a re-sent batch never makes a second scorecard.
 *
 * HubSpot has no field on a user that a rep sees on their own record (Salesforce's User fields), hence the object.
 * Its schema and properties are made by `ensureScorecardSchema` (`quota-tracker setup hubspot`, and the first write
 * when they are missing): idempotent, it creates only what the portal lacks and says what it made.
 */

import { AppError, isAppError } from '../../errors.ts';
import {
  DEFAULT_FIELD_UNITS,
  type FieldLayout,
  type FieldSpec,
  type SinkResult,
  WRITEBACK_METRICS,
  type WritebackFieldKey,
  type WriteCallGuard,
  type WriteIntent,
  type WritePort,
  type WritePortContext,
} from '../types.ts';
import type { HubSpotClient } from './client.ts';
import { HUBSPOT_PATHS } from './paths.ts';

/** The custom object's name (its `name` in the schema; the portal gives it an object type id `2-n`). */
export const SCORECARD_OBJECT = 'quota_scorecard';
/** The unique property each scorecard is upserted on: `ownerId:periodId`. */
export const SCORECARD_KEY = 'qt_key';
/** Inputs per batch call (HubSpot's limit). */
export const HUBSPOT_BATCH = 100;

export const DEFAULT_PROPERTY_NAMES: Readonly<Record<WritebackFieldKey, string>> = {
  attainment: 'qt_attainment',
  pace: 'qt_pace',
  projectedAttainment: 'qt_projected_attainment',
  status: 'qt_status',
  coverage: 'qt_coverage',
  rank: 'qt_rank',
  asOf: 'qt_as_of',
};

const LABELS: Readonly<Record<WritebackFieldKey, string>> = {
  attainment: 'Attainment (%)',
  pace: 'Pace index (%)',
  projectedAttainment: 'Projected attainment (%)',
  status: 'Status',
  coverage: 'Pipeline coverage',
  rank: 'Rank',
  asOf: 'Metrics as of',
};

/** A property definition as the properties and schemas APIs take it. */
interface PropertyInput {
  name: string;
  label: string;
  type: 'string' | 'number' | 'date';
  fieldType: 'text' | 'number' | 'date';
  hasUniqueValue?: boolean;
  groupName?: string;
}

/** The layout under the connection's overrides (`writeback.fields.<metric>` names a property). */
export function hubspotDefaultLayout(
  overrides: Partial<Record<WritebackFieldKey, string | undefined>> = {},
): FieldLayout {
  const out = {} as Record<WritebackFieldKey, FieldSpec>;
  for (const key of [...WRITEBACK_METRICS, 'asOf'] as const) {
    out[key] = { name: overrides[key] ?? DEFAULT_PROPERTY_NAMES[key], ...DEFAULT_FIELD_UNITS[key] };
  }
  return out;
}

/** Every property the scorecard needs: its key and identity, and each write-back field of the layout. */
function scorecardProperties(layout: FieldLayout): PropertyInput[] {
  const text = (name: string, label: string): PropertyInput => ({ name, label, type: 'string', fieldType: 'text' });
  const date = (name: string, label: string): PropertyInput => ({ name, label, type: 'date', fieldType: 'date' });
  const out: PropertyInput[] = [
    { ...text(SCORECARD_KEY, 'Scorecard key'), hasUniqueValue: true },
    text('qt_name', 'Scorecard'),
    text('qt_period', 'Period'),
    date('qt_period_start', 'Period start'),
    date('qt_period_end', 'Period end'),
  ];
  for (const key of [...WRITEBACK_METRICS, 'asOf'] as const) {
    const spec = layout[key];
    out.push(
      spec.unit === 'date'
        ? date(spec.name, LABELS[key])
        : spec.unit === 'text'
          ? text(spec.name, LABELS[key])
          : { name: spec.name, label: LABELS[key], type: 'number', fieldType: 'number' },
    );
  }
  return out;
}

interface SchemaJson {
  name: string;
  objectTypeId: string;
  properties?: Array<{ name: string; type?: string; groupName?: string; hasUniqueValue?: boolean }>;
}

function statusOf(e: unknown): number | undefined {
  return isAppError(e) ? (e.details as { status?: number } | undefined)?.status : undefined;
}

/**
 * The key must be a unique property: batch upsert matches on it (`idProperty`), and HubSpot takes only a property
 * with `hasUniqueValue` there. HubSpot's property update does not take `hasUniqueValue`
 * (https://developers.hubspot.com/docs/api-reference/latest/crm/properties/update-property lists what it changes),
 * so an existing key made without it cannot be fixed through the API: the error says what to do by hand.
 */
function checkUniqueKey(schema: SchemaJson): void {
  const key = (schema.properties ?? []).find((p) => p.name === SCORECARD_KEY);
  if (!key || key.hasUniqueValue === true) return;
  throw new AppError(
    'CRM_FIELD_MISSING',
    `the ${SCORECARD_OBJECT} property ${SCORECARD_KEY} exists but does not require unique values (hasUniqueValue is false), so scorecards cannot be upserted on it; HubSpot's API cannot change that on an existing property: in HubSpot turn on "Require unique values" in the property's rules (Settings > Properties > Quota scorecard > ${SCORECARD_KEY}), or delete the property and run \`quota-tracker setup hubspot\` again, which makes it unique`,
    { where: `${SCORECARD_OBJECT}.${SCORECARD_KEY} (${schema.objectTypeId})` },
  );
}

/** The object's schema as the portal has it now (after a create another process made first). */
async function readSchema(client: HubSpotClient): Promise<SchemaJson | undefined> {
  const list = await client.get<{ results: SchemaJson[] }>(HUBSPOT_PATHS.schemas);
  return list.results.find((s) => s.name === SCORECARD_OBJECT);
}

/**
 * After a create answered 409 or named properties that exist (another `setup` or `sync` made them meanwhile): the
 * portal's properties are read again, and the run succeeds when each wanted one is there with the wanted type (and
 * the key unique); otherwise it fails naming what differs.
 */
async function acceptIfEqual(
  client: HubSpotClient,
  objectTypeId: string,
  wanted: readonly PropertyInput[],
): Promise<Map<string, string>> {
  const now = await client.get<{ results: Array<{ name: string; type?: string; hasUniqueValue?: boolean }> }>(
    HUBSPOT_PATHS.properties(objectTypeId),
  );
  const have = new Map(now.results.map((p) => [p.name, p]));
  const differ = wanted.flatMap((w) => {
    const h = have.get(w.name);
    if (!h) return [`${w.name} is missing`];
    if ((h.type ?? 'string') !== w.type) return [`${w.name} is a ${h.type} property, not ${w.type}`];
    if (w.hasUniqueValue === true && h.hasUniqueValue !== true) return [`${w.name} does not require unique values`];
    return [];
  });
  if (differ.length > 0) {
    throw new AppError(
      'CRM_FIELD_MISSING',
      `the ${SCORECARD_OBJECT} properties were being made by another process too, and they differ from what quota-tracker needs: ${differ.join('; ')}`,
      { where: `${SCORECARD_OBJECT} (${objectTypeId})` },
    );
  }
  return new Map(now.results.map((p) => [p.name, p.type ?? 'string']));
}

/** What `ensureScorecardSchema` found or made. */
export interface SchemaSetup {
  objectTypeId: string;
  /** What this run created, one line each (`schema quota_scorecard (2-123)`, `property qt_rank`); empty: nothing. */
  made: string[];
  /** Property name -> HubSpot type, as the portal has them now. */
  types: Map<string, string>;
}

/** The portal cannot hold custom objects (not Enterprise): the refusal says what to set instead. */
export function noCustomObjects(connectionId: string, cause?: unknown): AppError {
  return new AppError(
    'CRM_PERMISSION',
    `this HubSpot portal cannot hold custom objects (they need an Enterprise subscription), so scores have nowhere to go; set connections.${connectionId}.writeback.target: off (the scores still reach the reports)`,
    { where: `connections.${connectionId}.writeback.target`, ...(cause !== undefined ? { cause } : {}) },
  );
}

/**
 * Makes the scorecard object and its properties where the portal lacks them; changes nothing when all are there.
 * Calls: one schemas list, plus one create of the schema (with every property) or one batch create of the missing
 * properties. An existing key property that is not unique fails (checkUniqueKey). A create another process beat us
 * to (409, or a batch create naming properties that exist) is a success when what it made is what we need
 * (acceptIfEqual).
 */
export async function ensureScorecardSchema(
  client: HubSpotClient,
  layout: FieldLayout,
  connectionId: string,
): Promise<SchemaSetup> {
  const wanted = scorecardProperties(layout);
  let existing = await readSchema(client);
  if (!existing) {
    try {
      const created = await client.post<SchemaJson>(HUBSPOT_PATHS.schemas, {
        name: SCORECARD_OBJECT,
        labels: { singular: 'Quota scorecard', plural: 'Quota scorecards' },
        primaryDisplayProperty: 'qt_name',
        requiredProperties: [SCORECARD_KEY],
        searchableProperties: [SCORECARD_KEY, 'qt_name'],
        // The attainment property as this connection names it (writeback.fields.attainment): HubSpot refuses a
        // display property the schema does not define.
        secondaryDisplayProperties: [layout.attainment.name],
        associatedObjects: [],
        properties: wanted.map(({ groupName: _g, ...p }) => p),
      });
      return {
        objectTypeId: created.objectTypeId,
        made: [
          `custom object ${SCORECARD_OBJECT} (${created.objectTypeId}) with properties ${wanted.map((p) => p.name).join(', ')}`,
        ],
        types: new Map((created.properties ?? []).map((p) => [p.name, p.type ?? 'string'])),
      };
    } catch (e) {
      if (statusOf(e) === 403) throw noCustomObjects(connectionId, e);
      // Another setup made it between the list and the create: theirs is used if it is what we need.
      if (statusOf(e) !== 409) throw e;
      existing = await readSchema(client);
      if (!existing) throw e;
    }
  }
  checkUniqueKey(existing);
  const have = new Map((existing.properties ?? []).map((p) => [p.name, p]));
  const missing = wanted.filter((p) => !have.has(p.name));
  const types = new Map([...have].map(([n, p]) => [n, p.type ?? 'string']));
  if (missing.length === 0) return { objectTypeId: existing.objectTypeId, made: [], types };
  const group =
    (existing.properties ?? []).find((p) => p.name === SCORECARD_KEY)?.groupName ??
    (existing.properties ?? [])[0]?.groupName ??
    `${SCORECARD_OBJECT}_information`;
  type Answer = { results?: Array<{ name: string }>; errors?: Array<{ category?: string; message?: string }> };
  let answer: Answer | null = null;
  try {
    answer = await client.post<Answer>(HUBSPOT_PATHS.propertiesBatchCreate(existing.objectTypeId), {
      inputs: missing.map((p) => ({ ...p, groupName: group })),
    });
  } catch (e) {
    if (statusOf(e) !== 409) throw e;
  }
  const refused = (answer?.errors ?? []).filter((e) => e.category !== 'OBJECT_ALREADY_EXISTS');
  if (refused.length > 0) {
    throw new AppError(
      'CRM_REQUEST_INVALID',
      `HubSpot refused ${refused.length} ${SCORECARD_OBJECT} propert${refused.length > 1 ? 'ies' : 'y'}: ${refused[0]?.message ?? refused[0]?.category ?? 'no reason given'}`,
      { where: `POST ${HUBSPOT_PATHS.propertiesBatchCreate(existing.objectTypeId)}` },
    );
  }
  if (answer === null || (answer.errors ?? []).length > 0) {
    // Some or all were made by another process meanwhile (409, or a 207 saying they exist): equal is success.
    return {
      objectTypeId: existing.objectTypeId,
      made: (answer?.results ?? []).map((p) => `property ${p.name} on ${SCORECARD_OBJECT}`),
      types: await acceptIfEqual(client, existing.objectTypeId, wanted),
    };
  }
  for (const p of missing) types.set(p.name, p.type);
  return {
    objectTypeId: existing.objectTypeId,
    made: missing.map((p) => `property ${p.name} on ${SCORECARD_OBJECT}`),
    types,
  };
}

/** The layout checked against the portal's property types: a property of another type cannot hold its metric. */
function layoutFromTypes(layout: FieldLayout, types: Map<string, string>, connectionId: string): FieldLayout {
  for (const [key, spec] of Object.entries(layout) as Array<[WritebackFieldKey, FieldSpec]>) {
    const t = types.get(spec.name);
    const fits =
      spec.unit === 'date'
        ? t === 'date' || t === 'datetime'
        : spec.unit === 'text'
          ? t === 'string' || t === 'enumeration'
          : t === 'number';
    if (!fits) {
      throw new AppError(
        'CRM_FIELD_MISSING',
        `${SCORECARD_OBJECT}.${spec.name} is a ${t ?? 'missing'} property, which cannot hold the ${key} value`,
        { where: `connections.${connectionId}.writeback.fields.${key}` },
      );
    }
  }
  return layout;
}

/** A batch answer: `results` for the inputs applied; a 207 adds `errors` (HubSpot's multi-status). */
interface BatchAnswer {
  status?: string;
  results?: Array<{ id: string; properties?: Record<string, string | null>; new?: boolean }>;
  errors?: Array<{ category?: string; message?: string; context?: Record<string, unknown> }>;
  numErrors?: number;
}

/** The message of a batch error naming `key` in its context, else the first error's. */
function errorFor(answer: BatchAnswer, key: string): { code: string; message: string } {
  const errors = answer.errors ?? [];
  const named = errors.find((e) =>
    Object.values(e.context ?? {}).some((v) => (Array.isArray(v) ? v.map(String).includes(key) : String(v) === key)),
  );
  const e = named ?? errors[0];
  return { code: e?.category ?? 'NO_RESULT', message: e?.message ?? 'HubSpot returned no result for this input' };
}

/** Who and which period a scorecard key stands for. */
interface ScorecardIdentity {
  ownerId: string;
  periodId: string;
  periodStart: string;
  periodEnd: string;
}

/**
 * Sends upserts of one object type on a unique property, 100 inputs a call, each call through `guard`, and reads
 * the 207s per input. Returns one result per input, in input order.
 */
export async function batchUpsert(
  client: HubSpotClient,
  objectType: string,
  idProperty: string,
  inputs: ReadonlyArray<{ key: string; properties: Record<string, string> }>,
  guard?: WriteCallGuard,
): Promise<Array<SinkResult & { crmId?: string }>> {
  const out: Array<SinkResult & { crmId?: string }> = [];
  type Input = (typeof inputs)[number];
  const send = async (batch: readonly Input[]): Promise<void> => {
    let answer: BatchAnswer;
    try {
      answer = await client.request<BatchAnswer>('POST', HUBSPOT_PATHS.batchUpsert(objectType), {
        body: { inputs: batch.map((b) => ({ id: b.key, idProperty, properties: b.properties })) },
        ...(guard ? { beforeAttempt: () => guard.beforeCall(), afterAttempt: (st) => guard.afterCall(st) } : {}),
      });
    } catch (e) {
      // HubSpot refuses a whole batch (400) for one bad input as often as it answers 207: a refusal applied
      // nothing, so the batch is sent again in halves down to the input at fault, which alone fails (the others
      // are written). Anything else (no answer, 5xx, a 429 past its retries) may have landed: the caller's fence.
      const status = isAppError(e) ? (e.details as { status?: number } | undefined)?.status : undefined;
      // Only a validation refusal (400) is about the inputs; a 401 or 403 is about the token, and fails the write.
      if (status !== 400) throw e;
      if (batch.length > 1) {
        const half = Math.ceil(batch.length / 2);
        await send(batch.slice(0, half));
        await send(batch.slice(half));
        return;
      }
      const only = batch[0] as Input;
      out.push({
        targetRecordId: only.key,
        ok: false,
        errorCode: (e as { details?: { crmCode?: string } }).details?.crmCode ?? 'VALIDATION_ERROR',
        message: e instanceof Error ? e.message : String(e),
        retryable: false,
        response: null,
      });
      return;
    }
    const done = new Map((answer.results ?? []).map((r) => [r.properties?.[idProperty] ?? '', r]));
    for (const b of batch) {
      const r = done.get(b.key);
      if (r) {
        out.push({ targetRecordId: b.key, ok: true, crmId: r.id, response: r });
        continue;
      }
      const err = errorFor(answer, b.key);
      out.push({
        targetRecordId: b.key,
        ok: false,
        errorCode: err.code,
        message: err.message,
        // A validation error comes back the same when sent again; anything else may pass later.
        retryable: err.code !== 'VALIDATION_ERROR',
        response: answer.errors ?? null,
      });
    }
  };
  for (let i = 0; i < inputs.length; i += HUBSPOT_BATCH) await send(inputs.slice(i, i + HUBSPOT_BATCH));
  return out;
}

/** Property values as HubSpot takes them: strings, an empty string clearing the value. */
function asProperties(fields: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = v === null || v === undefined ? '' : String(v);
  return out;
}

/**
 * A scorecard record's name, what HubSpot shows for it (the schema's primary display property): the rep and the
 * period, "Sarah Chen · 2026-Q4", so a list of scorecards says whose each is; the owner id when the rep has no name.
 */
export function scorecardName(repName: string | undefined, who: { ownerId: string; periodId: string }): string {
  return `${repName?.trim() || `Owner ${who.ownerId}`} · ${who.periodId}`;
}

/** The write port of a HubSpot connection: scorecards upserted on `qt_key`. */
export function hubspotWritePort(client: HubSpotClient, ctx: WritePortContext, connectionId: string): WritePort {
  let schema: SchemaSetup | undefined;
  const ensure = async (layout: FieldLayout): Promise<SchemaSetup> => {
    if (!schema) {
      schema = await ensureScorecardSchema(client, layout, connectionId);
      for (const line of schema.made) ctx.log.info({ connection: connectionId }, `hubspot setup: created ${line}`);
    }
    return schema;
  };
  const identity = (key: string): ScorecardIdentity | undefined => {
    const cut = key.lastIndexOf(':');
    if (cut <= 0) return undefined;
    const periodId = key.slice(cut + 1);
    const p = ctx.periodBounds(periodId);
    return p ? { ownerId: key.slice(0, cut), periodId, periodStart: p.start, periodEnd: p.end } : undefined;
  };
  return {
    target: { kind: 'custom_object', object: SCORECARD_OBJECT },
    defaultLayout: () => hubspotDefaultLayout(ctx.writeback.fields),
    checkFields: async (layout, id) => layoutFromTypes(layout, (await ensure(layout)).types, id),
    write: async (intents: readonly WriteIntent[], guard: WriteCallGuard) => {
      const { objectTypeId } = await ensure(hubspotDefaultLayout(ctx.writeback.fields));
      const owners = intents.flatMap((i) => identity(i.targetRecordId)?.ownerId ?? []);
      const names = (await ctx.repNames?.(owners)) ?? new Map<string, string>();
      const inputs = intents.map((i) => {
        if (i.targetObject !== SCORECARD_OBJECT) {
          throw new AppError(
            'INTERNAL',
            `a write-back intent for ${i.targetObject} reached the HubSpot scorecard writer`,
            {
              where: i.targetRecordId,
            },
          );
        }
        const who = identity(i.targetRecordId);
        if (!who) {
          throw new AppError('INTERNAL', `no rep and period known for scorecard key ${i.targetRecordId}`, {
            where: i.targetRecordId,
          });
        }
        return {
          key: i.targetRecordId,
          properties: asProperties({
            // Sent with every upsert: it creates the scorecard the first time and changes nothing after.
            qt_name: scorecardName(names.get(who.ownerId), who),
            hubspot_owner_id: who.ownerId,
            qt_period: who.periodId,
            qt_period_start: who.periodStart,
            qt_period_end: who.periodEnd,
            ...i.fields,
          }),
        };
      });
      return batchUpsert(client, objectTypeId, SCORECARD_KEY, inputs, guard);
    },
    apiCalls: () => client.apiCalls(),
    callTimeoutMs: client.requestTimeoutMs,
  };
}
