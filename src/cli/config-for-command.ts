/**
 * What most commands do first: load the configuration named by `--config` (or the defaults), with `--verbose`
 * as a flag that outranks the file's log level, and make a logger at that level on stderr.
 */
import { type LoadedConfig, loadConfig } from '../config/load.ts';
import { createLogger, type Logger } from '../util/log.ts';
import type { CommandContext } from './program.ts';

export interface LoadForCommandOptions {
  /**
   * A one-shot command (sync, report, writeback, ...) prints its own outcome on stdout, so info logs would only
   * repeat it on stderr as JSON: its logs start at `warn` unless the file, LOG_LEVEL or `--verbose` ask for more.
   * The services (`start`, `worker`) keep the schema's `info`.
   */
  readonly quiet?: boolean;
}

export async function loadForCommand(
  ctx: CommandContext,
  options: LoadForCommandOptions = {},
): Promise<{ loaded: LoadedConfig; logger: Logger }> {
  const env =
    options.quiet === true && !process.env.LOG_LEVEL?.trim() ? { ...process.env, LOG_LEVEL: 'warn' } : process.env;
  const loaded = await loadConfig({
    path: ctx.globals.config,
    flags: ctx.globals.verbose ? { logLevel: 'debug' } : {},
    env,
  });
  const envUsed = env === process.env ? loaded.envUsed : loaded.envUsed.filter((n) => n !== 'LOG_LEVEL');
  return { loaded: { ...loaded, envUsed }, logger: createLogger({ level: loaded.config.logLevel }) };
}
