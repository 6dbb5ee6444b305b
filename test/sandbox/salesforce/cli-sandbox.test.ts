import { readFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import jsforce from 'jsforce';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runSandbox } from '../../../src/cli/commands/sandbox.ts';
import type { CommandContext } from '../../../src/cli/program.ts';
import { validateConfig } from '../../../src/config/index.ts';
import { isAppError } from '../../../src/errors.ts';

function ctx(options: Record<string, unknown>, out: string[]): CommandContext {
  return {
    args: [],
    options,
    globals: { verbose: false },
    io: { stdout: (t) => out.push(t), stderr: () => {} },
  };
}

describe('quota-tracker sandbox', () => {
  it('prints a config block that validates and that jsforce can sync against', async () => {
    const out: string[] = [];
    let stop!: () => void;
    const until = new Promise<void>((r) => {
      stop = r;
    });
    const running = runSandbox(ctx({ port: 0, seed: 5, size: 'small' }, out), until);
    await expect.poll(() => out.length, { timeout: 20_000 }).toBeGreaterThan(0);
    try {
      const doc = parse(out[0]!) as { connections: Array<Record<string, unknown>> };
      const config = validateConfig(doc);
      const sf = doc.connections[0] as {
        type: string;
        loginUrl: string;
        apiVersion: unknown;
        auth: { kind: string; clientId: string; clientSecret: string; refreshToken: string };
      };
      expect(config.connections).toHaveLength(1);
      expect(sf).toMatchObject({ type: 'salesforce', apiVersion: '62.0', auth: { kind: 'refresh_token' } });
      const conn = new jsforce.Connection({
        oauth2: { loginUrl: sf.loginUrl, clientId: sf.auth.clientId, clientSecret: sf.auth.clientSecret },
        instanceUrl: sf.loginUrl,
        refreshToken: sf.auth.refreshToken,
        version: String(sf.apiVersion),
      });
      const org = await conn.query('SELECT Id, IsSandbox FROM Organization');
      expect(org.records[0]).toMatchObject({ IsSandbox: true });
    } finally {
      stop();
    }
    expect(await running).toBe(0);
  });

  it('refuses the large size for HubSpot and an unknown size, naming the option', async () => {
    for (const crm of ['hubspot', 'both']) {
      const err = await runSandbox(ctx({ size: 'large', crm }, []), Promise.resolve()).catch((e: unknown) => e);
      expect(isAppError(err, 'USAGE')).toBe(true);
      expect(String((err as Error).message)).toMatch(/--size large is built for the Salesforce sandbox only/);
    }
    const huge = await runSandbox(ctx({ size: 'huge' }, []), Promise.resolve()).catch((e: unknown) => e);
    expect(String((huge as Error).message)).toMatch(/--size must be small, medium or large, got "huge"/);
  });

  it('with --profile prints a self-contained block: top-level keys at column 0, the quota file by absolute path', async () => {
    const out: string[] = [];
    let stop!: () => void;
    const until = new Promise<void>((r) => {
      stop = r;
    });
    const running = runSandbox(ctx({ port: 0, seed: 5, size: 'small', profile: 'no-forecasting' }, out), until);
    await expect.poll(() => out.length, { timeout: 20_000 }).toBeGreaterThan(0);
    try {
      const text = out[0]!;
      const keys = text
        .split('\n')
        .filter((l) => /^[a-z]/i.test(l))
        .map((l) => l.split(':')[0]);
      expect(keys).toEqual(['connections', 'quotas']);
      expect(text).toMatch(/profile no-forecasting/);
      // Pasted under a calendar line, it is a working config from any folder.
      const doc = parse(
        `calendar: { type: calendar, fiscalYearStartMonth: 1, timezone: UTC, baseCurrency: USD }\n${text}`,
      );
      const config = validateConfig(doc);
      if (config.quotas.source !== 'file') throw new Error('a quota file expected');
      expect(isAbsolute(config.quotas.path)).toBe(true);
      expect((await readFile(config.quotas.path, 'utf8')).split('\n')[0]).toBe('email,period,amount,currency');
    } finally {
      stop();
    }
    expect(await running).toBe(0);
  });

  it('refuses an unknown Salesforce profile, naming the known ones', async () => {
    const err = await runSandbox(ctx({ port: 0, profile: 'galactic' }, []), Promise.resolve()).catch((e: unknown) => e);
    expect(isAppError(err, 'USAGE')).toBe(true);
    expect((err as Error).message).toMatch(
      /single-currency, dated-rates, parent-role, shared-role, manager-only, product-family-forecasts, no-forecasting, restricted/,
    );
  });
});
