/**
 * The `quota-tracker` command line: every command and option of the interface file, parsed by commander, each
 * command's code loaded only when it runs (so `--help` and `config check` start fast and never touch the
 * database or the CRM clients).
 *
 * Exit codes: 0 success, 1 failure, 2 bad usage or bad config. Errors go to stderr as one sentence (an AppError's
 * `toUserString()`), with the stack only under `--verbose`.
 */

import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { clockFromEnv } from '../clock.ts';
import { PERIOD_ID_EXPECTED, PERIOD_ID_RE } from '../config/period-id.ts';
import { AppError, isAppError } from '../errors.ts';
import { LEADERBOARD_METRICS } from '../reports/leaderboard-options.ts';
import { parseTrendPeriods } from '../reports/trend-options.ts';
import { isPlainDate } from '../util/date.ts';

/** What a command module gets: its arguments, options, the global options, and where to write. */
export interface CommandContext {
  /** Positional arguments, in order. */
  readonly args: readonly string[];
  /** The command's own options, camel-cased (`--as-of` is `asOf`). */
  readonly options: Readonly<Record<string, unknown>>;
  readonly globals: { readonly config?: string; readonly verbose: boolean };
  readonly io: CliIo;
}

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** A command module (`src/cli/commands/<name>.ts`): returns the exit code. */
export interface CommandModule {
  run(ctx: CommandContext): Promise<number>;
}

/** Either the module that runs a command or the issue that will build it. */
export type CommandImplementation = { readonly notBuilt: string } | (() => Promise<CommandModule>);

export const COMMAND_NAMES = [
  'demo',
  'start',
  'worker',
  'sync',
  'recompute',
  'report',
  'writeback plan',
  'writeback runs',
  'writeback revert',
  'sandbox',
  'quarantine list',
  'token create',
  'token list',
  'token revoke',
  'migrate',
  'setup hubspot',
  'config check',
  'config schema',
] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];
export type CommandTable = Readonly<Record<CommandName, CommandImplementation>>;

/** Marks a command as not built yet; it says so and exits 1. */
export function notBuilt(where: string): CommandImplementation {
  return { notBuilt: where };
}

const defaultIo: CliIo = {
  stdout: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  stderr: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};

function dateArg(value: string): string {
  if (isPlainDate(value)) return value;
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) throw new InvalidArgumentError(`"${value}" is not a day of the calendar`);
  throw new InvalidArgumentError(`expected a date as YYYY-MM-DD, got "${value}"`);
}

// Checked here so that a mistyped id is bad usage naming its option before any database is opened.
function periodArg(value: string): string {
  if (PERIOD_ID_RE.test(value)) return value;
  throw new InvalidArgumentError(`"${value}" is not a period id; ${PERIOD_ID_EXPECTED}`);
}

function intArg(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected a whole number, got "${value}"`);
  return Number(value);
}

/** `report <rep|team|...> [--rep <email>] ...`: arguments with their choices, then every option. */
function synopsis(cmd: Command): string {
  const args = cmd.registeredArguments.map((a) => {
    const name = a.argChoices ? a.argChoices.join('|') : a.name();
    return a.required ? `<${name}>` : `[${name}]`;
  });
  const opts = cmd.options.map((o) => {
    const flags = o.argChoices ? o.flags.replace(/<[^>]+>/, `<${o.argChoices.join('|')}>`) : o.flags;
    return o.mandatory ? flags : `[${flags}]`;
  });
  return [...args, ...opts].join(' ');
}

/** Builds the program; `onRun` receives the chosen command and its context. */
function buildProgram(
  version: string,
  io: CliIo,
  onRun: (name: CommandName, ctx: CommandContext) => Promise<void>,
): Command {
  const program = new Command('quota-tracker')
    .description('Quota attainment for Salesforce and HubSpot: sync, metrics, write-back, alerts and reports.')
    .version(version, '-V, --version')
    .option('--config <path>', 'configuration file (default: $QUOTA_TRACKER_CONFIG or ./quota-tracker.yaml)')
    .option('--verbose', 'debug logs and stack traces on errors')
    .showSuggestionAfterError(true)
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) })
    .exitOverride();

  const bind = (cmd: Command, name: CommandName) => {
    cmd.exitOverride().action(async (...received: unknown[]) => {
      const self = received.at(-1) as Command;
      const globals = self.optsWithGlobals() as { config?: string; verbose?: boolean };
      await onRun(name, {
        args: self.processedArgs.filter((a): a is string => typeof a === 'string'),
        options: self.opts(),
        globals: { config: globals.config, verbose: globals.verbose === true },
        io,
      });
    });
    return cmd;
  };

  bind(
    program
      .command('demo')
      .description(
        'start the sandbox CRMs and the embedded database, run one full pipeline and print the team dashboard',
      )
      .option('--seed <n>', 'seed of the generated sandbox org (another seed, another org)', intArg)
      .option(
        '--crm <crm>',
        'salesforce (default), or both: one org split across the Salesforce and HubSpot sandboxes, each figure saying which CRM it came from',
      )
      .option('--profile <name>', 'a sandbox org profile (see `sandbox --profile`)')
      .option('--serve', 'keep serving the dashboard until Ctrl-C even when stdout is not a terminal')
      .option('--port <n>', 'port of the dashboard (default 8787; 0 for any free one)', intArg),
    'demo',
  );
  bind(
    program
      .command('start')
      .description('everything in one process: database, migrations, schedulers, workers, web server'),
    'start',
  );
  bind(program.command('worker').description('workers only, for scaling out; never migrates'), 'worker');
  bind(
    program
      .command('sync')
      .description('run the pipeline once now, without the scheduler')
      .option('--connection <id>', 'only this connection')
      .option(
        '--stream <name>',
        'only this stream, as sync prints it (opportunities, hs-main/goal_targets), or a name for the same data in either CRM (users, deals, deal_history, line_items, activities, quotas, fx_rates, leads)',
      )
      .option('--full', 'read everything again instead of incrementally')
      .option('--no-writeback', 'compute but do not write to the CRMs')
      .option('--as-of <date>', 'compute metrics, write-back values and alerts as of this date (YYYY-MM-DD)', dateArg)
      .option('--deliver', 'with a past --as-of, also write the results to the CRMs'),
    'sync',
  );
  bind(
    program
      .command('recompute')
      .description('recompute metrics and snapshots')
      .option('--from <period>', 'first period to recompute, like FY2026-Q1', periodArg),
    'recompute',
  );
  bind(
    program
      .command('report')
      .description('print a report')
      .addArgument(
        new Argument('<kind>', 'what to report').choices([
          'rep',
          'team',
          'region',
          'org',
          'leaderboard',
          'trends',
          'alerts',
          'forecast',
        ]),
      )
      .option('--rep <email|name>', 'the rep, by email or by name (case-insensitive)')
      .option('--team <name>', 'the team')
      .option('--region <name>', 'the region')
      .option('--period <id>', 'fiscal period, like FY2026-Q4 (default: the current quarter)', periodArg)
      .option('--as-of <date>', 'as-of date, YYYY-MM-DD (default: today in the configured time zone)', dateArg)
      .addOption(
        new Option('--by <scope>', 'with trends: the scopes side by side').choices([
          'region',
          'team',
          'segment',
          'product-line',
        ]),
      )
      .option('--periods <n>', 'with trends: how many periods, ending with --period (default 4)')
      .addOption(
        new Option('--metric <metric>', 'with leaderboard: what the reps are ranked by (default attainment)').choices(
          LEADERBOARD_METRICS,
        ),
      )
      .addOption(
        new Option('--format <format>', 'output format').choices(['text', 'md', 'json', 'csv', 'html']).default('text'),
      )
      .option('--explain', 'show the working behind each figure')
      .option('--backtest', 'with forecast: backtest the forecast over the history (and store it for the forecasts)')
      .hook('preAction', (cmd) => {
        // Said before any config or database is opened; the team and region reports name their choices instead,
        // which needs the warehouse.
        const rep = cmd.opts().rep as string | undefined;
        if (cmd.processedArgs[0] === 'rep' && (rep === undefined || rep.trim() === '')) {
          throw new AppError('USAGE', "report rep needs the rep's email or name", { where: '--rep' });
        }
        for (const flag of ['by', 'periods'] as const)
          if (cmd.opts()[flag] !== undefined && cmd.processedArgs[0] !== 'trends')
            throw new AppError('USAGE', `--${flag} goes with report trends only`, { where: `--${flag}` });
        if (cmd.opts().metric !== undefined && cmd.processedArgs[0] !== 'leaderboard')
          throw new AppError('USAGE', '--metric goes with report leaderboard only', { where: '--metric' });
        parseTrendPeriods(cmd.opts().periods as string | undefined, '--periods');
      }),
    'report',
  );

  const writeback = program.command('writeback').description('plan or revert CRM write-back');
  bind(
    writeback
      .command('plan')
      .description('show what would be written (values before and after, for whom) without writing')
      .option('--connection <id>', 'only this connection')
      .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text')),
    'writeback plan',
  );
  bind(
    writeback
      .command('runs')
      .description('list past write-back runs, newest first (the ids revert --run takes)')
      .option('--connection <id>', 'only this connection')
      .option('--limit <n>', 'at most this many runs (default 20)', intArg)
      .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text')),
    'writeback runs',
  );
  bind(
    writeback
      .command('revert')
      .description('restore the values a write-back run replaced')
      .requiredOption('--run <id>', 'the write-back run to revert'),
    'writeback revert',
  );

  bind(
    program
      .command('sandbox')
      .description('run the sandbox CRM servers alone and print the config block that points at them')
      .option('--port <n>', 'first port to listen on', intArg)
      .option('--seed <n>', 'seed of the generated org', intArg)
      .addOption(
        new Option(
          '--size <size>',
          'size of the generated org (large, 5,000 reps and 1,000,000 opportunities, is Salesforce only)',
        )
          .choices(['small', 'medium', 'large'])
          .default('small'),
      )
      .addOption(
        new Option('--crm <crm>', 'which CRM to serve: one org in Salesforce, in HubSpot, or split across both')
          .choices(['salesforce', 'hubspot', 'both'])
          .default('salesforce'),
      )
      .option(
        '--profile <name>',
        'an org that differs the way real orgs do; Salesforce: single-currency, dated-rates, parent-role, shared-role, manager-only, no-forecasting, restricted, rotating-refresh (refresh tokens rotate; needs QUOTA_TRACKER_SECRET_KEY); HubSpot: starter, professional, enterprise, no-custom-objects',
      ),
    'sandbox',
  );

  const quarantine = program.command('quarantine').description('records a sync kept out of the warehouse');
  bind(
    quarantine
      .command('list')
      .description('list quarantined records with their connection, stream, record id, reason and when seen')
      .option('--connection <id>', 'only this connection')
      .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text')),
    'quarantine list',
  );

  const token = program.command('token').description('API tokens for the web API and dashboard');
  bind(
    token
      .command('create')
      .description('create an API token and print it once')
      .addOption(
        new Option('--role <role>', 'what the token may see')
          .choices(['admin', 'manager', 'rep'])
          .makeOptionMandatory(),
      )
      .option('--subject <email>', 'the manager or rep the token acts as'),
    'token create',
  );
  bind(
    token
      .command('list')
      .description('list API tokens (id, role, subject, created, last used, revoked), never their secrets')
      .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text')),
    'token list',
  );
  bind(token.command('revoke').description('revoke an API token').argument('<id>', 'token id'), 'token revoke');

  bind(program.command('migrate').description('apply database migrations'), 'migrate');

  const setup = program.command('setup').description('make what write-back needs in a CRM account');
  bind(
    setup
      .command('hubspot')
      .description('create the Quota scorecard custom object, its properties and the alert task property (idempotent)')
      .option('--connection <id>', 'only this HubSpot connection'),
    'setup hubspot',
  );

  const config = program.command('config').description('validate the configuration or print its JSON Schema');
  bind(
    config
      .command('check')
      .description('validate the configuration file')
      .option('--online', 'also log in to each CRM and check the org id, permissions, field access and features')
      .addOption(
        new Option(
          '--format <format>',
          'json: print the derived teams and regions as one JSON document (with --online)',
        )
          .choices(['text', 'json'])
          .default('text'),
      ),
    'config check',
  );
  bind(config.command('schema').description('print the JSON Schema of the configuration file'), 'config schema');

  for (const group of [writeback, quarantine, token, setup, config]) group.exitOverride();

  // The command list above shows groups (`token`) only; spell out every full command with its usage as well.
  const full: string[] = [];
  for (const cmd of program.commands) {
    const subs = cmd.commands.filter((c) => c.name() !== 'help');
    if (subs.length === 0) full.push(`  ${cmd.name()} ${synopsis(cmd)}`);
    for (const sub of subs) full.push(`  ${cmd.name()} ${sub.name()} ${synopsis(sub)}`);
  }
  program.addHelpText(
    'after',
    `\nEvery command (quota-tracker <command> --help for its options):\n${full.map((l) => l.trimEnd()).join('\n')}\n\nExit codes: 0 success, 1 failure, 2 bad usage or bad configuration.`,
  );
  return program;
}

/** The options that name a rep, team or region by what the user typed. */
const SUBJECT_OPTIONS = new Set(['--rep', '--team', '--region']);

/**
 * Runs the command line and returns the exit code; never calls process.exit, so tests can run it in-process.
 */
export async function runCli(
  argv: readonly string[],
  table: CommandTable,
  options: { version?: string; io?: CliIo } = {},
): Promise<number> {
  const io = options.io ?? defaultIo;
  const verbose = argv.includes('--verbose');
  let exitCode = 0;
  const program = buildProgram(options.version ?? '0.0.0', io, async (name, ctx) => {
    const impl = table[name];
    if ('notBuilt' in impl) {
      io.stderr(`quota-tracker ${name} is not built yet; see ${impl.notBuilt}.`);
      exitCode = 1;
      return;
    }
    // A QUOTA_TRACKER_NOW that is not a date stops every command before it acts on some other day.
    clockFromEnv();
    const mod = await impl();
    exitCode = await mod.run(ctx);
  });

  if (argv.length === 0) {
    io.stderr(program.helpInformation());
    return 2;
  }

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0. Everything else is bad usage that commander has already explained on stderr,
      // including a group without a subcommand (`quota-tracker token`), which shows the group's help.
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      return 2;
    }
    if (isAppError(e)) {
      io.stderr(e.toUserString());
      if (verbose && e.stack) io.stderr(e.stack);
      // A rep, team or region named by an option that matches nobody is a typo on the command line: bad usage
      // (the web API answers the same NOT_FOUND with a 404).
      return e.code === 'NOT_FOUND' && SUBJECT_OPTIONS.has(e.where ?? '') ? 2 : e.exitCode;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    io.stderr(`quota-tracker failed: ${err.message}`);
    if (verbose && err.stack) io.stderr(err.stack);
    return 1;
  }
}
