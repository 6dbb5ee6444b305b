// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are configuration text with ${NAME} references.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configHash, loadConfig } from '../../src/config/load.ts';
import { REDACTED, redactConfig } from '../../src/config/redact.ts';
import { type AppError, isAppError } from '../../src/errors.ts';

async function fileWith(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'qt-config-'));
  const path = join(dir, 'quota-tracker.yaml');
  await writeFile(path, text);
  return path;
}

async function failure(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    if (isAppError(e)) return e;
    throw e;
  }
  throw new Error('expected the configuration to be rejected');
}

const HUBSPOT = 'connections:\n  - { id: hs, type: hubspot, accessToken: ${HS_TOKEN} }\n';

describe('precedence: flag, then file, then environment', () => {
  it('takes the log level from the flag over the file over LOG_LEVEL', async () => {
    const withKey = await fileWith('logLevel: warn\n');
    const without = await fileWith('web: { port: 9000 }\n');
    const env = { LOG_LEVEL: 'error' };
    expect((await loadConfig({ path: withKey, env, flags: { logLevel: 'debug' } })).config.logLevel).toBe('debug');
    expect((await loadConfig({ path: withKey, env })).config.logLevel).toBe('warn');
    expect((await loadConfig({ path: without, env })).config.logLevel).toBe('error');
    expect((await loadConfig({ path: without, env: {} })).config.logLevel).toBe('info');
  });

  it('fills database.url from DATABASE_URL only when the file leaves it out or empty', async () => {
    const env = { DATABASE_URL: 'postgres://env-host/db' };
    const set = await fileWith('database: { url: postgres://file-host/db }\n');
    expect((await loadConfig({ path: set, env })).config.database.url).toBe('postgres://file-host/db');
    // The interface file's own line, unquoted `${...}` inside a flow mapping: with DB_URL unset it is empty, so
    // not given, so the environment fallback applies.
    const empty = await fileWith('database: { url: ${DB_URL:-} }\nqueue: { redisUrl: ${REDIS_URL:-} }\n');
    const loaded = await loadConfig({ path: empty, env });
    expect(loaded.config.database.url).toBe('postgres://env-host/db');
    expect(loaded.config.queue.redisUrl).toBeUndefined();
    expect(loaded.envUsed).toEqual(['DATABASE_URL', 'DB_URL', 'REDIS_URL']);
  });

  it('splits full recomputes into QUOTA_TRACKER_RECOMPUTE_SHARDS shards when the file names no count', async () => {
    const env = { QUOTA_TRACKER_RECOMPUTE_SHARDS: '12' };
    const without = await fileWith('logLevel: warn\n');
    expect((await loadConfig({ path: without, env })).config.queue.recomputeShards).toBe(12);
    expect((await loadConfig({ path: without, env: {} })).config.queue.recomputeShards).toBe(1);
    const set = await fileWith('queue: { recomputeShards: 4 }\n');
    expect((await loadConfig({ path: set, env })).config.queue.recomputeShards).toBe(4);
    await expect(loadConfig({ path: without, env: { QUOTA_TRACKER_RECOMPUTE_SHARDS: '0' } })).rejects.toThrow(
      /queue\.recomputeShards/,
    );
  });
});

describe('${NAME} in values', () => {
  it('replaces a variable anywhere in a string and falls back with :-', async () => {
    const path = await fileWith(
      [
        'database: { url: "postgres://${PGUSER}@${PGHOST:-localhost}:5432/qt" }',
        'calendar: { timezone: "${ORG_TZ:-America/Chicago}" }',
        'web: { port: ${PORT:-9090}, host: $${literal} }',
        HUBSPOT,
      ].join('\n'),
    );
    const { config } = await loadConfig({ path, env: { PGUSER: 'app', PGHOST: '', HS_TOKEN: 'pat-1' } });
    // PGHOST is set but empty: `:-` falls back as in the shell.
    expect(config.database.url).toBe('postgres://app@localhost:5432/qt');
    expect(config.calendar.timezone).toBe('America/Chicago');
    // A number written through interpolation is still a number; `$${` is a literal `${`.
    expect(config.web.port).toBe(9090);
    expect(config.web.host).toBe('${literal}');
    expect(config.connections[0]).toMatchObject({ id: 'hs', accessToken: 'pat-1' });
  });

  it('treats a value that ends up empty as not given, so the default applies', async () => {
    const path = await fileWith('calendar: { timezone: "${ORG_TZ:-}", baseCurrency: ${CUR:-EUR} }\n');
    const { config } = await loadConfig({ path, env: {} });
    expect(config.calendar.timezone).toBe('UTC');
    expect(config.calendar.baseCurrency).toBe('EUR');
  });

  it('names the missing variable and the key path that uses it', async () => {
    const e = await failure(loadConfig({ path: await fileWith(HUBSPOT), env: {} }));
    expect(e.code).toBe('CONFIG_ENV_MISSING');
    expect(e.exitCode).toBe(2);
    expect(e.toUserString()).toBe(
      'environment variable HS_TOKEN is not set, and the configuration needs it (at connections[0].accessToken)',
    );
  });

  it('takes a variable value as it is, even when it looks like a reference', async () => {
    const path = await fileWith('connections:\n  - { id: hs, type: hubspot, accessToken: "${HS_TOKEN}" }\n');
    const { config } = await loadConfig({ path, env: { HS_TOKEN: 'p$${X}q${Y}' } });
    expect(config.connections[0]).toMatchObject({ accessToken: 'p$${X}q${Y}' });
  });

  it('ignores references in comments', async () => {
    const path = await fileWith('# token: ${NOT_SET}\nlogLevel: warn\n');
    expect((await loadConfig({ path, env: {} })).config.logLevel).toBe('warn');
  });
});

describe('invalid values name the key path and what was expected', () => {
  const cases: Array<[string, string, string]> = [
    [
      'connections:\n  - id: sf\n    type: salesforce\n    auth: { kind: refresh_token, clientSecret: s, refreshToken: r }\n',
      'connections[0].auth.clientId',
      'is required (expected string)',
    ],
    ['statusBands: { at_risk: 0.96 }\n', 'statusBands.at_risk', 'expected at_risk (0.96) below likely_to_hit (0.95)'],
    ['ramp: [0.5, 0]\n', 'ramp[1]', 'expected a ramp share above 0'],
    [
      'commission: { tiers: [{ from: 1.5, multiplier: 2 }, { from: 1.0, multiplier: 1.5 }] }\n',
      'commission.tiers[1].from',
      'ascending',
    ],
    ['calendar: { timezone: Mars/Olympus }\n', 'calendar.timezone', 'IANA time zone'],
    ['calendar: { baseCurrency: usd }\n', 'calendar.baseCurrency', 'ISO 4217'],
    ['calendar: { type: 4-4-5 }\n', 'calendar.yearEnd', 'needs yearEnd'],
    ['statusBand: { on_track: 1 }\n', '(top level)', 'unknown key "statusBand"'],
    ['pacing: { basis: weekly }\n', 'pacing.basis', 'expected one of "calendar", "business", "seasonal"'],
    [
      'connections:\n  - { id: hs, type: hubspot, accessToken: t, schedule: { every: 15 minutes } }\n',
      'connections[0].schedule.every',
      'expected a duration like 30s, 15m, 1h or 30d',
    ],
    [
      'connections:\n  - { id: hs, type: hubspot, accessToken: t, schedule: { cron: "61 * * * *" } }\n',
      'connections[0].schedule.cron',
      '5-field cron',
    ],
    [
      'connections:\n  - { id: a, type: hubspot, accessToken: t }\n  - { id: a, type: hubspot, accessToken: u }\n',
      'connections[1].id',
      'connection id "a" is already used by connections[0]',
    ],
    ['connections:\n  - { id: x, type: pipedrive }\n', 'connections[0].type', 'salesforce'],
    ['web: { port: 70000 }\n', 'web.port', '65535'],
  ];

  it.each(cases)('%j', async (yaml, where, expected) => {
    const e = await failure(loadConfig({ path: await fileWith(yaml), env: {} }));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.where).toBe(where);
    expect(e.message).toContain(expected);
  });

  it('never echoes a secret that has the wrong type', async () => {
    const path = await fileWith('connections:\n  - { id: hs, type: hubspot, accessToken: 987654321 }\n');
    const e = await failure(loadConfig({ path, env: {} }));
    expect(e.toUserString()).toBe('invalid configuration at connections[0].accessToken: expected string, got a number');
  });

  it('reports a YAML syntax error with its line', async () => {
    const e = await failure(loadConfig({ path: await fileWith('logLevel: info\nweb: { port: 1\n'), env: {} }));
    expect(e.code).toBe('CONFIG_FILE');
    expect(e.message).toMatch(/^the configuration file is not valid YAML: /);
    expect(e.where).toMatch(/quota-tracker\.yaml:3:1$/);
  });
});

describe('finding the file', () => {
  it('runs on defaults when the default file is absent, but not when a named file is', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qt-empty-'));
    const loaded = await loadConfig({ cwd: dir, env: {} });
    expect(loaded.path).toBeNull();
    expect(loaded.config.calendar).toEqual({
      type: 'calendar',
      fiscalYearStartMonth: 1,
      timezone: 'UTC',
      baseCurrency: 'USD',
    });
    const e = await failure(loadConfig({ cwd: dir, env: { QUOTA_TRACKER_CONFIG: 'missing.yaml' } }));
    expect(e.code).toBe('CONFIG_FILE');
    expect(e.toUserString()).toBe(
      `the configuration file ${join(dir, 'missing.yaml')} does not exist (at QUOTA_TRACKER_CONFIG)`,
    );
  });

  it('takes --config over QUOTA_TRACKER_CONFIG over ./quota-tracker.yaml', async () => {
    const flagFile = await fileWith('logLevel: warn\n');
    const envFile = await fileWith('logLevel: error\n');
    const cwdFile = await fileWith('logLevel: debug\n');
    const cwd = cwdFile.slice(0, cwdFile.lastIndexOf('/'));
    const env = { QUOTA_TRACKER_CONFIG: envFile };
    expect((await loadConfig({ path: flagFile, env, cwd })).path).toBe(flagFile);
    expect((await loadConfig({ env, cwd })).path).toBe(envFile);
    expect((await loadConfig({ env: {}, cwd })).config.logLevel).toBe('debug');
  });

  it('treats an empty file as all defaults and rejects a file that is not a mapping', async () => {
    const empty = await loadConfig({ path: await fileWith('# nothing set yet\n'), env: {} });
    expect(empty.config.web).toEqual({ port: 8787, host: '127.0.0.1', trustProxy: [] });
    const e = await failure(loadConfig({ path: await fileWith('- a\n- b\n'), env: {} }));
    expect(e.code).toBe('CONFIG_FILE');
    expect(e.message).toMatch(/must hold a mapping of settings at the top level$/);
  });

  it('resolves relative paths against the file, not the working directory', async () => {
    const path = await fileWith('org: { file: org.csv }\nquotas: { source: file, path: ../q.csv }\n');
    const { config } = await loadConfig({ path, env: {}, cwd: '/' });
    const dir = path.slice(0, path.lastIndexOf('/'));
    expect(config.org.file).toBe(join(dir, 'org.csv'));
    expect(config.quotas).toEqual({ source: 'file', path: join(dir, '..', 'q.csv') });
  });
});

describe('redaction and the settings hash', () => {
  const yaml = [
    'database: { url: "postgres://qt:pg-pass-123@db:5432/qt" }',
    'connections:',
    '  - id: sf',
    '    type: salesforce',
    '    auth: { kind: password, clientId: cid-9, clientSecret: cs-9, username: u@x.com, password: pw-9 }',
    '  - { id: hs, type: hubspot, accessToken: pat-9, webhookSecret: wh-9 }',
  ].join('\n');

  it('replaces every secret and URL password, and keeps the rest', async () => {
    const { config } = await loadConfig({ path: await fileWith(yaml), env: {} });
    const shown = JSON.stringify(redactConfig(config));
    for (const secret of ['pg-pass-123', 'cid-9', 'cs-9', 'u@x.com', 'pw-9', 'pat-9', 'wh-9']) {
      expect(shown).not.toContain(secret);
    }
    const r = redactConfig(config);
    expect(r.database.url).toBe(`postgres://qt:${REDACTED}@db:5432/qt`);
    expect(r.connections[0]).toMatchObject({ auth: { kind: 'password', password: REDACTED } });
    expect(r.connections[1]).toMatchObject({
      accessToken: REDACTED,
      webhookSecret: REDACTED,
      basePath: 'https://api.hubapi.com',
    });
    // The original is untouched.
    expect(config.database.url).toContain('pg-pass-123');
  });

  it('changes the hash with a metric setting but not with a secret or a port', async () => {
    const base = await loadConfig({ path: await fileWith(yaml), env: {} });
    const secret = await loadConfig({ path: await fileWith(yaml.replace('pat-9', 'pat-10')), env: {} });
    const port = await loadConfig({ path: await fileWith(`${yaml}\nweb: { port: 9999 }`), env: {} });
    const band = await loadConfig({ path: await fileWith(`${yaml}\nstatusBands: { significant_gap: 0.65 }`), env: {} });
    expect(secret.hash).toBe(base.hash);
    expect(port.hash).toBe(base.hash);
    expect(band.hash).not.toBe(base.hash);
    expect(configHash(base.config)).toBe(base.hash);
  });
});
