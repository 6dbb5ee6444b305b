/**
 * `quota-tracker demo`: the whole pipeline through the real BullMQ workers on PostgreSQL, against the generated
 * sandbox org. The dashboard's numbers must equal `report team|org --format json` run separately on the demo's
 * database for the same as-of date, and another seed must give other numbers.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type DemoResult, runDemo, runDemoCommand } from '../../src/cli/commands/demo.ts';
import { runCli } from '../../src/cli/program.ts';
import type { JsonObject } from '../../src/metrics/document.ts';
import { pct } from '../../src/reports/text.ts';
import { silentLogger } from '../../src/util/log.ts';
import { COMMAND_TABLE_FOR_TESTS } from './command-table.ts';

const BASE = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
// A database of this run's own, so two suites on one server (CI and a developer's) never drop each other's.
const DATABASE = `qt_demo_${randomBytes(5).toString('hex')}`;
let first: DemoResult | undefined;

afterAll(async () => {
  await first?.close();
  const admin = new pg.Client({ connectionString: BASE });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  await admin.end();
});

async function reportJson(args: string[]): Promise<JsonObject> {
  const out: string[] = [];
  const err: string[] = [];
  const u = new URL(BASE);
  u.pathname = `/${DATABASE}`;
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
  // The org is generated around the program's today, so which team is busiest changes with the date: these
  // assertions hold on any day (the demo's time is a benchmark, `npm run bench -- demo`).
  it('runs the full pipeline and prints the dashboard of the team with the most quota-carrying reps, equal to the JSON reports', async () => {
    first = await runDemo({ seed: 1, log: silentLogger, databaseUrl: BASE, database: DATABASE, keepOpen: true });
    console.log(`demo seed 1: ${JSON.stringify(first.summary)}`);
    expect(first.summary.snapshots).toBeGreaterThan(0);
    expect(first.summary.written).toBeGreaterThan(0);
    expect(first.text).toContain(`as of ${first.asOf}`);
    // Every team of the org, counted through the command line: the one shown has the most reps with a quota
    // (ties by name), never an empty one.
    const org = await reportJson(['org', '--as-of', first.asOf]);
    const names = ((org.teams ?? []) as JsonObject[]).map((t) => String((t.subject as JsonObject).name)).sort();
    expect(names.length).toBeGreaterThan(1);
    const carrying = new Map<string, number>();
    for (const name of names) {
      const team = await reportJson(['team', '--team', name, '--as-of', first.asOf]);
      carrying.set(name, ((team.reps ?? []) as JsonObject[]).filter((r) => Number(r.quota ?? 0) > 0).length);
    }
    const most = Math.max(...carrying.values());
    expect(most).toBeGreaterThan(0);
    const busiest = names.find((n) => carrying.get(n) === most) as string;
    expect([...first.teams.keys()]).toEqual([busiest]);
    const shown = first.teams.get(busiest) as JsonObject;
    const subject = shown.subject as JsonObject;
    expect(subject.team).toBe(busiest);
    const heading = [
      `team ${busiest}`,
      subject.region && `region ${subject.region}`,
      subject.manager && `manager ${subject.manager}`,
    ]
      .filter(Boolean)
      .join(', ');
    expect(first.text, 'the team heading names its region and manager').toContain(`\n${heading}\n`);
    expect(first.text).toContain(`showing ${busiest}, the one with the most quota-carrying reps (${most})`);
    for (const [name, doc] of first.teams) {
      const json = await reportJson(['team', '--team', name, '--as-of', first.asOf]);
      // The same document, number for number...
      expect(json.totals).toEqual(doc.totals);
      expect(json.reps).toEqual(doc.reps);
      // ...and each rep's figures appear in the printed dashboard.
      for (const rep of (json.reps ?? []) as JsonObject[]) {
        const r = rep as Record<string, unknown>;
        const repName = String((r.subject as JsonObject).name);
        const figure = pct(r.attainment as string | null, r.attainmentReason as string | undefined).trim();
        const lines = first.text.split('\n').filter((l) => l.includes(repName) && l.includes(figure));
        expect(lines.length, `a dashboard line for ${repName} showing ${figure}`).toBeGreaterThan(0);
      }
    }
  }, 180_000);

  it('gives different numbers with another seed', async () => {
    await first?.close();
    const one = first?.text ?? '';
    first = undefined;
    const other = await runDemo({ seed: 2, log: silentLogger, databaseUrl: BASE, database: DATABASE });
    const body = (t: string) => t.split('\n').slice(1).join('\n');
    expect(body(other.text)).not.toEqual(body(one));
  }, 120_000);
  it('with --serve, prints the dashboard URL and a token for it and serves the pages until stopped', async () => {
    const out: string[] = [];
    let stop = () => {};
    const stopped = new Promise<void>((r) => {
      stop = r;
    });
    const saved = process.env.DATABASE_URL;
    process.env.DATABASE_URL = BASE;
    const running = runCli(
      ['demo', '--serve', '--port', '0'],
      {
        ...COMMAND_TABLE_FOR_TESTS,
        demo: async () => ({ run: (ctx) => runDemoCommand(ctx, stopped, { database: DATABASE }) }),
      },
      { io: { stdout: (t) => out.push(t), stderr: () => {} } },
    );
    try {
      let line: string | undefined;
      for (let i = 0; i < 600 && !line; i++) {
        line = out.join('\n').match(/^Dashboard: (http:\/\/\S+)\//m)?.[1];
        if (!line) await new Promise((r) => setTimeout(r, 200));
      }
      const token = out.join('\n').match(/admin token: (qt_\S+)/)?.[1];
      expect(line, out.join('\n')).toBeDefined();
      expect(token).toBeDefined();
      const page = await fetch(`${line}/`, { headers: { authorization: `Bearer ${token}` } });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('Attainment distribution');
      // A browser without a session is sent to sign in first.
      const anon = await fetch(`${line}/`, { headers: { accept: 'text/html' }, redirect: 'manual' });
      expect(anon.status).toBe(303);
      expect(anon.headers.get('location')).toBe('/login?next=%2F');
    } finally {
      stop();
      if (saved === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved;
    }
    expect(await running).toBe(0);
  }, 240_000);
});
