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

  it('refuses the large size with a usage error', async () => {
    const err = await runSandbox(ctx({ size: 'large' }, []), Promise.resolve()).catch((e: unknown) => e);
    expect(isAppError(err, 'USAGE')).toBe(true);
  });
});
