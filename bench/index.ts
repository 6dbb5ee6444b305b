/**
 * `npm run bench`: runs every `bench/*.bench.ts` (or those named on the command line) in this one process and
 * prints what each measured with its ratio to the target. Speed targets are checked here, never in timed unit
 * tests: these machines are shared and noisy, so each benchmark reports medians of several runs.
 *
 * A benchmark module exports `run(): Promise<BenchResult>`. Exit code 1 when any missed its target.
 */
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface BenchResult {
  name: string;
  ok: boolean;
  summary: string;
  metrics: Record<string, number>;
}

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = (await readdir(here))
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort();

if (files.length === 0) {
  console.error(`no benchmark matches ${wanted.join(' ')}`);
  process.exit(2);
}

let failed = 0;
for (const file of files) {
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { run?: () => Promise<BenchResult> };
  if (typeof mod.run !== 'function') {
    console.error(`${file}: exports no run()`);
    failed++;
    continue;
  }
  const started = performance.now();
  const result = await mod.run();
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (!result.ok) failed++;
  console.log(`${result.ok ? 'PASS' : 'MISS'} ${result.name} (${basename(file)}, ${seconds} s)`);
  console.log(`     ${result.summary}`);
  for (const [k, v] of Object.entries(result.metrics))
    console.log(`     ${k}: ${Number.isInteger(v) ? v : v.toFixed(3)}`);
}
console.log(`${files.length - failed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
