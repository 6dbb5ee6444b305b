/**
 * The read model behind the web API and the agent tools: report documents built by the CLI's own builder
 * (`buildReportFrom`), kept while the stored snapshots say nothing moved.
 *
 * Today's reports (the current period as of today, without `explain`) are built from the stored snapshots
 * (`current-period.ts`): the figures the engine stored, and a model of people, quotas and won credits for names,
 * ranks and history, both brought up to date by difference. When the snapshots are not today's (a recompute is due,
 * or a subject has none), the document is computed from the warehouse as the CLI computes it, and a log line and the
 * answer's `source` say so. Past dates and other periods are always computed.
 *
 * A request names a kind, its options and an as-of date. Its document is kept under a freshness stamp read in one
 * statement: the rows of `metric_snapshots` (the engine writes a snapshot whenever a figure moves), the pending
 * dirty keys (a synced change that has not reached the snapshots yet), `config_state`, the open alerts and the
 * people tables' fingerprint. While the stamp is unchanged, a repeated
 * request is answered from memory (the current period no longer reloads the warehouse per request); once it moves,
 * the next request builds again, loading the warehouse once for all kinds of that date and period. A past date is
 * built the same way as the CLI builds it, so the API's JSON is the CLI's JSON byte for byte.
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { FiscalPeriod } from '../config/calendar.ts';
import type { Config } from '../config/schema.ts';
import type { Database } from '../db/schema.ts';
import type { JsonObject } from '../metrics/document.ts';
import { MetricsEngine } from '../metrics/engine/engine.ts';
import type { PeriodForecast } from '../metrics/engine/forecast-model.ts';
import { forecastConfigHash, loadForecastInputs } from '../metrics/engine/forecast-store.ts';
import { PEOPLE_FINGERPRINT } from '../metrics/engine/load.ts';
import { MetricsModel } from '../metrics/engine/model.ts';
import { today } from '../util/date.ts';
import type { Logger } from '../util/log.ts';
import { CurrentPeriod, NotStored, type Scope } from './current-period.ts';
import { renderReport } from './render.ts';
import { buildReportFrom, type ReportRequest, type ResolvedRequest, resolveRequest } from './report.ts';

/** Where a document's figures came from: the stored snapshots, or computed from the warehouse (as the CLI does). */
/**
 * The database snapshot a cheap stamp check compares, with the server's start time and the database's name: after a
 * restart, a restore or a re-created cluster, transaction ids start again and an equal snapshot text may describe
 * other rows.
 */
const SNAPSHOT = sql<string>`concat_ws('|', pg_current_snapshot()::text, pg_postmaster_start_time()::text, current_database())`;

export type ReportSource = 'snapshots' | 'warehouse';

const gzipAsync = promisify(gzip);

export interface ReportAnswer {
  doc: JsonObject;
  /** The document as `report <kind> --format json` prints it. */
  json: string;
  /** `json` as UTF-8, encoded once. */
  body: Buffer;
  /** `body` gzipped, made once on first use (a 5,000-rep org report is 29 MB of JSON, about a tenth gzipped). */
  gzipped: () => Promise<Buffer>;
  /** The model the document was built from (for access checks and tools that look further). */
  model: MetricsModel;
  resolved: ResolvedRequest;
  source: ReportSource;
  /** Whether the answer came from memory. */
  cached: boolean;
}

interface Entry {
  stamp: string;
  doc: JsonObject;
  json: string;
  body: Buffer;
  gzipped: () => Promise<Buffer>;
  model: MetricsModel;
  resolved: ResolvedRequest;
  source: ReportSource;
}

export interface ReportReaderOptions {
  db: Kysely<Database>;
  config: Config;
  logger?: Logger;
  /** Documents kept at most (least recently used go first). Default 256. */
  maxDocuments?: number;
  /** Characters of JSON kept at most across documents. Default 256 million (about 256 MB). */
  maxChars?: number;
  /**
   * `warehouse`: compute every document from the warehouse, today's too (the bench's comparison). Default
   * `snapshots`: today's from the stored snapshots while they are current.
   */
  today?: ReportSource;
  /**
   * One document and done (the CLI): while today's snapshots cannot answer, the model beside them is not loaded,
   * only the warehouse's for computing. Default false: a server keeps that model for access checks and names.
   */
  oneShot?: boolean;
}

/** One instance per process: it owns the cache. */
export class ReportReader {
  readonly engine: MetricsEngine;
  private readonly db: Kysely<Database>;
  private readonly docs = new Map<string, Entry>();
  private chars = 0;
  private readonly maxDocuments: number;
  private readonly maxChars: number;
  /** Models by as-of date and period window, each under the stamp it was loaded at. */
  private readonly models = new Map<string, { stamp: string; model: Promise<MetricsModel> }>();
  private readonly building = new Map<string, Promise<Entry>>();
  private readonly current: CurrentPeriod | null;
  private readonly config: Config;
  /** The last forecast learned beside the stored figures (`learnedForecast`), by stamp, date and period. */
  private forecast: { key: string; value: Promise<PeriodForecast | null> } | null = null;
  private readonly log: Logger | undefined;
  /** The last full stamp and the database snapshot it was read in (`stamp`). */
  private lastStamp: { snapshot: string; stamp: string } | null = null;
  /**
   * Counters for /metrics: `builds` of which `fromSnapshots` came from the stored snapshots and `fallbacks` were
   * today's documents computed from the warehouse because the snapshots were not current.
   */
  readonly stats = { hits: 0, builds: 0, modelLoads: 0, fromSnapshots: 0, fallbacks: 0 };

  constructor(options: ReportReaderOptions) {
    this.db = options.db;
    this.config = options.config;
    this.log = options.logger;
    this.engine = new MetricsEngine({ db: options.db, config: options.config, logger: options.logger });
    this.maxDocuments = options.maxDocuments ?? 256;
    this.maxChars = options.maxChars ?? 256_000_000;
    this.current =
      options.today === 'warehouse'
        ? null
        : new CurrentPeriod(options.db, this.engine, { modelWhenStale: options.oneShot !== true });
  }

  /** Whether a request is for today's figures of the current period: what the snapshots hold. */
  private isToday(resolved: ResolvedRequest): boolean {
    const asOf = this.today();
    return (
      resolved.asOf === asOf &&
      resolved.period.id === this.engine.settings.calendar.periodContaining(asOf, 'quarter').id
    );
  }

  /** Today in the configured time zone (the default as-of date). */
  today(): string {
    return today(this.engine.settings.timezone);
  }

  /**
   * What, if it moved, means a kept document may be out of date. One round trip: a tiny one while no transaction
   * that wrote has ended since the last full stamp.
   */
  async stamp(): Promise<string> {
    // The full stamp counts tens of thousands of rows (40 ms a request at 5,000 reps, most of a page's time, and
    // several times that on a loaded machine). Two reads whose database snapshots are equal (the same transactions
    // running, the same ones ended) see the same rows, so the stamp the last full read found still holds. A
    // snapshot moves whenever any transaction that wrote ends, in any table: then the full stamp is read again.
    const last = this.lastStamp;
    if (last) {
      const r = await sql<{ snapshot: string }>`select ${SNAPSHOT} as snapshot`.execute(this.db);
      if (r.rows[0]?.snapshot === last.snapshot) return last.stamp;
    }
    const full = await this.fullStamp();
    this.lastStamp = full;
    return full.stamp;
  }

  private async fullStamp(): Promise<{ snapshot: string; stamp: string }> {
    // Not the sync runs: a sync that changed nothing (most of them, every few minutes) would throw away a document
    // that took a minute to build at 5,000 reps. A change that moves a figure marks its rep-periods in dirty_keys in
    // the transaction that writes it (src/dirty/queue.ts), and a recompute releases them as it writes snapshots;
    // rates and loaded files raise flags and hashes in config_state.
    // Snapshots and open alerts by row count and the sum of their rows' xmin: every insert, update or delete writes
    // a row version under a new transaction id, so the pair moves with any change, including one committed after a
    // later-begun transaction's (which a newest-timestamp probe misses); and it formats and sorts nothing (a digest
    // of 16,784 open alerts' text took 94 ms, this 15). A freeze or xid wraparound only moves it spuriously.
    // pg_current_snapshot() is the statement's own snapshot: the one the counts below were read in.
    const r = await sql<{ s: string; snapshot: string }>`select ${SNAPSHOT} as snapshot, concat_ws('|',
        (select concat_ws(',', count(*), sum(xmin::text::bigint)) from metric_snapshots),
        (select concat_ws(',', count(*), sum(xmin::text::bigint)) from dirty_keys),
        (select concat_ws(',', count(*), sum(xmin::text::bigint)) from config_state),
        (select concat_ws(',', count(*), sum(xmin::text::bigint)) from alerts where status <> 'resolved'),
        ${PEOPLE_FINGERPRINT}) as s`.execute(this.db);
    const row = r.rows[0] as { s: string; snapshot: string };
    return { snapshot: row.snapshot, stamp: row.s };
  }

  /**
   * The document of a request, built as the CLI builds it or taken from memory while the stamp holds. `stamp`:
   * one the caller read for this request already (one round trip per request, not one per step).
   */
  async read(req: ReportRequest, knownStamp?: string): Promise<ReportAnswer> {
    const resolved = resolveRequest(this.engine, req);
    const key = JSON.stringify([
      req.kind,
      req.rep?.trim().toLowerCase() ?? null,
      req.team?.trim().toLowerCase() ?? null,
      req.region?.trim().toLowerCase() ?? null,
      resolved.period.id,
      resolved.asOf,
      req.explain ?? false,
      req.kind === 'leaderboard' ? (req.metric ?? 'attainment') : null,
      req.trendBy ?? null,
      req.periods ?? null,
    ]);
    const stamp = knownStamp ?? (await this.stamp());
    const kept = this.docs.get(key);
    if (kept && kept.stamp === stamp) {
      this.stats.hits++;
      // Most recently used last, so eviction takes the oldest.
      this.docs.delete(key);
      this.docs.set(key, kept);
      return { ...kept, cached: true };
    }
    const flightKey = `${key}@${stamp}`;
    let flight = this.building.get(flightKey);
    if (!flight) {
      flight = this.build(req, resolved, stamp).finally(() => this.building.delete(flightKey));
      this.building.set(flightKey, flight);
    }
    const entry = await flight;
    this.keep(key, entry);
    return { ...entry, cached: false };
  }

  /**
   * The model of a date and period window under the current stamp (loaded once, shared by every kind). Today's is
   * the one kept beside the snapshots (people, quotas and won credits, updated by difference): enough for access
   * checks, names and ranks, never asked for a stored figure.
   */
  async model(resolved: ResolvedRequest, stamp?: string): Promise<MetricsModel> {
    const s = stamp ?? (await this.stamp());
    if (this.current && this.isToday(resolved)) return (await this.current.state(resolved, s)).model;
    return this.computedModel(resolved, s);
  }

  private computedModel(resolved: ResolvedRequest, s: string): Promise<MetricsModel> {
    const key = `${resolved.asOf}:${[...resolved.history, resolved.period].map((p) => p.id).join(',')}`;
    const kept = this.models.get(key);
    if (kept && kept.stamp === s) return kept.model;
    this.stats.modelLoads++;
    const model = this.engine.loadModel(resolved.asOf, [...resolved.history, resolved.period]);
    // A failed load is not kept: the next request tries again.
    model.catch(() => this.models.delete(key));
    this.models.set(key, { stamp: s, model });
    // Models are large: keep the three most recent windows (today's, and a couple of past dates being browsed).
    while (this.models.size > 3) this.models.delete(this.models.keys().next().value as string);
    return model;
  }

  private async build(req: ReportRequest, resolved: ResolvedRequest, stamp: string): Promise<Entry> {
    this.stats.builds++;
    let built: { doc: JsonObject; model: MetricsModel } | null = null;
    // Trends read no stored figure: every period they show is worked out from the model's quotas and won credits,
    // which today's model keeps up to date as it does for ranks and history.
    if (this.current && this.isToday(resolved)) {
      // `explain` shows the deals behind each figure, which no snapshot holds: computed.
      let why = req.explain ? 'explain needs the deals behind each figure' : null;
      if (why === null)
        try {
          // The CLI's report on one team or region reads that unit's rows only (its ranks are stored).
          const scope: Scope | undefined =
            req.kind === 'team' && req.team !== undefined
              ? { kind: 'team', name: req.team }
              : req.kind === 'region' && req.region !== undefined
                ? { kind: 'region', name: req.region }
                : undefined;
          // Trends compute every period's figures from the model (activities among them); the rest read stored ones.
          const state = await this.current.state(resolved, stamp, {
            scope,
            activities: req.kind === 'trends' || req.kind === 'rep',
          });
          why = state.stale;
          if (why === null) {
            const forecast =
              req.kind === 'rep'
                ? (p: FiscalPeriod) => this.learnedForecast(resolved, stamp, state.model, p)
                : undefined;
            const doc = await buildReportFrom(
              this.db,
              state.model,
              resolved,
              req,
              state.figures,
              forecast,
              state.exact,
            );
            built = { doc, model: state.model };
          }
        } catch (e) {
          if (!(e instanceof NotStored)) throw e;
          why = e.message;
        }
      if (built) this.stats.fromSnapshots++;
      else {
        this.stats.fallbacks++;
        // Visible, not silent: computing today's org report at 5,000 reps takes half a minute, not milliseconds.
        this.log?.info(
          { kind: req.kind, period: resolved.period.id, asOf: resolved.asOf, reason: why },
          "today's report computed from the warehouse: the stored snapshots cannot answer it",
        );
      }
    }
    const source: ReportSource = built ? 'snapshots' : 'warehouse';
    if (!built) {
      const model = await this.computedModel(resolved, stamp);
      built = { doc: await buildReportFrom(this.db, model, resolved, req), model };
    }
    const { doc, model } = built;
    const json = renderReport('json', req.kind, doc);
    const body = Buffer.from(json, 'utf8');
    let zipped: Promise<Buffer> | undefined;
    const gzipped = () => {
      zipped ??= gzipAsync(body);
      return zipped;
    };
    return { stamp, doc, json, body, gzipped, model, resolved, source };
  }

  /**
   * The forecast a fresh load would learn for `period` as of the request's date, for the rep scorecard's gap deals
   * beside the stored figures: the stage history is read once per stamp (a synced stage change marks dirty keys,
   * which moves the stamp), and the forecast learned on a model holding only the people and that history.
   */
  private learnedForecast(
    resolved: ResolvedRequest,
    stamp: string,
    model: MetricsModel,
    period: FiscalPeriod,
  ): Promise<PeriodForecast | null> {
    const key = `${stamp}|${resolved.asOf}|${period.id}`;
    if (this.forecast?.key === key) return this.forecast.value;
    const value = (async () => {
      const inputs = await loadForecastInputs(this.db, {
        asOf: resolved.asOf,
        timezone: this.engine.settings.timezone,
        ownerToRep: model.data.ownerToRep,
        fx: model.fx,
        configHash: forecastConfigHash(this.config),
      });
      const people = new MetricsModel(
        { ...model.data, deals: [], splits: [], activities: [], quotas: [], ...inputs },
        this.engine.settings,
      );
      return people.forecastOf(period);
    })();
    // A failed load is not kept: the next request tries again.
    value.catch(() => {
      if (this.forecast?.value === value) this.forecast = null;
    });
    this.forecast = { key, value };
    return value;
  }

  private keep(key: string, entry: Entry): void {
    const old = this.docs.get(key);
    if (old) {
      this.chars -= old.json.length;
      this.docs.delete(key);
    }
    this.docs.set(key, entry);
    this.chars += entry.json.length;
    while (this.docs.size > this.maxDocuments || (this.chars > this.maxChars && this.docs.size > 1)) {
      const [oldest, e] = this.docs.entries().next().value as [string, Entry];
      this.docs.delete(oldest);
      this.chars -= e.json.length;
    }
  }
}
