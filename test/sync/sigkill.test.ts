/**
 * Crash safety of a `medium` initial sync (100,000 opportunities): the sync runs in a child process that is
 * SIGKILLed at 20 random points, each time started again; then it runs to the end. No row may be missing or
 * doubled, and the records the sandbox served stay under 1.3x the org size (each rerun resumed, not restarted).
 * Heavy (a medium org, 21 processes): runs only with QT_HEAVY=1.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const heavy = process.env.QT_HEAVY === '1';
let sb: SalesforceSandbox;
let t: TestDatabase;

/** Seeded so a failure can be replayed: mulberry32. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), a | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function child(): ChildProcess {
  return spawn(process.execPath, ['bin/run-ts.js', 'test/sync/helpers/sync-child.ts'], {
    env: {
      ...process.env,
      DATABASE_URL: t.url,
      QT_SB_URL: sb.url,
      QT_SB_CREDENTIALS: JSON.stringify(sb.credentials),
      QT_STREAM: 'opportunities',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

const exited = (p: ChildProcess) => new Promise<number | null>((r) => p.once('exit', (code) => r(code)));

describe.skipIf(!heavy)('SIGKILL during a medium sync', () => {
  beforeAll(async () => {
    t = await createTestDatabase();
    sb = await startSalesforceSandbox({ seed: 42, size: 'medium', anchorDate: '2026-11-15' });
  }, 600_000);
  afterAll(async () => {
    await sb?.close();
    await t?.drop();
  });

  it('20 kills and reruns: no duplicate, no missing row, under 1.3x the records fetched', async () => {
    const random = rng(20260302);
    const orgSize = sb.store.count('Opportunity', { includeDeleted: true });
    let kills = 0;
    for (let i = 0; i < 20; i++) {
      const p = child();
      const done = exited(p);
      // Kill points by progress, not by the clock (a fast machine would finish before a timed kill): after 1 to 3
      // more committed pages (of ~100), somewhere inside the next page.
      const pages = 1 + Math.floor(random() * 3);
      const within = Math.floor(random() * 300);
      let seen = 0;
      let timer: NodeJS.Timeout | undefined;
      p.stdout?.on('data', (d) => {
        seen += (String(d).match(/^page /gm) ?? []).length;
        if (seen >= pages && timer === undefined) timer = setTimeout(() => p.kill('SIGKILL'), within);
      });
      const code = await done;
      clearTimeout(timer);
      if (code === null) kills++;
      else break; // it finished before the kill
    }
    const last = child();
    let out = '';
    last.stdout?.on('data', (d) => {
      out += String(d);
    });
    expect(await exited(last)).toBe(0);
    expect(JSON.parse(out.trim().split('\n').pop() ?? '{}')).toMatchObject({ status: 'succeeded' });

    const rows = await t.db
      .selectFrom('deals')
      .select((eb) => [eb.fn.countAll<string>().as('n'), eb.fn.count<string>('external_id').distinct().as('d')])
      .executeTakeFirstOrThrow();
    const quarantined = await t.db
      .selectFrom('quarantine')
      .select('external_id')
      .where('stream', '=', 'opportunities')
      .execute();
    expect(Number(rows.n)).toBe(Number(rows.d));
    expect(Number(rows.n) + quarantined.length).toBe(orgSize);
    const served = sb.log
      .entries()
      .filter((e) => e.path.includes('/query') && (e.locator !== undefined || /FROM Opportunity/.test(e.soql ?? '')))
      .reduce((n, e) => n + (e.recordsReturned ?? 0), 0);
    console.log(`kills ${kills}, org ${orgSize}, served ${served} (${(served / orgSize).toFixed(3)}x)`);
    expect(kills).toBe(20);
    expect(served).toBeLessThan(orgSize * 1.3);
  }, 1_200_000);
});
