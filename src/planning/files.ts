/**
 * RevOps' planning files as a source of the warehouse: `quotas: { source: file }` and `fx: { source: file }` are
 * loaded into `quotas` and `fx_rates` (source `file`) on every sync, schedule tick and `recompute`, before the
 * metrics read them. A file is read whole and hashed: when its content is unchanged nothing is written; when it
 * changed, the previous file's rows are replaced in one transaction and exactly the rep-periods whose quota moved
 * are marked dirty (a rate change recomputes everything, as a CRM rate change does).
 *
 * A malformed row is an AppError naming `file:line:column` (exit 2); `checkPlanningFiles` says so before a command
 * does any work, and in a running service the last good rows stay while the error is kept in `config_state`
 * (`/readyz` reports it) until the file is good again. Rows naming an email no synced user has are kept (on a
 * person of that email, which the user joins when it syncs) and listed in one warning.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type Kysely, sql } from 'kysely';
import type { FiscalCalendar } from '../config/calendar.ts';
import { parseFxFile } from '../config/fx-file.ts';
import { parseQuotaFile } from '../config/quota-file.ts';
import type { Config } from '../config/schema.ts';
import type { Database } from '../db/schema.ts';
import { raiseRatesChanged } from '../dirty/queue.ts';
import { AppError, isAppError } from '../errors.ts';
import type { Logger } from '../util/log.ts';
import { Dec } from '../util/money.ts';

/** `config_state` keys: the hash of the last loaded file, and the error of a file that turned bad. */
const QUOTA_HASH_KEY = 'quota_file_hash';
const FX_HASH_KEY = 'fx_file_hash';
export const PLANNING_FILE_ERROR_KEY = 'planning_file_error';

export type PlanningConfig = Pick<Config, 'quotas' | 'fx' | 'calendar'>;

/** A rep-period to recompute, as the metrics engine's dirty keys spell it. */
export interface DirtyKey {
  subjectKey: string;
  periodId: string;
  reason: string;
}

export interface PlanningLoadResult {
  quotas: 'crm' | 'unchanged' | 'loaded';
  fx: 'crm' | 'unchanged' | 'loaded';
  /** Rep-periods whose quota the file changed. */
  dirty: DirtyKey[];
  /** Lower-cased emails of file quotas no synced user has. */
  unmatched: string[];
}

interface FileText {
  path: string;
  text: string;
  hash: string;
}

async function readText(path: string, code: 'QUOTA_FILE_INVALID' | 'CONFIG_FILE', what: string): Promise<FileText> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new AppError(code, `cannot read the ${what} ${path}: ${(cause as Error).message}`, { where: path, cause });
  }
  return { path, text, hash: createHash('sha256').update(text).digest('hex') };
}

/** Reads and validates both files (if configured); throws the first bad row as `file:line:column`. */
export async function checkPlanningFiles(config: PlanningConfig, calendar: FiscalCalendar): Promise<void> {
  if (config.quotas.source === 'file') {
    const f = await readText(config.quotas.path, 'QUOTA_FILE_INVALID', 'quota file');
    parseQuotaFile(f.text, f.path, calendar, config.calendar.baseCurrency);
  }
  if (config.fx.source === 'file') {
    const f = await readText(config.fx.path, 'CONFIG_FILE', 'FX rate file');
    parseFxFile(f.text, f.path, config.calendar.baseCurrency);
  }
}

async function storedHash(db: Kysely<Database>, key: string): Promise<string | null> {
  const row = await db.selectFrom('config_state').select('hash').where('key', '=', key).executeTakeFirst();
  return row?.hash ?? null;
}

async function saveHash(db: Kysely<Database>, key: string, hash: string): Promise<void> {
  await sql`insert into config_state (key, hash, value) values (${key}, ${hash}, null)
    on conflict (key) do update set hash = excluded.hash, applied_at = now()`.execute(db); // wall-clock: an audit stamp
}

/** The quarters a quota's dates overlap: the rep-periods it is part of. */
function quartersOf(calendar: FiscalCalendar, start: string, end: string): string[] {
  return calendar.periodsBetween(start, end, 'quarter').map((p) => p.id);
}

async function loadQuotaFile(
  db: Kysely<Database>,
  config: PlanningConfig & { quotas: { source: 'file' } },
  calendar: FiscalCalendar,
): Promise<{ status: 'unchanged' | 'loaded'; dirty: DirtyKey[] }> {
  const file = await readText(config.quotas.path, 'QUOTA_FILE_INVALID', 'quota file');
  if ((await storedHash(db, QUOTA_HASH_KEY)) === file.hash) return { status: 'unchanged', dirty: [] };
  const rows = parseQuotaFile(file.text, file.path, calendar, config.calendar.baseCurrency);
  return db.transaction().execute(async (trx) => {
    const before = await trx
      .selectFrom('quotas')
      .select(['external_id', 'person_id', 'period_start', 'period_end', 'amount', 'currency', 'product_line'])
      .where('source', '=', 'file')
      .where('org_unit_id', 'is', null)
      .execute();
    // Every email of the file is a person, synced yet or not: a quota for someone whose user has not synced waits
    // on their person and counts once the user arrives (persons are joined to users by email).
    const emails = [...new Set(rows.map((r) => r.email))];
    for (let i = 0; i < emails.length; i += 1000) {
      await sql`insert into persons (email) select e from unnest(${emails.slice(i, i + 1000)}::text[]) as t(e)
        on conflict (lower(email)) do nothing`.execute(trx);
    }
    const persons = await trx.selectFrom('persons').select(['id', 'email']).execute();
    const personOf = new Map(persons.map((p) => [p.email.toLowerCase(), p.id] as const));
    await trx.deleteFrom('quotas').where('source', '=', 'file').where('org_unit_id', 'is', null).execute();
    const key = (email: string | null, start: string, line: string | null) => `${email ?? ''}|${start}|${line ?? ''}`;
    const old = new Map(before.map((r) => [key(r.external_id, r.period_start, r.product_line), r] as const));
    const dirty = new Map<string, DirtyKey>();
    const touch = (personId: number | null, start: string, end: string) => {
      if (personId === null) return;
      for (const periodId of quartersOf(calendar, start, end))
        dirty.set(`${personId}|${periodId}`, { subjectKey: `person:${personId}`, periodId, reason: 'quota_file' });
    };
    const seen = new Set<string>();
    for (let i = 0; i < rows.length; i += 500) {
      const chunk = rows.slice(i, i + 500).map((r) => ({
        source: 'file' as const,
        connection_id: null,
        external_id: r.email,
        person_id: personOf.get(r.email) ?? null,
        owner_external_id: null,
        org_unit_id: null,
        period_start: r.period.start,
        period_end: r.period.end,
        amount: r.amount.toFixed(),
        currency: r.currency,
        product_line: r.productLine,
        content_hash: file.hash.slice(0, 16),
        is_deleted: false,
      }));
      await trx.insertInto('quotas').values(chunk).execute();
      for (const r of chunk) {
        const k = key(r.external_id, r.period_start, r.product_line);
        seen.add(k);
        const was = old.get(k);
        const same =
          was !== undefined &&
          was.period_end === r.period_end &&
          was.currency === r.currency &&
          new Dec(was.amount).eq(r.amount);
        if (!same) touch(r.person_id, r.period_start, r.period_end);
      }
    }
    for (const [k, r] of old) if (!seen.has(k)) touch(r.person_id, r.period_start, r.period_end);
    await saveHash(trx, QUOTA_HASH_KEY, file.hash);
    return { status: 'loaded' as const, dirty: [...dirty.values()] };
  });
}

async function loadFxFile(
  db: Kysely<Database>,
  config: PlanningConfig & { fx: { source: 'file' } },
): Promise<'unchanged' | 'loaded'> {
  const file = await readText(config.fx.path, 'CONFIG_FILE', 'FX rate file');
  if ((await storedHash(db, FX_HASH_KEY)) === file.hash) return 'unchanged';
  const rows = parseFxFile(file.text, file.path, config.calendar.baseCurrency);
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('fx_rates').where('source', '=', 'file').execute();
    // Rows come sorted by currency then date: each rate holds until the next one of its currency.
    const values = rows.map((r, i) => {
      const next = rows[i + 1];
      return {
        connection_id: null,
        external_id: null,
        currency: r.currency,
        rate: r.rate.toFixed(),
        valid_from: r.validFrom,
        valid_to: next && next.currency === r.currency ? next.validFrom : null,
        source: 'file' as const,
        source_modified_at: null,
      };
    });
    if (values.length > 0) await trx.insertInto('fx_rates').values(values).execute();
    await saveHash(trx, FX_HASH_KEY, file.hash);
    await raiseRatesChanged(trx);
  });
  return 'loaded';
}

/**
 * Brings the warehouse in line with the planning files: loads a changed file, keeps who carries a quota in line
 * with the quota file, links file quotas to users who arrived since, and drops file rows when the config went back
 * to the CRM. Returns the rep-periods to recompute. Persons must be linked to the synced users first (the metrics
 * step does it), so that a quota's email finds its person.
 */
export async function loadPlanningFiles(
  db: Kysely<Database>,
  config: PlanningConfig,
  calendar: FiscalCalendar,
  log: Logger,
): Promise<PlanningLoadResult> {
  let quotas: PlanningLoadResult['quotas'] = 'crm';
  let dirty: DirtyKey[] = [];
  if (config.quotas.source === 'file') {
    const r = await loadQuotaFile(db, { ...config, quotas: config.quotas }, calendar);
    quotas = r.status;
    dirty = r.dirty;
    // The file says who carries a quota, unless RevOps' org file says it for that person.
    await sql`update persons p set quota_carrying = exists (
        select 1 from quotas q where q.source = 'file' and q.person_id = p.id and not q.is_deleted)
      where p.source = 'crm' or p.quota_carrying is null`.execute(db);
  } else if (await storedHash(db, QUOTA_HASH_KEY)) {
    await db.deleteFrom('quotas').where('source', '=', 'file').where('org_unit_id', 'is', null).execute();
    await db.deleteFrom('config_state').where('key', '=', QUOTA_HASH_KEY).execute();
    await db.updateTable('persons').set({ quota_carrying: null }).where('source', '=', 'crm').execute();
    quotas = 'loaded';
  }
  let fx: PlanningLoadResult['fx'] = 'crm';
  if (config.fx.source === 'file') fx = await loadFxFile(db, { ...config, fx: config.fx });
  else if (await storedHash(db, FX_HASH_KEY)) {
    await db.deleteFrom('fx_rates').where('source', '=', 'file').execute();
    await db.deleteFrom('config_state').where('key', '=', FX_HASH_KEY).execute();
    await raiseRatesChanged(db);
    fx = 'loaded';
  }
  const unmatched =
    config.quotas.source === 'file'
      ? (
          await db
            .selectFrom('quotas')
            .select('external_id')
            .distinct()
            .where('source', '=', 'file')
            .where('org_unit_id', 'is', null)
            .where(({ not, exists, selectFrom }) =>
              not(
                exists(
                  selectFrom('reps')
                    .select('reps.external_id')
                    .whereRef('reps.person_id', '=', 'quotas.person_id')
                    .where('reps.is_deleted', '=', false),
                ),
              ),
            )
            .orderBy('external_id')
            .execute()
        ).map((r) => r.external_id as string)
      : [];
  if (unmatched.length > 0 && quotas === 'loaded') {
    log.warn(
      { file: config.quotas.source === 'file' ? config.quotas.path : undefined, emails: unmatched },
      `the quota file names ${unmatched.length} email(s) no synced user has; their quotas count once the user syncs: ${unmatched.join(', ')}`,
    );
  }
  await db.deleteFrom('config_state').where('key', '=', PLANNING_FILE_ERROR_KEY).execute();
  return { quotas, fx, dirty, unmatched };
}

/**
 * For a running service: a file that turned bad keeps the last good rows; the error is logged and kept for
 * `/readyz` until the file is good again. Other errors are thrown.
 */
export async function loadPlanningFilesKeepingLastGood(
  db: Kysely<Database>,
  config: PlanningConfig,
  calendar: FiscalCalendar,
  log: Logger,
): Promise<PlanningLoadResult | null> {
  try {
    return await loadPlanningFiles(db, config, calendar, log);
  } catch (e) {
    if (!(isAppError(e, 'QUOTA_FILE_INVALID') || isAppError(e, 'CONFIG_FILE'))) throw e;
    log.error({ where: e.where }, `planning file: ${e.message}; the last good rows stay in use`);
    const value = { message: e.message, where: e.where ?? null };
    await sql`insert into config_state (key, hash, value) values (${PLANNING_FILE_ERROR_KEY}, 'invalid', ${JSON.stringify(value)}::jsonb)
      on conflict (key) do update set value = excluded.value, applied_at = now()`.execute(db); // wall-clock: an audit stamp
    return null;
  }
}

/** Whether a configured planning file's content differs from what was last loaded (or cannot be read). */
export async function planningFilesChanged(db: Kysely<Database>, config: PlanningConfig): Promise<boolean> {
  const files: Array<[string, string]> = [];
  if (config.quotas.source === 'file') files.push([QUOTA_HASH_KEY, config.quotas.path]);
  if (config.fx.source === 'file') files.push([FX_HASH_KEY, config.fx.path]);
  for (const [key, path] of files) {
    let hash: string;
    try {
      hash = createHash('sha256')
        .update(await readFile(path, 'utf8'))
        .digest('hex');
    } catch {
      return true;
    }
    if ((await storedHash(db, key)) !== hash) return true;
  }
  return false;
}

/** The error of a planning file that turned bad in a running service, if any (for `/readyz`). */
export async function planningFileError(
  db: Kysely<Database>,
): Promise<{ message: string; where: string | null } | null> {
  const row = await db
    .selectFrom('config_state')
    .select('value')
    .where('key', '=', PLANNING_FILE_ERROR_KEY)
    .executeTakeFirst();
  return (row?.value as { message: string; where: string | null } | undefined) ?? null;
}
