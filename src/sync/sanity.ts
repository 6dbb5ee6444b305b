/**
 * Sanity rules on normalized records, for every CRM alike: a record that would put an absurd value into the sums
 * (an Amount of -1e15, a 10 MB name, a currency that is no currency, a deal owned by a user the CRM does not have)
 * is quarantined with the reason instead of stored, and the run goes on. The rules sit between the connector's
 * normalizer and the page writer, so one set of bounds holds for Salesforce, HubSpot and any CRM added later.
 *
 * A record quarantined for an unknown owner is kept whole and let in again by a later page of its stream once its
 * owner has synced (a user created between the users read and the deals read would otherwise keep its deals out
 * until they next change).
 */

import { sql, type Transaction } from 'kysely';
import type { NormalizedRecord, Page, QuarantinedRecord } from '../connectors/types.ts';
import type { Database } from '../db/schema.ts';
import { Dec } from '../util/money.ts';
import { sanityChecksOf } from './tables.ts';

/** `connections[].sync.sanity`. */
export interface SanityRules {
  maxAbsAmount: number;
  maxTextLength: number;
}

export const DEFAULT_SANITY: SanityRules = { maxAbsAmount: 1e12, maxTextLength: 32_768 };

/** What a screen needs of the page's context. */
export interface SanityContext {
  connectionId: string;
  stream: { name: string; table: string };
  sanity?: SanityRules | undefined;
}

/** Money columns of the normalized rows (deals, stage history, line items, splits, quotas). */
const AMOUNT_COLUMNS = new Set(['amount', 'split_amount']);

/**
 * ISO 4217 codes of money (ICU's list), less the units of account no deal is priced in (SDR, Sucre); `XXX`
 * ("no currency") and `XTS` ("testing") are not in the list to begin with.
 */
const CURRENCIES: ReadonlySet<string> = new Set(
  Intl.supportedValuesOf('currency').filter((c) => c !== 'XDR' && c !== 'XSU'),
);

export function isKnownCurrency(code: string): boolean {
  return CURRENCIES.has(code);
}

/** The first bound a row breaks, as a quarantine reason; null when it keeps them all. Pure. */
export function boundsViolation(
  table: string,
  row: object,
  rules: SanityRules,
): { reasonCode: string; reason: string } | null {
  for (const [column, value] of Object.entries(row)) {
    if (typeof value === 'string' && value.length > rules.maxTextLength) {
      return {
        reasonCode: 'TEXT_TOO_LONG',
        reason: `${column} is ${value.length.toLocaleString('en-US')} characters long, over sync.sanity.maxTextLength (${rules.maxTextLength.toLocaleString('en-US')})`,
      };
    }
    if (AMOUNT_COLUMNS.has(column) && value !== null && value !== undefined) {
      let abs: Dec;
      try {
        abs = new Dec(String(value)).abs();
      } catch {
        return { reasonCode: 'BAD_NUMBER', reason: `${column} "${String(value)}" is not a number` };
      }
      if (abs.gt(rules.maxAbsAmount)) {
        return {
          reasonCode: 'AMOUNT_OUT_OF_BOUNDS',
          reason: `${column} ${new Dec(String(value)).toFixed()} is beyond ±${new Dec(rules.maxAbsAmount).toFixed()} (sync.sanity.maxAbsAmount)`,
        };
      }
    }
    if (
      column === 'currency' &&
      sanityChecksOf(table).currency &&
      typeof value === 'string' &&
      !isKnownCurrency(value)
    ) {
      return { reasonCode: 'UNKNOWN_CURRENCY', reason: `currency "${value}" is not an ISO 4217 currency code` };
    }
  }
  return null;
}

/** Longest text kept in a quarantined payload: enough to recognise the record, not the 10 MB that got it there. */
const PAYLOAD_TEXT = 200;

function trimmed(rec: NormalizedRecord): unknown {
  const row = Object.fromEntries(
    Object.entries(rec.row).map(([k, v]) =>
      typeof v === 'string' && v.length > PAYLOAD_TEXT
        ? [k, `${v.slice(0, PAYLOAD_TEXT)}... (${v.length.toLocaleString('en-US')} characters in all)`]
        : [k, v],
    ),
  );
  return { record: { ...rec, row } };
}

function ownerOf(rec: NormalizedRecord): string | null {
  const v = (rec.row as { owner_external_id?: string | null }).owner_external_id;
  return v === undefined || v === null || v === '' ? null : v;
}

/**
 * The page as the writer should store it: records outside the bounds, in an unknown currency or owned by an
 * unknown user moved to its quarantine, and earlier unknown-owner records whose owner is now known added back.
 */
export async function screenPage(trx: Transaction<Database>, ctx: SanityContext, page: Page): Promise<Page> {
  const rules = ctx.sanity ?? DEFAULT_SANITY;
  const table = ctx.stream.table;
  const kept: NormalizedRecord[] = [];
  const quarantined: QuarantinedRecord[] = [];
  for (const rec of page.records) {
    const bad = boundsViolation(table, rec.row, rules);
    if (bad) quarantined.push({ externalId: rec.externalId, ...bad, payload: trimmed(rec) });
    else kept.push(rec);
  }

  if (sanityChecksOf(table).owner) {
    const knowsUsers = await trx
      .selectFrom('reps')
      .select('external_id')
      .where('connection_id', '=', ctx.connectionId)
      .limit(1)
      .executeTakeFirst();
    // Before the connection's users have synced at all, nobody is known and nobody unknown: the rule waits.
    if (knowsUsers) {
      const readmitted = await readmit(trx, ctx, new Set(page.records.map((r) => r.externalId)));
      const live = [...kept, ...readmitted];
      const owners = [...new Set(live.filter((r) => !r.isDeleted).flatMap((r) => ownerOf(r) ?? []))];
      const known = new Set(
        owners.length === 0
          ? []
          : (
              await trx
                .selectFrom('reps')
                .select('external_id')
                .where('connection_id', '=', ctx.connectionId)
                .where('external_id', 'in', owners)
                .execute()
            ).map((r) => r.external_id),
      );
      kept.length = 0;
      for (const rec of live) {
        const owner = ownerOf(rec);
        if (rec.isDeleted || owner === null || known.has(owner)) kept.push(rec);
        else
          quarantined.push({
            externalId: rec.externalId,
            reasonCode: 'UNKNOWN_OWNER',
            reason: `owner_external_id "${owner}" names no user of connection ${ctx.connectionId}`,
            payload: { record: rec },
          });
      }
    }
  }

  if (page.deletedIds.length > 0) {
    // A record deleted in the CRM has nothing left to quarantine.
    await trx
      .updateTable('quarantine')
      .set({ resolved_at: new Date() }) // wall-clock: an audit stamp
      .where('connection_id', '=', ctx.connectionId)
      .where('stream', '=', ctx.stream.name)
      .where('resolved_at', 'is', null)
      .where('external_id', 'in', page.deletedIds)
      .execute();
  }
  if (quarantined.length === 0 && kept.length === page.records.length) return page;
  return { ...page, records: kept, quarantined: [...page.quarantined, ...quarantined] };
}

/** Unknown-owner records of this stream whose owner has synced since, as they were last read. */
async function readmit(
  trx: Transaction<Database>,
  ctx: SanityContext,
  onPage: ReadonlySet<string>,
): Promise<NormalizedRecord[]> {
  const rows = await sql<{ external_id: string; payload: { record: NormalizedRecord } }>`
    SELECT q.external_id, q.payload FROM quarantine q
    WHERE q.connection_id = ${ctx.connectionId} AND q.stream = ${ctx.stream.name} AND q.resolved_at IS NULL
      AND q.reason_code = 'UNKNOWN_OWNER'
      AND EXISTS (SELECT 1 FROM reps r WHERE r.connection_id = q.connection_id
        AND r.external_id = q.payload -> 'record' -> 'row' ->> 'owner_external_id')`.execute(trx);
  return rows.rows.filter((r) => !onPage.has(r.external_id)).map((r) => r.payload.record);
}
