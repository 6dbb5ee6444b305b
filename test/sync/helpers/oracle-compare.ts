/**
 * Compares every synced stream with the sandbox oracle: for each stream, all the columns the oracle names, as a
 * count and a checksum (and, on a mismatch, the first differing rows in the failure message), plus the open
 * quarantine.
 */
import type { Kysely } from 'kysely';
import { expect } from 'vitest';
import type { SalesforceSandbox } from '../../../src/sandbox/salesforce/index.ts';
import { canonicalValue, expectedWarehouse, tableChecksum } from '../../../src/sandbox/salesforce/oracle.ts';

/** Streams that share a table with another: their own rows are these. */
const SCOPE: Record<string, [string, string]> = {
  tasks: ['kind', 'task'],
  events: ['kind', 'event'],
  currency_types: ['source', 'crm_static'],
  dated_conversion_rates: ['source', 'crm_dated'],
};

/**
 * Warehouse columns the oracle cannot know: bookkeeping (surrogate id, when synced, hash, run), links made in the
 * warehouse (person_id) and columns only another source fills (HubSpot's pipeline, the quota file's org unit).
 */
const BOOKKEEPING = new Set([
  'id',
  'synced_at',
  'content_hash',
  'deleted_at',
  'last_seen_run_id',
  'person_id',
  'pipeline',
  'org_unit_id',
]);

/** Up to `max` rows that differ, as "id column: warehouse vs oracle", for a readable failure. */
function firstDifferences(
  actual: Record<string, unknown>[],
  expected: Record<string, unknown>[],
  columns: string[],
  max = 5,
): string[] {
  const byId = new Map(actual.map((r) => [String(r.external_id), r]));
  const out: string[] = [];
  for (const r of expected) {
    const a = byId.get(String(r.external_id));
    if (!a) out.push(`${String(r.external_id)}: missing from the warehouse`);
    else {
      for (const c of columns) {
        if (canonicalValue(a[c]) !== canonicalValue(r[c]))
          out.push(`${String(r.external_id)} ${c}: ${canonicalValue(a[c])} vs ${canonicalValue(r[c])}`);
      }
    }
    if (out.length >= max) return out;
  }
  const ids = new Set(expected.map((r) => String(r.external_id)));
  for (const a of actual) {
    if (!ids.has(String(a.external_id))) out.push(`${String(a.external_id)}: not expected by the oracle`);
    if (out.length >= max) break;
  }
  return out;
}

/** Asserts every stream of connection `connectionId` equals the oracle of `sb`'s store (count and checksum). */
// biome-ignore lint/suspicious/noExplicitAny: tables are named by the oracle at run time
export async function expectWarehouseEqualsOracle(db: Kysely<any>, sb: SalesforceSandbox, connectionId: string) {
  const expected = expectedWarehouse(sb.store, { connectionId });
  expect(expected.unknownHardDeletes).toEqual([]);
  for (const [stream, { table, rows }] of Object.entries(expected.streams)) {
    const columns = Object.keys(rows[0] ?? { external_id: null });
    let q = db.selectFrom(table).selectAll().where('connection_id', '=', connectionId);
    const scope = SCOPE[stream];
    if (scope) q = q.where(scope[0], '=', scope[1]);
    const actual = (await q.execute()) as Record<string, unknown>[];
    // Every column of the table is compared: none is left out but bookkeeping.
    const unchecked = Object.keys(actual[0] ?? {}).filter((c) => !BOOKKEEPING.has(c) && !columns.includes(c));
    expect({ stream, unchecked }).toEqual({ stream, unchecked: [] });
    const got = tableChecksum(actual, columns);
    const want = tableChecksum(rows, columns);
    const diff = got.sha256 === want.sha256 ? [] : firstDifferences(actual, rows, columns);
    expect({ stream, ...got, diff }).toEqual({ stream, ...want, diff: [] });
  }
  const quarantined = await db
    .selectFrom('quarantine')
    .select(['stream', 'external_id', 'reason_code'])
    .where('connection_id', '=', connectionId)
    .where('resolved_at', 'is', null)
    .orderBy('external_id')
    .execute();
  expect(quarantined).toEqual(
    [...expected.quarantined].sort((a, b) => (a.external_id < b.external_id ? -1 : 1)).map((q) => ({ ...q })),
  );
}
