/**
 * Every deal's life as the warehouse's stage history tells it up to D, for the forecast's calibration and
 * backtest (docs/metrics.md, "Forecast confidence"). Unlike the figures' load this reads the whole history: the
 * calibration learns from every ended period the warehouse has.
 */
import { type Kysely, sql } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { PlainDate } from '../../util/date.ts';
import { Dec } from '../../util/money.ts';
import type { DealHistoryRow, DealTimeline } from '../math/calibration.ts';
import { convertAmount, type FxTable } from '../math/currency.ts';
import type { StageCategory } from '../math/types.ts';
import type { HistoryRow } from './load.ts';

interface DealRow {
  connection_id: string;
  external_id: string;
  owner_external_id: string;
  created_date: PlainDate;
  amount: string | null;
  currency: string;
  stage: string;
  stage_category: StageCategory;
  close_date: PlainDate | null;
  probability: string | null;
}

export interface TimelineOptions {
  asOf: PlainDate;
  timezone: string;
  ownerToRep: ReadonlyMap<string, string>;
  fx: FxTable;
}

const num = (s: string | null) => (s === null ? null : Number(s));

/**
 * The timelines of every deal created on or before D, rows on or before D. A deal without stage history has no
 * past to learn from: a closed one keeps one row on its close date (it counts for new pipeline), an open one one
 * row of its current state from its creation (its close date is after every ended period, so no snapshot sees it).
 * Amounts are in base currency at D's rates; a deal that cannot be converted keeps a null amount.
 */
export async function loadDealTimelines(db: Kysely<Database>, o: TimelineOptions): Promise<DealTimeline[]> {
  const [deals, history] = await Promise.all([
    sql<DealRow>`
      select connection_id, external_id, owner_external_id, created_date::text as created_date, amount, currency,
             stage, stage_category, close_date::text as close_date, probability
      from deals
      where not is_deleted and owner_external_id is not null and created_date <= ${o.asOf}
      order by connection_id, external_id`.execute(db),
    sql<HistoryRow>`
      select h.connection_id, h.deal_external_id, h.stage, h.stage_category, h.amount,
             h.close_date::text as close_date, h.probability, (h.changed_at at time zone ${o.timezone})::date::text as day
      from deal_stage_history h
      where not h.is_deleted and (h.changed_at at time zone ${o.timezone})::date <= ${o.asOf}
      order by h.connection_id, h.deal_external_id, h.changed_at, h.external_id`.execute(db),
  ]);
  const rowsOf = new Map<string, HistoryRow[]>();
  for (const h of history.rows) {
    const key = `${h.connection_id}:${h.deal_external_id}`;
    const list = rowsOf.get(key);
    if (list) list.push(h);
    else rowsOf.set(key, [h]);
  }
  const out: DealTimeline[] = [];
  for (const d of deals.rows) {
    const key = `${d.connection_id}:${d.external_id}`;
    const h = rowsOf.get(key) ?? [];
    let rows: DealHistoryRow[];
    let amount = d.amount;
    if (h.length > 0) {
      rows = h.map((r) => ({
        date: r.day,
        stage: r.stage,
        category: r.stage_category,
        closeDate: r.close_date,
        probability: num(r.probability),
      }));
      for (const r of h) if (r.amount !== null) amount = r.amount;
    } else if (d.stage_category === 'open' || d.close_date === null) {
      rows = [
        {
          date: d.created_date,
          stage: d.stage,
          category: d.stage_category,
          closeDate: d.close_date,
          probability: num(d.probability),
        },
      ];
    } else {
      if (d.close_date > o.asOf) continue;
      rows = [
        {
          date: d.close_date,
          stage: d.stage,
          category: d.stage_category,
          closeDate: d.close_date,
          probability: num(d.probability),
        },
      ];
    }
    const converted = convertAmount(o.fx, amount === null ? null : new Dec(amount), d.currency, o.asOf, key);
    // The figures key deals by their external id (load.ts); the forecast's probabilities and streams do too.
    out.push({
      id: d.external_id,
      ownerId:
        o.ownerToRep.get(`${d.connection_id}:${d.owner_external_id}`) ?? `${d.connection_id}:${d.owner_external_id}`,
      createdDate: d.created_date,
      amount: converted.amount,
      rows,
    });
  }
  return out;
}
