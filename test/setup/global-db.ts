/**
 * vitest globalSetup: the PostgreSQL server the test files create their databases on. With DATABASE_URL (CI sets
 * `postgres://postgres@127.0.0.1:5432/test`) that server; otherwise an embedded server started once for the whole
 * run, with its data in a temporary folder and durability turned off (a crash only loses throw-away data), stopped
 * and deleted at the end.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedServer } from '../../src/db/embedded.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A URL on the test server whose user may CREATE DATABASE. */
    testDbServerUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env.DATABASE_URL;
  if (given !== undefined && given.trim() !== '') {
    project.provide('testDbServerUrl', given);
    return async () => {};
  }
  const dir = await mkdtemp(join(tmpdir(), 'qt-test-pg-'));
  // The server runs as the `postgres` user when tests run as root: it must be able to reach its data dir.
  await chmod(dir, 0o755);
  const server = await startEmbeddedServer({
    dataDir: join(dir, 'pg'),
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '200' },
  });
  project.provide('testDbServerUrl', server.adminUrl);
  return async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
