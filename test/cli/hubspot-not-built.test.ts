/**
 * A `type: hubspot` connection while HubSpot is not built: `config check` validates it and says so (exit 0),
 * `sync --connection <salesforce id>` syncs as ever, and a `sync` that includes the HubSpot connection syncs the
 * others and exits 1 naming it (it used to print "skipped" and exit 0).
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
  sb = await startSalesforceSandbox({ seed: 3, size: 'small', anchorDate: '2026-11-20' });
  fresh = await createTestDatabase({ poolSize: 2 });
  config = await configFile(
    stringify({
      database: { url: fresh.url },
      connections: [
        sandboxConnectionEntry(sb),
        { id: 'hs-main', type: 'hubspot', accessToken: 'pat-na1-test', basePath: 'http://127.0.0.1:9' },
      ],
    }),
  );
}, 60_000);

afterAll(async () => {
  await sb?.close();
  await fresh?.drop();
});

const env = { QUOTA_TRACKER_NOW: '2026-11-20T15:00:00Z' };

it('config check validates the HubSpot connection and notes that HubSpot is not built', async () => {
  const r = await runBin(['config', 'check', '--config', config], { env });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/connection hs-main: hubspot at http:\/\/127\.0\.0\.1:9/);
  expect(r.stdout).toMatch(/note: HubSpot is not built yet/);
});

it('sync --connection of the Salesforce connection syncs it and exits 0', { timeout: 180_000 }, async () => {
  const r = await runBin(['sync', '--connection', 'sf', '--stream', 'users', '--no-writeback', '--config', config], {
    env,
  });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^sf\/users: succeeded/m);
  expect(r.stderr).not.toMatch(/hs-main/);
});

it('a sync that includes the HubSpot connection syncs the others and exits 1 naming it', {
  timeout: 180_000,
}, async () => {
  const r = await runBin(['sync', '--stream', 'users', '--no-writeback', '--config', config], { env });
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(/^sf\/users: succeeded/m);
  expect(r.stderr).toMatch(/hs-main: HubSpot sync is not built yet; connection hs-main was not synced/);
});
