/**
 * `quota-tracker sandbox --profile rotating-refresh`, run as a user would: the printed block points at a sandbox
 * whose connected app rotates refresh tokens and revokes the one it used. With QUOTA_TRACKER_SECRET_KEY the product
 * keeps the new token, so the printed one is dead after the first sync and later syncs still log in; without the
 * key the sync says in one sentence how to make one, and `worker` then refuses to run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { rotationNeedsKeyMessage } from '../../src/connectors/salesforce/auth.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { BIN, configFile, runBin } from './helpers.ts';

interface Block {
  connections: Array<{ id: string; loginUrl: string; auth: Record<string, string> }>;
}
interface Running {
  child: ChildProcess;
  printed: string;
  block: Block;
}

const running: Running[] = [];
let keyed: TestDatabase;
let keyless: TestDatabase;
const env = { QUOTA_TRACKER_NOW: '2026-11-20T15:00:00Z' };
const key = randomBytes(32).toString('base64');

/** `quota-tracker sandbox --profile rotating-refresh --port 0` as a child process, once it says it listens. */
async function startSandbox(): Promise<Running> {
  const cwd = await mkdtemp(join(tmpdir(), 'qt-rotating-'));
  const child = spawn(
    process.execPath,
    [BIN, 'sandbox', '--profile', 'rotating-refresh', '--port', '0', '--seed', '12'],
    {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await new Promise<void>((ready, fail) => {
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) ready();
    });
    child.once('exit', (code) => fail(new Error(`sandbox exited ${code}: ${err}`)));
  });
  const r = { child, printed: out, block: parse(out) as Block };
  running.push(r);
  return r;
}

let one: Running;
let two: Running;

beforeAll(async () => {
  keyed = await createTestDatabase({ poolSize: 2 });
  keyless = await createTestDatabase({ poolSize: 2 });
  [one, two] = await Promise.all([startSandbox(), startSandbox()]);
}, 120_000);

afterAll(async () => {
  for (const { child } of running) {
    if (child.exitCode !== null) continue;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await gone;
  }
  await keyed?.drop();
  await keyless?.drop();
});

/** Exchanges a refresh token at the sandbox's token endpoint, as any OAuth client would. */
async function refresh(block: Block, token: string): Promise<{ status: number; body: Record<string, string> }> {
  const c = block.connections[0]!;
  const res = await fetch(`${c.loginUrl}/services/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', client_id: c.auth.clientId!, refresh_token: token }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

it('prints a block naming the profile', () => {
  expect(one.printed).toMatch(
    /^# Salesforce sandbox: seed 12, size small, profile rotating-refresh \(.*rotates refresh tokens/m,
  );
  expect(one.block.connections[0]).toMatchObject({ type: 'salesforce', auth: { kind: 'refresh_token' } });
});

it('with the key, the rotated token is kept: the printed one dies and every later sync still logs in', {
  timeout: 480_000,
}, async () => {
  const config = await configFile(stringify({ database: { url: keyed.url }, ...one.block }));
  const keyEnv = { ...env, QUOTA_TRACKER_SECRET_KEY: key };
  const args = ['sync', '--stream', 'users', '--no-writeback', '--config', config];
  const first = await runBin(args, { env: keyEnv, timeoutMs: 200_000 });
  expect(first.code, first.stderr).toBe(0);
  expect(first.stdout).toMatch(/^sf-sandbox\/users: succeeded/m);
  expect(first.stderr).not.toContain('rotates the refresh token');
  // The sandbox revoked the token the config holds when it rotated it.
  const dead = await refresh(one.block, one.block.connections[0]!.auth.refreshToken!);
  expect(dead).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  const second = await runBin(args, { env: keyEnv, timeoutMs: 200_000 });
  expect(second.code, second.stderr).toBe(0);
  expect(second.stdout).toMatch(/^sf-sandbox\/users: succeeded/m);
});

it('without the key, the sync says how to make one and worker then refuses to run', { timeout: 480_000 }, async () => {
  const config = await configFile(stringify({ database: { url: keyless.url }, ...two.block }));
  const sentence = rotationNeedsKeyMessage('sf-sandbox');
  const sync = await runBin(['sync', '--stream', 'users', '--no-writeback', '--config', config], {
    env,
    timeoutMs: 200_000,
  });
  expect(sync.code, sync.stderr).toBe(0);
  const logged = sync.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; level: number });
  expect(logged).toContainEqual(expect.objectContaining({ level: 50, msg: sentence }));
  const worker = await runBin(['worker', '--config', config], { env, timeoutMs: 200_000 });
  expect(worker.code, worker.stderr).toBe(2);
  expect(worker.stderr).toContain(sentence);
});
