/**
 * `quota-tracker demo`: the whole pipeline through the real BullMQ workers on PostgreSQL, against the generated
 * sandbox org. The dashboard's numbers must equal `report team|org --format json` run separately on the demo's
 * database for the same as-of date, and another seed must give other numbers.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { type DemoResult, runDemo } from '../../src/cli/commands/demo.ts';
import { runCli } from '../../src/cli/program.ts';
import type { JsonObject } from '../../src/reports/document.ts';
import { pct } from '../../src/reports/text.ts';
import { silentLogger } from '../../src/util/log.ts';
import { COMMAND_TABLE_FOR_TESTS } from './command-table.ts';

const BASE = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
let first: DemoResult | undefined;

afterAll(async () => {
  await first?.close();
});

async function reportJson(args: string[]): Promise<JsonObject> {
  const out: string[] = [];
  const err: string[] = [];
  const u = new URL(BASE);
  u.pathname = '/quota_tracker_demo';
  const saved = process.env.DATABASE_URL;
  process.env.DATABASE_URL = u.toString();
  try {
    const code = await runCli(['report', ...args, '--format', 'json'], COMMAND_TABLE_FOR_TESTS, {
      io: { stdout: (t) => out.push(t), stderr: (t) => err.push(t) },
    });
    expect(code, err.join('\n')).toBe(0);
  } finally {
    if (saved === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = saved;
  }
  return JSON.parse(out.join('')) as JsonObject;
}

describe('demo', () => {
  it('runs the full pipeline in under a minute and prints a dashboard equal to the JSON reports', async () => {
    const t0 = Date.now();
    first = await runDemo({ seed: 1, log: silentLogger, databaseUrl: BASE, keepOpen: true });
    const seconds = (Date.now() - t0) / 1000;
    console.log(`demo seed 1: ${seconds.toFixed(1)} s; ${JSON.stringify(first.summary)}`);
    expect(seconds).toBeLessThan(60);
    expect(first.summary.snapshots).toBeGreaterThan(0);
    expect(first.summary.written).toBeGreaterThan(0);
    // One team's dashboard: the team of a manager role with the most quota-carrying reps, never an empty one.
    expect([...first.teams.keys()]).toEqual(['DACH SMB']);
    expect(first.text).toContain('\nteam DACH SMB, region EMEA, manager Ruth Romero\n');
    const shownReps = (first.teams.get('DACH SMB')?.reps ?? []) as JsonObject[];
    expect(shownReps.map((r) => r.quota !== null)).toEqual([true, true, true, true]);
    for (const [name, doc] of first.teams) {
      const json = await reportJson(
        name === '(org)' ? ['org', '--as-of', first.asOf] : ['team', '--team', name, '--as-of', first.asOf],
      );
      // The same document, number for number...
      expect(json.totals).toEqual(doc.totals);
      expect(json.reps).toEqual(doc.reps);
      // ...and each rep's figures appear in the printed dashboard.
      for (const rep of (json.reps ?? []) as JsonObject[]) {
        const r = rep as Record<string, unknown>;
        const name = String((r.subject as JsonObject).name);
        const shown = pct(r.attainment as string | null, r.attainmentReason as string | undefined).trim();
        const lines = first.text.split('\n').filter((l) => l.includes(name) && l.includes(shown));
        expect(lines.length, `a dashboard line for ${name} showing ${shown}`).toBeGreaterThan(0);
      }
    }
  }, 120_000);

  it('gives different numbers with another seed', async () => {
    await first?.close();
    const one = first?.text ?? '';
    first = undefined;
    const other = await runDemo({ seed: 2, log: silentLogger, databaseUrl: BASE });
    const body = (t: string) => t.split('\n').slice(1).join('\n');
    expect(body(other.text)).not.toEqual(body(one));
  }, 120_000);
});
