/**
 * The config loader's edges, each refused as bad configuration (exit 2) naming the file or the key: a YAML alias
 * bomb, a `__proto__` key (ignored before, now refused like any unknown key), and an infinite number (it read
 * "expected number, got a number").
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { type AppError, isAppError } from '../../src/errors.ts';
import { configFile, runBin } from '../cli/helpers.ts';

async function fileWith(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'qt-cfg-edges-'));
  const path = join(dir, 'quota-tracker.yaml');
  await writeFile(path, text);
  return path;
}

async function failure(p: Promise<unknown>): Promise<AppError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  if (!isAppError(e)) throw new Error(`expected an AppError, got ${String(e)}`);
  return e;
}

const BOMB = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
  'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
  'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
  'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
  '',
].join('\n');

it('a YAML alias bomb is a bad configuration file, named', async () => {
  const path = await fileWith(BOMB);
  const e = await failure(loadConfig({ path, env: {} }));
  expect(e.code).toBe('CONFIG_FILE');
  expect(e.exitCode).toBe(2);
  expect(e.where).toBe(path);
  expect(e.message).toBe(
    'the configuration file is not usable YAML: Excessive alias count indicates a resource exhaustion attack',
  );
});

it('a __proto__ key is refused like any unknown key, at the top level and below', async () => {
  const top = await failure(loadConfig({ path: await fileWith('__proto__:\n  logLevel: debug\n'), env: {} }));
  expect(top.code).toBe('CONFIG_INVALID');
  expect(top.message).toBe('invalid configuration at __proto__: unknown key "__proto__"');
  const nested = await failure(loadConfig({ path: await fileWith('web:\n  __proto__: { port: 1 }\n'), env: {} }));
  expect(nested.message).toBe('invalid configuration at web.__proto__: unknown key "__proto__"');
});

it('an infinite number says so', async () => {
  const e = await failure(loadConfig({ path: await fileWith('web:\n  port: .inf\n'), env: {} }));
  expect(e.code).toBe('CONFIG_INVALID');
  expect(e.message).toBe('invalid configuration at web.port: expected a finite number, got Infinity');
});

it('the bin exits 2 on the alias bomb, naming the file', { timeout: 60_000 }, async () => {
  const path = await configFile(BOMB);
  const r = await runBin(['config', 'check', '--config', path]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(`the configuration file is not usable YAML`);
  expect(r.stderr).toContain(path);
});
