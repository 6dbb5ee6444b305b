/**
 * Every number `report team --format text` prints is a number of the JSON document: money as in the JSON (with
 * thousands separators), percents as a JSON ratio times 100, counts and days as in the JSON. Run through the real
 * CLI against the golden warehouse, so stdout of `--format json` must also be exactly one JSON document. The same
 * holds for `--format md` and `--format html` (the page's text, without its tags and style).
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goldenWarehouse } from '../fixtures/warehouse/load.ts';
import type { TestDatabase } from '../helpers/db.ts';
import { htmlText, jsonNumbers, textNumbers } from './numbers.ts';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/quota-tracker.js', import.meta.url));
let t: TestDatabase;
let configPath: string;

beforeAll(async () => {
  t = await goldenWarehouse();
  configPath = join(tmpdir(), `qt-report-${process.pid}.yaml`);
  await writeFile(configPath, 'calendar: { timezone: America/New_York }\nforecast: { trials: 2000 }\n');
});
afterAll(() => t.drop());

async function cli(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [bin, '--config', configPath, ...args], {
    env: { ...process.env, DATABASE_URL: t.url },
    maxBuffer: 10_000_000,
  });
  return stdout;
}

describe('report team --format text', () => {
  it('prints only numbers that are in the JSON', async () => {
    const args = ['report', 'team', '--team', 'West Enterprise', '--as-of', '2026-06-12', '--period', 'FY2026-Q2'];
    const json = JSON.parse(await cli(...args, '--format', 'json'));
    const text = await cli(...args);
    expect(json.totals.actual).toBe('722000.00');
    const allowed = jsonNumbers(json);
    const figures = textNumbers(text);
    expect(figures.length).toBeGreaterThan(40);
    const strays = figures.filter((n) => !allowed.has(n));
    expect(strays).toEqual([]);
    expect(text).toContain('722,000.00');
    expect(text).toContain('60.17%');
  }, 120_000);
});

describe('report team --format md|html', () => {
  const args = ['report', 'team', '--team', 'West Enterprise', '--as-of', '2026-06-12', '--period', 'FY2026-Q2'];

  it('prints Markdown tables and an HTML page with only numbers that are in the JSON', async () => {
    const json = JSON.parse(await cli(...args, '--format', 'json'));
    const allowed = jsonNumbers(json);
    const md = await cli(...args, '--format', 'md');
    const html = await cli(...args, '--format', 'html');
    expect(md.split('\n')[0]).toBe('# West Enterprise (team) - FY2026-Q2 as of 2026-06-12, in USD');
    expect(md).toContain('| Actual to date | 722,000.00 (');
    expect(md).toContain('| Attainment | 60.17% |');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<tr><th scope="row">Attainment</th><td class="num">60.17%</td></tr>');
    for (const printed of [md, htmlText(html)]) {
      const figures = textNumbers(printed);
      expect(figures.length).toBeGreaterThan(40);
      expect(figures.filter((n) => !allowed.has(n))).toEqual([]);
    }
  }, 120_000);
});
