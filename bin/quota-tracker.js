#!/usr/bin/env node
// Runs the TypeScript sources through tsx so that `npm install && npx quota-tracker` works without a build step;
// a built copy in dist/ (npm run build) is preferred when present and newer, as in the Docker image.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'cli', 'main.js');
if (process.env.QUOTA_TRACKER_USE_DIST === '1' && existsSync(built)) {
  await import(built);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(join(root, 'src', 'cli', 'main.ts'));
}
