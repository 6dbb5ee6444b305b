/**
 * `npm run bench`: runs every `bench/*.bench.ts` (or those named on the command line) in this one process and
 * prints what each measured with its ratio to the target. Speed targets are checked here, never in timed unit
 * tests: these machines are shared and noisy, so each benchmark reports medians of several runs.
 *
 * A benchmark module exports `run(): Promise<BenchResult>`. Exit code 1 when any missed its target; one that
 * reports rows (`{ value, unit, goal, met }`, e.g. scale) fails only when a stage did not complete, and a missed
 * goal is a row with `met: false`.
 */
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** One measured figure beside its goal (`>= 0.25`, `< 512`); `met` is computed from the two. */
export interface BenchRow {
  value: number;
  unit: string;
  goal: string;
  met: boolean;
  /** The least the figure could be (e.g. API calls at one call per page), shown beside it. */
  minimum?: number;
}

export interface BenchResult {
  name: string;
  /** False when the benchmark missed its target or (for those with rows) a stage did not complete. */
  ok: boolean;
  summary: string;
  metrics: Record<string, number>;
  rows?: Record<string, BenchRow>;
  figures?: Record<string, unknown>;
}

const here = dirname(fileURLToPath(import.meta.url));
// `--json`: one JSON object on stdout, { <bench>: { ok, rows, figures, summary } }, instead of the text lines.
// `--size S` sets QT_BENCH_SIZE for the benchmarks that read it.
const args = process.argv.slice(2);
const json = args.includes('--json');
const sizeAt = args.indexOf('--size');
if (sizeAt >= 0 && args[sizeAt + 1]) process.env.QT_BENCH_SIZE = args[sizeAt + 1];
const wanted = args.filter((a, i) => !a.startsWith('--') && !(sizeAt >= 0 && i === sizeAt + 1));
const files = (await readdir(here))
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort();

if (files.length === 0) {
  console.error(`no benchmark matches ${wanted.join(' ')}`);
  process.exit(2);
}

let failed = 0;
const asJson: Record<string, unknown> = {};
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
  if (json) {
    asJson[basename(file, '.bench.ts')] = {
      ok: result.ok,
      seconds: Number(seconds),
      rows: result.rows ?? {},
      ...(result.figures ? { figures: result.figures } : {}),
      summary: result.summary,
    };
    continue;
  }
  console.log(`${result.ok ? 'PASS' : 'MISS'} ${result.name} (${basename(file)}, ${seconds} s)`);
  console.log(`     ${result.summary}`);
  for (const [k, v] of Object.entries(result.metrics))
    console.log(`     ${k}: ${Number.isInteger(v) ? v : v.toFixed(3)}`);
}
if (json) console.log(JSON.stringify(asJson, null, 2));
else console.log(`${files.length - failed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
