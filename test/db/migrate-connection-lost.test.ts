/**
 * A PostgreSQL connection killed while the migrations run (pg_terminate_backend, a failover) is tried again: the
 * pending migrations run in one transaction, which the server rolls back with the session. `migrate` then applies
 * everything and exits 0, saying in its log that the connection was lost; a connection lost on every attempt ends
 * in MIGRATION_FAILED saying so, not a stack trace.
 *
 * The cut lands deterministically: the test holds kysely's migration lock, so the migrating session waits for it
 * inside the migrator, where the test terminates it. A cut after the COMMIT went out goes through a proxy that
 * forwards the migrations' COMMIT to the server and drops the connection instead of its answer; a cut before it
 * drops the COMMIT, and another process migrates before the retry: `migrate` then says who applied what.
 */
import { createServer, type Socket, connect as tcpConnect } from 'node:net';
import pg from 'pg';
import pino from 'pino';
import { afterAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { connect } from '../../src/db/index.ts';
import { MIGRATION_ATTEMPTS, MIGRATIONS, migrateToLatest } from '../../src/db/migrate.ts';
import { isAppError } from '../../src/errors.ts';
import { configFile, runBin } from '../cli/helpers.ts';
import { createEmptyDatabase } from '../helpers/db.ts';

/** kysely's migration lock id (its PostgresAdapter). */
const MIGRATION_LOCK = '3853314791062309107';

const drops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const d of drops) await d().catch(() => {});
});

/** A fresh empty database and a session holding the migration lock in it. */
async function lockedDatabase() {
  const empty = await createEmptyDatabase();
  const admin = new pg.Client({ connectionString: empty.url });
  await admin.connect();
  drops.push(async () => {
    await admin.end().catch(() => {});
    await empty.drop();
  });
  await admin.query(`select pg_advisory_lock(${MIGRATION_LOCK})`);
  const cut = new Set<number>();
  /** Terminates the next session that waits for the migration lock; its pid. */
  const cutNextWaiter = async (): Promise<number> => {
    // wall-clock: a bound on a wait
    const t0 = Date.now();
    for (;;) {
      const { rows } = await admin.query<{ pid: number }>(
        `select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()
           and wait_event_type = 'Lock' and wait_event = 'advisory'`,
        [empty.name],
      );
      // A terminated session can still show as waiting for a moment: each is cut once.
      const pid = rows.find((r) => !cut.has(r.pid))?.pid;
      if (pid !== undefined) {
        cut.add(pid);
        await admin.query('select pg_terminate_backend($1)', [pid]);
        return pid;
      }
      if (Date.now() - t0 > 30_000) throw new Error('no session waited for the migration lock within 30 s');
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const release = () => admin.query(`select pg_advisory_unlock(${MIGRATION_LOCK})`);
  return { url: empty.url, cutNextWaiter, release };
}

it('`migrate` whose connection is killed mid-migration tries again and applies everything', async () => {
  const d = await lockedDatabase();
  const config = await configFile(stringify({ database: { url: d.url } }));
  const run = runBin(['migrate', '--config', config]);
  await d.cutNextWaiter();
  await d.release();
  const r = await run;
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^Applied \d+ migrations to /);
  expect(r.stderr).toMatch(
    /the connection to PostgreSQL was lost during migration \(setup\) \([^)]+\); nothing of it was applied, trying again \(attempt 2 of 3\)/,
  );
  expect(r.stderr).not.toMatch(/^\s+at /m);
});

it('a connection lost on every attempt fails with MIGRATION_FAILED saying so', async () => {
  const d = await lockedDatabase();
  const db = await connect(d.url, 2);
  try {
    const migrating = migrateToLatest(db, { sleep: async () => {} }).then(
      () => undefined,
      (e: unknown) => e,
    );
    for (let i = 0; i < MIGRATION_ATTEMPTS; i++) await d.cutNextWaiter();
    const e = await migrating;
    expect(isAppError(e, 'MIGRATION_FAILED')).toBe(true);
    expect((e as Error).message).toMatch(
      /^the connection to PostgreSQL was lost during migration \(setup\) \([^)]+\), 3 times; nothing of that migration was applied/,
    );
  } finally {
    await d.release();
    await db.destroy();
  }
});

/**
 * A TCP proxy to the test server that, once, forwards the COMMIT of the transaction that inserted into kysely's
 * migration table and then drops the connection instead of passing the server's answer back: the migrations are
 * committed, the client never hears so. With `commit: 'drop'` it drops the connection instead of forwarding that
 * COMMIT (the server rolls the migrations back), runs `meanwhile`, and forwards nothing more until it is done.
 */
async function commitAnswerDroppingProxy(
  url: string,
  commit: 'forward' | 'drop' = 'forward',
  meanwhile: () => Promise<void> = async () => {},
) {
  const target = new URL(url);
  const sockets = new Set<Socket>();
  let cut = 0;
  let held: Promise<void> = Promise.resolve();
  const server = createServer((client) => {
    const upstream = tcpConnect(Number(target.port || 5432), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    let inserted = false;
    let committing = false;
    client.on('data', (d) => {
      const text = d.toString('latin1');
      if (cut === 0 && /insert into "kysely_migration"/i.test(text)) inserted = true;
      // A simple-protocol Query message: 'Q', its length, the text.
      if (inserted && cut === 0 && /Q[\s\S]{4}commit\0/i.test(text)) {
        if (commit === 'drop') {
          cut++;
          client.destroy();
          upstream.destroy();
          held = meanwhile();
          return;
        }
        committing = true;
      }
      held.then(() => upstream.write(d));
    });
    upstream.on('data', (d) => {
      if (committing) {
        committing = false;
        cut++;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(d);
    });
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      a.on('error', () => {});
      a.on('close', () => b.destroy());
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const proxied = new URL(url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String((server.address() as { port: number }).port);
  return {
    url: proxied.toString(),
    cuts: () => cut,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

it('a COMMIT that landed but whose answer was lost: the retry reports the migrations applied by that attempt, not "up to date"', async () => {
  const empty = await createEmptyDatabase();
  const proxy = await commitAnswerDroppingProxy(empty.url);
  const db = await connect(proxy.url, 2);
  drops.push(async () => {
    await db.destroy().catch(() => {});
    await proxy.close();
    await empty.drop();
  });
  const lines: string[] = [];
  const log = pino({ level: 'warn' }, { write: (s: string) => lines.push(JSON.parse(s).msg) });
  const r = await migrateToLatest(db, { log, sleep: async () => {} });
  expect(proxy.cuts()).toBe(1);
  // Every migration, each as committed by the first attempt (what `migrate` prints, one line each).
  const all = Object.keys(MIGRATIONS).sort();
  expect(r).toEqual({ applied: all, committedUnanswered: all, appliedByOthers: [] });
  expect(lines).toContainEqual(
    expect.stringMatching(/its transaction may or may not have committed, trying again \(attempt 2 of 3\)$/),
  );
  expect(lines).toContainEqual(
    `attempt 1 had applied ${all.join(', ')} after all: its COMMIT reached the server, only the answer was lost`,
  );
});

it('an attempt lost before its COMMIT whose migrations another process applied meanwhile does not claim them', async () => {
  const empty = await createEmptyDatabase();
  const other = await connect(empty.url, 2);
  // While the lost attempt's transaction rolls back, another process (a second replica starting) migrates.
  let otherApplied: string[] = [];
  const proxy = await commitAnswerDroppingProxy(empty.url, 'drop', async () => {
    otherApplied = (await migrateToLatest(other)).applied;
  });
  drops.push(async () => {
    await other.destroy().catch(() => {});
    await proxy.close();
    await empty.drop();
  });
  const config = await configFile(stringify({ database: { url: proxy.url } }));
  const r = await runBin(['migrate', '--config', config]);
  expect(r.code, r.stderr).toBe(0);
  expect(proxy.cuts()).toBe(1);
  const all = Object.keys(MIGRATIONS).sort();
  expect(otherApplied).toEqual(all);
  expect(r.stderr).toContain(
    `attempt 1's transaction had rolled back; another process applied ${all.join(', ')} meanwhile`,
  );
  expect(r.stdout).toMatch(/^Another process applied \d+ migrations to .* while this command's connection was lost:\n/);
  expect(r.stdout).toMatch(/The database schema at .* is up to date; no migration left to apply\.\n?$/);
  expect(r.stdout).not.toMatch(/Applied|COMMIT/);
});
