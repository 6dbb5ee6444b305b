/**
 * `sync` as a user runs it (the real bin, a config without logLevel, no QUOTA_TRACKER_SECRET_KEY): its outcome is
 * the plain lines on stdout, and stderr holds only what needs attention, each warning once, not info logs that
 * repeat stdout as JSON. LOG_LEVEL still brings the info logs back.
 */
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { NO_SECRET_KEY_WARNING } from '../../src/sync/connectors.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnectionEntry } from '../helpers/sandbox.ts';
import { BIN, configFile, runBin } from './helpers.ts';

let sb: SalesforceSandbox;
let fresh: TestDatabase;
let config: string;

beforeAll(async () => {
  sb = await startSalesforceSandbox({ seed: 3, size: 'small' });
  fresh = await createTestDatabase({ poolSize: 2 });
  config = await configFile(stringify({ database: { url: fresh.url }, connections: [sandboxConnectionEntry(sb)] }));
}, 60_000);

afterAll(async () => {
  await sb?.close();
  await fresh?.drop();
});

function stderrLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.trim() !== '');
}

it('prints the missing secret key once and no info logs', { timeout: 120_000 }, async () => {
  const r = await runBin(['sync', '--config', config]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^sf: write-back run #1: \d+ record\(s\) written, 0 failed/m);
  const lines = stderrLines(r.stderr);
  expect(lines).toHaveLength(1);
  // Not a terminal: JSON, for whatever collects the logs.
  expect(JSON.parse(lines[0] as string)).toMatchObject({ level: 40, msg: NO_SECRET_KEY_WARNING });
  expect(NO_SECRET_KEY_WARNING).toBe(
    'QUOTA_TRACKER_SECRET_KEY is not set, so CRM logins are not stored: each process logs in anew, and a refresh token the CRM rotates cannot be kept.',
  );
});

// `script` (util-linux) gives the child a terminal, as a person running the command has.
const hasScript = spawnSync('script', ['--version']).status === 0;

/** Runs the bin on a pseudo-terminal; stdout and stderr arrive together, as on a screen. */
function onTerminal(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const command = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TERM: 'xterm', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((done) => child.once('exit', (code) => done({ code, out })));
}

// An ANSI colour (SGR) sequence: ESC [ ... m.
const SGR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`);

it.skipIf(!hasScript)(
  'on a terminal, a log is one readable line; NO_COLOR drops the colour, LOG_FORMAT=json keeps JSON',
  {
    timeout: 180_000,
  },
  async () => {
    const args = ['sync', '--no-writeback', '--stream', 'users', '--config', config];
    const tty = await onTerminal(args);
    expect(tty.code, tty.out).toBe(0);
    const lines = tty.out.split(/\r?\n/).filter((l) => l.includes('QUOTA_TRACKER_SECRET_KEY'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe(`${lines[0]?.slice(0, 8)} \x1b[33mWARN \x1b[0m ${NO_SECRET_KEY_WARNING}`);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d /);
    expect(tty.out).not.toContain('{"level"');

    const plain = await onTerminal(args, { NO_COLOR: '1' });
    expect(plain.code, plain.out).toBe(0);
    expect(plain.out).not.toMatch(SGR);
    expect(plain.out).toMatch(
      new RegExp(
        `^\\d\\d:\\d\\d:\\d\\d WARN  ${NO_SECRET_KEY_WARNING.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\r?$`,
        'm',
      ),
    );

    const json = await onTerminal(args, { LOG_FORMAT: 'json' });
    expect(json.code, json.out).toBe(0);
    expect(json.out).not.toMatch(SGR);
    const logged = json.out.split(/\r?\n/).filter((l) => l.startsWith('{'));
    expect(logged.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual([NO_SECRET_KEY_WARNING]);
  },
);

it('not on a terminal, LOG_FORMAT=pretty asks for readable lines, without colour', { timeout: 120_000 }, async () => {
  const r = await runBin(['sync', '--no-writeback', '--stream', 'users', '--config', config], {
    env: { LOG_FORMAT: 'pretty' },
  });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).not.toMatch(SGR);
  expect(stderrLines(r.stderr)).toEqual([
    `${r.stderr.slice(0, 8)} WARN  ${NO_SECRET_KEY_WARNING}`,
    'Nothing was written to the CRM (--no-writeback).',
  ]);
  expect(r.stderr).toMatch(/^\d\d:\d\d:\d\d /);
});

it('logs at info again when LOG_LEVEL asks for it', { timeout: 120_000 }, async () => {
  const r = await runBin(['sync', '--config', config], { env: { LOG_LEVEL: 'info' } });
  expect(r.code, r.stderr).toBe(0);
  const messages = stderrLines(r.stderr).map((l) => (JSON.parse(l) as { msg: string }).msg);
  expect(messages).toContain('write-back run finished');
  expect(messages.filter((m) => m === NO_SECRET_KEY_WARNING)).toHaveLength(1);
});

it('says a mistyped --stream is bad usage before anything else, with no key warning', {
  timeout: 120_000,
}, async () => {
  const r = await runBin(['sync', '--stream', 'nope', '--config', config]);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr).toBe(
    'unknown stream "nope"; sf: users, user_roles, opportunities, opportunity_history, opportunity_line_items, ' +
      'opportunity_splits, tasks, events, leads, forecasting_quotas, fiscal_periods, currency_types, ' +
      'dated_conversion_rates; or a name for the same data in either CRM: activities, deal_history, deals, fx_rates, ' +
      'line_items, periods, quotas, roles, splits (at --stream)\n',
  );
});
