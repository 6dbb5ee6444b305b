// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are configuration text with ${NAME} references.
import { type AddressInfo, createServer } from 'node:net';
import { resolve } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { configFile, runBin } from './helpers.ts';

// Every case starts the real bin as a child process (tsx compiles on start): slow on a busy machine.
vi.setConfig({ testTimeout: 90_000 });

const SECRETS = {
  SF_CLIENT_ID: 'cid-3MVG9-secretish',
  SF_CLIENT_SECRET: 'sf-secret-4f1c9a',
  SF_REFRESH_TOKEN: 'sf-refresh-5e2b8d',
  HUBSPOT_TOKEN: 'pat-na1-6c3d7e',
  HUBSPOT_CLIENT_SECRET: 'hs-webhook-7d4e8f',
};

const GOOD = [
  'database: { url: ${DATABASE_URL:-} }',
  'calendar: { type: calendar, fiscalYearStartMonth: 2, timezone: America/New_York, baseCurrency: USD }',
  'org: { file: org.csv }',
  'connections:',
  '  - id: sf-prod',
  '    type: salesforce',
  '    auth: { kind: refresh_token, clientId: ${SF_CLIENT_ID}, clientSecret: ${SF_CLIENT_SECRET}, refreshToken: ${SF_REFRESH_TOKEN} }',
  '  - { id: hs-main, type: hubspot, accessToken: ${HUBSPOT_TOKEN}, webhookSecret: ${HUBSPOT_CLIENT_SECRET:-} }',
].join('\n');

const ORG =
  'email,name,team,region,manager_email,role\nboss@example.com,Boss,Lead,Global,,vp\nrep@example.com,Rep,West,West,boss@example.com,rep\n';

function expectNoSecrets(text: string, values: string[]): void {
  for (const v of values) expect(text).not.toContain(v);
}

describe('quota-tracker config check', () => {
  it('exits 0 on a good file with a summary that shows no secret', async () => {
    const path = await configFile(GOOD, { 'org.csv': ORG });
    const env = { ...SECRETS, DATABASE_URL: 'postgres://qt:db-pass-8a9b@db.internal:5432/qt' };
    const r = await runBin(['config', 'check', '--config', path], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Configuration OK: ${path}`);
    expect(r.stdout).toContain('calendar: calendar quarters, fiscal year from month 2; time zone America/New_York');
    expect(r.stdout).toContain('database: postgres://qt:[redacted]@db.internal:5432/qt');
    expect(r.stdout).toContain(
      'connection sf-prod: salesforce at https://login.salesforce.com, API 62.0, refresh_token login',
    );
    expect(r.stdout).toContain('org file: 2 people in 2 teams and 2 regions');
    expectNoSecrets(r.stdout + r.stderr, [...Object.values(SECRETS), 'db-pass-8a9b']);
  });

  it('passes the shipped example with the variables it needs', async () => {
    const r = await runBin(
      ['config', 'check', '--config', resolve(import.meta.dirname, '../../examples/quota-tracker.yaml')],
      {
        env: SECRETS,
      },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('quota file: 5 quotas');
    expect(r.stdout).toContain('org file: 8 people in 3 teams and 3 regions');
    expectNoSecrets(r.stdout + r.stderr, Object.values(SECRETS));
  });

  it('exits 2 with the key path on a wrong value, without echoing secrets', async () => {
    const path = await configFile(GOOD.replace('fiscalYearStartMonth: 2', 'fiscalYearStartMonth: 13'), {
      'org.csv': ORG,
    });
    const r = await runBin(['config', 'check', '--config', path], { env: SECRETS });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe(
      'invalid configuration at calendar.fiscalYearStartMonth: Too big: expected number to be <=12',
    );
    expectNoSecrets(r.stderr, Object.values(SECRETS));
  });

  it('suggests the nearest known key for an unknown one, one message per mistake', async () => {
    const path = await configFile(
      [
        'calender: { timezone: UTC }',
        'statusBands: { ontrack: 1.0 }',
        'connections:',
        '  - id: sf',
        '    type: salesforce',
        '    loginUrl: https://login.salesforce.com',
        // A misspelt required key: one fault, not "unknown pasword" and "password is required".
        '    auth: { kind: password, clientId: c, clientSecret: s, username: u@x.com, pasword: p }',
        'writeback: { mode: dryrun }',
        '',
      ].join('\n'),
    );
    const r = await runBin(['config', 'check', '--config', path]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe(
      // Four mistakes, four faults (in the schema's order): the first three said, the count of the rest.
      'invalid configuration at statusBands: unknown key "ontrack"; did you mean "on_track"?; ' +
        'also writeback.mode: expected one of "live", "dry-run", got "dryrun"; did you mean "dry-run"?; ' +
        'connections[0].auth: unknown key "pasword"; did you mean "password"?; and 1 more',
    );
    expect(r.stderr).not.toContain('is required');
    const alone = await configFile('calender: { timezone: UTC }\n');
    const w = await runBin(['config', 'check', '--config', alone]);
    expect(w.code).toBe(2);
    expect(w.stderr.trim()).toBe(
      'invalid configuration at (top level): unknown key "calender"; did you mean "calendar"?',
    );
  });

  it('exits 2 naming the variable when a ${NAME} is not set', async () => {
    const path = await configFile(GOOD, { 'org.csv': ORG });
    const { SF_REFRESH_TOKEN: _, ...rest } = SECRETS;
    const r = await runBin(['config', 'check', '--config', path], { env: rest });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'environment variable SF_REFRESH_TOKEN is not set, and the configuration needs it (at connections[0].auth.refreshToken)',
    );
    expectNoSecrets(r.stderr, Object.values(rest));
  });

  it('exits 2 with file, line and column on a bad org file', async () => {
    const path = await configFile(GOOD, { 'org.csv': `${ORG}x@example.com,X,West,West,nobody@example.com,rep\n` });
    const r = await runBin(['config', 'check', '--config', path], { env: SECRETS });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      `manager nobody@example.com of x@example.com is not in the file (at ${resolve(path, '..', 'org.csv')}:4:27)`,
    );
  });

  it('exits 2 when a JWT private key file cannot be read', async () => {
    const path = await configFile(
      'connections:\n  - { id: sf, type: salesforce, auth: { kind: jwt, clientId: c, username: u@x.com, privateKeyPath: keys/sf.pem } }\n',
    );
    const r = await runBin(['config', 'check', '--config', path]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      `the private key file ${resolve(path, '..', 'keys/sf.pem')} of connection sf cannot be read (at connections[0].auth.privateKeyPath)`,
    );
  });

  it('exits 2 when the named file does not exist, and runs on defaults without one', async () => {
    const missing = await runBin(['config', 'check', '--config', '/nope.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe('the configuration file /nope.yaml does not exist (at --config)\n');
    const defaults = await runBin(['config', 'check']);
    expect(defaults.code).toBe(0);
    expect(defaults.stdout).toContain('Configuration OK: no file, all defaults');
  });

  it('runs the online checks after the offline ones with --online', async () => {
    // With no connection there is nothing to log in to; the CRM checks themselves are tested with the connectors.
    const r = await runBin(['config', 'check', '--online']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Configuration OK: no file, all defaults');
    expect(r.stdout).toContain('Online checks: no enabled connection.');
    const bad = await runBin(['config', 'check', '--online', '--config', await configFile('web: { port: -1 }\n')]);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
  });

  it('names loginUrl, not auth, when the login URL cannot be reached', { timeout: 60_000 }, async () => {
    // A port that was free a moment ago: nothing listens there, so every login attempt is refused.
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((r) => server.close(() => r()));
    const path = await configFile(
      [
        'connections:',
        '  - id: sf',
        '    type: salesforce',
        `    loginUrl: http://127.0.0.1:${port}`,
        '    auth: { kind: password, clientId: c, clientSecret: s, username: u@x.com, password: p }',
        '',
      ].join('\n'),
    );
    const r = await runBin(['config', 'check', '--online', '--config', path]);
    expect(r.code).toBe(1);
    const line = r.stdout.split('\n').find((l) => l.includes('FAIL login failed')) ?? '';
    expect(line).toContain(`loginUrl http://127.0.0.1:${port} cannot be reached: network error (ECONNREFUSED)`);
    expect(line).toMatch(/\(at connections\.sf\.loginUrl\)$/);
    expect(line).not.toContain('.auth');
    // The refusal is said once, not once per layer that passed it on.
    expect(line.split('ECONNREFUSED').length - 1).toBeLessThanOrEqual(2);
  });

  it('shows the stack only with --verbose', async () => {
    const path = await configFile('web: { port: -1 }\n');
    const quiet = await runBin(['config', 'check', '--config', path]);
    const verbose = await runBin(['--verbose', 'config', 'check', '--config', path]);
    expect(quiet.code).toBe(2);
    expect(quiet.stderr).not.toMatch(/\n\s+at /);
    expect(verbose.code).toBe(2);
    expect(verbose.stderr).toMatch(/\n\s+at /);
  });
});

describe('quota-tracker config schema', () => {
  it('prints a JSON Schema (draft 2020-12) with every top-level key and both connection kinds', async () => {
    const r = await runBin(['config', 'schema']);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout) as JsonSchema;
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(Object.keys(schema.properties ?? {}).sort()).toEqual(
      [
        'activityTargets',
        'alerts',
        'booking',
        'calendar',
        'commission',
        'connections',
        'coverageBands',
        'database',
        'forecast',
        'fx',
        'logLevel',
        'metrics',
        'org',
        'pacing',
        'queue',
        'quotas',
        'ramp',
        'reports',
        'statusBands',
        'web',
        'writeback',
      ].sort(),
    );
    const kinds = (schema.properties?.connections?.items?.oneOf ?? []).map((s) => s.properties?.type?.const);
    expect(kinds).toEqual(['salesforce', 'hubspot']);
    // quotas: { source: crm, preferConnection } beside { source: file, path }.
    const quotas = (schema.properties?.quotas as { oneOf?: Array<{ properties?: Record<string, unknown> }> })?.oneOf;
    expect(quotas?.map((q) => Object.keys(q.properties ?? {}).sort())).toEqual([
      ['preferConnection', 'source'],
      ['path', 'source'],
    ]);
    expect(schema.properties?.web?.properties?.port?.default).toBe(8787);
    expect(problems(schema, schema)).toEqual([]);
  });
});

interface JsonSchema {
  [key: string]: unknown;
  $schema?: string;
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  required?: string[];
  default?: unknown;
  const?: unknown;
}

// The draft 2020-12 keywords a generated schema may use; anything else would be silently ignored by validators.
const KEYWORDS = new Set(
  '$schema $id $ref $defs title description default type properties required additionalProperties items prefixItems oneOf anyOf allOf not enum const minimum maximum exclusiveMinimum exclusiveMaximum minLength maxLength pattern minItems maxItems format'.split(
    ' ',
  ),
);
const TYPES = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);

/** Structural checks of a JSON Schema: known keywords and types, valid regexes, required keys that exist, refs that resolve. */
function problems(node: JsonSchema, root: JsonSchema, path = '#'): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(node)) {
    if (!KEYWORDS.has(k)) out.push(`${path}: unknown keyword ${k}`);
    if (k === 'type') for (const t of [v].flat()) if (!TYPES.has(t as string)) out.push(`${path}: bad type ${t}`);
    if (k === 'pattern') {
      try {
        new RegExp(v as string, 'u');
      } catch {
        out.push(`${path}: bad pattern`);
      }
    }
    if (k === 'required') {
      for (const r of v as string[])
        if (!(r in (node.properties ?? {}))) out.push(`${path}: required ${r} not a property`);
    }
    if (k === '$ref' && !resolveRef(root, v as string)) out.push(`${path}: unresolved ${v}`);
  }
  for (const [k, child] of Object.entries(node.properties ?? {}))
    out.push(...problems(child, root, `${path}/properties/${k}`));
  if (node.items) out.push(...problems(node.items, root, `${path}/items`));
  for (const key of ['oneOf', 'anyOf', 'allOf'] as const) {
    for (const [i, s] of ((node[key] as JsonSchema[] | undefined) ?? []).entries()) {
      out.push(...problems(s, root, `${path}/${key}/${i}`));
    }
  }
  if (typeof node.additionalProperties === 'object') {
    out.push(...problems(node.additionalProperties as JsonSchema, root, `${path}/additionalProperties`));
  }
  return out;
}

function resolveRef(root: JsonSchema, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  return ref
    .slice(2)
    .split('/')
    .filter(Boolean)
    .reduce<unknown>((n, part) => (n as Record<string, unknown> | undefined)?.[part], root);
}
