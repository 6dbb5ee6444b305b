/**
 * `quota-tracker sandbox --crm hubspot|both`: the printed block validates as config, its HubSpot connection (type
 * hubspot, literal basePath and accessToken) reaches the sandbox with @hubspot/api-client, the org file it names
 * exists and parses, and with `both` the same people are in both CRMs while each deal is in one.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { Client } from '@hubspot/api-client';
import jsforce from 'jsforce';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runSandbox } from '../../../src/cli/commands/sandbox.ts';
import type { CommandContext } from '../../../src/cli/program.ts';
import { validateConfig } from '../../../src/config/index.ts';
import { parseOrgFile } from '../../../src/config/org-file.ts';
import { isAppError } from '../../../src/errors.ts';

function ctx(options: Record<string, unknown>, out: string[]): CommandContext {
  return { args: [], options, globals: { verbose: false }, io: { stdout: (t) => out.push(t), stderr: () => {} } };
}

async function withSandbox(options: Record<string, unknown>, check: (doc: Record<string, unknown>) => Promise<void>) {
  const out: string[] = [];
  let stop!: () => void;
  const until = new Promise<void>((r) => {
    stop = r;
  });
  const running = runSandbox(ctx({ port: 0, seed: 5, size: 'small', ...options }, out), until);
  await expect.poll(() => out.length, { timeout: 30_000 }).toBeGreaterThan(0);
  try {
    await check(parse(out[0]!) as Record<string, unknown>);
  } finally {
    stop();
  }
  expect(await running).toBe(0);
}

describe('quota-tracker sandbox --crm', () => {
  it('hubspot: a type hubspot connection with basePath and accessToken, and the org file', async () => {
    await withSandbox({ crm: 'hubspot' }, async (doc) => {
      const config = validateConfig(doc);
      expect(config.connections).toHaveLength(1);
      const hs = (doc.connections as Record<string, string>[])[0]!;
      expect(hs).toMatchObject({ type: 'hubspot' });
      expect(hs.accessToken).toMatch(/^pat-na1-/);
      const client = new Client({ accessToken: hs.accessToken, basePath: hs.basePath, numberOfApiCallRetries: 0 });
      const deals = await client.crm.deals.basicApi.getPage(5);
      expect(deals.results).toHaveLength(5);
      const file = (doc.org as { file: string }).file;
      expect(isAbsolute(file)).toBe(true);
      const org = parseOrgFile(await readFile(file, 'utf8'), file);
      const owners = await client.crm.owners.ownersApi.getPage(undefined, undefined, 500);
      for (const o of owners.results) {
        if (o.teams?.length) expect(org.byEmail.has(o.email!)).toBe(true);
      }
    });
  }, 60_000);

  it('both: the same people in Salesforce and HubSpot, each deal in one', async () => {
    await withSandbox({ crm: 'both' }, async (doc) => {
      validateConfig(doc);
      const [sf, hs] = doc.connections as Record<string, unknown>[];
      expect(sf).toMatchObject({ type: 'salesforce' });
      expect(hs).toMatchObject({ type: 'hubspot' });
      const auth = sf!.auth as { clientId: string; clientSecret: string; refreshToken: string };
      const conn = new jsforce.Connection({
        oauth2: { loginUrl: sf!.loginUrl as string, clientId: auth.clientId, clientSecret: auth.clientSecret },
        instanceUrl: sf!.loginUrl as string,
        refreshToken: auth.refreshToken,
        version: '62.0',
      });
      const users = await conn.query<{ Email: string }>('SELECT Email FROM User');
      const client = new Client({
        accessToken: hs!.accessToken as string,
        basePath: hs!.basePath as string,
        numberOfApiCallRetries: 0,
      });
      const owners = await client.crm.owners.ownersApi.getPage(undefined, undefined, 500);
      const sfEmails = new Set(users.records.map((u) => u.Email.toLowerCase()));
      expect(owners.results.filter((o) => sfEmails.has(o.email!)).length).toBe(owners.results.length);
      const sfNames = (await conn.query<{ Name: string }>('SELECT Name FROM Opportunity')).totalSize;
      const hsDeals = (
        await client.crm.deals.searchApi.doSearch({ filterGroups: [], sorts: [], properties: [], limit: 1, after: '0' })
      ).total;
      expect(sfNames).toBeGreaterThan(100);
      expect(hsDeals).toBeGreaterThan(100);
    });
  }, 60_000);

  it('refuses an unknown --crm and a profile that is not a HubSpot one', async () => {
    const bad = await runSandbox(ctx({ crm: 'pipedrive' }, []), Promise.resolve()).catch((e: unknown) => e);
    expect(isAppError(bad, 'USAGE')).toBe(true);
    const profile = await runSandbox(ctx({ crm: 'hubspot', profile: 'galactic' }, []), Promise.resolve()).catch(
      (e: unknown) => e,
    );
    expect(isAppError(profile, 'USAGE')).toBe(true);
  });
});
