import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createEmptyDatabase } from '../helpers/db.ts';
import { configFile, runBin } from './helpers.ts';

// The commands run as child processes against this file's own empty database, named in the config file so that
// the file-over-environment precedence is exercised too (DATABASE_URL points nowhere useful).
// Each case starts real processes (tsx, then PostgreSQL connections): slow on a busy two-core machine.
vi.setConfig({ testTimeout: 120_000 });

let database: { url: string; drop(): Promise<void> };
let config: string;
const env = { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };

beforeAll(async () => {
  database = await createEmptyDatabase();
  config = await configFile(`database: { url: "${database.url}" }\nlogLevel: warn\n`);
});
afterAll(() => database.drop());

async function query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

describe('quota-tracker migrate', () => {
  it('applies every migration once, and nothing the second time', async () => {
    const first = await runBin(['migrate', '--config', config], { env });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^Applied \d+ migrations to postgres:\/\/.+:\n( {2}\S+\n)+$/);
    const applied = first.stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.trim());
    const rows = await query<{ name: string }>('select name from kysely_migration order by name');
    expect(rows.map((r) => r.name)).toEqual(applied);
    const second = await runBin(['migrate', '--config', config], { env });
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/is up to date; no migration to apply\.\n$/);
  });
});

describe('quota-tracker token', () => {
  it('creates a token printed once on stdout, stores only its hash, and revokes it', async () => {
    // The subject must be someone the warehouse knows (here from the org file); emails compare case-insensitively.
    await query("insert into persons (email, name, source) values ('Dana@Example.com', 'Dana', 'file')");
    const created = await runBin(
      ['token', 'create', '--role', 'manager', '--subject', 'dana@example.com', '--config', config],
      {
        env,
      },
    );
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect(created.stdout).toBe(`${token}\n`);
    const id = /Created API token (\S+) \(role manager, subject dana@example\.com\)/.exec(created.stderr)?.[1];
    expect(id).toBeDefined();
    const rows = await query<Record<string, unknown>>('select * from api_tokens where id = $1', [id]);
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(token);

    const revoked = await runBin(['token', 'revoke', id as string, '--config', config], { env });
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toBe(`Revoked API token ${id}.\n`);
    const after = await query<{ revoked_at: Date | null }>('select revoked_at from api_tokens where id = $1', [id]);
    expect(after[0]?.revoked_at).not.toBeNull();
  });

  it('exits 1 on an unknown id, and 2 on a rep token without a subject or for someone nobody knows', async () => {
    const unknown = await runBin(['token', 'revoke', '99999', '--config', config], { env });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('no API token has the id "99999" (at token revoke ID)\n');
    const noSubject = await runBin(['token', 'create', '--role', 'rep', '--config', config], { env });
    expect(noSubject.code).toBe(2);
    expect(noSubject.stderr).toContain('a rep token needs --subject EMAIL');
    const before = await query<{ n: string }>('select count(*) as n from api_tokens');
    const nobody = await runBin(
      ['token', 'create', '--role', 'manager', '--subject', 'nobody@x.com', '--config', config],
      { env },
    );
    expect(nobody.code).toBe(2);
    expect(nobody.stdout).toBe('');
    expect(nobody.stderr).toBe(
      'no person or rep in the warehouse has the email nobody@x.com; a manager token must act as someone synced ' +
        'from the CRM or listed in the org file (at --subject)\n',
    );
    expect(await query<{ n: string }>('select count(*) as n from api_tokens')).toEqual(before);
  });
});
