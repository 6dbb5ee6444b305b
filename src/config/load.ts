/**
 * Finding, reading and validating the configuration.
 *
 * Where the file is: `--config PATH`, else `QUOTA_TRACKER_CONFIG`, else `./quota-tracker.yaml`. A missing default
 * file means "all defaults" (so `npx quota-tracker demo` needs no file); a missing file that was asked for by name
 * is an error.
 *
 * Precedence, highest first: command-line flags, the config file, environment variables (`DATABASE_URL` and the
 * others of `ENV_FALLBACKS`, used only for keys the file leaves out or leaves empty), then the schema defaults.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { z } from 'zod';
import { AppError, isAppError } from '../errors.ts';
import { contentHash } from '../util/hash.ts';
import { type Env, formatKeyPath, interpolateTree, parseYamlWithRefs } from './env.ts';
import { type Config, configSchema } from './schema.ts';

export const DEFAULT_CONFIG_FILE = 'quota-tracker.yaml';

/** Environment variables that fill a key when neither a flag nor the file sets it. */
export const ENV_FALLBACKS: ReadonlyArray<{ env: string; path: readonly string[] }> = [
  { env: 'DATABASE_URL', path: ['database', 'url'] },
  { env: 'QUOTA_TRACKER_DATA_DIR', path: ['database', 'dataDir'] },
  { env: 'REDIS_URL', path: ['queue', 'redisUrl'] },
  { env: 'QUOTA_TRACKER_RECOMPUTE_SHARDS', path: ['queue', 'recomputeShards'] },
  { env: 'QUOTA_TRACKER_PORT', path: ['web', 'port'] },
  { env: 'QUOTA_TRACKER_HOST', path: ['web', 'host'] },
  { env: 'QUOTA_TRACKER_PUBLIC_URL', path: ['web', 'publicUrl'] },
  { env: 'LOG_LEVEL', path: ['logLevel'] },
];

/** Nested overrides from the command line, in the shape of the file (`{ logLevel: 'debug' }`). */
export type ConfigFlags = { readonly [key: string]: unknown };

export interface LoadConfigOptions {
  /** Explicit file (`--config`); missing means QUOTA_TRACKER_CONFIG, then ./quota-tracker.yaml. */
  path?: string;
  flags?: ConfigFlags;
  /** Defaults to process.env. */
  env?: Env;
  /** Where the default file is looked for; defaults to process.cwd(). */
  cwd?: string;
}

export interface LoadedConfig {
  readonly config: Config;
  /** Absolute path of the file read, or null when running on defaults. */
  readonly path: string | null;
  /** Names of the environment variables the file referenced or that filled a key. */
  readonly envUsed: readonly string[];
  /** Hash of the settings that change metric values; stored with every snapshot. */
  readonly hash: string;
}

/** Finds, reads, interpolates, merges and validates the configuration. */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const explicit = options.path ?? (env.QUOTA_TRACKER_CONFIG || undefined);
  const path = resolve(cwd, explicit ?? DEFAULT_CONFIG_FILE);

  let text: string | null = null;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    const missing = (cause as NodeJS.ErrnoException).code === 'ENOENT';
    if (!missing || explicit !== undefined) {
      const why = missing ? 'does not exist' : `cannot be read (${(cause as Error).message})`;
      const source = options.path !== undefined ? '--config' : explicit !== undefined ? 'QUOTA_TRACKER_CONFIG' : '';
      // The path is in the sentence already; `where` names what pointed at it.
      throw new AppError('CONFIG_FILE', `the configuration file ${path} ${why}`, {
        ...(source ? { where: source } : {}),
        cause,
      });
    }
  }

  const used = new Set<string>();
  // An empty file (or one of comments only) parses to null: all defaults, like no file.
  const fromFile = text === null ? {} : (interpolateTree(parseYamlWithRefs(text, path), env, used) ?? {});
  if (typeof fromFile !== 'object' || Array.isArray(fromFile)) {
    throw new AppError('CONFIG_FILE', `${path} must hold a mapping of settings at the top level`, { where: path });
  }
  const merged = deepMerge(fromFile as Record<string, unknown>, (options.flags ?? {}) as Record<string, unknown>);
  for (const { env: name, path: keyPath } of ENV_FALLBACKS) {
    const v = env[name];
    if (v !== undefined && v.trim() !== '' && getPath(merged, keyPath) === undefined) {
      setPath(merged, keyPath, v);
      used.add(name);
    }
  }

  const config = validateConfig(merged);
  const baseDir = text === null ? cwd : dirname(path);
  resolveRelativePaths(config, baseDir);
  return { config, path: text === null ? null : path, envUsed: [...used].sort(), hash: configHash(config) };
}

/** Validates plain data against the schema; the first problems become one CONFIG_INVALID sentence. */
export function validateConfig(data: unknown): Config {
  // reportInput lets messages say what type was found; the values themselves are never shown.
  const result = configSchema.safeParse(data, { reportInput: true });
  if (result.success) return result.data;
  const issues = oneIssuePerFault(result.error.issues, data);
  const [first] = issues as [{ where: string; text: string }];
  const rest = issues.slice(1, 3).map((i) => `${i.where}: ${i.text}`);
  const more = issues.length > 3 ? `; and ${issues.length - 3} more` : '';
  throw new AppError(
    'CONFIG_INVALID',
    `invalid configuration at ${first.where}: ${first.text}${rest.length ? `; also ${rest.join('; ')}` : ''}${more}`,
    { where: first.where, details: { issues } },
  );
}

type Issue = z.core.$ZodIssue;
type PathKey = PropertyKey;

/**
 * The schema's issues as the user's faults: an unknown key is its own entry and suggests the nearest key the
 * schema knows there (`unknown key "calender"; did you mean "calendar"?`), and a misspelt required key is one
 * fault, not two (the unknown spelling and the missing key it meant).
 */
function oneIssuePerFault(raw: readonly Issue[], data: unknown): Array<{ where: string; text: string }> {
  const out: Array<{ where: string; text: string; path: readonly PathKey[] }> = [];
  const meant = new Set<string>();
  for (const issue of raw) {
    if (issue.code !== 'unrecognized_keys') continue;
    const known = knownKeys(configSchema, issue.path, data);
    for (const key of issue.keys) {
      const near = nearest(key, known);
      if (near !== undefined) meant.add(JSON.stringify([...issue.path, near].map(String)));
      out.push({
        where: formatKeyPath(issue.path),
        text: `unknown key "${key}"${near !== undefined ? `; did you mean "${near}"?` : ''}`,
        path: issue.path,
      });
    }
  }
  const rest = raw
    .filter((issue) => issue.code !== 'unrecognized_keys')
    .filter(
      (issue) =>
        !(
          issue.code === 'invalid_type' &&
          issue.input === undefined &&
          meant.has(JSON.stringify(issue.path.map(String)))
        ),
    )
    .map((issue) => ({ where: formatKeyPath(issue.path), text: describeIssue(issue), path: issue.path }));
  // In the order zod met them: each entry where the first issue at its path stood.
  const firstOf = (e: { path: readonly PathKey[] }) =>
    raw.findIndex((issue) => JSON.stringify(issue.path.map(String)) === JSON.stringify(e.path.map(String)));
  return [...out, ...rest]
    .map((e, i) => ({ e, at: firstOf(e), i }))
    .sort((a, b) => a.at - b.at || a.i - b.i)
    .map(({ e }) => ({ where: e.where, text: e.text }));
}

/** The keys the schema accepts for the mapping at `path` of `data` (a tagged union: the branch the tag picks). */
function knownKeys(schema: z.core.$ZodType, path: readonly PathKey[], data: unknown): string[] {
  let here: z.core.$ZodType | undefined = schema;
  let value: unknown = data;
  for (const step of [...path, null]) {
    const options = unwrapped(here, value);
    if (step === null) return [...new Set(options.flatMap((o) => Object.keys(objectShape(o) ?? {})))];
    here = undefined;
    for (const o of options) {
      const def = o._zod.def as { type: string; element?: z.core.$ZodType; valueType?: z.core.$ZodType };
      const shape = objectShape(o);
      const next = def.type === 'array' ? def.element : def.type === 'record' ? def.valueType : shape?.[String(step)];
      if (next) {
        here = next;
        break;
      }
    }
    value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[step] : undefined;
    if (!here) return [];
  }
  return [];
}

function objectShape(schema: z.core.$ZodType): Record<string, z.core.$ZodType> | undefined {
  const def = schema._zod.def as { type: string; shape?: Record<string, z.core.$ZodType> };
  return def.type === 'object' ? def.shape : undefined;
}

/** Looks through wrappers (default, optional, preprocess, lazy) to the object, array or union options beneath. */
function unwrapped(schema: z.core.$ZodType | undefined, value: unknown, depth = 0): z.core.$ZodType[] {
  if (!schema || depth > 20) return [];
  const def = schema._zod.def as {
    type: string;
    innerType?: z.core.$ZodType;
    in?: z.core.$ZodType;
    out?: z.core.$ZodType;
    getter?: () => z.core.$ZodType;
    options?: z.core.$ZodType[];
    discriminator?: string;
  };
  if (def.innerType) return unwrapped(def.innerType, value, depth + 1);
  if (def.type === 'pipe') {
    // A preprocess is a pipe from a transform into the real schema.
    const inner = unwrapped(def.out, value, depth + 1);
    return inner.length > 0 ? inner : unwrapped(def.in, value, depth + 1);
  }
  if (def.type === 'lazy' && def.getter) return unwrapped(def.getter(), value, depth + 1);
  if (def.type === 'union' && def.options) {
    const all = def.options.flatMap((o) => unwrapped(o, value, depth + 1));
    const tag = def.discriminator;
    if (tag === undefined || value === null || typeof value !== 'object') return all;
    const chosen = all.filter((o) => {
      const t = objectShape(o)?.[tag];
      const values = (t?._zod.def as { values?: unknown[] } | undefined)?.values;
      return values?.includes((value as Record<string, unknown>)[tag]) === true;
    });
    return chosen.length > 0 ? chosen : all;
  }
  return [schema];
}

/** The known key nearest to a mistyped one, when it is near enough to be the one meant. */
export function nearest(key: string, known: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = name.toLowerCase() === key.toLowerCase() ? 0.5 : editDistance(key, name);
    if (best === undefined || distance < best.distance) best = { name, distance };
  }
  if (best === undefined) return undefined;
  return best.distance <= Math.max(1, Math.floor(Math.max(key.length, best.name.length) / 3)) ? best.name : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number;
      row[j] = Math.min(above + 1, (row[j - 1] as number) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] as number;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      // Only the type of the wrong value: it may be a secret typed into the wrong place.
      if (issue.input === undefined) return `is required (expected ${issue.expected})`;
      // YAML's .inf and .nan are numbers to JavaScript but not to the schema.
      if (typeof issue.input === 'number' && !Number.isFinite(issue.input)) {
        return `expected a finite number, got ${String(issue.input)}`;
      }
      return `expected ${issue.expected}, got ${typeName(issue.input)}`;
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'invalid_value': {
      const near =
        typeof issue.input === 'string'
          ? nearest(
              issue.input,
              issue.values.filter((v): v is string => typeof v === 'string'),
            )
          : undefined;
      const hint = near !== undefined ? `; did you mean "${near}"?` : '';
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${show(issue.input)}${hint}`;
    }
    case 'invalid_union':
      // A discriminated union names the allowed values of its tag (`type`, `kind`, `source`) in its message.
      return issue.message.replace(/^Invalid input: /, '');
    default:
      return issue.message.replace(/^Invalid input: /, '');
  }
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : `a ${typeof v}`;
}

function show(v: unknown): string {
  // The wrong value may be a secret in the wrong place; show its type and only short scalars.
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (typeof v === 'string') return v.length <= 24 && !/[:/@]/.test(v) ? JSON.stringify(v) : 'a string';
  return Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : typeof v;
}

/**
 * Whose CRM quota counts when several connections hold one for the same person and period, best first:
 * `quotas.preferConnection`, then the connections in the order listed.
 */
export function quotaPreference(config: Config): string[] {
  const ids = config.connections.map((c) => c.id);
  const preferred = config.quotas.source === 'crm' ? config.quotas.preferConnection : undefined;
  return preferred === undefined ? ids : [preferred, ...ids.filter((id) => id !== preferred)];
}

/** Settings whose change changes metric values (not secrets, schedules, ports or where the database is). */
export function configHash(config: Config): string {
  return contentHash({
    calendar: config.calendar,
    pacing: config.pacing,
    // The preference matters only where two CRMs can both hold a person's quota; one connection hashes as before.
    quotas:
      config.quotas.source === 'crm' && config.connections.length > 1
        ? { source: 'crm', prefer: quotaPreference(config) }
        : config.quotas.source,
    booking: config.booking,
    ramp: config.ramp,
    activityTargets: config.activityTargets,
    commission: config.commission,
    statusBands: config.statusBands,
    coverageBands: config.coverageBands,
    metrics: config.metrics,
    forecast: config.forecast,
    alertRules: config.alerts.rules,
    hysteresis: config.alerts.hysteresis,
    fields: config.connections.map((c) => ({ id: c.id, fields: c.fields })),
  });
}

function resolveRelativePaths(config: Config, baseDir: string): void {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  if (config.org.file) config.org.file = abs(config.org.file);
  if (config.quotas.source === 'file') config.quotas.path = abs(config.quotas.path);
  if (config.fx.source === 'file') config.fx.path = abs(config.fx.path);
  if (config.database.dataDir) config.database.dataDir = abs(config.database.dataDir);
  for (const c of config.connections) {
    if (c.type === 'salesforce' && c.auth.kind === 'jwt') c.auth.privateKeyPath = abs(c.auth.privateKeyPath);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `over` wins key by key; lists are replaced whole (a flag list is the whole list). */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  }
  return out;
}

function getPath(obj: Record<string, unknown>, path: readonly string[]): unknown {
  let cur: unknown = obj;
  for (const k of path) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let cur = obj;
  path.forEach((k, i) => {
    if (i === path.length - 1) cur[k] = value;
    else {
      if (!isPlainObject(cur[k])) cur[k] = {};
      cur = cur[k] as Record<string, unknown>;
    }
  });
}

/** True when an error is one of the configuration errors `config check` reports with exit code 2. */
export function isConfigError(e: unknown): e is AppError {
  return (
    isAppError(e, 'CONFIG_INVALID') ||
    isAppError(e, 'CONFIG_ENV_MISSING') ||
    isAppError(e, 'CONFIG_FILE') ||
    isAppError(e, 'CALENDAR_INVALID')
  );
}
