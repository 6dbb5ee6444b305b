/**
 * `npx quota-tracker start` and `npx quota-tracker sandbox` stop when the npx process alone gets SIGTERM (a
 * supervisor, a CI step's timeout, `kill <pid>`): npm passes the signal to the `sh -c` it runs the bin under, the
 * shell dies, and the bin must not be left running under PID 1, still listening. Ctrl-C sends SIGINT to the whole
 * foreground process group, npm, shell and bin alike. Each case spawns the real npx in the checkout (`--no`: it
 * never asks a registry) in a process group of its own, waits until the command listens on a free port, signals
 * the npx process (SIGTERM) or its group (SIGINT), and checks that within 10 s no process of the tree is left and
 * the port is free.
 *
 * A SIGINT sent to the npx process alone never reaches the bin: npm passes it to the shell, and dash running
 * `sh -c` catches SIGINT and holds it until its child exits; nothing of it is visible to the child.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createEmptyDatabase } from '../helpers/db.ts';
import { configFile } from './helpers.ts';

const ROOT = resolve(import.meta.dirname, '../..');
// A fixed day, so the sandbox's generated org and the service's clock are the same on every run.
const NOW = process.env.QUOTA_TRACKER_NOW ?? '2026-12-07';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  await new Promise<void>((r) => server.close(() => r()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((done) => {
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

/** Every live process whose parent chain leads to `root` (from /proc), the root included. */
function tree(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name in parentheses may hold spaces: the fields after its closing parenthesis are fixed.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const inTree = (pid: number): boolean => {
    for (let p: number | undefined = pid, hops = 0; p !== undefined && p > 1 && hops < 64; hops++) {
      if (p === root) return true;
      p = parents.get(p);
    }
    return false;
  };
  return [...parents.keys()].filter(inTree);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie is dead for this purpose: it holds no port and runs nothing.
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const started: number[] = [];
afterEach(() => {
  // A failed case must not leave its tree behind for the next one.
  for (const pid of started.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
});

type Target = 'npx' | 'group';

async function runAndSignal(
  args: string[],
  port: number,
  signal: NodeJS.Signals,
  target: Target,
): Promise<{ left: number[]; portFree: boolean; stderr: string; spawned: number }> {
  const child: ChildProcess = spawn('npx', ['--no', 'quota-tracker', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', QUOTA_TRACKER_NOW: NOW },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, as a job of a shell is: the group is what Ctrl-C signals.
    detached: true,
  });
  let stderr = '';
  child.stdout?.resume();
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const npx = child.pid as number;
  for (let waited = 0; await portIsFree(port); waited += 250) {
    if (waited > 120_000 || child.exitCode !== null) throw new Error(`never listened on ${port}:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const pids = tree(npx);
  started.push(...pids);
  process.kill(target === 'npx' ? npx : -npx, signal);
  // Within the 10 s a supervisor gives before SIGKILL.
  for (let waited = 0; waited < 10_000 && pids.some(alive); waited += 100) {
    await new Promise((r) => setTimeout(r, 100));
  }
  return { left: pids.filter(alive), portFree: await portIsFree(port), stderr, spawned: pids.length };
}

describe('npx quota-tracker stops with the npx process', () => {
  let db: Awaited<ReturnType<typeof createEmptyDatabase>>;
  beforeAll(async () => {
    db = await createEmptyDatabase();
  });
  afterAll(() => db?.drop());

  it.each([
    ['SIGTERM', 'npx'],
    ['SIGINT', 'group'],
  ] as const)('sandbox on %s to the %s process', { timeout: 180_000 }, async (signal, target) => {
    const port = await freePort();
    const r = await runAndSignal(['sandbox', '--port', String(port)], port, signal, target);
    // npm, its shell and the bin at least: the tree really was found.
    expect(r.spawned).toBeGreaterThanOrEqual(3);
    expect(r.left, r.stderr).toEqual([]);
    expect(r.portFree).toBe(true);
  });

  it.each([
    ['SIGTERM', 'npx'],
    ['SIGINT', 'group'],
  ] as const)('start on %s to the %s process', { timeout: 180_000 }, async (signal, target) => {
    const port = await freePort();
    const config = await configFile(stringify({ database: { url: db.url }, web: { host: '127.0.0.1', port } }));
    const r = await runAndSignal(['start', '--config', config], port, signal, target);
    expect(r.spawned).toBeGreaterThanOrEqual(3);
    expect(r.left, r.stderr).toEqual([]);
    expect(r.portFree).toBe(true);
    // The bin stopped the way it stops on a signal of its own, not killed.
    expect(r.stderr).toMatch(/SIG(TERM|INT): finishing running jobs and shutting down\./);
  });
});
