/**
 * `sync` as an operator meets the token endpoint failing: after a dropped token answer and after token 500s the
 * run goes on and exits 0; a refused grant exits 1 with Salesforce's words; and SIGTERM while the token answer
 * never comes ends the command (it hung for 22+ minutes, and SIGTERM did not stop it).
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnectionEntry } from '../helpers/sandbox.ts';
import { BIN, configFile, runBin } from './helpers.ts';

let sb: SalesforceSandbox;
let t: TestDatabase;
let config: string;

beforeAll(async () => {
  sb = await startSalesforceSandbox({ seed: 8, size: 'small', anchorDate: '2026-03-02' });
  t = await createTestDatabase();
  config = await configFile(stringify({ database: { url: t.url }, connections: [sandboxConnectionEntry(sb)] }));
}, 60_000);
afterAll(async () => {
  await sb?.close();
  await t?.drop();
});
beforeEach(() => {
  sb.faults.clear();
  sb.log.clear();
});

const syncUsers = ['sync', '--stream', 'users', '--no-writeback', '--config'];
// A loaded CI machine can take a minute just to start the bin and recompute; the fault itself costs seconds.
const slowMachine = { timeoutMs: 240_000 };

it('after a dropped token answer, sync --stream users --no-writeback exits 0', { timeout: 300_000 }, async () => {
  sb.faults.add({ kind: 'drop', path: '/oauth2/token', count: 1 });
  const r = await runBin([...syncUsers, config], slowMachine);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^sf\/users: succeeded; \d+ read/m);
  expect(sb.log.find('/oauth2/token').map((e) => e.fault ?? 'ok')).toEqual(['drop', 'ok']);
});

it('after token 500s, the retries log in and sync exits 0', { timeout: 300_000 }, async () => {
  sb.faults.add({ kind: 'error_500', path: '/oauth2/token', count: 2 });
  const r = await runBin([...syncUsers, config], slowMachine);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^sf\/users: succeeded/m);
  expect(sb.log.find('/oauth2/token')).toHaveLength(3);
});

it('an invalid_grant exits 1 with the CRM words, asking once', { timeout: 300_000 }, async () => {
  const revoked = await configFile(
    stringify({
      database: { url: t.url },
      connections: [
        sandboxConnectionEntry(sb, {
          auth: { ...sandboxConnectionEntry(sb).auth, refreshToken: 'revoked-by-an-admin' },
        }),
      ],
    }),
  );
  const r = await runBin([...syncUsers, revoked], slowMachine);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(
    'Salesforce refresh_token login for connection "sf" failed: the token endpoint refused it (400 invalid_grant): expired access/refresh token',
  );
  expect(sb.log.find('/oauth2/token')).toHaveLength(1);
});

it('SIGTERM while the token answer never comes ends sync, saying it was interrupted', {
  timeout: 300_000,
}, async () => {
  sb.faults.add({ kind: 'slow', path: '/oauth2/token', delayMs: 600_000 });
  const child = spawn(process.execPath, [BIN, ...syncUsers, config], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...(process.env.QUOTA_TRACKER_NOW ? { QUOTA_TRACKER_NOW: process.env.QUOTA_TRACKER_NOW } : {}),
    },
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  while (sb.log.find('/oauth2/token').length === 0) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGTERM');
  const code = await exited;
  expect(code).toBe(1);
  expect(stderr).toContain('interrupted; the next sync resumes where this one stopped');
});
