/**
 * `quota-tracker sandbox [--crm salesforce|hubspot|both] [--port N] [--seed N] [--size small|medium|large] [--profile P]`:
 * runs the sandbox CRM servers in the foreground and prints a `connections:` block to paste into
 * quota-tracker.yaml (and, for HubSpot, which has no manager field, `org: { file }` naming an org.csv that matches
 * the org). The credentials are derived from the seed, so the same seed prints the same block on every run and a
 * pasted config keeps working after a restart. `--crm both` serves one org split across the two CRMs (the same
 * people in both; each deal, activity and lead in one), Salesforce on the first port and HubSpot on the next.
 *
 * With `--crm salesforce` (the default), `--profile` names a Salesforce org profile (src/sandbox/salesforce/profiles.ts:
 * an org that differs the way real orgs do) and the block holds every top-level key it needs (a profile without
 * Collaborative Forecasting writes its quotas.csv and prints `quotas:` with its absolute path); with `hubspot` or
 * `both`, a HubSpot portal profile.
 *
 * The printed credentials are the sandbox's own, made up for this local server; they are printed on purpose.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { now } from '../../clock.ts';
import { AppError } from '../../errors.ts';
import type { HubSpotSandbox } from '../../sandbox/hubspot/index.ts';
import type { SalesforceSandbox } from '../../sandbox/salesforce/index.ts';
import type { CommandContext } from '../program.ts';

export type SandboxCrm = 'salesforce' | 'hubspot' | 'both';

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

/**
 * The top-level config keys a Salesforce profile's org needs besides its connection, with the files it writes
 * (absolute paths, so the block works pasted into a config in any folder). `dir` is where the files go.
 */
export async function sandboxProfileKeys(sb: SalesforceSandbox, dir: string): Promise<Record<string, unknown>> {
  if (!sb.profile?.quotasFile || !sb.model) return {};
  const { quotaFileText } = await import('../../sandbox/salesforce/profiles.ts');
  const folder = resolve(dir);
  await mkdir(folder, { recursive: true });
  const path = join(folder, 'quotas.csv');
  await writeFile(path, quotaFileText(sb.model));
  return { quotas: { source: 'file', path } };
}

/** The YAML a user pastes into quota-tracker.yaml: one salesforce connection pointing at the sandbox. */
export function sandboxConfigBlock(
  sb: SalesforceSandbox,
  opts: { seed: number; size: string },
  extra: Record<string, unknown> = {},
): string {
  const doc = { connections: [sandboxConnection(sb)], ...extra };
  // yaml quotes "62.0" itself, since unquoted it would read back as a number.
  const yaml = stringify(doc, { lineWidth: 0 });
  return [
    `# Salesforce sandbox: seed ${opts.seed}, size ${opts.size}${sb.profile ? `, profile ${sb.profile.name} (${sb.profile.summary})` : ''}, org ${sb.orgId}, at ${sb.url}`,
    `# Other auth kinds it accepts: { kind: password, clientId, clientSecret, username: ${sb.credentials.username}, password: ${sb.credentials.password} }`,
    '# and { kind: client_credentials, clientId, clientSecret }.',
    `# Test API: ${sb.url}/__sandbox/{info,log,faults,clock,change,oracle} with header X-Sandbox-Admin-Token: ${sb.credentials.adminToken}`,
    yaml,
  ].join('\n');
}

/** The `connections:` entry for a running HubSpot sandbox: a private app's token on the sandbox's base path. */
export function hubspotSandboxConnection(sb: HubSpotSandbox, id = 'hs-sandbox') {
  return {
    id,
    type: 'hubspot' as const,
    basePath: sb.url,
    accessToken: sb.credentials.accessToken,
    // The sandbox signs its webhooks with the app's client secret, as HubSpot does.
    webhookSecret: sb.credentials.clientSecret,
    schedule: { every: '15m' },
  };
}

function hubspotComments(sb: HubSpotSandbox, opts: { seed: number; size: string }): string[] {
  return [
    `# HubSpot sandbox: seed ${opts.seed}, size ${opts.size}, portal ${sb.portalId} (${sb.profile}), at ${sb.url}`,
    `# OAuth (public app) refresh grant at ${sb.url}/oauth/v1/token: clientId ${sb.credentials.clientId}, clientSecret ${sb.credentials.clientSecret}, refreshToken ${sb.credentials.refreshToken}`,
    '# Webhooks are signed with that client secret (X-HubSpot-Signature-v3).',
    `# Test API: ${sb.url}/__sandbox/{info,log,faults,clock,life,oracle,webhooks} with header X-Sandbox-Admin-Token: ${sb.credentials.adminToken}`,
  ];
}

/** The block for `--crm hubspot` or `both`: connections, then the org file the hierarchy comes from. */
export function multiConfigBlock(
  sf: SalesforceSandbox | null,
  hs: HubSpotSandbox,
  orgFile: string,
  opts: { seed: number; size: string },
): string {
  const connections = [...(sf ? [sandboxConnection(sf)] : []), hubspotSandboxConnection(hs)];
  const yaml = stringify({ connections, org: { file: orgFile } }, { lineWidth: 0 });
  return [
    ...(sf
      ? [
          `# Salesforce sandbox: seed ${opts.seed}, size ${opts.size}, org ${sf.orgId}, at ${sf.url}`,
          `# Salesforce test API: ${sf.url}/__sandbox/{info,log,faults,clock,change,oracle} with header X-Sandbox-Admin-Token: ${sf.credentials.adminToken}`,
        ]
      : []),
    ...hubspotComments(hs, opts),
    `# ${orgFile}: the org's hierarchy (HubSpot has no manager field)${sf ? '; the same people are in both CRMs, matched by email' : ''}.`,
    yaml,
  ].join('\n');
}

function resolveOptions(options: Readonly<Record<string, unknown>>): {
  port: number;
  seed: number;
  size: 'small' | 'medium' | 'large';
  crm: SandboxCrm;
  profile: string | undefined;
} {
  const size = (options.size as string | undefined) ?? 'small';
  if (size !== 'small' && size !== 'medium' && size !== 'large') {
    throw new AppError('USAGE', `--size must be small, medium or large, got "${size}"`, { where: '--size' });
  }
  const port = (options.port as number | undefined) ?? DEFAULT_SANDBOX_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new AppError('USAGE', `--port must be a port number, got ${String(port)}`, { where: '--port' });
  }
  const crm = (options.crm as string | undefined) ?? 'salesforce';
  if (crm !== 'salesforce' && crm !== 'hubspot' && crm !== 'both') {
    throw new AppError('USAGE', `--crm must be salesforce, hubspot or both, got "${crm}"`, { where: '--crm' });
  }
  if (size === 'large' && crm !== 'salesforce') {
    throw new AppError(
      'USAGE',
      '--size large is built for the Salesforce sandbox only (HubSpot stays at medium for now); use --crm salesforce',
      { where: '--size' },
    );
  }
  const profile = options.profile as string | undefined;
  return { port, seed: (options.seed as number | undefined) ?? 1, size, crm, profile };
}

/** Starts the sandbox(es), prints the block, and serves until `until` settles (tests pass their own). */
export async function runSandbox(ctx: CommandContext, until: Promise<unknown>): Promise<number> {
  const { port, seed, size, crm, profile } = resolveOptions(ctx.options);
  if (crm === 'salesforce') {
    const { startSalesforceSandbox } = await import('../../sandbox/salesforce/index.ts');
    // An unknown profile is a usage error naming the known ones (startSalesforceSandbox says so).
    const sb = await startSalesforceSandbox({
      seed,
      size,
      port,
      // The large org's deals are made from the seed on every read: it has no life clock to change them.
      ...(size === 'large' ? {} : { life: { tickMs: 60_000 } }),
      ...(profile !== undefined ? { profile } : {}),
    });
    try {
      const extra = await sandboxProfileKeys(
        sb,
        join('.quota-tracker', 'sandbox', `${profile ?? 'default'}-seed${seed}`),
      );
      ctx.io.stdout(sandboxConfigBlock(sb, { seed, size }, extra));
      ctx.io.stderr(`Salesforce sandbox listening on ${sb.url}; press Ctrl-C to stop.`);
      await until;
      return 0;
    } finally {
      await sb.close();
    }
  }
  const { isHubSpotProfile, startHubSpotSandbox } = await import('../../sandbox/hubspot/index.ts');
  if (profile !== undefined && !isHubSpotProfile(profile)) {
    throw new AppError(
      'USAGE',
      `--profile must be a HubSpot profile (starter, professional, enterprise, no-custom-objects), got "${profile}"`,
      {
        where: '--profile',
      },
    );
  }
  const { generateOrg } = await import('../../sandbox/org/index.ts');
  const { splitOrg } = await import('../../sandbox/org/split.ts');
  const { writeOrgCsv } = await import('../../sandbox/org/org-csv.ts');
  if (size === 'large') throw new AppError('INTERNAL', 'resolveOptions let --size large through for HubSpot');
  const anchorDate = now().toISOString().slice(0, 10);
  const org = generateOrg({ seed, size, anchorDate });
  const parts = crm === 'both' ? splitOrg(org) : null;
  const dir = resolve('.quota-tracker', 'sandbox');
  await mkdir(dir, { recursive: true });
  const orgFile = resolve(dir, `org-${seed}-${size}.csv`);
  await writeOrgCsv(org, orgFile);
  let sf: SalesforceSandbox | null = null;
  let hs: HubSpotSandbox | null = null;
  try {
    if (parts) {
      const { startSalesforceSandbox } = await import('../../sandbox/salesforce/index.ts');
      sf = await startSalesforceSandbox({ seed, size, port, org: parts.first, life: { tickMs: 60_000 } });
    }
    hs = await startHubSpotSandbox({
      seed,
      size,
      port: parts && port !== 0 ? port + 1 : port,
      org: parts ? parts.second : org,
      life: { tickMs: 60_000 },
      ...(profile !== undefined && isHubSpotProfile(profile) ? { profile } : {}),
    });
    ctx.io.stdout(multiConfigBlock(sf, hs, orgFile, { seed, size }));
    ctx.io.stderr(
      `${sf ? `Salesforce sandbox on ${sf.url}, ` : ''}HubSpot sandbox on ${hs.url}; press Ctrl-C to stop.`,
    );
    await until;
    return 0;
  } finally {
    await hs?.close();
    await sf?.close();
  }
}

export async function run(ctx: CommandContext): Promise<number> {
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  return runSandbox(ctx, stopped);
}
