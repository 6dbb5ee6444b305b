#!/usr/bin/env node
// Runs the TypeScript sources through tsx so that `npm install && npx quota-tracker` works without a build step;
// a built copy in dist/ (npm run build) is preferred when present and newer, as in the Docker image.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// npx and `npm run` start this bin under `sh -c`, and npm passes a SIGTERM or SIGINT it receives to that shell
// only: the shell dies and this process would run on under PID 1, still listening. Under npm, a parent that goes
// away is therefore taken as the stop signal, so the command winds down as it does on SIGTERM. Run any other way
// (a supervisor, `nohup`), a lost parent stops nothing.
if (process.env.npm_lifecycle_event !== undefined && process.ppid !== 1) {
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    // Once is enough: the command's own SIGTERM handling (and its stop deadline) takes over.
    clearInterval(watch);
    process.kill(process.pid, 'SIGTERM');
  }, 250);
  watch.unref();
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'cli', 'main.js');
if (process.env.QUOTA_TRACKER_USE_DIST === '1' && existsSync(built)) {
  await import(built);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(join(root, 'src', 'cli', 'main.ts'));
}
