/**
 * No code in src/ reads the current time except through the program's clock (src/clock.ts), or on a line that says
 * why it needs the wall clock (`wall-clock:`): a hidden read of the date is a test that passes on the day it was
 * written and fails on another.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { timeReads } from './time-reads.ts';

const ROOT = join(import.meta.dirname, '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.(ts|tsx|sql)$/.test(e.name) ? [p] : [];
  });
}

describe('reads of the current time', () => {
  it('finds each kind of read in code and SQL, and lets marked lines and comments pass', () => {
    const src = [
      'const a = Date.now();',
      'const b = new Date();',
      'const c = new Date(x);',
      'const d = performance.timeOrigin + performance.now();',
      'const e = String(Date());',
      '// Date.now() in a comment',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: source text to scan, not a template
      'const f = sql`select now() as t, ${q} where d = current_date`;',
      'const g = sql`update t set x = 1, -- wall-clock: an audit stamp',
      '  at = now()`;',
      'const h = Date.now(); // wall-clock: a timeout',
      'const i = store.now() + clock().now();',
      "const j = 'CURRENT_TIMESTAMP';",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: source text to scan, not a template
      'const k = `${`nested ${now()}`} localtimestamp`;',
      "const l = s.replace(/'/g, '`'); const m = Date.now();",
    ].join('\n');
    expect(timeReads(src).map((r) => `${r.line} ${r.what}`)).toEqual([
      '1 Date.now()',
      '2 new Date()',
      '4 performance.timeOrigin',
      '5 Date()',
      '7 SQL now()',
      '7 SQL CURRENT_DATE',
      '12 SQL CURRENT_TIMESTAMP',
      '13 SQL LOCALTIMESTAMP',
      '14 Date.now()',
    ]);
  });

  it('src/ reads the time only through src/clock.ts or on lines marked wall-clock', () => {
    const found: string[] = [];
    for (const file of sourceFiles(join(ROOT, 'src'))) {
      const rel = relative(ROOT, file);
      if (rel === join('src', 'clock.ts')) continue;
      for (const r of timeReads(readFileSync(file, 'utf8'))) found.push(`${rel}:${r.line} ${r.what}: ${r.text}`);
    }
    expect(found).toEqual([]);
  });
});
