/**
 * The write-back commands through the CLI, in process, against the sandbox and a throw-away database:
 * `sync` computes the metrics and writes back after reading (not with --no-writeback), `writeback plan` shows the diff without writing, `writeback revert` restores.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../../src/cli/program.ts';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnectionEntry } from '../helpers/sandbox.ts';
import { COMMAND_TABLE_FOR_TESTS } from './command-table.ts';

let sb: SalesforceSandbox;
let fresh: TestDatabase;
let configPath: string;

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const saved = process.env.DATABASE_URL;
  process.env.DATABASE_URL = fresh.url;
  try {
    const code = await runCli(['--config', configPath, ...args], COMMAND_TABLE_FOR_TESTS, {
      io: { stdout: (t) => out.push(t), stderr: (t) => err.push(t) },
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    if (saved === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = saved;
  }
}

beforeAll(async () => {
  sb = await startSalesforceSandbox({ seed: 3, size: 'small' });
  fresh = await createTestDatabase({ poolSize: 12 });
  configPath = join(tmpdir(), `qt-cli-${process.pid}.yaml`);
  writeFileSync(
    configPath,
    stringify({
      database: { url: fresh.url },
      logLevel: 'warn',
      connections: [sandboxConnectionEntry(sb)],
    }),
  );
}, 60_000);

afterAll(async () => {
  await sb?.close();
  await fresh?.drop();
});

describe('write-back commands', () => {
  it('sync --no-writeback, recompute, writeback plan, sync (writes), plan (empty), revert', async () => {
    // The whole pipeline computes metrics; --no-writeback keeps the CRM untouched.
    const first = await cli('sync', '--no-writeback');
    expect(first.code, first.err).toBe(0);
    expect(first.out).toMatch(/metrics as of \d{4}-\d{2}-\d{2}: full recompute, [1-9]\d* subjects/);
    expect(first.out).not.toContain('write-back run #');
    expect(first.err).toContain('Nothing was written to the CRM (--no-writeback).');
    expect(sb.store.all('User').filter((u) => u.Quota_Attainment__c != null)).toEqual([]);

    // A rep nobody has is a typo on the command line (exit 2), as is report rep without --rep.
    const nobody = await cli('report', 'rep', '--rep', 'nobody@x.com');
    expect(nobody.code).toBe(2);
    expect(nobody.err).toBe('no rep has the email nobody@x.com (at --rep)');
    const noRep = await cli('report', 'rep');
    expect(noRep.code).toBe(2);
    expect(noRep.err).toBe("report rep needs the rep's email or name (at --rep)");
    // A token may act as a synced rep (found by email, case-insensitively) but not as an unknown one.
    const repEmail = String(
      sb.store.all('User').find((u) => u.IsActive && !String(u.Email).endsWith('@sandbox.example.com'))?.Email,
    );
    const repToken = await cli('token', 'create', '--role', 'rep', '--subject', repEmail.toUpperCase());
    expect(repToken.code, repToken.err).toBe(0);
    expect(repToken.out).toMatch(/^qt_[0-9a-f]{12}_\S{43}$/);
    const strangerToken = await cli('token', 'create', '--role', 'rep', '--subject', 'nobody@x.com');
    expect(strangerToken.code).toBe(2);
    expect(strangerToken.err).toMatch(
      /^no person or rep in the warehouse has the email nobody@x\.com; .* \(at --subject\)$/,
    );

    const recompute = await cli('recompute');
    expect(recompute.code, recompute.err).toBe(0);

    const plan = await cli('writeback', 'plan');
    expect(plan.code, plan.err).toBe(0);
    // Each record names its rep: `sf User 005... Dana Lee <dana@...>`.
    expect(plan.out).toMatch(/sf User 005\w+ [^\n<]+ <[^>\n]+@[^>\n]+>\n {2}Pipeline_Coverage__c: \(empty\) -> [\d.]+/);
    const planned = Number(/sf: (\d+) record\(s\) would change/.exec(plan.out)?.[1]);
    expect(planned).toBeGreaterThan(0);
    const written = sb.store.all('User').filter((u) => u.Quota_Attainment__c != null);
    expect(written).toEqual([]);

    const second = await cli('sync');
    expect(second.code, second.err).toBe(0);
    const m = /sf: write-back run #(\d+): (\d+) record\(s\) written, 0 failed/.exec(second.out);
    expect(m?.[2]).toBe(String(planned));
    expect(sb.store.all('User').filter((u) => u.Quota_Attainment__c != null)).toHaveLength(planned);

    const again = await cli('writeback', 'plan');
    expect(again.out).toContain('sf: 0 record(s) would change');

    const revert = await cli('writeback', 'revert', '--run', String(m?.[1]));
    expect(revert.code, revert.err).toBe(0);
    expect(revert.out).toContain(`${planned} record(s) restored, 0 failed`);
    expect(sb.store.all('User').filter((u) => u.Quota_Attainment__c != null)).toEqual([]);

    const missing = await cli('writeback', 'revert', '--run', '9999');
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('there is no write-back run 9999');
  }, 150_000);
});
