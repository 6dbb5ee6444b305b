/**
 * The Salesforce write side: turns write-back intents into `composite/sobjects` calls of at most 200 records with
 * `allOrNone=false`, reads the per-record results, and sends again only the records that failed with a retryable
 * error (jsforce never retries PATCH/POST; the HTTP-level retries are our client's retry policy).
 *
 * Two targets: fields on the rep's User record (PATCH by Id), or one `Quota_Scorecard__c` per rep and period,
 * owned by the rep and upserted on its external id, so a retried create never makes a second scorecard.
 *
 * Our own writes bump the User's SystemModstamp, so the next users sync reads those rows again; the fields we
 * write are not part of the normalized rep row, so its content hash does not change and no recompute follows.
 */

import { AppError } from '../../errors.ts';
import type { Logger } from '../../util/log.ts';
import type {
  FieldLayout,
  FieldSpec,
  FieldUnit,
  SinkResult,
  WritebackFieldKey,
  WritebackSink,
  WriteCallGuard,
  WriteIntent,
  WritePort,
  WritePortContext,
} from '../types.ts';
import type { DescribeResult, SalesforceClient } from './client.ts';
import { defaultLayout } from './write-fields.ts';

/** Records per `composite/sobjects` request (the API's limit). */
export const COMPOSITE_BATCH = 200;

/** Per-record error codes that succeed when sent again a little later. */
const RETRYABLE_RECORD_CODES = new Set(['UNABLE_TO_LOCK_ROW', 'REQUEST_RUNNING_TOO_LONG', 'SERVER_UNAVAILABLE']);

/** One record's outcome in a composite response. */
interface CompositeItem {
  id?: string | null;
  success: boolean;
  created?: boolean;
  errors?: Array<{ statusCode?: string; message?: string; fields?: string[] }>;
}

export interface SalesforceWriteTarget {
  /** `user_fields`: PATCH the User by Id; `custom_object`: upsert one scorecard per rep and period. */
  kind: 'user_fields' | 'custom_object';
  /** `User` or the scorecard object's API name. */
  object: string;
  /** External id field of the scorecard (`Scorecard_Key__c`); unused for User. */
  externalIdField: string;
}

/** The default target of a connection's `writeback` config. */
export function writeTargetFor(cfg: {
  target: 'user_fields' | 'custom_object';
  object?: string | undefined;
}): SalesforceWriteTarget {
  return cfg.target === 'user_fields'
    ? { kind: 'user_fields', object: 'User', externalIdField: 'Id' }
    : { kind: 'custom_object', object: cfg.object ?? 'Quota_Scorecard__c', externalIdField: 'Scorecard_Key__c' };
}

/** A scorecard's key: one per rep and period. */
export function scorecardKey(repUserId: string, periodId: string): string {
  return `${repUserId}:${periodId}`;
}

/** What a scorecard needs besides the metrics: who it is for and which period (from its key and the calendar). */
export interface ScorecardIdentity {
  repUserId: string;
  periodId: string;
  periodStart: string;
  periodEnd: string;
}

function unitOfType(type: string): FieldUnit | null {
  switch (type) {
    case 'percent':
      return 'percent';
    case 'double':
    case 'int':
    case 'long':
    case 'currency':
      return 'number';
    case 'string':
    case 'picklist':
    case 'textarea':
      return 'text';
    case 'date':
      return 'date';
    default:
      return null;
  }
}

/**
 * Checks every write-back field against the object's describe and returns the layout with the units and scales
 * the org really has. A missing field is CRM_FIELD_MISSING, a field the integration user cannot update is
 * CRM_PERMISSION, a field of a type we cannot write a metric to is CRM_FIELD_MISSING naming the type; each names
 * the object and field and says what to deploy.
 */
export function layoutFromDescribe(describe: DescribeResult, layout: FieldLayout, connectionId: string): FieldLayout {
  const byName = new Map(describe.fields.map((f) => [f.name.toLowerCase(), f]));
  const out = {} as Record<WritebackFieldKey, FieldSpec>;
  for (const [key, spec] of Object.entries(layout) as Array<[WritebackFieldKey, FieldSpec]>) {
    const where = `connections.${connectionId}.writeback.fields.${key}`;
    const f = byName.get(spec.name.toLowerCase()) as
      | (DescribeResult['fields'][number] & { scale?: number })
      | undefined;
    if (!f) {
      throw new AppError(
        'CRM_FIELD_MISSING',
        `${describe.name}.${spec.name} does not exist or is not visible to the integration user; deploy salesforce-metadata/ (or set ${where} to an existing field)`,
        { where },
      );
    }
    if (f.updateable === false) {
      throw new AppError(
        'CRM_PERMISSION',
        `${describe.name}.${f.name} is not writable by the integration user; assign the Quota_Tracker_Integration permission set`,
        { where },
      );
    }
    const unit = unitOfType(f.type);
    if (unit === null || (spec.unit === 'date') !== (unit === 'date')) {
      throw new AppError(
        'CRM_FIELD_MISSING',
        `${describe.name}.${f.name} is a ${f.type} field, which cannot hold the ${key} value`,
        { where },
      );
    }
    // A ratio may go to a Percent or a Number field; status and rank keep their own kind.
    const finalUnit = key === 'status' ? 'text' : key === 'rank' && unit !== 'text' ? 'number' : unit;
    out[key] = { name: f.name, unit: finalUnit, scale: typeof f.scale === 'number' ? f.scale : spec.scale };
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface CompositeOptions {
  log: Logger;
  /** Rounds of re-sending records that failed with a retryable error. */
  recordRetries?: number;
  /** Delay before the first re-send, doubled each round. */
  retryDelayMs?: number;
}

/**
 * Sends records through `composite/sobjects` in batches of 200 with allOrNone=false: PATCH by Id (no
 * `externalIdField`) or upsert on an external id field. Returns one result per record, in input order. `guard`
 * sees every request, each batch and each retry of it (WriteCallGuard): what its `beforeCall` throws stops the
 * write there.
 */
export async function compositeWrite(
  client: SalesforceClient,
  object: string,
  records: ReadonlyArray<{ key: string; body: Record<string, unknown> }>,
  externalIdField: string | null,
  opts: CompositeOptions,
  guard?: WriteCallGuard,
): Promise<Array<SinkResult & { crmId?: string; created?: boolean }>> {
  const results = new Map<string, SinkResult & { crmId?: string; created?: boolean }>();
  let todo = [...records];
  const rounds = opts.recordRetries ?? 3;
  for (let round = 0; round <= rounds && todo.length > 0; round++) {
    if (round > 0) await sleep((opts.retryDelayMs ?? 500) * 2 ** (round - 1) * (0.5 + Math.random() / 2));
    const again: typeof todo = [];
    for (let i = 0; i < todo.length; i += COMPOSITE_BATCH) {
      const batch = todo.slice(i, i + COMPOSITE_BATCH);
      const path = externalIdField ? `/composite/sobjects/${object}/${externalIdField}` : '/composite/sobjects';
      const body = {
        allOrNone: false,
        records: batch.map((r) => ({ attributes: { type: object }, ...r.body })),
      };
      const items = await client.request<CompositeItem[]>('PATCH', path, {
        body,
        ...(guard ? { beforeAttempt: () => guard.beforeCall(), afterAttempt: (s) => guard.afterCall(s) } : {}),
      });
      batch.forEach((rec, j) => {
        const item = items[j];
        if (item?.success) {
          results.set(rec.key, {
            targetRecordId: rec.key,
            ok: true,
            response: item,
            ...(item.id ? { crmId: item.id } : {}),
            ...(item.created !== undefined ? { created: item.created } : {}),
          });
          return;
        }
        const err = item?.errors?.[0];
        const code = err?.statusCode ?? 'NO_RESULT';
        const retryable = RETRYABLE_RECORD_CODES.has(code);
        if (retryable && round < rounds) {
          again.push(rec);
          return;
        }
        results.set(rec.key, {
          targetRecordId: rec.key,
          ok: false,
          errorCode: code,
          message: err?.message ?? 'Salesforce returned no result for this record',
          retryable,
          response: item ?? null,
        });
      });
    }
    if (again.length > 0)
      opts.log.warn(
        { object, records: again.length },
        'salesforce: re-sending records that failed with a retryable error',
      );
    todo = again;
  }
  return records.map((r) => results.get(r.key) ?? { targetRecordId: r.key, ok: false, errorCode: 'NO_RESULT' });
}

export interface SalesforceWriterOptions extends CompositeOptions {
  target: SalesforceWriteTarget;
  /** For a scorecard target: who and which period a scorecard key stands for. */
  scorecardIdentity?: (key: string) => ScorecardIdentity | undefined;
}

/** The write-back sink of a Salesforce connection. */
export class SalesforceWriter implements WritebackSink {
  constructor(
    private readonly client: SalesforceClient,
    private readonly opts: SalesforceWriterOptions,
  ) {}

  apiCalls(): number {
    return this.client.apiCalls();
  }

  /** Checks the target's fields (one describe call) and returns the layout in the org's own units. */
  async checkFields(layout: FieldLayout, connectionId: string): Promise<FieldLayout> {
    const describe = await this.client.describe(this.opts.target.object);
    return layoutFromDescribe(describe, layout, connectionId);
  }

  async write(intents: readonly WriteIntent[], guard?: WriteCallGuard): Promise<SinkResult[]> {
    const { target } = this.opts;
    const records = intents.map((i) => {
      if (i.targetObject !== target.object) {
        throw new AppError(
          'INTERNAL',
          `a write-back intent for ${i.targetObject} reached the ${target.object} writer`,
          {
            where: i.targetRecordId,
          },
        );
      }
      if (target.kind === 'user_fields') return { key: i.targetRecordId, body: { Id: i.targetRecordId, ...i.fields } };
      const who = this.opts.scorecardIdentity?.(i.targetRecordId);
      if (!who) {
        throw new AppError('INTERNAL', `no rep and period known for scorecard key ${i.targetRecordId}`, {
          where: i.targetRecordId,
        });
      }
      return {
        key: i.targetRecordId,
        body: {
          [target.externalIdField]: i.targetRecordId,
          // Sent with every upsert: it creates the scorecard the first time and changes nothing after.
          Name: `${who.periodId} scorecard`,
          OwnerId: who.repUserId,
          Rep__c: who.repUserId,
          Period__c: who.periodId,
          Period_Start__c: who.periodStart,
          Period_End__c: who.periodEnd,
          ...i.fields,
        },
      };
    });
    return compositeWrite(
      this.client,
      target.object,
      records,
      target.kind === 'custom_object' ? target.externalIdField : null,
      this.opts,
      guard,
    );
  }
}

/** The write port of a Salesforce connection, scorecard identities resolved through the fiscal calendar. */
export function salesforceWritePort(client: SalesforceClient, ctx: WritePortContext): WritePort {
  const target = writeTargetFor({
    ...ctx.writeback,
    target: ctx.writeback.target === 'user_fields' ? 'user_fields' : 'custom_object',
  });
  const writer = new SalesforceWriter(client, {
    target,
    log: ctx.log,
    scorecardIdentity: (key) => {
      const cut = key.lastIndexOf(':');
      if (cut <= 0) return undefined;
      const periodId = key.slice(cut + 1);
      const p = ctx.periodBounds(periodId);
      if (!p) return undefined;
      return { repUserId: key.slice(0, cut), periodId, periodStart: p.start, periodEnd: p.end };
    },
  });
  return {
    target,
    defaultLayout: () => defaultLayout(ctx.writeback.fields),
    checkFields: (layout, connectionId) => writer.checkFields(layout, connectionId),
    write: (intents, guard) => writer.write(intents, guard),
    apiCalls: () => writer.apiCalls(),
    callTimeoutMs: client.requestTimeoutMs,
  };
}
