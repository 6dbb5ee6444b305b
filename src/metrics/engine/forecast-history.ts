/**
 * Every deal's life as the warehouse's stage history tells it up to D, for the forecast's calibration and
 * backtest (docs/metrics.md, "Forecast confidence"). Unlike the figures' load this reads the whole history: the
 * calibration learns from every ended period the warehouse has.
 */
import { type Kysely, sql } from 'kysely';
import type { FiscalCalendar, FiscalPeriod } from '../../config/calendar.ts';
import type { Database } from '../../db/schema.ts';
import type { PlainDate } from '../../util/date.ts';
import { addDays } from '../../util/date.ts';
import { Dec } from '../../util/money.ts';
import {
  type Calibration,
  type CalibrationBasis,
  type CalibrationSettings,
  type DealHistoryRow,
  type DealTimeline,
  dealProbability,
  FALLBACK_SIGMA,
  type IsotonicMap,
  MAX_SIGMA,
  periodSnapshots,
  poolAdjacentViolators,
  type RateTable,
  tableRate,
  weekIndex,
  wonDay,
} from '../math/calibration.ts';
import { convertAmount, type FxTable } from '../math/currency.ts';
import type { NewPipelineInput } from '../math/rep-metrics.ts';
import type { StageCategory } from '../math/types.ts';
import type { LearnedForecast } from './forecast-model.ts';
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
  const out: DealTimeline[] = [];
  for await (const page of dealTimelinePages(db, o)) for (const t of page) out.push(t);
  return out;
}

/**
 * The deal ids that two connections' deals share (an id is unique within its connection, the deals' key): the ids
 * whose (deal, period) pairs `learnForecastsByPage` must keep by id. With one connection's deals there are none,
 * known from two index probes without reading the deals.
 */
export async function repeatedDealIds(db: Kysely<Database>): Promise<Set<string>> {
  const many = await sql<{ many: boolean }>`
    select exists (select 1 from deals where connection_id > (select min(connection_id) from deals)) as many`.execute(
    db,
  );
  if (!many.rows[0]?.many) return new Set();
  const ids = await sql<{ external_id: string }>`
    select external_id from deals group by external_id having count(*) > 1`.execute(db);
  return new Set(ids.rows.map((r) => r.external_id));
}

/** Deals per page of `dealTimelinePages`. */
export const TIMELINE_PAGE = 10_000;

/**
 * `loadDealTimelines` a page of deals at a time, in (connection, deal id) order: each page's deals and the stage
 * history rows of their key range (both reads served by the key's index), so a reader that folds each page into
 * what it learns (`learnForecastsByPage`) never holds the whole history.
 */
export async function* dealTimelinePages(
  db: Kysely<Database>,
  o: TimelineOptions,
  pageSize = TIMELINE_PAGE,
): AsyncGenerator<DealTimeline[]> {
  // Every deal key sorts after ('', ''): the first page's read has the same key condition as the others'.
  let after: [string, string] = ['', ''];
  for (;;) {
    const deals = await sql<DealRow>`
      select connection_id, external_id, owner_external_id, created_date::text as created_date, amount, currency,
             stage, stage_category, close_date::text as close_date, probability
      from deals
      where (connection_id, external_id) > (${after[0]}, ${after[1]})
        and not is_deleted and owner_external_id is not null and created_date <= ${o.asOf}
      order by connection_id, external_id
      limit ${pageSize}`.execute(db);
    const first = deals.rows[0];
    const last = deals.rows[deals.rows.length - 1];
    if (!first || !last) return;
    const history = await sql<HistoryRow>`
      select h.connection_id, h.deal_external_id, h.stage, h.stage_category, h.amount,
             h.close_date::text as close_date, h.probability, (h.changed_at at time zone ${o.timezone})::date::text as day
      from deal_stage_history h
      where (h.connection_id, h.deal_external_id) >= (${first.connection_id}, ${first.external_id})
        and (h.connection_id, h.deal_external_id) <= (${last.connection_id}, ${last.external_id})
        and not h.is_deleted and (h.changed_at at time zone ${o.timezone})::date <= ${o.asOf}
      order by h.connection_id, h.deal_external_id, h.changed_at, h.external_id`.execute(db);
    yield timelinesOf(deals.rows, history.rows, o);
    if (deals.rows.length < pageSize) return;
    after = [last.connection_id, last.external_id];
  }
}

/** The timelines of some deals from their rows and stage history (see `loadDealTimelines`). */
function timelinesOf(deals: readonly DealRow[], history: readonly HistoryRow[], o: TimelineOptions): DealTimeline[] {
  const rowsOf = new Map<string, HistoryRow[]>();
  for (const h of history) {
    const key = `${h.connection_id}:${h.deal_external_id}`;
    const list = rowsOf.get(key);
    if (list) list.push(h);
    else rowsOf.set(key, [h]);
  }
  const out: DealTimeline[] = [];
  for (const d of deals) {
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

// --- learning page by page: what `learnForecast` (forecast-model.ts) learns from all the timelines at once, folded
// one page of timelines at a time into counts that keep the order the one-pass math adds in, so the calibration,
// its sigma and the new-pipeline terms come out the same to the last bit (floating-point sums included).

interface Tally {
  wins: number;
  n: number;
}

/** What one ended period's snapshots add to a calibration (`learnCalibration`), kept in their order. */
interface EndedPeriodFold {
  period: FiscalPeriod;
  n: number;
  wins: number;
  /** By stage and by `stage|weeks left` cell, in first-seen order (the rate table's maps keep that order). */
  stages: Map<string, Tally>;
  cells: Map<string, Tally & { stage: string; weeksLeft: number }>;
  /**
   * (deal, period) pairs: won when any of the deal's snapshots in the period was (`countOutcomes`, which keys them
   * by deal id). Counted as they come (a deal's snapshots are together), but for the ids that may repeat (two CRMs'
   * deals of the same id make one pair there), kept by id.
   */
  pairs: Map<string, boolean>;
  pairCount: number;
  pairWins: number;
  /** Per week origin, in first-seen order: each snapshot as its (stage, weeks left, CRM probability) code * 2 + won. */
  origins: Map<number, CodeRuns>;
}

/**
 * A sequence of snapshot codes, run-length encoded in typed arrays: a few bytes a run, where a list of numbers took
 * some 20 bytes a snapshot (an origin's snapshots mostly share a stage and CRM probability, so runs are long). The
 * sigma adds each snapshot's probability in this order (a float sum), so the sequence is kept, not counts per code.
 */
class CodeRuns {
  private values = new Uint32Array(4);
  private lengths = new Uint16Array(4);
  private size = 0;

  push(value: number): void {
    const last = this.size - 1;
    if (last >= 0 && this.values[last] === value && (this.lengths[last] as number) < 0xffff) {
      this.lengths[last] = (this.lengths[last] as number) + 1;
      return;
    }
    if (this.size === this.values.length) {
      const values = new Uint32Array(this.size * 2);
      values.set(this.values);
      this.values = values;
      const lengths = new Uint16Array(this.size * 2);
      lengths.set(this.lengths);
      this.lengths = lengths;
    }
    this.values[this.size] = value;
    this.lengths[this.size] = 1;
    this.size++;
  }

  /** Each run as (value, how many times in a row). */
  *runs(): Generator<[number, number]> {
    for (let i = 0; i < this.size; i++) yield [this.values[i] as number, this.lengths[i] as number];
  }
}

/** An ended period's fold before any snapshot was added to it. */
function emptyFold(period: FiscalPeriod): EndedPeriodFold {
  return {
    period,
    n: 0,
    wins: 0,
    stages: new Map(),
    cells: new Map(),
    pairs: new Map(),
    pairCount: 0,
    pairWins: 0,
    origins: new Map(),
  };
}

/** The new-pipeline wins of a target period's week in one ended period, per owner in first-seen order, in cents. */
type PipelineFold = Map<string, number[]>;

function tallyInto<K>(map: Map<K, Tally>, key: K, won: boolean, make: () => Tally = () => ({ wins: 0, n: 0 })) {
  let t = map.get(key);
  if (!t) {
    t = make();
    map.set(key, t);
  }
  t.n++;
  if (won) t.wins++;
}

/** `fitRateTable` of the snapshots of some periods, from their folds (in period order). */
function rateTableOf(folds: readonly EndedPeriodFold[], priorWeight: number): RateTable {
  const k = priorWeight;
  let wins = 0;
  let n = 0;
  const stages = new Map<string, Tally>();
  const cells = new Map<string, Tally>();
  for (const f of folds) {
    wins += f.wins;
    n += f.n;
    for (const [stage, t] of f.stages) {
      const s = stages.get(stage) ?? { wins: 0, n: 0 };
      stages.set(stage, { wins: s.wins + t.wins, n: s.n + t.n });
    }
    for (const [key, t] of f.cells) {
      const c = cells.get(key) ?? { wins: 0, n: 0 };
      cells.set(key, { wins: c.wins + t.wins, n: c.n + t.n });
    }
  }
  const orgRate = n === 0 ? 0 : wins / n;
  const stageRates = new Map<string, Tally & { rate: number }>();
  for (const [stage, t] of stages) stageRates.set(stage, { ...t, rate: (t.wins + k * orgRate) / (t.n + k) });
  const cellRates = new Map<string, Tally & { rate: number }>();
  for (const [key, t] of cells) {
    const stage = key.slice(0, key.lastIndexOf('|'));
    const parent = stageRates.get(stage)?.rate ?? orgRate;
    cellRates.set(key, { ...t, rate: (t.wins + k * parent) / (t.n + k) });
  }
  return { priorWeight: k, org: { wins, n, rate: orgRate }, stages: stageRates, cells: cellRates };
}

/** `fitIsotonic` of the held periods' snapshots at the early table's rates: points of equal x pool first anyway. */
function isotonicOf(folds: readonly EndedPeriodFold[], early: RateTable): IsotonicMap {
  const byX = new Map<number, { n: number; sy: number }>();
  for (const f of folds)
    for (const c of f.cells.values()) {
      const x = tableRate(early, c.stage, c.weeksLeft).rate;
      const p = byX.get(x) ?? { n: 0, sy: 0 };
      p.n += c.n;
      p.sy += c.wins;
      byX.set(x, p);
    }
  return poolAdjacentViolators(
    [...byX.keys()].sort((a, b) => a - b).map((x) => ({ x, ...(byX.get(x) as { n: number; sy: number }) })),
  );
}

/** `learnCalibration` from the folds of the ended periods learned from (in time order). */
function calibrationOf(
  learnedFrom: readonly EndedPeriodFold[],
  codes: readonly { stage: string; weeksLeft: number; crm: number | null }[],
  settings: CalibrationSettings,
): Calibration {
  const used = learnedFrom.filter((f) => f.n > 0);
  const table = rateTableOf(used, settings.priorWeight);
  let isotonic: IsotonicMap = { x: [], y: [] };
  if (used.length >= 2) {
    const held = Math.ceil(used.length / 3);
    const early = rateTableOf(used.slice(0, used.length - held), settings.priorWeight);
    isotonic = isotonicOf(used.slice(used.length - held), early);
  }
  let wins = 0;
  let pairs = 0;
  for (const f of used) {
    pairs += f.pairs.size + f.pairCount;
    wins += f.pairWins;
    for (const w of f.pairs.values()) if (w) wins++;
  }
  const losses = pairs - wins;
  const basis: CalibrationBasis =
    wins >= settings.minWins && losses >= settings.minLosses ? 'calibrated' : 'crm_fallback';
  const partial = { basis, periods: used.length, wins, losses, table, isotonic, sigma: 0, settings };
  let sigma = FALLBACK_SIGMA;
  if (basis === 'calibrated') {
    // `fitShockSigma`: per origin, its snapshots' probabilities added in the one-pass order.
    const p = codes.map((c) => dealProbability(partial, c.stage, c.weeksLeft, c.crm).p);
    let excess = 0;
    let v2 = 0;
    for (const f of used)
      for (const runs of f.origins.values()) {
        let o = 0;
        let e = 0;
        let v = 0;
        for (const [code, times] of runs.runs()) {
          const q = p[code >>> 1] as number;
          if (code & 1) o += times;
          // One addition a snapshot, as the one-pass sum makes them (the same bits).
          for (let i = 0; i < times; i++) {
            e += q;
            v += q * (1 - q);
          }
        }
        excess += (o - e) ** 2 - v;
        v2 += v * v;
      }
    sigma = v2 === 0 || excess <= 0 ? 0 : Math.min(Math.sqrt(excess / v2), MAX_SIGMA);
  }
  return { ...partial, sigma };
}

/**
 * Each target period's `learnForecast` (forecast-model.ts), from the timelines a page at a time: memory is a page of
 * timelines and the counts, not the history. The ended periods a target learns from start at the period of the
 * earliest deal, known only at the end: each page's snapshots are folded into the ended periods from its own
 * earliest deal on (a period ending before a page's earliest deal sees none of its deals' snapshots), its new-pipeline
 * wins into the period of their won day (a deal entered after the fact is won before it was created).
 */
export async function learnForecastsByPage(
  pages: AsyncIterable<readonly DealTimeline[]>,
  input: {
    calendar: FiscalCalendar;
    periods: readonly FiscalPeriod[];
    asOf: PlainDate;
    settings: CalibrationSettings;
    /**
     * The deal ids that may occur more than once among the timelines (`repeatedDealIds`): only their pairs are kept
     * by id, the others counted as they come. Absent: any id may repeat (every pair kept by id, a map entry a deal).
     */
    repeatedIds?: ReadonlySet<string>;
  },
): Promise<Map<string, LearnedForecast>> {
  const { calendar, asOf } = input;
  const repeated = input.repeatedIds;
  const folds = new Map<string, EndedPeriodFold>();
  /** Pipeline folds per target period and ended period (`target|ended`). */
  const pipelines = new Map<string, PipelineFold>();
  const codeOf = new Map<string, number>();
  const codes: { stage: string; weeksLeft: number; crm: number | null }[] = [];
  let first: PlainDate | null = null;
  const endedFrom = (from: PlainDate, target: FiscalPeriod) =>
    from >= target.start
      ? []
      : calendar.periodsBetween(from, target.start, target.kind).filter((p) => p.end < target.start && p.end < asOf);
  for await (const page of pages) {
    let pageFirst: PlainDate | null = null;
    for (const t of page) if (pageFirst === null || t.createdDate < pageFirst) pageFirst = t.createdDate;
    if (pageFirst === null) continue;
    if (first === null || pageFirst < first) first = pageFirst;
    const ended = new Map<string, FiscalPeriod>();
    for (const target of input.periods) for (const e of endedFrom(pageFirst, target)) ended.set(e.id, e);
    for (const e of ended.values()) {
      let f = folds.get(e.id);
      if (!f) {
        f = emptyFold(e);
        folds.set(e.id, f);
      }
      const fold = f;
      let deal: string | null = null;
      let dealWon = false;
      const endDeal = () => {
        if (deal === null) return;
        fold.pairCount++;
        if (dealWon) fold.pairWins++;
      };
      for (const s of periodSnapshots(page, e)) {
        fold.n++;
        if (s.won) fold.wins++;
        tallyInto(fold.stages, s.stage, s.won);
        tallyInto(fold.cells, `${s.stage}|${s.weeksLeft}`, s.won, () => ({
          wins: 0,
          n: 0,
          stage: s.stage,
          weeksLeft: s.weeksLeft,
        }));
        if (!repeated || repeated.has(s.dealId)) fold.pairs.set(s.dealId, (fold.pairs.get(s.dealId) ?? false) || s.won);
        else if (s.dealId !== deal) {
          endDeal();
          deal = s.dealId;
          dealWon = s.won;
        } else dealWon ||= s.won;
        const key = `${s.stage}|${s.weeksLeft}|${s.crmProbability}`;
        let code = codeOf.get(key);
        if (code === undefined) {
          code = codes.length;
          codes.push({ stage: s.stage, weeksLeft: s.weeksLeft, crm: s.crmProbability });
          codeOf.set(key, code);
        }
        let runs = fold.origins.get(s.week);
        if (!runs) {
          runs = new CodeRuns();
          fold.origins.set(s.week, runs);
        }
        runs.push(code * 2 + (s.won ? 1 : 0));
      }
      endDeal();
    }
    // New pipeline (`newPipelineTerms`): deals created after the target's week origin in an ended period, won in it.
    // Folded into the period of the won day whatever the page's earliest deal: a deal entered after the fact (won
    // before it was created, no stage history) counts in a period ended before its creation. Only the periods the
    // target learns from (known at the end) are kept.
    for (const target of input.periods) {
      const week = weekIndex(target, asOf);
      for (const t of page) {
        if (t.amount === null) continue;
        const won = wonDay(t);
        if (won === null) continue;
        const e = calendar.periodContaining(won, target.kind);
        if (!(e.end < target.start && e.end < asOf)) continue;
        const origin = addDays(e.start, 7 * week);
        if (origin > e.end || t.createdDate <= origin || won < origin) continue;
        const key = `${target.id}|${e.id}`;
        let fold = pipelines.get(key);
        if (!fold) {
          fold = new Map<string, number[]>();
          pipelines.set(key, fold);
        }
        // In cents now (what the learned forecast keeps), not as a decimal object a win.
        const cents = centsOf(t.amount);
        const list = fold.get(t.ownerId);
        if (list) list.push(cents);
        else fold.set(t.ownerId, [cents]);
      }
    }
  }
  const out = new Map<string, LearnedForecast>();
  for (const target of input.periods) {
    const learnedFrom = first === null ? [] : endedFrom(first, target);
    const calibration = calibrationOf(
      learnedFrom.map((p) => folds.get(p.id) ?? emptyFold(p)),
      codes,
      input.settings,
    );
    const newPipeline: [string, NewPipelineInput][] = [];
    if (calibration.basis === 'calibrated' && learnedFrom.length > 0) {
      const terms = new Map<string, number[]>();
      for (const p of learnedFrom)
        for (const [owner, amounts] of pipelines.get(`${target.id}|${p.id}`) ?? []) {
          const list = terms.get(owner);
          if (list) list.push(...amounts);
          else terms.set(owner, [...amounts]);
        }
      for (const [owner, amounts] of terms)
        newPipeline.push([owner, { streamKey: owner, lambda: amounts.length / learnedFrom.length, cents: amounts }]);
    }
    out.set(target.id, { calibration, learnedFrom: learnedFrom.map((p) => p.id), newPipeline });
  }
  return out;
}

const centsOf = (d: Dec) => d.times(100).toDecimalPlaces(0, Dec.ROUND_HALF_UP).toNumber();
