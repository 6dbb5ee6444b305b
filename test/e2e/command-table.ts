/** The CLI's command table for in-process runs (main.ts itself runs the CLI when imported). */
import { type CommandTable, notBuilt } from '../../src/cli/program.ts';

export const COMMAND_TABLE_FOR_TESTS: CommandTable = {
  demo: () => import('../../src/cli/commands/demo.ts'),
  start: () => import('../../src/cli/commands/start.ts'),
  worker: () => import('../../src/cli/commands/worker.ts'),
  sync: () => import('../../src/cli/commands/sync.ts'),
  recompute: () => import('../../src/cli/commands/recompute.ts'),
  report: () => import('../../src/cli/commands/report.ts'),
  'writeback plan': () => import('../../src/cli/commands/writeback.ts').then((m) => m.plan),
  'writeback runs': () => import('../../src/cli/commands/writeback.ts').then((m) => m.runs),
  'writeback revert': () => import('../../src/cli/commands/writeback.ts').then((m) => m.revert),
  sandbox: notBuilt('not used here'),
  'quarantine list': () => import('../../src/cli/commands/quarantine-list.ts'),
  'token create': () => import('../../src/cli/commands/token-create.ts'),
  'token list': () => import('../../src/cli/commands/token-list.ts'),
  'setup hubspot': () => import('../../src/cli/commands/setup.ts'),
  'token revoke': notBuilt('not used here'),
  migrate: notBuilt('not used here'),
  'config check': notBuilt('not used here'),
  'config schema': notBuilt('not used here'),
};
