/**
 * `sync` as a user runs it (the real bin, a config without logLevel, no QUOTA_TRACKER_SECRET_KEY): its outcome is
 * the plain lines on stdout, and stderr holds only what needs attention, each warning once, not info logs that
 * repeat stdout as JSON. LOG_LEVEL still brings the info logs back.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnectionEntry } from '../helpers/sandbox.ts';
import { configFile, runBin } from './helpers.ts';

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
  expect(JSON.parse(lines[0] as string)).toMatchObject({
    level: 40,
    connection: 'sf',
    msg: 'QUOTA_TRACKER_SECRET_KEY is not set: a refresh token Salesforce rotates cannot be saved, and each process logs in anew',
  });
});

it('logs at info again when LOG_LEVEL asks for it', { timeout: 120_000 }, async () => {
  const r = await runBin(['sync', '--config', config], { env: { LOG_LEVEL: 'info' } });
  expect(r.code, r.stderr).toBe(0);
  const messages = stderrLines(r.stderr).map((l) => (JSON.parse(l) as { msg: string }).msg);
  expect(messages).toContain('write-back run finished');
  expect(messages.filter((m) => m.startsWith('QUOTA_TRACKER_SECRET_KEY is not set'))).toHaveLength(1);
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
