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
  const issues = result.error.issues.map((issue) => ({ where: formatKeyPath(issue.path), text: describeIssue(issue) }));
  const [first] = issues as [{ where: string; text: string }];
  const rest = issues.slice(1, 3).map((i) => `${i.where}: ${i.text}`);
  const more = issues.length > 3 ? `; and ${issues.length - 3} more` : '';
  throw new AppError(
    'CONFIG_INVALID',
    `invalid configuration at ${first.where}: ${first.text}${rest.length ? `; also ${rest.join('; ')}` : ''}${more}`,
    { where: first.where, details: { issues } },
  );
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
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${show(issue.input)}`;
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

/** Settings whose change changes metric values (not secrets, schedules, ports or where the database is). */
export function configHash(config: Config): string {
  return contentHash({
    calendar: config.calendar,
    pacing: config.pacing,
    quotas: config.quotas.source,
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
