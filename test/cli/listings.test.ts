/**
 * The listings a RevOps user reaches for around write-back, run as the real bin: `writeback plan` names the rep of
 * each record (name and email, not only the CRM id), `writeback runs` lists past runs with the id `writeback revert
 * --run` takes, and `token list` shows tokens without their secrets; each also as `--format json`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type SalesforceSandbox, startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { repeatPass } from '../helpers/ci-pass.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { sandboxConnectionEntry } from '../helpers/sandbox.ts';
import { configFile, runBin } from './helpers.ts';

let sb: SalesforceSandbox;
let t: TestDatabase;
let config: string;
const env = { QUOTA_TRACKER_NOW: '2026-11-20T15:00:00Z' };
const cli = (...args: string[]) => runBin([...args, '--config', config], { env, timeoutMs: 240_000 });

beforeAll(async () => {
  sb = await startSalesforceSandbox({ seed: 5, size: 'small', anchorDate: '2026-11-20' });
  t = await createTestDatabase({ poolSize: 2 });
  config = await configFile(stringify({ database: { url: t.url }, connections: [sandboxConnectionEntry(sb)] }));
}, 60_000);
afterAll(async () => {
  await sb?.close();
  await t?.drop();
});

interface PlanJson {
  connections: Array<{
    connection: string;
    planned: boolean;
    dryRun: number;
    records: Array<{
      object: string;
      recordId: string;
      rep: { name: string; email: string | null } | null;
      changes: Array<{ field: string; before: string | null; after: string | null; beforeUnknown: boolean }>;
    }>;
  }>;
  records: number;
  fields: number;
}

interface RunsJson {
  runs: Array<{ id: number; connection: string; kind: string; mode: string; recordsWritten: number; apiCalls: number }>;
}

// The sandbox's anchor and the CLI's clock are pinned: the same day in every CI pass, so the first pass runs it.
describe.skipIf(repeatPass)('listings', () => {
  it('writeback plan names people, writeback runs lists the runs revert takes, in text and JSON', {
    timeout: 600_000,
  }, async () => {
    const first = await cli('sync', '--no-writeback');
    expect(first.code, first.stderr).toBe(0);

    const plan = await cli('writeback', 'plan');
    expect(plan.code, plan.stderr).toBe(0);
    const recordLines = plan.stdout.split('\n').filter((l) => l.startsWith('sf User '));
    expect(recordLines.length).toBeGreaterThan(0);
    const users = new Map(sb.store.all('User').map((u) => [String(u.Id), u]));
    for (const line of recordLines) {
      const m = /^sf User (005\w+) (.+) <(.+)>$/.exec(line);
      expect(m, line).not.toBeNull();
      const user = users.get(m?.[1] as string);
      expect(m?.[2]).toBe(user?.Name);
      expect(m?.[3]).toBe(String(user?.Email).toLowerCase());
    }

    const planJson = await cli('writeback', 'plan', '--format', 'json');
    expect(planJson.code, planJson.stderr).toBe(0);
    const doc = JSON.parse(planJson.stdout) as PlanJson;
    const sf = doc.connections.find((c) => c.connection === 'sf');
    expect(sf?.planned).toBe(true);
    expect(sf?.records).toHaveLength(recordLines.length);
    expect(doc.records).toBe(recordLines.length);
    expect(doc.fields).toBe(sf?.records.reduce((n, r) => n + r.changes.length, 0));
    for (const r of sf?.records ?? []) {
      expect(r.rep?.name).toBe(users.get(r.recordId)?.Name);
      expect(r.rep?.email).toBe(String(users.get(r.recordId)?.Email).toLowerCase());
    }

    const live = await cli('sync');
    expect(live.code, live.stderr).toBe(0);
    const pushed = /sf: write-back run #(\d+): (\d+) record\(s\) written/.exec(live.stdout);
    expect(pushed).not.toBeNull();

    const runs = await cli('writeback', 'runs');
    expect(runs.code, runs.stderr).toBe(0);
    const lines = runs.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^run\s+connection\s+started \(UTC\)\s+mode\s+kind\s+status\s+records\s+failed\s+calls\s+as of$/,
    );
    // Newest first: the live push, then the two plans' dry runs.
    expect(lines[1]).toMatch(
      new RegExp(
        `^\\s*${pushed?.[1]}\\s+sf\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\s+live\\s+push\\s+\\w+\\s+${pushed?.[2]}\\s+0\\s+\\d+\\s+2026-11-20$`,
      ),
    );
    expect(lines.filter((l) => /\sdry-run\s/.test(l))).toHaveLength(2);
    expect(runs.stderr).toContain('quota-tracker writeback revert --run ID');

    const runsJson = JSON.parse((await cli('writeback', 'runs', '--format', 'json')).stdout) as RunsJson;
    expect(runsJson.runs.map((r) => r.id)).toEqual([...runsJson.runs.map((r) => r.id)].sort((a, b) => b - a));
    const livePush = runsJson.runs.find((r) => r.mode === 'live');
    expect(livePush).toMatchObject({ id: Number(pushed?.[1]), connection: 'sf', kind: 'push' });
    expect(livePush?.recordsWritten).toBe(Number(pushed?.[2]));
    expect(runsJson.runs.filter((r) => r.mode === 'dry-run').map((r) => r.id)).toContain(sf?.dryRun);

    // The id from the listing is what revert takes.
    const revert = await cli('writeback', 'revert', '--run', String(livePush?.id));
    expect(revert.code, revert.stderr).toBe(0);
    const after = JSON.parse((await cli('writeback', 'runs', '--format', 'json', '--limit', '1')).stdout) as RunsJson;
    expect(after.runs).toHaveLength(1);
    expect(after.runs[0]).toMatchObject({ kind: 'revert', mode: 'live' });
    const text = await cli('writeback', 'runs', '--limit', '1');
    expect(text.stdout).toMatch(new RegExp(`\\slive\\s+revert of ${livePush?.id}\\s`));
  });

  it('token list shows the tokens without their secrets, in text and JSON', { timeout: 120_000 }, async () => {
    const empty = await cli('token', 'list');
    expect(empty.stdout).toBe('No API token yet; make one with: quota-tracker token create --role admin\n');
    const made = await cli('token', 'create', '--role', 'admin');
    expect(made.code, made.stderr).toBe(0);
    const secret = made.stdout.trim();
    const id = /^qt_([0-9a-f]{12})_/.exec(secret)?.[1] as string;
    const other = await cli('token', 'create', '--role', 'admin');
    const revoked = /^qt_([0-9a-f]{12})_/.exec(other.stdout.trim())?.[1] as string;
    expect((await cli('token', 'revoke', revoked)).code).toBe(0);

    const list = await cli('token', 'list');
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^id\s+role\s+subject\s+created\s+last used\s+status$/m);
    expect(list.stdout).toMatch(
      new RegExp(`^${id}\\s+admin\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\dZ\\s+never\\s+active$`, 'm'),
    );
    expect(list.stdout).toMatch(
      new RegExp(`^${revoked}\\s+admin\\s+.*revoked \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\dZ$`, 'm'),
    );
    const json = await cli('token', 'list', '--format', 'json');
    const doc = JSON.parse(json.stdout) as { tokens: Array<Record<string, unknown>> };
    expect(doc.tokens.map((t) => t.id)).toEqual([id, revoked]);
    expect(Object.keys(doc.tokens[0] ?? {}).sort()).toEqual(
      ['createdAt', 'id', 'lastUsedAt', 'revokedAt', 'role', 'subject'].sort(),
    );
    // Neither the secret nor its stored hash is in either listing.
    const stored = await t.db.selectFrom('api_tokens').select('token_hash').execute();
    for (const out of [list.stdout + list.stderr, json.stdout + json.stderr]) {
      expect(out).not.toContain(secret.slice(17));
      for (const { token_hash } of stored) expect(out).not.toContain(token_hash);
    }
  });
});
