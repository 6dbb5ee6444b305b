/** Runs the real bin as a child process, as a user or a CI job would. */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const BIN = resolve(import.meta.dirname, '../../bin/quota-tracker.js');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node bin/quota-tracker.js ...args` in `cwd` (a fresh empty folder by default, so no stray
 * ./quota-tracker.yaml is picked up), with only the given environment on top of PATH, HOME and QUOTA_TRACKER_NOW.
 */
export async function runBin(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  const cwd = options.cwd ?? (await mkdtemp(join(tmpdir(), 'qt-cli-')));
  // The program's clock follows the run's (QUOTA_TRACKER_NOW), so a child lives on the same day as its test.
  const pinned = process.env.QUOTA_TRACKER_NOW ? { QUOTA_TRACKER_NOW: process.env.QUOTA_TRACKER_NOW } : {};
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...pinned, ...options.env };
  return new Promise((done) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd, env, timeout: options.timeoutMs ?? 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

/** Writes a config file into a fresh folder and returns its path. */
export async function configFile(text: string, extra: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'qt-cli-cfg-'));
  const path = join(dir, 'quota-tracker.yaml');
  await writeFile(path, text);
  for (const [name, content] of Object.entries(extra)) await writeFile(join(dir, name), content);
  return path;
}
