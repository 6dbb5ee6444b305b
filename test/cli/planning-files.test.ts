/**
 * A malformed quota or rate file is bad configuration for every command that would use it: `sync`, `recompute`
 * and the start-up of `start` exit 2 naming file:line:column before doing any work (`sync` used to exit 0 and
 * say nothing).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { configFile, runBin } from './helpers.ts';

let config: string;
let quotas: string;
let fxConfig: string;
let fx: string;

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'qt-planning-'));
  quotas = join(dir, 'quotas.csv');
  fx = join(dir, 'fx.csv');
  await writeFile(
    quotas,
    'email,period,amount,currency\nana@example.com,FY2026-Q4,150000,USD\nbo@example.com,FY2026-Q9,1,USD\n',
  );
  await writeFile(fx, 'currency,valid_from,rate\nEUR,2026-01-01,0.92\nGBP,2026-13-01,0.8\n');
  const db = { url: 'postgres://nobody@127.0.0.1:1/never' };
  config = await configFile(stringify({ database: db, quotas: { source: 'file', path: quotas } }));
  fxConfig = await configFile(stringify({ database: db, fx: { source: 'file', path: fx } }));
});

for (const cmd of [['sync'], ['recompute'], ['start']]) {
  it(`${cmd.join(' ')} exits 2 naming the quota file's bad line`, { timeout: 60_000 }, async () => {
    const r = await runBin([...cmd, '--config', config]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${quotas}:3:`);
  });
}

it('sync exits 2 naming the FX file bad line', { timeout: 60_000 }, async () => {
  const r = await runBin(['sync', '--config', fxConfig]);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toContain(`${fx}:3:`);
});
