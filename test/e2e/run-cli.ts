/**
 * The CLI run in process as a test's user runs it: a config file, the program's today pinned, the output captured.
 * (Seven end-to-end files each had their own copy of these lines.)
 */
import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { type CommandTable, runCli } from '../../src/cli/program.ts';
import { clockStartingAt, setClock } from '../../src/clock.ts';
import { COMMAND_TABLE_FOR_TESTS } from './command-table.ts';

/** The test table with `migrate` and `config check` built, as the binary runs them (the shared one leaves them out). */
export const TABLE_WITH_ADMIN: CommandTable = {
  ...COMMAND_TABLE_FOR_TESTS,
  migrate: () => import('../../src/cli/commands/migrate.ts'),
  'config check': () => import('../../src/cli/commands/config-check.ts'),
};

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

export interface CliRunOptions {
  /**
   * The program's today while the command runs. In process the clock is read once from QUOTA_TRACKER_NOW, so a
   * test sets each command's day here; without it the clock is left as the test set it.
   */
  now?: string | Date;
  /** DATABASE_URL while the command runs (it overrides the config's `database.url`), restored after. */
  databaseUrl?: string;
  table?: CommandTable;
}

/** Runs `quota-tracker ...args` in this process and returns its exit code and what it printed. */
export async function runCliCaptured(args: string[], o: CliRunOptions = {}): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const saved = process.env.DATABASE_URL;
  if (o.databaseUrl !== undefined) process.env.DATABASE_URL = o.databaseUrl;
  if (o.now !== undefined) setClock(clockStartingAt(o.now));
  try {
    const code = await runCli(args, o.table ?? COMMAND_TABLE_FOR_TESTS, {
      io: { stdout: (x) => out.push(x), stderr: (x) => err.push(x) },
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    if (o.now !== undefined) setClock(undefined);
    if (o.databaseUrl !== undefined) {
      if (saved === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved;
    }
  }
}

/** Writes a config document as YAML to `path` and returns the path. */
export async function writeConfig(path: string, config: Record<string, unknown>): Promise<string> {
  await writeFile(path, stringify(config));
  return path;
}

/** The calendar block of a sandbox org's config: calendar quarters from January, in the org's zone and currency. */
export function orgCalendar(org: { timezone: string; corporateCurrency: string }): Record<string, unknown> {
  return { type: 'calendar', fiscalYearStartMonth: 1, timezone: org.timezone, baseCurrency: org.corporateCurrency };
}
