import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type DbHandle } from '../../src/db/index.ts';

const CHILD = 'test/db/fixtures/embedded-child.ts';

function child(
  dataDir: string,
  mode: string,
): {
  proc: ChildProcess;
  firstLine: Promise<string>;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
} {
  const proc = spawn(process.execPath, ['bin/run-ts.js', CHILD, dataDir, mode], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const firstLine = new Promise<string>((resolve) => {
    proc.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('\n')) resolve(stdout.split('\n')[0] ?? '');
    });
    proc.on('close', () => resolve(stdout.split('\n')[0] ?? ''));
  });
  proc.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    proc.on('close', (code, signal) => resolve({ code, signal, stderr })),
  );
  return { proc, firstLine, done };
}

async function postmasterPid(dataDir: string): Promise<number | null> {
  try {
    return Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function eventually(check: () => boolean | Promise<boolean>, ms = 15_000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'qt-createdb-'));
  await chmod(root, 0o755);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('createDb on the embedded server', { timeout: 180_000 }, () => {
  it('starts as root, is reused by a second process on the same data dir, and stops on close', async () => {
    const dataDir = join(root, 'main');
    const a: DbHandle = await createDb({ dataDir, url: '' });
    let closed = false;
    try {
      expect(a.embedded).toBe(true);
      const who = await sql<{ u: string; d: string }>`select current_user as u, current_database() as d`.execute(a.db);
      expect(who.rows[0]).toEqual({ u: 'postgres', d: 'quota_tracker' });
      if (process.getuid?.() === 0) {
        const postgresUid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
        expect(statSync(dataDir).uid).toBe(postgresUid);
      }
      const pid = await postmasterPid(dataDir);
      expect(pid !== null && alive(pid)).toBe(true);

      // Another process connects to the running server instead of starting a second one, and leaves it running.
      const c = child(dataDir, 'insert');
      const result = await c.done;
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(JSON.parse(await c.firstLine)).toEqual({ port: Number(new URL(a.url).port), embedded: true });
      expect(await postmasterPid(dataDir)).toBe(pid);
      const marks = await sql<{ who: string }>`select who from marks`.execute(a.db);
      expect(marks.rows).toEqual([{ who: 'child' }]);

      // So does a second handle in this process; closing it leaves the server to the first.
      const b = await createDb({ dataDir, url: '' });
      expect(b.url).toBe(a.url);
      await b.close();
      expect((await sql<{ n: number }>`select 1 as n`.execute(a.db)).rows).toEqual([{ n: 1 }]);

      await a.close();
      closed = true;
      expect(alive(pid as number)).toBe(false);
      expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(false);
    } finally {
      if (!closed) await a.close();
    }

    // Started again on the same data dir, the data is still there.
    const again = await createDb({ dataDir, url: '' });
    try {
      expect((await sql<{ who: string }>`select who from marks`.execute(again.db)).rows).toEqual([{ who: 'child' }]);
    } finally {
      await again.close();
    }
  });

  it('lets two processes start at once on a fresh data dir: one initialises and starts, the other reuses', async () => {
    const dataDir = join(root, 'race');
    const [x, y] = [child(dataDir, 'hold'), child(dataDir, 'hold')];
    const [lx, ly] = await Promise.all([x.firstLine, y.firstLine]);
    const px = JSON.parse(lx) as { port: number; embedded: boolean };
    expect(px.embedded).toBe(true);
    expect(JSON.parse(ly)).toEqual(px);
    x.proc.stdin?.end();
    y.proc.stdin?.end();
    const [rx, ry] = await Promise.all([x.done, y.done]);
    expect(rx).toMatchObject({ code: 0, stderr: '' });
    expect(ry).toMatchObject({ code: 0, stderr: '' });
    expect(existsSync(`${dataDir}.lock`)).toBe(false);
    expect(await eventually(async () => (await postmasterPid(dataDir)) === null)).toBe(true);
  });

  // The data dir of the first test is reused (already initialised, server stopped), which saves an initdb.
  it('stops the server on SIGTERM and the process still dies of the signal', async () => {
    const dataDir = join(root, 'main');
    const c = child(dataDir, 'hang');
    await c.firstLine;
    const pid = await postmasterPid(dataDir);
    expect(pid !== null && alive(pid)).toBe(true);
    c.proc.kill('SIGTERM');
    const result = await c.done;
    expect(result).toMatchObject({ code: null, signal: 'SIGTERM' });
    expect(await eventually(() => !alive(pid as number))).toBe(true);
  });

  it('keeps the exit code the program chose, and stops the server on process.exit without close()', async () => {
    const dataDir = join(root, 'main');
    const chosen = await child(dataDir, 'exit-code').done;
    expect(chosen).toMatchObject({ code: 3, signal: null });

    const c = child(dataDir, 'exit-without-close');
    await c.firstLine;
    const pid = await postmasterPid(dataDir);
    expect(await c.done).toMatchObject({ code: 5 });
    expect(pid).not.toBeNull();
    expect(await eventually(() => !alive(pid as number))).toBe(true);
  });
});
