/**
 * Finds reads of the current time in TypeScript source: `Date.now()`, `new Date()` and `Date()` without arguments
 * and `performance.timeOrigin` in code, and SQL's `now()`, `CURRENT_DATE`, `CURRENT_TIMESTAMP`, `LOCALTIMESTAMP`,
 * `LOCALTIME` and the `*_timestamp()` functions inside string and template literals (where SQL lives). Comments are
 * skipped. A read is allowed when the text `wall-clock:` (a JS comment, or a SQL `--` comment inside the query)
 * stands on the same line or the line above, saying why it needs the wall clock.
 */

export interface TimeRead {
  line: number;
  what: string;
  text: string;
}

type Kind = 'code' | 'comment' | 'string';

/** Splits source into code, comment and string text, keeping each character's line. */
function segments(src: string): Array<{ kind: Kind; text: string; line: number }> {
  const out: Array<{ kind: Kind; text: string; line: number }> = [];
  let line = 1;
  let i = 0;
  let buf = '';
  let bufLine = 1;
  let kind: Kind = 'code';
  const flush = (next: Kind) => {
    if (buf) out.push({ kind, text: buf, line: bufLine });
    buf = '';
    bufLine = line;
    kind = next;
  };
  // Template nesting: each entry counts the braces open inside one `${ ... }`.
  const braces: number[] = [];
  const take = () => {
    const c = src[i++] as string;
    if (c === '\n') line++;
    buf += c;
    return c;
  };
  const readTemplate = () => {
    // At the character after a backtick or after the closing brace of `${}`: read to the next backtick or `${`.
    flush('string');
    while (i < src.length) {
      const c = src[i];
      if (c === '\\') {
        take();
        take();
      } else if (c === '`') {
        flush('code');
        take();
        return;
      } else if (c === '$' && src[i + 1] === '{') {
        flush('code');
        take();
        take();
        braces.push(0);
        return;
      } else take();
    }
  };
  while (i < src.length) {
    const c = src[i];
    const n = src[i + 1];
    if (c === '/' && n === '/') {
      flush('comment');
      while (i < src.length && src[i] !== '\n') take();
      flush('code');
    } else if (c === '/' && n === '*') {
      flush('comment');
      take();
      take();
      while (i < src.length && !(src[i] === '*' && src[i + 1] === '/')) take();
      take();
      take();
      flush('code');
    } else if (c === '/' && startsRegex(src, i)) {
      // A regular expression literal: skip it whole, so a quote or backtick inside it opens nothing.
      take();
      let inClass = false;
      while (i < src.length && src[i] !== '\n') {
        const r = src[i];
        if (r === '\\') take();
        else if (r === '[') inClass = true;
        else if (r === ']') inClass = false;
        else if (r === '/' && !inClass) break;
        take();
      }
      take();
    } else if (c === '"' || c === "'") {
      take();
      flush('string');
      while (i < src.length && src[i] !== c && src[i] !== '\n') {
        if (src[i] === '\\') take();
        take();
      }
      flush('code');
      take();
    } else if (c === '`') {
      take();
      readTemplate();
    } else if (c === '{' && braces.length > 0) {
      braces[braces.length - 1]! += 1;
      take();
    } else if (c === '}' && braces.length > 0) {
      if (braces[braces.length - 1] === 0) {
        braces.pop();
        take();
        readTemplate();
      } else {
        braces[braces.length - 1]! -= 1;
        take();
      }
    } else take();
  }
  flush('code');
  return out;
}

/** A slash starts a regular expression where an expression may begin (after an operator, a bracket or a keyword). */
function startsRegex(src: string, at: number): boolean {
  let j = at - 1;
  while (j >= 0 && /\s/.test(src[j] as string)) j--;
  if (j < 0) return true;
  const p = src[j] as string;
  if ('(,=:[!&|?{};+-*%<>~^'.includes(p)) return true;
  const word = /[A-Za-z_$]+$/.exec(src.slice(Math.max(0, j - 10), j + 1))?.[0];
  return word === 'return' || word === 'typeof' || word === 'case' || word === 'of' || word === 'in';
}

const CODE_READS: Array<[RegExp, string]> = [
  [/\bDate\s*\.\s*now\s*\(\s*\)/g, 'Date.now()'],
  [/\bnew\s+Date\s*\(\s*\)/g, 'new Date()'],
  [/(?<![\w.$]|new\s+)Date\s*\(\s*\)/g, 'Date()'],
  [/\bperformance\s*\.\s*timeOrigin\b/g, 'performance.timeOrigin'],
];

const SQL_READS: Array<[RegExp, string]> = [
  [/\bnow\s*\(\s*\)/gi, 'SQL now()'],
  [/\bcurrent_date\b/gi, 'SQL CURRENT_DATE'],
  [/\bcurrent_timestamp\b/gi, 'SQL CURRENT_TIMESTAMP'],
  [/\blocaltimestamp\b/gi, 'SQL LOCALTIMESTAMP'],
  [/\blocaltime\b/gi, 'SQL LOCALTIME'],
  [/\b(transaction|statement|clock)_timestamp\s*\(/gi, 'SQL *_timestamp()'],
];

export function timeReads(src: string): TimeRead[] {
  const lines = src.split('\n');
  const marked = (line: number) =>
    (lines[line - 1] ?? '').includes('wall-clock:') || (lines[line - 2] ?? '').includes('wall-clock:');
  const found: TimeRead[] = [];
  for (const seg of segments(src)) {
    if (seg.kind === 'comment') continue;
    const patterns = seg.kind === 'code' ? CODE_READS : SQL_READS;
    for (const [re, what] of patterns) {
      re.lastIndex = 0;
      for (let m = re.exec(seg.text); m; m = re.exec(seg.text)) {
        const line = seg.line + (seg.text.slice(0, m.index).match(/\n/g)?.length ?? 0);
        if (!marked(line)) found.push({ line, what, text: (lines[line - 1] ?? '').trim() });
      }
    }
  }
  return found.sort((a, b) => a.line - b.line);
}
