/**
 * One change in a fresh process (every CLI `sync`, every worker restart) without loading the whole warehouse.
 *
 * A rep's figures need only its own rows. Its team's need the team's members' rows (ten or so reps). A region's and
 * the org's are merges of their teams' partials (sums, counts, shared-deal id sets and integer-cent trials: exact in
 * any grouping, as the sharded recompute relies on), so they are merged from the loaded teams' partials and the
 * other teams' partials as stored. The forecast is the one the last full recompute learned from the stage history,
 * stored with it, as a warm engine keeps the one it learned at its load.
 *
 * - `learned_forecasts`: each period's learned forecast, written by every unsharded full recompute (a sharded merge
 *   deletes them, as it does not store team partials).
 * - `team_parts`: each team's merged partial per period, written by every recompute that computes the team (full,
 *   warm or cold), never over one read later (`inputs_at`), tagged with the date, config, people fingerprint and the
 *   hash of the forecast it was computed with.
 *
 * The stored state is used only when all of it matches this process: the date, the config, the people fingerprint
 * (memberships, org units, reps and persons unchanged), and every team partial made with the stored forecast.
 * Otherwise the caller loads the whole model, as before.
 */
import { type Kysely, sql } from 'kysely';
import type { FiscalPeriod } from '../../config/calendar.ts';
import type { Database } from '../../db/schema.ts';
import { laterOf, type PlainDate } from '../../util/date.ts';
import { contentHash } from '../../util/hash.ts';
import type { SubjectPartial } from '../math/rep-metrics.ts';
import { dealTimelinePages, learnForecastsByPage, repeatedDealIds } from './forecast-history.ts';
import { decodeLearned, forecastFrom, type LearnedForecast } from './forecast-model.ts';
import { loadBacktests } from './forecast-store.ts';
import { type LoadOptions, loadForReps, loadGroupInputs, loadWindow } from './load.ts';
import { MetricsModel } from './model.ts';
import { decodePartial, encodePartial, encodeRunForecast, forecastInput, type RunForecastJson } from './partials.ts';
import type { EngineSettings } from './settings.ts';

/**
 * The tag a stored partial or forecast carries beside its date and config: the people and FX rates fingerprints of
 * the model that made it (amounts are converted at its rates). Undefined: the model stores nothing (a shard's).
 */
export function stateTag(m: { people?: string | undefined; rates?: string | undefined }): string | undefined {
  return m.people === undefined || m.rates === undefined ? undefined : `${m.people}|fx:${m.rates}`;
}

/** Team partials per insert (each up to 80 kB of trials at 10,000). */
const CHUNK = 50;

/** A team's merged partial for a period, with the hash of the forecast it was computed with. */
export interface TeamPartRow {
  teamId: string;
  period: FiscalPeriod;
  part: SubjectPartial;
  forecastHash: string;
}

/** Stores the merged partials of the teams a recompute computed, unless a recompute that read later stored first. */
export async function storeTeamParts(
  db: Kysely<Database>,
  model: MetricsModel,
  teams: readonly { teamId: string; period: FiscalPeriod }[],
  o: { configHash: string; inputsAt: string },
): Promise<void> {
  const people = stateTag(model);
  if (people === undefined) return;
  const rows: TeamPartRow[] = [];
  for (const { teamId, period } of teams) {
    const part = model.lastTeamPartial(teamId, period.id);
    const learned = model.learnedOf(period);
    if (!part || !learned) continue;
    rows.push({ teamId, period, part, forecastHash: learned.hash });
  }
  await writeTeamParts(db, rows, { ...o, asOf: model.asOf, people });
}

/**
 * Stores team partials made elsewhere than in one model (the shard-by-shard full recompute merges them from its
 * shards' shares), tagged with `people` (`stateTag`).
 */
export async function writeTeamParts(
  db: Kysely<Database>,
  teams: readonly TeamPartRow[],
  o: { configHash: string; inputsAt: string; asOf: PlainDate; people: string },
): Promise<void> {
  const rows = [];
  for (const { teamId, period, part, forecastHash } of teams) {
    const { part: json, trials } = encodePartial(part);
    rows.push({
      period_id: period.id,
      team_id: teamId,
      as_of: o.asOf,
      config_hash: o.configHash,
      people: o.people,
      forecast_hash: forecastHash,
      inputs_at: o.inputsAt,
      part: json,
      trials,
    });
  }
  for (let i = 0; i < rows.length; i += CHUNK)
    await db
      .insertInto('team_parts')
      .values(rows.slice(i, i + CHUNK))
      .onConflict((oc) =>
        oc
          .columns(['period_id', 'team_id'])
          .doUpdateSet((eb) => ({
            as_of: eb.ref('excluded.as_of'),
            config_hash: eb.ref('excluded.config_hash'),
            people: eb.ref('excluded.people'),
            forecast_hash: eb.ref('excluded.forecast_hash'),
            inputs_at: eb.ref('excluded.inputs_at'),
            part: eb.ref('excluded.part'),
            trials: eb.ref('excluded.trials'),
          }))
          // Never a partial as of an earlier date over a later one (a recompute of yesterday finishing after midnight).
          .where(
            sql<boolean>`excluded.as_of > team_parts.as_of
              or (excluded.as_of = team_parts.as_of and team_parts.inputs_at <= excluded.inputs_at)`,
          ),
      )
      .execute();
}

/** A period's learned forecast as `learned_forecasts` keeps it, with its content hash (`learnedHash`). */
export interface LearnedRow {
  periodId: string;
  hash: string;
  forecast: RunForecastJson;
}

/** The hash a model gives what it learned (`MetricsModel.learnedOf`): of the learned forecast's JSON. */
export function learnedHash(f: RunForecastJson): string {
  return contentHash(f.learned);
}

/** Stores learned forecasts made elsewhere than in one model (the shard-by-shard full recompute's). */
export async function writeLearnedForecasts(
  db: Kysely<Database>,
  learned: readonly LearnedRow[],
  o: { asOf: PlainDate; configHash: string; people: string },
): Promise<void> {
  const rows = learned.map((l) => ({
    period_id: l.periodId,
    as_of: o.asOf,
    config_hash: o.configHash,
    people: o.people,
    hash: l.hash,
    forecast: JSON.stringify(l.forecast),
  }));
  if (rows.length === 0) return;
  await db
    .insertInto('learned_forecasts')
    .values(rows)
    .onConflict((oc) =>
      oc
        .column('period_id')
        .doUpdateSet((eb) => ({
          as_of: eb.ref('excluded.as_of'),
          config_hash: eb.ref('excluded.config_hash'),
          people: eb.ref('excluded.people'),
          hash: eb.ref('excluded.hash'),
          forecast: eb.ref('excluded.forecast'),
        }))
        // As for team partials: yesterday's recompute finishing late does not replace today's forecast.
        .where(sql<boolean>`excluded.as_of >= learned_forecasts.as_of`),
    )
    .execute();
}

/**
 * Learns each period's forecast from the stage history as of D, as a full load's model would, without the model
 * and without holding the history: a page of deals at a time (forecast-history.ts). For a sharded run's plan and
 * the shard-by-shard full recompute, whose shards hold some reps' rows only.
 */
export async function learnForecasts(
  db: Kysely<Database>,
  settings: EngineSettings,
  o: {
    options: LoadOptions;
    periods: readonly FiscalPeriod[];
    forecastConfig: string;
    pageSize?: number;
    /** The groups' model the caller has already loaded (`loadGroupInputs`): not read a second time. */
    base?: MetricsModel;
  },
): Promise<Record<string, RunForecastJson>> {
  const { options, periods } = o;
  const asOf = options.asOf;
  // The owners' rep keys and the rates, as a full load reads them (the groups' inputs: no deal or activity).
  const base = o.base ?? new MetricsModel(await loadGroupInputs(db, options), settings);
  const pages = dealTimelinePages(
    db,
    { asOf, timezone: settings.timezone, ownerToRep: base.data.ownerToRep, fx: base.fx },
    o.pageSize,
  );
  // Pairs are counted as they come but for the ids two connections share: no map entry a deal.
  const repeatedIds = await repeatedDealIds(db);
  const [learned, backtests] = await Promise.all([
    learnForecastsByPage(pages, {
      calendar: settings.calendar,
      periods,
      asOf,
      settings: settings.forecast.calibration,
      repeatedIds,
    }),
    loadBacktests(db, { asOf, configHash: o.forecastConfig }),
  ]);
  const out: Record<string, RunForecastJson> = {};
  for (const period of periods)
    out[period.id] = encodeRunForecast(learned.get(period.id) as LearnedForecast, backtests.get(period.kind) ?? null);
  return out;
}

/** What the cold path reads of the engine (not the engine itself, which calls it). */
export interface EngineParts {
  db: Kysely<Database>;
  settings: EngineSettings;
}

/** The teams whose members' rows a change of these reps needs: every team they counted for in the periods' windows. */
function teamsOf(
  engine: EngineParts,
  model: MetricsModel,
  repKeys: Iterable<string>,
  asOf: PlainDate,
  periods: readonly FiscalPeriod[],
): Set<string> {
  const teams = new Set<string>();
  for (const key of repKeys)
    for (const a of periods) {
      const from = loadWindow(asOf, a.start, engine.settings.conversionWindowMonths).closedFrom;
      for (const g of [...model.groupsOfRep(key, from, laterOf(a.end, asOf)), ...model.ancestorsOf(key, asOf)])
        if (g.kind === 'team') teams.add(g.id);
    }
  return teams;
}

/**
 * A model for recomputing the dirty reps (owner or rep keys) and their groups from the stored state, or null when
 * that state does not match (see the file comment). `loaded`: the rep keys whose rows it holds.
 */
export async function coldModel(
  engine: EngineParts,
  asOf: PlainDate,
  periods: readonly FiscalPeriod[],
  dirty: ReadonlySet<string>,
  probe: { people: string; rates: string },
  options: LoadOptions,
): Promise<{ model: MetricsModel; loaded: Set<string> } | null> {
  const db = engine.db;
  const configHash = engine.settings.configHash;
  const ids = periods.map((p) => p.id);
  const people = stateTag(probe) as string;
  const [base, forecasts, parts] = await Promise.all([
    loadGroupInputs(db, options),
    db
      .selectFrom('learned_forecasts')
      .select(['period_id', 'as_of', 'config_hash', 'people', 'hash', 'forecast'])
      .where('period_id', 'in', ids)
      .execute(),
    sql<{
      period_id: string;
      team_id: string;
      ok: boolean;
      forecast_hash: string;
      part: Parameters<typeof decodePartial>[0];
      trials: Buffer;
    }>`select period_id, team_id, (as_of = ${asOf} and config_hash = ${configHash} and people = ${people}) as ok,
              forecast_hash, part, trials
       from team_parts where period_id = any(${ids}::text[])`.execute(db),
  ]);
  const learned = new Map<string, { hash: string; json: RunForecastJson }>();
  for (const f of forecasts)
    if (String(f.as_of) === asOf && f.config_hash === configHash && f.people === people)
      learned.set(f.period_id, { hash: f.hash, json: f.forecast as unknown as RunForecastJson });
  if (periods.some((p) => !learned.has(p.id))) return null;

  const model = new MetricsModel(base, engine.settings);
  model.people = probe.people;
  model.rates = probe.rates;
  for (const period of periods) {
    const f = learned.get(period.id) as { hash: string; json: RunForecastJson };
    const l = decodeLearned(f.json.learned);
    model.presetForecast(period.id, forecastFrom(l, forecastInput(engine.settings, period, asOf, f.json)), l, f.hash);
  }
  const keys = new Set([...dirty].map((k) => (k.startsWith('person:') ? k : (base.ownerToRep.get(k) ?? k))));
  const loadedTeams = teamsOf(engine, model, keys, asOf, periods);
  const stored = new Map<string, SubjectPartial>();
  const usable = new Map(parts.rows.map((r) => [`${r.team_id}|${r.period_id}`, r]));
  for (const team of model.groups('team')) {
    if (loadedTeams.has(team)) continue;
    for (const period of periods) {
      const r = usable.get(`${team}|${period.id}`);
      if (!r?.ok || r.forecast_hash !== learned.get(period.id)?.hash) return null;
      stored.set(`${team}|${period.id}`, decodePartial(r.part, r.trials));
    }
  }
  for (const team of loadedTeams) for (const k of model.membersOf('team', team)) keys.add(k);
  model.replaceReps(keys, await loadForReps(db, keys, options, base));
  model.useStoredTeams(stored, loadedTeams);
  return { model, loaded: keys };
}
