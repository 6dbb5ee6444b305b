/**
 * Reading one HubSpot object stream loss-free at the page-size minimum of calls:
 *
 * - the first read lists the object (100 a page, 50 with `propertiesWithHistory`), in id order;
 * - later reads search a stamp window `stamp >= since - lookback` (inclusive: records that share the last stamp
 *   are read again, never lost), sorted by `hs_object_id` (search takes one sort), 200 a page. Every page is asked
 *   for as `hs_object_id > last id seen` instead of by offset: a query's offset never reaches the 10,000-result cap
 *   (a page past it is a 400: https://developers.hubspot.com/docs/api-reference/search/guide#limitations), a window
 *   of any size is read completely, and a record modified while the window is read cannot shift the pages;
 * - search returns no property history, so a stream that needs it batch-reads the ids it found with
 *   `propertiesWithHistory` (50 inputs a call);
 * - a stream that needs its records' links (an activity's deal) reads them for the page's ids through the
 *   associations v4 batch read, one call per page and association type (associations.ts);
 * - archiving does not move the stamp (airbytehq/airbyte#19838), so after the window the archived list
 *   (`archived=true`, https://developers.hubspot.com/docs/api-reference/latest/crm/objects/companies/get-companies)
 *   names the deletes.
 *
 * The next window starts at the highest stamp read, but never after the instant the scan started: a record
 * written during the scan below the keyset position is stamped after that instant and comes with the next window.
 */
import type { Logger } from '../../util/log.ts';
import type { NormalizedRecord, Page, QuarantinedRecord, StoredValue, WarehouseTable } from '../types.ts';
import { ASSOCIATION_BATCH, type Links, readAssociations } from './associations.ts';
import type { HubSpotClient } from './client.ts';
import { type HubSpotCursor, type Scan, toJson } from './cursor.ts';
import type { HsObject } from './normalize.ts';
import { HUBSPOT_PATHS } from './paths.ts';

export const LIST_PAGE = 100;
export const LIST_PAGE_WITH_HISTORY = 50;
export const SEARCH_PAGE = 200;
export const BATCH_READ_WITH_HISTORY = 50;

export interface ObjectStreamPlan<T extends WarehouseTable = WarehouseTable> {
  objectType: string;
  /** `hs_lastmodifieddate` (contacts: `lastmodifieddate`). */
  stampProperty: string;
  properties: readonly string[];
  /** Properties whose history the rows need: then the list asks for it and a search is followed by batch reads. */
  history?: readonly string[];
  /** Whether archived records are this stream's deletes (their ids are its rows' ids). */
  deletes: boolean;
  /** Object types whose associations each page's records need (read once per page and type). */
  associations?: readonly string[];
  /**
   * The warehouse column holding the deal a record is linked to (the lowest associated deal id): after a search
   * window a rotating slice of the stored rows has its links read again and the records whose link moved are
   * re-read (README, "Links made later"). Needs `associations` to hold `deals`.
   */
  relinkColumn?: string;
  /**
   * The quarantine reason of a record kept out for having no link (a line item on no deal): such records join the
   * relink rotation with no stored link, so one linked later comes out of quarantine into the warehouse.
   */
  relinkQuarantined?: string;
  /** The cursor names the object read (a stream read from another object than its own: leads from contacts). */
  tagCursor?: boolean;
  toRows(objects: readonly HsObject[], links: ReadonlyMap<string, Links>): Promise<PlanRows<T>>;
}

export interface PlanRows<T extends WarehouseTable> {
  records: NormalizedRecord<T>[];
  quarantined: QuarantinedRecord[];
  /** Records read that are not the stream's (alert tasks): flagged deleted should a row of theirs exist. */
  deletedIds?: string[];
}

const NO_ROWS = { records: [], quarantined: [] };
const NO_LINKS: ReadonlyMap<string, Links> = new Map();

async function linksOf(opts: ReadOptions, plan: ObjectStreamPlan, objects: readonly HsObject[]) {
  if (!plan.associations?.length || objects.length === 0) return NO_LINKS;
  const ids = objects.map((o) => o.id);
  const out = new Map<string, Links>();
  for (const to of plan.associations) out.set(to, await readAssociations(opts.client, plan.objectType, to, ids));
  return out;
}

export interface ReadOptions {
  client: HubSpotClient;
  lookbackMs: number;
  now: () => Date;
  log: Logger;
  signal?: AbortSignal;
  /** The stream's stored rows (ReadContext.stored): absent, links made later are not looked for. */
  stored?: (column: string, afterId: string | null, limit: number, quarantined?: string) => Promise<StoredValue[]>;
  /** How many rows `stored` goes through (ReadContext.storedCount). */
  storedCount?: (quarantined?: string) => Promise<number>;
}

/** Stored rows whose links one relink page reads again: one association batch read (1,000 ids) a page. */
export const RELINK_PAGE = ASSOCIATION_BATCH;
/**
 * Runs one rotation of the relink pass spans: each run reads the links of the next 1/RELINK_ROTATION_RUNS of the
 * stored rows (whole association calls, at least one), so a link made later is found within this many runs.
 */
export const RELINK_ROTATION_RUNS = 24;

/** Association calls one run's relink slice makes over `stored` rows: ceil(stored / (1,000 x runs)), 0 for none. */
export function relinkCallsPerRun(stored: number): number {
  return stored <= 0 ? 0 : Math.ceil(stored / (RELINK_PAGE * RELINK_ROTATION_RUNS));
}
/** Records a batch read takes (without history). */
export const BATCH_READ = 100;

/** The records of `ids` as a batch read gives them (with history where the plan needs it), in `ids` order. */
async function batchRead(opts: ReadOptions, plan: ObjectStreamPlan, ids: readonly string[]): Promise<HsObject[]> {
  if (plan.history) return batchReadWithHistory(opts, plan, ids);
  const out: HsObject[] = [];
  for (let i = 0; i < ids.length; i += BATCH_READ) {
    const res = await opts.client.post<{ results: HsObject[] }>(HUBSPOT_PATHS.batchRead(plan.objectType), {
      inputs: ids.slice(i, i + BATCH_READ).map((id) => ({ id })),
      properties: plan.properties,
    });
    out.push(...res.results);
  }
  const order = new Map(ids.map((id, i) => [id, i]));
  return out.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
}

/**
 * One relink page: the next RELINK_PAGE stored rows after `afterId`, wrapping to the first rows at the end (each row
 * once), their deal associations read again in one call, and the records whose lowest deal is not the stored one
 * batch-read (100 a call) to be written anew with their links. `at` is the row the rotation goes on after (null: the
 * first row next).
 */
async function relinkPage(
  opts: ReadOptions,
  plan: ObjectStreamPlan,
  afterId: string | null,
): Promise<{ objects: HsObject[]; links: ReadonlyMap<string, Links>; at: string | null }> {
  const column = plan.relinkColumn as string;
  const page = (after: string | null, limit: number) =>
    opts.stored ? opts.stored(column, after, limit, plan.relinkQuarantined) : Promise.resolve([]);
  let stored = await page(afterId, RELINK_PAGE);
  let at = stored.length === RELINK_PAGE ? (stored.at(-1)?.externalId ?? null) : null;
  if (stored.length < RELINK_PAGE && afterId !== null) {
    // The end of the rows: the page goes on from the first, up to where it began.
    const seen = new Set(stored.map((r) => r.externalId));
    const wrapped = (await page(null, RELINK_PAGE - stored.length)).filter((r) => !seen.has(r.externalId));
    stored = [...stored, ...wrapped];
    at = wrapped.at(-1)?.externalId ?? null;
  }
  if (stored.length === 0) return { objects: [], links: NO_LINKS, at: null };
  const deals = await readAssociations(
    opts.client,
    plan.objectType,
    'deals',
    stored.map((r) => r.externalId),
  );
  const moved = stored.filter((r) => (deals.get(r.externalId)?.[0] ?? null) !== r.value).map((r) => r.externalId);
  // A record archived since is the archived list's to name; a batch read leaves it out.
  const objects = moved.length > 0 ? await batchRead(opts, plan, moved) : [];
  const links = new Map<string, Links>([
    ['deals', new Map(moved.flatMap((id) => (deals.has(id) ? [[id, deals.get(id) ?? []] as const] : [])))],
  ]);
  return { objects, links, at };
}

interface ListAnswer {
  results: HsObject[];
  paging?: { next?: { after?: string } };
  total?: number;
}

function stampMs(o: HsObject, prop: string): number {
  const t = Date.parse(o.properties[prop] ?? o.updatedAt ?? '');
  return Number.isNaN(t) ? 0 : t;
}

/** Where the next window starts: the highest stamp read, at most the scan's start, never before the last since. */
function nextSince(prev: number | null, high: number, startedAt: number): number {
  const candidate = high > 0 ? Math.min(high, startedAt) : startedAt;
  return prev === null ? candidate : Math.max(prev, candidate);
}

async function batchReadWithHistory(
  opts: ReadOptions,
  plan: ObjectStreamPlan,
  ids: readonly string[],
): Promise<HsObject[]> {
  const out: HsObject[] = [];
  for (let i = 0; i < ids.length; i += BATCH_READ_WITH_HISTORY) {
    const res = await opts.client.post<{ results: HsObject[] }>(HUBSPOT_PATHS.batchRead(plan.objectType), {
      inputs: ids.slice(i, i + BATCH_READ_WITH_HISTORY).map((id) => ({ id })),
      properties: plan.properties,
      propertiesWithHistory: plan.history,
    });
    out.push(...res.results);
  }
  // A batch answers in no promised order; keep the keyset's.
  const order = new Map(ids.map((id, i) => [id, i]));
  return out.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
}

export async function* readObjectStream<T extends WarehouseTable>(
  opts: ReadOptions,
  plan: ObjectStreamPlan<T>,
  start: HubSpotCursor,
  /** The stream was never read (no stored cursor, no earlier sync): nothing can be in the warehouse to delete. */
  fresh = false,
): AsyncGenerator<Page<T>> {
  const { client } = opts;
  let since = start.since;
  let relinkAt = start.relink ?? null;
  let scan: Scan =
    start.scan ??
    (since === null
      ? { kind: 'list', after: null, high: 0, startedAt: opts.now().getTime(), ...(fresh ? { fresh: true } : {}) }
      : { kind: 'search', lower: since - opts.lookbackMs, afterId: null, high: 0, startedAt: opts.now().getTime() });
  for (;;) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    const before = client.apiCalls();
    let objects: HsObject[] = [];
    let deletedIds: string[] = [];
    let nextScan: Scan | null;
    let totalEstimate: number | undefined;
    /** Links a relink page already read for its records (no second association call). */
    let pageLinks: ReadonlyMap<string, Links> | null = null;
    if (scan.kind === 'list') {
      const qs: Record<string, string> = {
        limit: String(plan.history ? LIST_PAGE_WITH_HISTORY : LIST_PAGE),
        properties: plan.properties.join(','),
        archived: 'false',
      };
      if (plan.history) qs.propertiesWithHistory = plan.history.join(',');
      if (scan.after) qs.after = scan.after;
      const res = await client.get<ListAnswer>(HUBSPOT_PATHS.objects(plan.objectType), qs);
      objects = res.results;
      const high = Math.max(scan.high, ...objects.map((o) => stampMs(o, plan.stampProperty)));
      const after = res.paging?.next?.after ?? null;
      nextScan = after
        ? { ...scan, after, high }
        : { kind: 'archived', after: null, next: nextSince(since, high, scan.startedAt) };
    } else if (scan.kind === 'search') {
      const filters: Array<Record<string, string>> = [
        { propertyName: plan.stampProperty, operator: 'GTE', value: String(scan.lower) },
      ];
      if (scan.afterId) filters.push({ propertyName: 'hs_object_id', operator: 'GT', value: scan.afterId });
      const res = await client.post<ListAnswer>(HUBSPOT_PATHS.search(plan.objectType), {
        filterGroups: [{ filters }],
        sorts: [{ propertyName: 'hs_object_id', direction: 'ASCENDING' }],
        properties: plan.history ? ['hs_object_id', plan.stampProperty] : plan.properties,
        limit: SEARCH_PAGE,
      });
      if (scan.afterId === null && typeof res.total === 'number') totalEstimate = res.total;
      const found = res.results;
      objects =
        plan.history && found.length > 0
          ? await batchReadWithHistory(
              opts,
              plan,
              found.map((o) => o.id),
            )
          : found;
      const high = Math.max(scan.high, ...found.map((o) => stampMs(o, plan.stampProperty)));
      const lastId = found.at(-1)?.id ?? null;
      const next = nextSince(since, high, scan.startedAt);
      const relinkCalls =
        found.length === SEARCH_PAGE || !plan.relinkColumn || !opts.stored
          ? 0
          : relinkCallsPerRun((await opts.storedCount?.(plan.relinkQuarantined)) ?? RELINK_PAGE);
      nextScan =
        found.length === SEARCH_PAGE && lastId !== null
          ? { ...scan, afterId: lastId, high }
          : relinkCalls > 0
            ? { kind: 'relink', afterId: relinkAt, next, calls: relinkCalls }
            : { kind: 'archived', after: null, next };
    } else if (scan.kind === 'relink') {
      const page = await relinkPage(opts, plan, scan.afterId);
      objects = page.objects;
      pageLinks = page.links;
      relinkAt = page.at;
      nextScan =
        scan.calls > 1
          ? { ...scan, afterId: page.at, calls: scan.calls - 1 }
          : { kind: 'archived', after: null, next: scan.next };
    } else {
      const qs: Record<string, string> = { limit: String(LIST_PAGE), properties: 'hs_object_id', archived: 'true' };
      if (scan.after) qs.after = scan.after;
      const res = await client.get<ListAnswer>(HUBSPOT_PATHS.objects(plan.objectType), qs);
      deletedIds = res.results.map((o) => o.id);
      const after = res.paging?.next?.after ?? null;
      if (after) nextScan = { ...scan, after };
      else {
        since = scan.next;
        nextScan = null;
      }
    }
    if (nextScan?.kind === 'archived' && (!plan.deletes || (scan.kind === 'list' && scan.fresh))) {
      since = nextScan.next;
      nextScan = null;
    }
    const rows: PlanRows<T> =
      objects.length > 0 ? await plan.toRows(objects, pageLinks ?? (await linksOf(opts, plan, objects))) : NO_ROWS;
    const { records, quarantined } = rows;
    const cursor: HubSpotCursor = {
      v: 1,
      since,
      scan: nextScan,
      ...(plan.tagCursor ? { object: plan.objectType } : {}),
      ...(relinkAt !== null ? { relink: relinkAt } : {}),
    };
    yield {
      records,
      deletedIds: rows.deletedIds?.length ? [...deletedIds, ...rows.deletedIds] : deletedIds,
      quarantined,
      cursor: toJson(cursor),
      apiCalls: client.apiCalls() - before,
      ...(totalEstimate !== undefined ? { totalEstimate } : {}),
    };
    if (nextScan === null) return;
    scan = nextScan;
  }
}
