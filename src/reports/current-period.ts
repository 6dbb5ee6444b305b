/**
 * Today's reports from what the engine stored: the figures documents of the current period (`metric_snapshots`,
 * read through `parseFiguresDocument`) and a model of the people, memberships, quotas and won credits (no forecast
 * training data, and no figure computed from it) for what a snapshot does not hold: names, ranks, history and
 * leavers' open deals.
 *
 * Both are kept in memory and brought up to date by difference: one statement reads every snapshot's row version
 * and the documents of only those that changed since the last look; the model then reloads only the reps whose
 * snapshots changed (a change that moves a rep's figure rewrites that rep's snapshot), as the engine's own cache
 * does. After a one-deal change and its recompute, that is four documents and one rep's rows, not the warehouse.
 *
 * Ranks come from the attainments the engine stored beside the snapshots at full precision (`exact`), read with
 * the rows' versions. So a one-shot report on a team or a region (the CLI) loads the people and that scope's
 * members' rows only, and the documents of that scope: not the org's won deals, whatever its size.
 *
 * The stored figures answer only while they are today's: no dirty key waiting for a recompute, every snapshot of
 * the period as of today under the current config, and a snapshot for every subject a report names, describing it
 * as the people tables do now. Otherwise `stale` (or `NotStored` while building) says why, and the read model
 * computes from the warehouse instead, as the CLI does: a report built from figures that are about to change would
 * differ from what `report --format json` prints.
 */
import { type Kysely, sql } from 'kysely';
import type { FiscalPeriod } from '../config/calendar.ts';
import type { Database } from '../db/schema.ts';
import { RATES_CHANGED_KEY } from '../dirty/queue.ts';
import { type FiguresDocument, inDocumentOrder, parseFiguresDocument, type SubjectInfo } from '../metrics/document.ts';
import type { MetricsEngine } from '../metrics/engine/engine.ts';
import { loadDeals, loadForReps, loadGroupInputs, loadPeople, PEOPLE_FINGERPRINT } from '../metrics/engine/load.ts';
import { MetricsModel } from '../metrics/engine/model.ts';
import { describeSubject } from '../metrics/engine/subjects.ts';
import type { SubjectRef } from '../metrics/engine/types.ts';
import { Dec } from '../util/money.ts';
import type { ResolvedRequest } from './context.ts';

/**
 * Thrown while building from stored figures when a subject the report names has none fit to use; the read model
 * catches it and computes the report instead (it never reaches a caller).
 */
export class NotStored extends Error {}

export interface CurrentState {
  /** People, memberships, quotas and won credits as of today: never asked for a figure the snapshots hold. */
  model: MetricsModel;
  /** A subject's stored figures (keys in the document's order), or `NotStored`. */
  figures: (subject: SubjectRef) => FiguresDocument;
  /** A subject's stored attainment at full precision (null without a quota), or `NotStored`: what ranks use. */
  exact: (subject: SubjectRef) => Dec | null;
  /** Why the stored figures cannot answer now; null when they can. */
  stale: string | null;
  /** What the last refresh read: documents parsed and reps reloaded (0 and 0 when nothing moved). */
  refreshed: { documents: number; reps: number; fullLoad: boolean };
}

/**
 * A one-shot report on one team or region: the state holds the people and that unit's members' rows only (every
 * rep who was ever in it: its quota, history and leavers need them), and the documents of the unit, its teams and
 * those members. Any other subject's figures are `NotStored`.
 */
export interface Scope {
  kind: 'team' | 'region';
  /** The unit's name as the request gives it (`--team`, `--region`). */
  name: string;
}

interface Kept {
  /** As-of date and period window the state is for. */
  key: string;
  stamp: string;
  model: MetricsModel;
  people: string;
  docs: Map<string, { version: string; doc: FiguresDocument }>;
  state: CurrentState;
}

type SnapshotRow = [
  kind: string,
  id: string,
  version: string,
  asOf: string,
  configHash: string,
  metrics: unknown,
  exactStored: boolean,
  exact: string | null,
];

interface StateRow {
  rows: SnapshotRow[];
  dirty: number;
  config: string | null;
  /** The rates-changed flag is up: raised by a sync, or taken by a full recompute that has not stored yet. */
  rates: boolean;
  /** A sharded recompute run is open: some snapshots may be moved on, others not. */
  running: boolean;
  people: string;
}

const sameSubject = (a: SubjectInfo, b: SubjectInfo): boolean =>
  a.type === b.type &&
  a.id === b.id &&
  a.name === b.name &&
  a.email === b.email &&
  a.team === b.team &&
  a.region === b.region &&
  a.manager === b.manager;

export class CurrentPeriod {
  private kept: Kept | null = null;
  private flight: { stamp: string; state: Promise<CurrentState> } | null = null;

  /**
   * `modelWhenStale: false` (a one-shot reader, the CLI): while the snapshots cannot answer, no model is loaded
   * beside them and the state is `NotStored`; the caller computes from the warehouse and loads that model only.
   */
  constructor(
    private readonly db: Kysely<Database>,
    private readonly engine: MetricsEngine,
    private readonly options: { modelWhenStale?: boolean } = {},
  ) {}

  /** The state under `stamp` (the read model's freshness stamp): refreshed once per stamp, shared by requests. */
  state(
    resolved: ResolvedRequest,
    stamp: string,
    narrow: { scope?: Scope | undefined; activities?: boolean } = {},
  ): Promise<CurrentState> {
    // Narrowing applies to a one-shot reader's first (and only) state: a server keeps the whole org's, by difference.
    const oneShot = this.options.modelWhenStale === false && !this.kept;
    const scoped = oneShot ? narrow.scope : undefined;
    // Without activities: no stored figure is computed again, and only trends compute figures from the model.
    const lean = oneShot && narrow.activities === false;
    const key = `${resolved.asOf}:${[...resolved.history, resolved.period].map((p) => p.id).join(',')}${
      scoped ? `|${scoped.kind}:${scoped.name.trim().toLowerCase()}` : ''
    }${lean ? '|lean' : ''}`;
    const k = this.kept;
    if (k && k.key === key && k.stamp === stamp) return Promise.resolve(k.state);
    if (this.flight?.stamp === `${key}@${stamp}`) return this.flight.state;
    const state = this.refresh(resolved, key, stamp, scoped, lean);
    this.flight = { stamp: `${key}@${stamp}`, state };
    // A failed refresh is not kept: the next request tries again.
    state
      .catch(() => {})
      .finally(() => {
        if (this.flight?.state === state) this.flight = null;
      });
    return state;
  }

  /**
   * One statement, one snapshot of the database: every row's version, the documents of the rows not known in that
   * version (none without `documents`), and what else decides whether they are today's.
   */
  private async refreshRows(
    resolved: ResolvedRequest,
    known: string[],
    documents: boolean,
    only: string[] | null = null,
  ): Promise<StateRow> {
    const r = await sql<StateRow>`
      -- not in (select unnest(...)) is one hashed lookup a row; <> all(array) compared each row with the whole list
      with known as (select unnest(${known}::text[]) as k)
      select coalesce((select json_agg(json_build_array(s.subject_kind, s.subject_id, s.xmin::text, s.as_of::text,
                 s.config_hash, case when not ${documents}::boolean or s.subject_kind || ':' || s.subject_id || '@'
                 || s.xmin::text in (select k from known) or (${only}::text[] is not null and
                 s.subject_kind || ':' || s.subject_id not in (select unnest(${only}::text[]))) then null
                 else s.metrics end,
                 s.exact_stored, s.exact_attainment::text))
               from metric_snapshots s where s.period_id = ${resolved.period.id}), '[]'::json) as rows,
             (select count(*)::int from dirty_keys) as dirty,
             (select hash from config_state where key = 'metrics') as config,
             exists (select 1 from config_state where key = ${RATES_CHANGED_KEY}) as rates,
             exists (select 1 from recompute_runs where status = 'running') as running,
             ${PEOPLE_FINGERPRINT} as people`.execute(this.db);
    return r.rows[0] as StateRow;
  }

  private async refresh(
    resolved: ResolvedRequest,
    key: string,
    stamp: string,
    scope?: Scope,
    lean = false,
  ): Promise<CurrentState> {
    const settings = this.engine.settings;
    const prev = this.kept?.key === key ? this.kept : null;
    const known = prev ? [...prev.docs].map(([k, e]) => `${k}@${e.version}`) : [];
    // A one-shot reader with nothing kept decides staleness from the rows' dates and configs first and fetches no
    // document: a stale answer is computed, so parsing every document only to throw them away would be waste.
    const documents = !(this.options.modelWhenStale === false && !prev);
    let row = await this.refreshRows(resolved, known, documents);
    let stale: string | null = null;
    const earlier = row.rows.filter((x) => x[3] !== resolved.asOf).length;
    const otherConfig = row.rows.filter((x) => x[4] !== settings.configHash).length;
    if (row.rows.length === 0) stale = `no snapshots of ${resolved.period.id} are stored`;
    else if (row.dirty > 0) stale = `${row.dirty} dirty keys wait for a recompute`;
    else if (row.rates) stale = 'an exchange-rate change waits for a full recompute';
    else if (row.running) stale = 'a full recompute is under way';
    else if (row.config !== settings.configHash || otherConfig > 0)
      stale = 'the snapshots were computed under another config';
    else if (earlier > 0) stale = `${earlier} snapshots of ${resolved.period.id} are as of an earlier day`;

    // A one-shot reader computes a stale answer from the warehouse: a model loaded here would be loaded twice.
    if (stale !== null && !prev && this.options.modelWhenStale === false) throw new NotStored(stale);
    const periods = [...resolved.history, resolved.period];
    // A scope: the people first, then only its members' rows and its subjects' documents.
    const narrowed = scope ? await this.scoped(resolved, periods, scope) : null;
    if (!documents) {
      // Current: now the documents (the same statement again; whatever moved in between is judged afresh).
      const again = await this.refreshRows(resolved, [], true, narrowed?.subjects ?? null);
      const versions = new Set(row.rows.map((x) => `${x[0]}:${x[1]}@${x[2]}`));
      if (
        again.rows.length !== row.rows.length ||
        again.rows.some((x) => !versions.has(`${x[0]}:${x[1]}@${x[2]}`)) ||
        again.dirty > 0 ||
        again.rates ||
        again.running ||
        again.config !== row.config ||
        again.people !== row.people
      )
        throw new NotStored('the snapshots moved while they were read');
      row = again;
    }

    // A copy: a build still running under the previous stamp keeps reading the documents it started with.
    const docs = new Map(prev?.docs);
    const seen = new Set<string>();
    const changedReps = new Set<string>();
    let parsed = 0;
    for (const [kind, id, version, , , metrics] of row.rows) {
      const k = `${kind}:${id}`;
      seen.add(k);
      if (metrics === null) continue;
      let doc: FiguresDocument;
      try {
        doc = inDocumentOrder(parseFiguresDocument(metrics, `${kind} ${id} in ${resolved.period.id}`));
      } catch (e) {
        // A document this version cannot read (written by another version): computed, as before a recompute.
        throw new NotStored(`the snapshot of ${kind} ${id} cannot be read: ${(e as Error).message}`);
      }
      docs.set(k, { version, doc });
      parsed++;
      if (kind === 'rep') changedReps.add(id);
    }
    for (const k of docs.keys())
      if (!seen.has(k)) {
        docs.delete(k);
        parsed++;
        if (k.startsWith('rep:')) changedReps.add(k.slice(4));
      }

    let model: MetricsModel;
    let reps = 0;
    let fullLoad = false;
    if (narrowed) {
      model = narrowed.model;
      reps = narrowed.reps;
    } else if (!prev && lean) {
      // A one-shot report that computes no figure: the people, quotas, rates and deals, not the activities (at
      // 2,000 reps, 600,000 rows that only the stored figures were made from).
      const o = this.engine.loadOptions(resolved.asOf, periods);
      const inputs = await loadGroupInputs(this.db, o);
      const deals = await loadDeals(this.db, o.asOf, o.timezone, o.window, null, inputs.ownerToRep, o.splits);
      model = new MetricsModel({ ...inputs, ...deals }, this.engine.settings);
      fullLoad = true;
    } else if (!prev) {
      // Read after the statement above: a snapshot written since is found by the next refresh and its rep reloaded.
      model = await this.engine.loadModel(resolved.asOf, periods, { forecast: false });
      fullLoad = true;
    } else {
      model = prev.model;
      if (parsed > 0 || row.people !== prev.people) {
        const d = model.data;
        const same =
          row.people === prev.people
            ? { reps: d.reps, ownerToRep: d.ownerToRep, units: d.units, memberships: d.memberships }
            : undefined;
        // Group quotas and rates come back with every targeted load, so a changed team snapshot (its quota) is
        // covered even when no rep's moved.
        model.replaceReps(
          changedReps,
          await loadForReps(this.db, changedReps, this.engine.loadOptions(resolved.asOf, periods), same),
        );
        reps = changedReps.size;
      }
    }

    const figures = (subject: SubjectRef): FiguresDocument => {
      const e = docs.get(`${subject.kind}:${subject.id}`);
      if (!e) throw new NotStored(`no snapshot of ${subject.kind} ${subject.id} in ${resolved.period.id}`);
      // A rename or a move the engine has not recomputed yet: the stored subject block would print the old one.
      if (!sameSubject(e.doc.subject, describeSubject(model, subject)))
        throw new NotStored(`the snapshot of ${subject.kind} ${subject.id} describes it as it was`);
      return e.doc;
    };
    // Read in the statement that read the documents: the ranks are those of the figures shown.
    const exacts = new Map<string, string | Dec | null | undefined>();
    for (const [kind, id, , , , , stored, value] of row.rows) exacts.set(`${kind}:${id}`, stored ? value : undefined);
    const exact = (subject: SubjectRef): Dec | null => {
      const k = `${subject.kind}:${subject.id}`;
      const e = exacts.get(k);
      // Written before the column existed: ranked from the warehouse instead.
      if (e === undefined) throw new NotStored(`no exact attainment is stored for ${subject.kind} ${subject.id}`);
      if (typeof e !== 'string') return e;
      // Parsed once: a rep is ranked in its team, its region and the org.
      const d = new Dec(e);
      exacts.set(k, d);
      return d;
    };
    const state: CurrentState = { model, figures, exact, stale, refreshed: { documents: parsed, reps, fullLoad } };
    this.kept = { key, stamp, model, people: row.people, docs, state };
    return state;
  }

  /**
   * The model of a one-shot report on a unit: every person, org unit and membership, and the rows (deals, splits,
   * activities, quotas) of the reps who were ever in the unit; with the snapshot keys its report reads.
   */
  private async scoped(
    resolved: ResolvedRequest,
    periods: readonly FiscalPeriod[],
    scope: Scope,
  ): Promise<{ model: MetricsModel; subjects: string[]; reps: number }> {
    const people = await loadPeople(this.db);
    const want = scope.name.trim().toLowerCase();
    // As findUnit matches: an unknown name leaves nobody's rows loaded, and the builder's NOT_FOUND lists the units.
    const unit = [...people.units.values()].find((u) => u.kind === scope.kind && u.name.toLowerCase() === want);
    const members = new Set<string>();
    const subjects: string[] = [];
    if (unit) {
      subjects.push(`${scope.kind}:${unit.id}`);
      // A region's report shows its teams too, each with its own quota and history: every rep ever in one of them.
      const teams = new Set<string>(scope.kind === 'team' ? [unit.id] : []);
      if (scope.kind === 'region') {
        for (const u of people.units.values()) if (u.kind === 'team' && u.parentId === unit.id) teams.add(u.id);
        for (const m of people.memberships) if (m.regionId === unit.id) teams.add(m.teamId);
      }
      for (const m of people.memberships) if (teams.has(m.teamId) || m.regionId === unit.id) members.add(m.repId);
      for (const id of teams) subjects.push(`team:${id}`);
      for (const id of members) subjects.push(`rep:${id}`);
    }
    const data = await loadForReps(this.db, members, this.engine.loadOptions(resolved.asOf, periods), people);
    return {
      model: new MetricsModel(data, this.engine.settings),
      subjects: [...new Set(subjects)],
      reps: members.size,
    };
  }
}
