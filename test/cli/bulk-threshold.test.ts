/**
 * `connections[].bulkThreshold` as a user sets it in the config file: the real bin's first sync of a stream with
 * more rows than the threshold reads it through a Bulk API 2.0 query job (the sandbox sees a job created and its
 * result sets read, no REST query pages of the stream); under the default the same sync pages through REST. A
 * negative value is refused naming the key.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnectionEntry } from '../helpers/sandbox.ts';
import { admin } from '../sandbox/salesforce/helpers.ts';
import { configFile, runBin } from './helpers.ts';

let sb: SalesforceSandbox;
let viaRest: TestDatabase;
let viaBulk: TestDatabase;

beforeAll(async () => {
  sb = await startSalesforceSandbox({ seed: 3, size: 'small' });
  viaRest = await createTestDatabase({ poolSize: 2 });
  viaBulk = await createTestDatabase({ poolSize: 2 });
}, 60_000);

afterAll(async () => {
  await sb?.close();
  await viaRest?.drop();
  await viaBulk?.drop();
});

interface Entry {
  method: string;
  path: string;
  query: Record<string, string>;
}

async function syncDeals(db: TestDatabase, extra: Record<string, unknown>): Promise<Entry[]> {
  const config = await configFile(
    stringify({ database: { url: db.url }, connections: [sandboxConnectionEntry(sb, extra)] }),
  );
  await admin(sb, 'DELETE', 'log');
  const r = await runBin(['sync', '--stream', 'deals', '--config', config], { timeoutMs: 120_000 });
  expect(r.code, r.stderr).toBe(0);
  return (await (await admin(sb, 'GET', 'log')).json()) as Entry[];
}

const jobs = (log: Entry[]) => log.filter((e) => e.method === 'POST' && e.path.endsWith('/jobs/query'));
const sets = (log: Entry[]) => log.filter((e) => e.method === 'GET' && e.path.endsWith('/results'));
const restPages = (log: Entry[]) =>
  log.filter(
    (e) =>
      /\/query(All)?$/.test(e.path) && /FROM Opportunity /.test(e.query.q ?? '') && !/COUNT\(\)/.test(e.query.q ?? ''),
  );

it('bulkThreshold: 0 reads the deals through a bulk job; the default reads them through REST pages', {
  timeout: 300_000,
}, async () => {
  const rest = await syncDeals(viaRest, {});
  expect(jobs(rest)).toHaveLength(0);
  expect(restPages(rest).length).toBeGreaterThan(0);

  const bulk = await syncDeals(viaBulk, { bulkThreshold: 0 });
  expect(jobs(bulk)).toHaveLength(1);
  expect(sets(bulk).length).toBeGreaterThan(0);
  expect(restPages(bulk)).toHaveLength(0);
  // The Record Count API decided it.
  expect(bulk.some((e) => e.path.endsWith('/limits/recordCount'))).toBe(true);

  const count = async (db: TestDatabase) =>
    (
      await db.db
        .selectFrom('deals')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow()
    ).n;
  expect(await count(viaBulk)).toBe(await count(viaRest));
});

it('refuses a negative bulkThreshold, naming the key', { timeout: 60_000 }, async () => {
  const config = await configFile(
    stringify({ database: { url: viaBulk.url }, connections: [sandboxConnectionEntry(sb, { bulkThreshold: -1 })] }),
  );
  const r = await runBin(['sync', '--stream', 'deals', '--config', config]);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(/bulkThreshold/);
});
