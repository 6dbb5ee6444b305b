/**
 * The rows a page writes (rowGroups in src/sync/tables.ts) are read from the records without a copy of each: every
 * record's columns and values must be those of the spread they stand for (the writer's leading columns, the record's
 * row, the trailing columns, the strategy's extra ones; a later part wins, undefined included; an undefined column
 * is left out), whatever the rows' shapes and their order.
 */
import { expect, it } from 'vitest';
import type { ColumnValue, NormalizedRecord } from '../../src/connectors/types.ts';
import { rowGroups, type TableContext } from '../../src/sync/tables.ts';

const ctx = {
  connectionId: 'sf',
  runId: 7,
  stream: { name: 'opportunities', table: 'deals', mode: 'incremental' },
  today: '2026-03-02',
} as TableContext;
const stamp = new Date('2026-03-02T10:00:00.000Z');

/** The row as a spread of its parts gives it, undefined columns left out. */
function spread(
  rec: NormalizedRecord,
  hash: string,
  extra: Readonly<Record<string, ColumnValue>> | undefined,
): Array<[string, unknown]> {
  const set: Record<string, unknown> = {
    connection_id: ctx.connectionId,
    external_id: rec.externalId,
    source_modified_at: rec.sourceModifiedAt,
    synced_at: stamp,
    ...(rec.row as object),
    content_hash: hash,
    is_deleted: rec.isDeleted,
    deleted_at: rec.isDeleted ? stamp : null,
    last_seen_run_id: ctx.runId,
    ...extra,
  };
  return Object.entries(set).filter(([, v]) => v !== undefined);
}

function rec(id: string, row: Record<string, unknown>, opts: Partial<NormalizedRecord> = {}): NormalizedRecord {
  return {
    externalId: id,
    sourceModifiedAt: '2026-03-01T00:00:00.000Z',
    isDeleted: false,
    row: row as unknown as NormalizedRecord['row'],
    ...opts,
  };
}

it.each([
  ['no extra', undefined],
  ['extra columns, one set again by rows, one undefined', { source: 'crm', name: 'from extra', amount: undefined }],
] as Array<[string, Readonly<Record<string, ColumnValue>> | undefined]>)(
  'every record gets the columns and values of its spread (%s)',
  (_, extra) => {
    const records = [
      rec('a', { name: 'A', amount: '1', stage: 'Open' }),
      rec('b', { name: 'B', amount: '2', stage: 'Won' }, { isDeleted: true }),
      // An undefined value: the column is left out (another group).
      rec('c', { name: 'C', amount: undefined, stage: 'Open' }),
      // The same keys in another order.
      rec('d', { stage: 'Open', name: 'D', amount: '4' }),
      // Back to the first shape after others.
      rec('e', { name: 'E', amount: '5', stage: 'Lost' }),
      // Rows setting a leading or trailing column again, and a stamp that is null or missing.
      rec('f', { name: 'F', amount: '6', stage: 'Open', source_modified_at: '2020-01-01T00:00:00.000Z' }),
      rec('g', { name: 'G', amount: '7', stage: 'Open', content_hash: 'the row says' }),
      rec('h', { name: 'H', amount: '8', stage: 'Open' }, { sourceModifiedAt: null }),
      rec('i', { name: 'I', amount: '9', stage: 'Open' }, { sourceModifiedAt: undefined as unknown as null }),
      rec('j', { name: 'J', amount: '10', stage: 'Open', synced_at: undefined }),
      rec('k', { name: 'K', amount: '11', stage: 'Open' }),
    ];
    const items = records.map((r, i) => ({ rec: r, hash: `h${i}` }));
    const groups = rowGroups(ctx, items, stamp, extra);
    const got = new Map<string, Array<[string, unknown]>>();
    for (const g of groups) {
      expect(new Set(g.columns).size).toBe(g.columns.length);
      for (const item of g.items)
        got.set(
          item.rec.externalId,
          g.columns.map((c, i) => [c, g.values[i]?.(item)]),
        );
    }
    expect(got.size).toBe(records.length);
    for (const item of items) expect(got.get(item.rec.externalId)).toEqual(spread(item.rec, item.hash, extra));
    // Records keep the page's order within their group, and rows of one shape share a group (a row setting a trailing
    // column in its place again, or a null stamp, has the same columns from the same parts).
    for (const g of groups) {
      const order = g.items.map((i) => records.indexOf(i.rec));
      expect(order).toEqual([...order].sort((x, y) => x - y));
    }
    const first = groups.find((g) => g.items.some((i) => i.rec.externalId === 'a'));
    expect(first?.items.map((i) => i.rec.externalId)).toEqual(
      extra ? ['a', 'b', 'c', 'e', 'g', 'h', 'k'] : ['a', 'b', 'e', 'g', 'h', 'k'],
    );
  },
);
