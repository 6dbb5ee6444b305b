/**
 * What most commands do first: load the configuration named by `--config` (or the defaults), with `--verbose`
 * as a flag that outranks the file's log level, and make a logger at that level on stderr.
 */
import { type LoadedConfig, loadConfig } from '../config/load.ts';
import { createLogger, type Logger } from '../util/log.ts';
import type { CommandContext } from './program.ts';

export async function loadForCommand(ctx: CommandContext): Promise<{ loaded: LoadedConfig; logger: Logger }> {
  const loaded = await loadConfig({
    path: ctx.globals.config,
    flags: ctx.globals.verbose ? { logLevel: 'debug' } : {},
  });
  return { loaded, logger: createLogger({ level: loaded.config.logLevel }) };
}
