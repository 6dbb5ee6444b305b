import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMAND_NAMES, type CommandTable, notBuilt, runCli } from '../../src/cli/program.ts';
import { AppError } from '../../src/errors.ts';
import { runBin } from './helpers.ts';

/** The commands main.ts still marks as not built, read from its table (others replace entries as they build). */
async function notBuiltEntries(): Promise<Array<[string, string]>> {
  const source = await readFile(resolve(import.meta.dirname, '../../src/cli/main.ts'), 'utf8');
  return [...source.matchAll(/^\s*'?([a-z][a-z ]*)'?: notBuilt\('([^']+)'\)/gm)].map((m) => [
    m[1] as string,
    m[2] as string,
  ]);
}

describe('quota-tracker --help', () => {
  it('lists every command of the interface file', { timeout: 60_000 }, async () => {
    const r = await runBin(['--help']);
    expect(r.code).toBe(0);
    for (const name of COMMAND_NAMES) expect(r.stdout).toMatch(new RegExp(`^  ${name}( |$)`, 'm'));
    expect(r.stdout).toContain(
      'report <rep|team|region|org|leaderboard|trends|alerts|forecast> [--rep <email|name>] [--team <name>] [--region <name>] [--period <id>] [--as-of <date>] [--by <region|team|segment|product-line>] [--periods <n>] [--metric <attainment|projected-attainment|actual|pipeline-coverage|activity-score|activities>] [--format <text|md|json|csv|html>] [--explain] [--backtest]',
    );
    expect(r.stdout).toContain(
      'sync [--connection <id>] [--stream <name>] [--full] [--no-writeback] [--as-of <date>] [--deliver]',
    );
    expect(r.stdout).toContain('token create --role <admin|manager|rep> [--subject <email>]');
    expect(r.stdout).toContain('writeback revert --run <id>');
    expect(r.stdout).toContain('demo [--seed <n>]');
  });
});

describe('commands not built yet', () => {
  it('each says so in one sentence and exits 1', { timeout: 120_000 }, async () => {
    const entries = await notBuiltEntries();
    // Required arguments, so that the command gets past usage checks to its (missing) implementation.
    const required: Record<string, string[]> = { report: ['rep'], 'writeback revert': ['--run', '7'] };
    const results = await Promise.all(entries.map(([name]) => runBin([...name.split(' '), ...(required[name] ?? [])])));
    entries.forEach(([name, where], i) => {
      expect(results[i]?.code, name).toBe(1);
      expect(results[i]?.stderr).toBe(`quota-tracker ${name} is not built yet; see ${where}.\n`);
      expect(results[i]?.stdout).toBe('');
    });
  });

  it('runs the table entry in-process: a module for built commands, the sentence for the rest', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t) };
    const seen: unknown[] = [];
    const table = Object.fromEntries(COMMAND_NAMES.map((n) => [n, notBuilt('issue 99')])) as Record<string, unknown>;
    table.sync = async () => ({
      run: async (ctx: { args: readonly string[]; options: Record<string, unknown> }) => {
        seen.push(ctx.options);
        return 0;
      },
    });
    table.recompute = async () => ({
      run: async () => {
        throw new AppError('NOT_FOUND', 'no period FY2030-Q1 in the warehouse', { where: 'FY2030-Q1' });
      },
    });
    const t = table as unknown as CommandTable;
    expect(await runCli(['sync', '--as-of', '2026-11-25', '--no-writeback'], t, { io })).toBe(0);
    expect(seen).toEqual([{ asOf: '2026-11-25', writeback: false }]);
    expect(await runCli(['demo'], t, { io })).toBe(1);
    expect(err.at(-1)).toBe('quota-tracker demo is not built yet; see issue 99.');
    expect(await runCli(['recompute'], t, { io })).toBe(1);
    expect(err.at(-1)).toBe('no period FY2030-Q1 in the warehouse (at FY2030-Q1)');
  });
});

describe('bad usage exits 2', () => {
  it.each([
    [['report', 'bogus'], "command-argument value 'bogus' is invalid for argument 'kind'"],
    [
      ['sync', '--as-of', '2026-02-30'],
      "option '--as-of <date>' argument '2026-02-30' is invalid. \"2026-02-30\" is not a day of the calendar",
    ],
    [['report', 'org', '--as-of', 'yesterday'], 'expected a date as YYYY-MM-DD, got "yesterday"'],
    [
      ['report', 'org', '--period', 'FY2026-Q9'],
      "option '--period <id>' argument 'FY2026-Q9' is invalid. \"FY2026-Q9\" is not a period id",
    ],
    [['recompute', '--from', 'Q3'], "option '--from <period>' argument 'Q3' is invalid. \"Q3\" is not a period id"],
    [['report', 'rep', '--format', 'pdf'], "argument 'pdf' is invalid"],
    [['report', 'rep', '--format', 'json'], "report rep needs the rep's email or name (at --rep)"],
    [['report', 'org', '--by', 'region'], '--by goes with report trends only (at --by)'],
    [['report', 'trends', '--by', 'country'], "argument 'country' is invalid"],
    [['report', 'trends', '--periods', '0'], '--periods must be a whole number from 1 to 20, got "0" (at --periods)'],
    [
      ['report', 'leaderboard', '--metric', 'bogus'],
      "argument 'bogus' is invalid. Allowed choices are attainment, projected-attainment, actual, pipeline-coverage, activity-score, activities.",
    ],
    [['report', 'org', '--metric', 'actual'], '--metric goes with report leaderboard only (at --metric)'],
    [['token', 'create'], "required option '--role <role>' not specified"],
    [['frobnicate'], "unknown command 'frobnicate'"],
    [['token'], 'Usage: quota-tracker token'],
    [[], 'Usage: quota-tracker'],
  ])('%j', async (args, message) => {
    const out: string[] = [];
    const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => out.push(t) };
    const table = Object.fromEntries(COMMAND_NAMES.map((n) => [n, notBuilt('issue 99')])) as unknown as CommandTable;
    expect(await runCli(args, table, { io })).toBe(2);
    expect(out.join('')).toContain(message);
  });
});
