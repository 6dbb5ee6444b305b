/**
 * Entry point of the `quota-tracker` bin. The table below says what runs each command: a lazily imported module
 * under `./commands/`, or the issue that will build it. Whoever builds a command replaces its one entry.
 */
import { readFileSync } from 'node:fs';
import { type CommandTable, runCli } from './program.ts';

export const COMMANDS: CommandTable = {
  demo: () => import('./commands/demo.ts'),
  start: () => import('./commands/start.ts'),
  worker: () => import('./commands/worker.ts'),
  sync: () => import('./commands/sync.ts'),
  recompute: () => import('./commands/recompute.ts'),
  report: () => import('./commands/report.ts'),
  'writeback plan': () => import('./commands/writeback.ts').then((m) => m.plan),
  'writeback runs': () => import('./commands/writeback.ts').then((m) => m.runs),
  'writeback revert': () => import('./commands/writeback.ts').then((m) => m.revert),
  sandbox: () => import('./commands/sandbox.ts'),
  'quarantine list': () => import('./commands/quarantine-list.ts'),
  'token create': () => import('./commands/token-create.ts'),
  'token list': () => import('./commands/token-list.ts'),
  'setup hubspot': () => import('./commands/setup.ts'),
  'token revoke': () => import('./commands/token-revoke.ts'),
  migrate: () => import('./commands/migrate.ts'),
  'config check': () => import('./commands/config-check.ts'),
  'config schema': () => import('./commands/config-schema.ts'),
};

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

process.exitCode = await runCli(process.argv.slice(2), COMMANDS, { version: pkg.version });
