/**
 * `quota-tracker sandbox [--port N] [--seed N] [--size small|medium]`: runs the Salesforce sandbox in the foreground
 * and prints a `connections:` block to paste into quota-tracker.yaml. The credentials are derived from the seed, so
 * the same seed prints the same block on every run and a pasted config keeps working after a restart.
 *
 * The printed credentials are the sandbox's own, made up for this local server; they are printed on purpose.
 */
import { stringify } from 'yaml';
import { AppError } from '../../errors.ts';
import type { SalesforceSandbox } from '../../sandbox/salesforce/index.ts';
import type { CommandContext } from '../program.ts';

/** The default first port: stable, so a pasted config survives restarts. */
export const DEFAULT_SANDBOX_PORT = 8410;

/** A Salesforce connection entry that logs in to a running sandbox with its refresh token, and nothing more. */
export function sandboxLogin(sb: SalesforceSandbox, id: string) {
  return {
    id,
    type: 'salesforce' as const,
    loginUrl: sb.url,
    apiVersion: '62.0',
    auth: {
      kind: 'refresh_token' as const,
      clientId: sb.credentials.clientId,
      clientSecret: sb.credentials.clientSecret,
      refreshToken: sb.credentials.refreshToken,
    },
  };
}

/** The `connections:` entry that points a Salesforce connection at a running sandbox (the CLI block, the demo). */
export function sandboxConnection(sb: SalesforceSandbox, id = 'sf-sandbox') {
  return { ...sandboxLogin(sb, id), schedule: { every: '15m' }, writeback: { target: 'user_fields' as const } };
}

/** The YAML a user pastes into quota-tracker.yaml: one salesforce connection pointing at the sandbox. */
export function sandboxConfigBlock(sb: SalesforceSandbox, opts: { seed: number; size: string }): string {
  const doc = { connections: [sandboxConnection(sb)] };
  // yaml quotes "62.0" itself, since unquoted it would read back as a number.
  const yaml = stringify(doc, { lineWidth: 0 });
  return [
    `# Salesforce sandbox: seed ${opts.seed}, size ${opts.size}, org ${sb.orgId}, at ${sb.url}`,
    `# Other auth kinds it accepts: { kind: password, clientId, clientSecret, username: ${sb.credentials.username}, password: ${sb.credentials.password} }`,
    '# and { kind: client_credentials, clientId, clientSecret }.',
    `# Test API: ${sb.url}/__sandbox/{info,log,faults,clock,change,oracle} with header X-Sandbox-Admin-Token: ${sb.credentials.adminToken}`,
    yaml,
  ].join('\n');
}

function resolveOptions(options: Readonly<Record<string, unknown>>): {
  port: number;
  seed: number;
  size: 'small' | 'medium';
} {
  const size = (options.size as string | undefined) ?? 'small';
  if (size === 'large') {
    throw new AppError(
      'USAGE',
      'sandbox size large is not built yet (it comes with Bulk API 2.0); use small or medium',
      {
        where: '--size',
      },
    );
  }
  if (size !== 'small' && size !== 'medium') {
    throw new AppError('USAGE', `--size must be small or medium, got "${size}"`, { where: '--size' });
  }
  const port = (options.port as number | undefined) ?? DEFAULT_SANDBOX_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new AppError('USAGE', `--port must be a port number, got ${String(port)}`, { where: '--port' });
  }
  return { port, seed: (options.seed as number | undefined) ?? 1, size };
}

/** Starts the sandbox, prints the block, and serves until `until` settles (tests pass their own). */
export async function runSandbox(ctx: CommandContext, until: Promise<unknown>): Promise<number> {
  const { port, seed, size } = resolveOptions(ctx.options);
  const { startSalesforceSandbox } = await import('../../sandbox/salesforce/index.ts');
  const sb = await startSalesforceSandbox({ seed, size, port, life: { tickMs: 60_000 } });
  try {
    ctx.io.stdout(sandboxConfigBlock(sb, { seed, size }));
    ctx.io.stderr(`Salesforce sandbox listening on ${sb.url}; press Ctrl-C to stop.`);
    await until;
    return 0;
  } finally {
    await sb.close();
  }
}

export async function run(ctx: CommandContext): Promise<number> {
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  return runSandbox(ctx, stopped);
}
