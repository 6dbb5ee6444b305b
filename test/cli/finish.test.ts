/**
 * The command line as a demanding user meets it (issue 18, "Finish the command line"): a report of a period that
 * has not started says so, and `sandbox --help` offers only sizes that start. Each runs the real bin.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN, configFile, runBin } from './helpers.ts';

// Before any database is opened, so a config that names none (the embedded one) is never started.
const NOW = { QUOTA_TRACKER_NOW: '2026-12-07' };

describe('report of a period that has not started', () => {
  it('says so, naming the period and its start date, and exits 2', async () => {
    const config = await configFile('calendar: { timezone: UTC }\n');
    const next = await runBin(['report', 'org', '--period', 'FY2027-Q1', '--config', config], { env: NOW });
    expect(next.code).toBe(2);
    expect(next.stdout).toBe('');
    expect(next.stderr).toBe(
      'FY2027-Q1 has not started: it starts on 2027-01-01 and today is 2026-12-07; ask for a period that has ' +
        'started, or leave out --period for the current quarter (at --period)\n',
    );
    // Against --as-of when it is given: the current quarter as seen from June.
    const asOf = await runBin(
      ['report', 'team', '--team', 'West', '--period', 'FY2026-Q4', '--as-of', '2026-06-30', '--config', config],
      { env: NOW },
    );
    expect(asOf.code).toBe(2);
    expect(asOf.stderr).toContain('FY2026-Q4 has not started: it starts on 2026-10-01 and --as-of is 2026-06-30');
  });
});

/** Starts `sandbox` with the arguments, waits until it listens, stops it with SIGTERM; its exit code and stderr. */
async function sandboxStarts(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, 'sandbox', '--port', '0', ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...NOW },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await new Promise<void>((listening) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/listening|sandbox on/.test(stderr)) listening();
    });
    void exited.then(() => listening());
  });
  if (child.exitCode === null) child.kill('SIGTERM');
  return { code: await exited, stderr };
}

describe('sandbox --help', () => {
  it('lists only sizes that start, and says which CRM the large one is for', { timeout: 120_000 }, async () => {
    const help = await runBin(['sandbox', '--help']);
    expect(help.code).toBe(0);
    const text = help.stdout.replace(/\s+/g, ' ');
    const choices = /--size <size> [^(]*\([^)]*\) \(choices: ([^)]*?), default: "small"\)/.exec(text)?.[1] ?? '';
    const sizes = [...choices.matchAll(/"([a-z]+)"/g)].map((m) => m[1] as string);
    expect(sizes).toEqual(['small', 'medium', 'large']);
    expect(text).toContain('large, 5,000 reps and 1,000,000 opportunities, is Salesforce only');
    for (const size of sizes) {
      const r = await sandboxStarts(['--size', size]);
      expect(r.stderr, size).toMatch(/^Salesforce sandbox listening on http:\/\/127\.0\.0\.1:\d+/);
      expect(r.code, size).toBe(0);
    }
    const hubspot = await runBin(['sandbox', '--crm', 'hubspot', '--size', 'large', '--port', '0'], { env: NOW });
    expect(hubspot.code).toBe(2);
    expect(hubspot.stderr).toContain('--size large is built for the Salesforce sandbox only');
  });
});
