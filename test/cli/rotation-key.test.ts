/**
 * Refresh-token rotation without QUOTA_TRACKER_SECRET_KEY. Against a sandbox that rotates (and revokes the old
 * token), `sync` without the key logs one sentence saying the new token cannot be kept and how to make a key, and
 * the warehouse remembers the rotation; from then on `start` and `worker` refuse to run without the key (exit 2,
 * same sentence). The default sandbox does not rotate, so nothing is recorded there.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { configSchema } from '../../src/config/schema.ts';
import { rotationNeedsKeyMessage } from '../../src/connectors/salesforce/auth.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { rotationWithoutKey } from '../../src/sync/connectors.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnectionEntry } from '../helpers/sandbox.ts';
import { configFile, runBin } from './helpers.ts';

let rotating: SalesforceSandbox;
let plain: SalesforceSandbox;
let t: TestDatabase;

beforeAll(async () => {
  rotating = await startSalesforceSandbox({
    seed: 12,
    size: 'small',
    anchorDate: '2026-03-02',
    populate: false,
    rotateRefreshTokens: true,
  });
  plain = await startSalesforceSandbox({ seed: 12, size: 'small', anchorDate: '2026-03-02', populate: false });
  t = await createTestDatabase();
}, 60_000);
afterAll(async () => {
  await rotating?.close();
  await plain?.close();
  await t?.drop();
});

it('the default sandbox does not rotate: nothing is recorded and nothing is asked for', {
  timeout: 300_000,
}, async () => {
  const entry = { ...sandboxConnectionEntry(plain), id: 'steady' };
  const config = await configFile(stringify({ database: { url: t.url }, connections: [entry] }));
  const r = await runBin(['sync', '--stream', 'users', '--no-writeback', '--config', config], { timeoutMs: 240_000 });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).not.toContain('rotates the refresh token');
  expect(await rotationWithoutKey(t.db, configSchema.parse({ connections: [entry] }))).toEqual([]);
});

it('a rotation without the key is said in one sentence, and start and worker then refuse to run', {
  timeout: 600_000,
}, async () => {
  const entry = sandboxConnectionEntry(rotating);
  const config = await configFile(stringify({ database: { url: t.url }, connections: [entry] }));
  const sentence = rotationNeedsKeyMessage('sf');
  const sync = await runBin(['sync', '--stream', 'users', '--no-writeback', '--config', config], {
    timeoutMs: 240_000,
  });
  expect(sync.code, sync.stderr).toBe(0);
  const logged = sync.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; level: number });
  expect(logged).toContainEqual(expect.objectContaining({ level: 50, msg: sentence }));
  expect(await rotationWithoutKey(t.db, configSchema.parse({ connections: [entry] }))).toEqual(['sf']);

  for (const command of ['start', 'worker']) {
    const r = await runBin([command, '--config', config], { timeoutMs: 240_000 });
    expect(r.code, `${command}: ${r.stderr}`).toBe(2);
    expect(r.stderr).toContain(sentence);
  }
});
